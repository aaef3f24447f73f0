/**
 * Sub-device sessions on the cloud side: `combine/login`, `batch_login`, `logout` and
 * `batch_logout` with the platform's checks and codes (all of a batch or none, five logins a
 * minute, the online limit), packed posts (which go up through their sub-devices' sessions), and
 * the sessions that end without a logout: displaced, dropped, forced offline, or gone with their
 * gateway's connection. Formats and codes: docs/platform-formats.md section 5,
 * `src/device/gateway-codes.ts`.
 *
 * A logged-in sub-device is online in the presence on its gateway's connection, so the thing
 * model (post replies, property sets, service calls, RRPC) treats it as any device.
 */
import { parsePackPost, verifySubDeviceSign } from '../../aliyun/cloud-formats.js';
import type { LoginEntry } from '../../aliyun/gateway/index.js';
import { GATEWAY_LIMITS } from '../../aliyun/gateway/limits.js';
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import type { Clock } from '../../shared/clock.js';
import { GATEWAY_REPLY_CODES as CODES, GATEWAY_REPLY_MESSAGES } from '../../device/gateway-codes.js';
import { deviceKey } from '../options.js';
import type { OnlineDevice } from '../presence.js';
import type { RegisteredDevice } from '../registry.js';
import type { SubDeviceEventReason } from '../types.js';
import { hasDuplicates, identity, refusal, refuse } from './gateway-answers.js';
import type { Answer, Refusal } from './gateway-answers.js';
import type { GatewayHost, GatewayNotices } from './gateway-notices.js';
import type { GatewayTopology } from './gateway-topology.js';

/** A sub-device may log in at most this many times a minute (the error codes page, 429). */
const LOGINS_PER_MINUTE = 5;
const MINUTE = 60_000;

export class SubDeviceSessions {
  readonly #clock: Clock;
  readonly #host: GatewayHost;
  readonly #topology: GatewayTopology;
  readonly #notices: GatewayNotices;
  /** Recent login times of each sub-device, for the five-a-minute limit. */
  readonly #logins = new Map<string, number[]>();

  constructor(clock: Clock, host: GatewayHost, topology: GatewayTopology, notices: GatewayNotices) {
    this.#clock = clock;
    this.#host = host;
    this.#topology = topology;
    this.#notices = notices;
  }

  /** A login of one or a batch: all succeed or none does, as the platform's page says. */
  login(gateway: OnlineDevice, id: string, entries: readonly LoginEntry[]): Answer {
    if (entries.length === 0 || entries.length > GATEWAY_LIMITS.maxBatchLogin || hasDuplicates(entries)) {
      return { id, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: give 1..${GATEWAY_LIMITS.maxBatchLogin} distinct sub-devices` };
    }
    const now = this.#clock.now();
    const refusals: Refusal[] = [];
    for (const entry of entries) {
      const code = this.#loginRefusal(gateway, entry, now);
      if (code !== undefined) refusals.push(refuse(entry, code));
    }
    if (refusals.length > 0) return refusal(id, refusals);
    const presence = this.#host.presence;
    const arriving = entries.filter((entry) => presence.subDevice(gateway, entry.productKey, entry.deviceName) === undefined).length;
    if (presence.subDeviceCount(gateway) + arriving > GATEWAY_LIMITS.maxOnlineSubDevices) {
      return refusal(id, entries.map((entry) => refuse(entry, CODES.tooManySubDevices)));
    }
    for (const entry of entries) {
      this.#countLogin(entry, now);
      const subDevice = presence.join(gateway, entry.productKey, entry.deviceName);
      this.#notices.announce(subDevice, 'login', 'login');
    }
    return { id, data: entries.map(identity) };
  }

  #loginRefusal(gateway: OnlineDevice, entry: LoginEntry, now: number): number | undefined {
    const device = this.#host.registry.get(entry.productKey, entry.deviceName);
    if (device === undefined) return CODES.deviceNotFound;
    if (device.status === 'deleted') return CODES.deviceDeleted;
    if (device.status === 'disabled') return CODES.deviceForbidden;
    if (!this.#topology.has(gateway.topics, entry)) return CODES.topologyNotFound;
    if (device.secret === '' || !verifySubDeviceSign(entry, device.secret)) return CODES.invalidSign;
    const recent = this.#logins.get(deviceKey(entry.productKey, entry.deviceName))?.filter((at) => now - at < MINUTE) ?? [];
    if (recent.length >= LOGINS_PER_MINUTE) return CODES.tooManyRequests;
    return undefined;
  }

  #countLogin(device: DeviceIdentity, now: number): void {
    const key = deviceKey(device.productKey, device.deviceName);
    const recent = (this.#logins.get(key) ?? []).filter((at) => now - at < MINUTE);
    recent.push(now);
    this.#logins.set(key, recent);
  }

  logout(gateway: OnlineDevice, id: string, subDevices: readonly DeviceIdentity[]): Answer {
    if (subDevices.length === 0 || subDevices.length > GATEWAY_LIMITS.maxBatchLogin) {
      return { id, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: give 1..${GATEWAY_LIMITS.maxBatchLogin} sub-devices` };
    }
    const online = subDevices.map((device) => this.#host.presence.subDevice(gateway, device.productKey, device.deviceName));
    const absent = subDevices.filter((_, i) => online[i] === undefined);
    if (absent.length > 0) return refusal(id, absent.map((device) => refuse(device, CODES.noSession)));
    for (const subDevice of online) {
      if (this.#host.presence.leave(subDevice!)) this.#notices.announce(subDevice!, 'logout', 'logout');
    }
    return { id, data: subDevices.map(identity) };
  }

  packPost(gateway: OnlineDevice, payload: Uint8Array): Answer {
    const post = parsePackPost(payload);
    const properties = countValues(post.gateway.properties) + post.subDevices.reduce((sum, s) => sum + countValues(s.properties), 0);
    const events = countValues(post.gateway.events) + post.subDevices.reduce((sum, s) => sum + countValues(s.events), 0);
    if (properties > GATEWAY_LIMITS.maxPackProperties || events > GATEWAY_LIMITS.maxPackEvents || post.subDevices.length > GATEWAY_LIMITS.maxPackSubDevices) {
      const limits = `${GATEWAY_LIMITS.maxPackProperties} properties, ${GATEWAY_LIMITS.maxPackEvents} events, ${GATEWAY_LIMITS.maxPackSubDevices} sub-devices`;
      return { id: post.id, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: a packed post holds at most ${limits}` };
    }
    // A sub-device's data goes up through its session, as any message of it does.
    const offline = post.subDevices.filter((s) => this.#host.presence.subDevice(gateway, s.productKey, s.deviceName) === undefined);
    if (offline.length > 0) return refusal(post.id, offline.map((device) => refuse(device, CODES.noSession)));
    return { id: post.id, data: {} };
  }

  // -------------------------------------------------------------------------------------------
  // Sessions that end without a logout

  /** Presence ended `subDevice`'s session because it logged in elsewhere: tell its gateway (427). */
  displaced(subDevice: OnlineDevice): void {
    const gateway = subDevice.gateway!;
    this.#notices.notice(gateway, subDevice.topics, CODES.connectedElsewhere, GATEWAY_REPLY_MESSAGES[CODES.connectedElsewhere]!);
    this.#notices.announce(subDevice, 'logout', 'displaced');
  }

  /** A gateway's connection ended, taking `subDevices` offline with it. */
  gatewayGone(subDevices: readonly OnlineDevice[]): void {
    for (const subDevice of subDevices) this.#notices.announce(subDevice, 'logout', 'gateway-offline');
  }

  /** Ends a sub-device's session as the console can; `false` when it has none. */
  drop(productKey: string, deviceName: string): boolean {
    const subDevice = this.#host.presence.lookup(productKey, deviceName);
    if (subDevice?.gateway === undefined || !this.#host.presence.leave(subDevice)) return false;
    this.#notices.announce(subDevice, 'logout', 'dropped');
    return true;
  }

  /** Ends the session of a device the console disabled or deleted: its own connection, or its sub-device session. */
  forceOffline(device: RegisteredDevice, code: number, reason: SubDeviceEventReason): void {
    const online = this.#host.presence.lookup(device.productKey, device.deviceName);
    if (online === undefined) return;
    if (online.gateway === undefined) {
      online.session.kick();
      return;
    }
    if (!this.#host.presence.leave(online)) return;
    this.#notices.notice(online.gateway, device, code, GATEWAY_REPLY_MESSAGES[code]!);
    this.#notices.announce(online, 'logout', reason);
  }
}

function countValues(values: Readonly<Record<string, unknown>> | undefined): number {
  return values === undefined ? 0 : Object.keys(values).length;
}
