/*
 * NTP over MQTT: the device sends its clock on `/ext/ntp/{pk}/{dn}/request`, the platform answers
 * on `/ext/ntp/{pk}/{dn}/response` with the time it received the request and the time it sent
 * the answer, and the device computes the accurate time at the moment the answer arrived:
 * `(serverRecvTime + serverSendTime + deviceRecvTime - deviceSendTime) / 2`.
 *
 * Formats: C Link SDK 4.x `components/ntp/ntp_private.h` (`{"deviceSendTime":"%s"}`, the time as
 * a string of milliseconds) and `components/ntp/aiot_ntp_api.c` `_ntp_recv_handler` (reads
 * `deviceSendTime`, `serverRecvTime`, `serverSendTime` and applies the formula above). Some
 * firmwares send the times as bare numbers (`{"deviceSendTime":%u}`); the readers take both.
 */
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue } from '../../shared/validate.js';
import { PlatformPayloadError } from '../wire/errors.js';
import { Fields } from '../wire/read.js';

/**
 * The request payload: `{"deviceSendTime":"1571724098000"}`.
 *
 * @throws ConfigurationError (`deviceSendTime`) unless it is a non-negative integer of milliseconds.
 */
export function buildNtpRequest(input: { readonly deviceSendTime: number }): string {
  return JSON.stringify({ deviceSendTime: String(checkMillis('deviceSendTime', input.deviceSendTime)) });
}

/** Reads a request (the platform's side). */
export function parseNtpRequest(payload: Uint8Array | string): { readonly deviceSendTime: number } {
  return { deviceSendTime: Fields.ofPayload(payload).count('deviceSendTime') };
}

/** The three times of a response, in milliseconds. */
export interface NtpResponse {
  /** The device's clock when it sent the request, echoed back. */
  readonly deviceSendTime: number;
  /** The platform's clock when the request arrived. */
  readonly serverRecvTime: number;
  /** The platform's clock when the response left. */
  readonly serverSendTime: number;
}

/**
 * The response payload (the platform's side), times as strings of milliseconds.
 *
 * @throws ConfigurationError for a time that is not a non-negative integer, or a send time before
 *   the receive time.
 */
export function buildNtpResponse(response: NtpResponse): string {
  const deviceSendTime = checkMillis('deviceSendTime', response.deviceSendTime);
  const serverRecvTime = checkMillis('serverRecvTime', response.serverRecvTime);
  const serverSendTime = checkMillis('serverSendTime', response.serverSendTime);
  if (serverSendTime < serverRecvTime) throw new ConfigurationError('serverSendTime', 'cannot be before serverRecvTime');
  return JSON.stringify({
    deviceSendTime: String(deviceSendTime),
    serverRecvTime: String(serverRecvTime),
    serverSendTime: String(serverSendTime),
  });
}

/**
 * Reads a response.
 *
 * @throws PlatformPayloadError for a missing or malformed time, or a server send time before its
 *   receive time.
 */
export function parseNtpResponse(payload: Uint8Array | string): NtpResponse {
  const fields = Fields.ofPayload(payload);
  const deviceSendTime = fields.count('deviceSendTime');
  const serverRecvTime = fields.count('serverRecvTime');
  const serverSendTime = fields.count('serverSendTime');
  if (serverSendTime < serverRecvTime) {
    throw new PlatformPayloadError('bad-field', 'serverSendTime', 'the server cannot have answered before it received the request');
  }
  return { deviceSendTime, serverRecvTime, serverSendTime };
}

/** What a response tells the device about its clock. */
export interface NtpSync {
  /** The accurate time, in milliseconds since the epoch, at the moment the response arrived. */
  readonly time: number;
  /** `time - deviceRecvTime`: add it to the device's clock to correct it. */
  readonly offset: number;
  /** Time on the network, both ways: the wait minus the server's own processing time. */
  readonly roundTrip: number;
}

/**
 * The accurate time from a response and the device's clock when the response arrived (read from
 * the same clock as `deviceSendTime`).
 *
 * @example ntpTime({ deviceSendTime: 1000, serverRecvTime: 5100, serverSendTime: 5102 }, 1204)
 *   // { time: 5203, offset: 3999, roundTrip: 202 }
 * @throws ConfigurationError (`deviceRecvTime`) when it is not an integer of milliseconds or is
 *   before the send time the response echoes (the response is not an answer to that request, or
 *   the clock jumped back).
 */
export function ntpTime(response: NtpResponse, deviceRecvTime: number): NtpSync {
  const received = checkMillis('deviceRecvTime', deviceRecvTime);
  if (received < response.deviceSendTime) {
    throw new ConfigurationError(
      'deviceRecvTime',
      `is ${received - response.deviceSendTime} ms before the echoed deviceSendTime; pair the response with its own request and read both times from one clock`,
    );
  }
  const time = (response.serverRecvTime + response.serverSendTime + received - response.deviceSendTime) / 2;
  return {
    time,
    offset: time - received,
    roundTrip: received - response.deviceSendTime - (response.serverSendTime - response.serverRecvTime),
  };
}

function checkMillis(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigurationError(field, `got ${describeValue(value)}; give milliseconds since the epoch (e.g. Date.now())`);
  }
  return value;
}
