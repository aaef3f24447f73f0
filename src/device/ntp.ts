/*
 * NTP over MQTT on a connected device: the device sends its clock on `/ext/ntp/{pk}/{dn}/request`,
 * the platform answers on `/ext/ntp/{pk}/{dn}/response` with its receive and send times, and the
 * accurate time is `(serverRecvTime + serverSendTime + deviceRecvTime - deviceSendTime) / 2` (the
 * formats, with their sources, are in `src/aliyun/services/ntp.ts`; C Link SDK 4.x
 * `components/ntp`).
 *
 * The response carries no id: it echoes `deviceSendTime`, which is what pairs it with its request.
 */
import { ConfigurationError } from '../shared/errors.js';
import { describeValue } from '../shared/validate.js';
import { PendingReplies } from '../aliyun/alink/pending.js';
import { serviceTopic } from '../aliyun/service-topics.js';
import { buildNtpRequest, ntpTime, parseNtpResponse } from '../aliyun/services/ntp.js';
import type { NtpResponse } from '../aliyun/services/ntp.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import type { Device } from './device-types.js';
import { DeviceError } from './errors.js';
import { serviceLink } from './service-link.js';
import type { ServiceLink, ServiceRequestOptions } from './service-link.js';

/** Options of {@link syncTime}. */
export interface SyncTimeOptions extends ServiceRequestOptions {
  /**
   * The device's wall clock, in milliseconds since the epoch: read when the request leaves and
   * when the answer arrives. Default `Date.now`.
   */
  readonly now?: (() => number) | undefined;
}

/** What the platform's clock says, seen from the device. */
export interface TimeSync {
  /** The accurate time, in milliseconds since the epoch, at the moment the answer arrived. */
  readonly time: number;
  /** Add it to the device's clock to correct it: `time - deviceRecvTime`. */
  readonly offset: number;
  /** Milliseconds on the network both ways: the wait minus the platform's own processing time. */
  readonly roundTrip: number;
  /** The four times the computation used. */
  readonly deviceSendTime: number;
  readonly serverRecvTime: number;
  readonly serverSendTime: number;
  readonly deviceRecvTime: number;
}

interface NtpState {
  readonly requestTopic: string;
  readonly responseTopic: string;
  /** By the `deviceSendTime` the response echoes. */
  readonly waiting: PendingReplies<Answer>;
  /** The request waiting under each send time: its answer, and the clock to read when it comes. */
  readonly inflight: Map<string, { readonly answer: Promise<Answer>; readonly now: () => number }>;
}

interface Answer {
  readonly response: NtpResponse;
  readonly receivedAt: number;
}

const states = new WeakMap<ServiceLink, NtpState>();

/**
 * Asks the platform for the time and resolves with the accurate time, the offset of the device's
 * clock and the round trip. Subscribes to the response topic on first use. Two calls in the same
 * millisecond share one request (the response can only be told apart by the echoed send time).
 *
 * @example
 * const { offset } = await syncTime(device);
 * const platformNow = () => Date.now() + offset;
 * @throws ConfigurationError for bad options, before anything is sent.
 * @throws DeviceError `reply-timeout` with no answer in time, `malformed-reply` for an answer that
 *   cannot be read (or that says the platform answered before it received, or before the request
 *   left), `device-ended`; or the client's error when the request cannot be sent.
 */
export async function syncTime(device: Device, options: SyncTimeOptions = {}): Promise<TimeSync> {
  const link = serviceLink(device);
  const timeout = link.timeout(options);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new ConfigurationError('now', `got ${describeValue(now)}; give a function returning milliseconds since the epoch, such as Date.now`);
  const state = ntpState(link);
  link.checkUsable('the NTP request');
  await link.subscribe(state.responseTopic);
  link.checkUsable('the NTP request');
  const deviceSendTime = readClock(now);
  const key = String(deviceSendTime);
  const answer = state.inflight.get(key)?.answer ?? request(link, state, key, deviceSendTime, timeout, now);
  const { response, receivedAt } = await answer;
  if (receivedAt < response.deviceSendTime) {
    throw new DeviceError('malformed-reply', `the NTP answer arrived at ${receivedAt}, before its request left at ${response.deviceSendTime}: the device's clock went back`);
  }
  const sync = ntpTime(response, receivedAt);
  return Object.freeze({ ...sync, ...response, deviceRecvTime: receivedAt });
}

function ntpState(link: ServiceLink): NtpState {
  let state = states.get(link);
  if (state === undefined) {
    const device = link.device;
    const created: NtpState = {
      requestTopic: serviceTopic('ntp-request', device),
      responseTopic: serviceTopic('ntp-response', device),
      waiting: new PendingReplies(link.clock),
      inflight: new Map(),
    };
    link.handle(created.responseTopic, (payload) => responseArrived(link, created, payload));
    link.onEnd((error) => created.waiting.rejectAll(() => error));
    states.set(link, created);
    state = created;
  }
  return state;
}

function request(link: ServiceLink, state: NtpState, key: string, deviceSendTime: number, timeout: number, now: () => number): Promise<Answer> {
  const { requestTopic, responseTopic } = state;
  const waited = state.waiting.wait(key, {
    topic: responseTopic,
    timeout,
    what: 'the NTP request',
    onTimeout: () => new DeviceError('reply-timeout', `no NTP answer on ${responseTopic} within ${timeout} ms (sent ${deviceSendTime} on ${requestTopic})`),
  });
  const answer = waited.finally(() => state.inflight.delete(key));
  state.inflight.set(key, { answer, now });
  link.send(requestTopic, buildNtpRequest({ deviceSendTime }), 'the NTP request').catch((error: Error) => state.waiting.reject(key, error));
  return answer;
}

/**
 * An answer on the response topic. One that cannot be read fails the request whose send time it
 * echoes; without a readable echo it fails the one request waiting, when only one waits, and is
 * otherwise reported.
 */
function responseArrived(link: ServiceLink, state: NtpState, payload: Uint8Array): void {
  let response: NtpResponse;
  try {
    response = parseNtpResponse(payload);
  } catch (error) {
    if (!(error instanceof PlatformPayloadError)) throw error;
    const failure = new DeviceError('malformed-reply', `cannot read the NTP answer on ${state.responseTopic}: ${error.message}`, { cause: error });
    const echoed = echoedSendTime(payload);
    if (echoed !== undefined && state.waiting.reject(echoed, failure)) return;
    if (state.waiting.size === 1) state.waiting.rejectAll(() => failure);
    else link.report(failure);
    return;
  }
  const key = String(response.deviceSendTime);
  const waiting = state.inflight.get(key);
  if (waiting === undefined) return; // late, or another request's: nothing waits for it
  let receivedAt: number;
  try {
    receivedAt = readClock(waiting.now);
  } catch (error) {
    state.waiting.reject(key, error as Error);
    return;
  }
  state.waiting.settle(key, state.responseTopic, { response, receivedAt });
}

/** The `deviceSendTime` an unreadable answer still echoes, as the key its request waits under. */
function echoedSendTime(payload: Uint8Array): string | undefined {
  try {
    const value: unknown = (JSON.parse(Buffer.from(payload).toString('utf8')) as { deviceSendTime?: unknown })?.deviceSendTime;
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  } catch {
    return undefined;
  }
}

function readClock(now: () => number): number {
  const value = now();
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigurationError('now', `returned ${describeValue(value)}; it must return whole milliseconds since the epoch`);
  }
  return value;
}
