/**
 * The gateway's cloud side: topology (`thing.topo.add`/`get`/`delete`, each sub-device's
 * signature checked with its own secret), sub-device registration (`thing.sub.register`),
 * sub-device sessions (`combine/login`, `batch_login`, `logout`, `batch_logout`, with the
 * platform's checks and codes), packed and history posts, and the notices the platform sends a
 * gateway: `thing.topo.change`, and `/ext/error/{gateway}` for a sub-device forced offline or
 * one that sends without a session. Formats and codes: docs/platform-formats.md sections 4 to 6,
 * `src/device/gateway-codes.ts`.
 *
 * A logged-in sub-device is online in the presence on its gateway's connection, so the thing
 * model (post replies, property sets, service calls, RRPC) treats it as any device.
 */
import { AlinkIdGenerator } from '../../aliyun/alink/id.js';
import { buildAlinkReply, parseAlinkReply } from '../../aliyun/alink/payload.js';
import type { AlinkReply } from '../../aliyun/alink/payload.js';
import { PendingReplies } from '../../aliyun/alink/pending.js';
import { readRequestId } from '../../aliyun/alink/request-id.js';
import type { AlinkTopic } from '../../aliyun/alink/topics.js';
import {
  buildLifecycleNotice,
  buildSessionError,
  buildTopoChange,
  parseBatchLogin,
  parseBatchLogout,
  parseHistoryPost,
  parsePackPost,
  parseSubLogin,
  parseSubLogout,
  parseSubRegister,
  parseTopoAdd,
  parseTopoDelete,
  verifySubDeviceSign,
} from '../../aliyun/cloud-formats.js';
import type { LifecycleAction, LoginEntry, SubDeviceSignature, TopoChangeStatus } from '../../aliyun/gateway/index.js';
import { GATEWAY_LIMITS } from '../../aliyun/gateway/limits.js';
import { parseServiceTopic, serviceTopic } from '../../aliyun/service-topics.js';
import type { ParsedServiceTopic } from '../../aliyun/service-topics.js';
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import { nodeCrypto } from '../../shared/builtins.js';
import { GATEWAY_REPLY_CODES as CODES, GATEWAY_REPLY_MESSAGES } from '../../device/gateway-codes.js';
import { EmulatorError } from '../errors.js';
import { deviceKey } from '../options.js';
import type { OnlineDevice, Presence } from '../presence.js';
import type { DeviceRegistry, RegisteredDevice } from '../registry.js';
import type { Session } from '../session.js';
import type { EmulatorGateway, EmulatorTopology, SubDeviceEvent, SubDeviceEventReason } from '../types.js';
import type { CloudContext, CloudService } from './service.js';
import { TopologyStore } from './topology.js';

/** The id of an answer to a request whose own id cannot be read (as the thing model answers). */
const NO_ID = '0';

/** The session topics, which the platform serves at QoS 0 only (page 89300). */
const SESSION_KINDS: ReadonlySet<string> = new Set(['login', 'batch-login', 'logout', 'batch-logout']);

/** A sub-device may log in at most this many times a minute (the error codes page, 429). */
const LOGINS_PER_MINUTE = 5;
const MINUTE = 60_000;

/** What the gateway's cloud side needs of the platform beside the {@link CloudContext}. */
export interface GatewayHost {
  readonly presence: Presence;
  readonly registry: DeviceRegistry;
  /** A sub-device went online or offline through a gateway. */
  subDevice(event: SubDeviceEvent): void;
}

/** A refusal of one sub-device in a request. */
interface Refusal {
  readonly device: DeviceIdentity;
  readonly code: number;
  readonly message: string;
}

export class GatewayCloud implements CloudService, EmulatorGateway {
  readonly #cloud: CloudContext;
  readonly #host: GatewayHost;
  readonly #topology = new TopologyStore();
  readonly #ids = new AlinkIdGenerator();
  /** The gateways' answers to lifecycle notices sent by {@link notify}, by id. */
  readonly #replies: PendingReplies<AlinkReply>;
  /** Recent login times of each sub-device, for the five-a-minute limit. */
  readonly #logins = new Map<string, number[]>();

  constructor(cloud: CloudContext, host: GatewayHost, topology: readonly EmulatorTopology[]) {
    this.#cloud = cloud;
    this.#host = host;
    this.#replies = new PendingReplies(cloud.clock);
    for (const { gateway, subDevices } of topology) for (const subDevice of subDevices) this.#topology.add(gateway, subDevice);
  }

  // -------------------------------------------------------------------------------------------
  // What devices publish

  /**
   * A PUBLISH of `device` on a topic that is not one of its own thing-model topics: a gateway's
   * service request, or a message of one of its sub-devices. Returns the sub-device when the
   * topic is one of a sub-device online through `device`, for the thing model to read; a
   * sub-device of its topology without a session gets the platform's 520 notice instead.
   */
  received(device: OnlineDevice, topic: string, payload: Uint8Array): OnlineDevice | undefined {
    const service = parseServiceTopic(topic);
    const owner = service ?? ownerOf(topic);
    if (owner === undefined) return undefined;
    if (owner.productKey === device.topics.productKey && owner.deviceName === device.topics.deviceName) {
      if (service !== undefined) this.#serviceRequest(device, service, topic, payload);
      return undefined;
    }
    const subDevice = this.#host.presence.subDevice(device, owner.productKey, owner.deviceName);
    if (service?.reply === true && service.kind.startsWith('thing-')) {
      this.#settle(topic, payload);
      return undefined;
    }
    if (subDevice !== undefined) return subDevice;
    if (this.#topology.has(device.topics, owner)) {
      const id = readRequestId(payload) ?? NO_ID;
      this.#notice(device, owner, CODES.noSession, 'device session error', id);
    }
    return undefined;
  }

  /** Whether `topic` belongs to a sub-device online through a gateway: the platform sends those at QoS 0. */
  isSubDeviceTopic(topic: string): boolean {
    const owner = parseServiceTopic(topic) ?? ownerOf(topic);
    return owner !== undefined && this.#host.presence.lookup(owner.productKey, owner.deviceName)?.gateway !== undefined;
  }

  /** Presence ended `subDevice`'s session because it logged in elsewhere: tell its gateway (427). */
  displaced(subDevice: OnlineDevice): void {
    const gateway = subDevice.gateway!;
    this.#notice(gateway, subDevice.topics, CODES.connectedElsewhere, GATEWAY_REPLY_MESSAGES[CODES.connectedElsewhere]!);
    this.#announce(subDevice, 'logout', 'displaced');
  }

  /** A gateway's connection ended, taking `subDevices` offline with it. */
  gatewayGone(subDevices: readonly OnlineDevice[]): void {
    for (const subDevice of subDevices) this.#announce(subDevice, 'logout', 'gateway-offline');
  }

  published(_device: OnlineDevice, _topic: string, _kind: AlinkTopic, _payload: Uint8Array): void {
    // The gateway's requests are not thing-model topics; they come through received().
  }

  disconnected(session: Session, error: EmulatorError): void {
    this.#replies.rejectAll(() => error, session);
  }

  closing(error: EmulatorError): void {
    this.#replies.rejectAll(() => error);
  }

  // -------------------------------------------------------------------------------------------
  // The test API: what the console does

  topology(productKey: string, deviceName: string): DeviceIdentity[] {
    return this.#topology.subDevicesOf({ productKey, deviceName });
  }

  subDevicesOnline(productKey: string, deviceName: string): DeviceIdentity[] {
    const gateway = this.#host.presence.lookup(productKey, deviceName);
    if (gateway === undefined || gateway.gateway !== undefined) return [];
    return this.#host.presence.subDevicesOf(gateway).map(({ topics }) => identity(topics));
  }

  addTopology(productKey: string, deviceName: string, subDevices: readonly DeviceIdentity[]): void {
    const gateway = this.#registered({ productKey, deviceName }, 'gateway');
    const added = subDevices.map((subDevice, i) => identity(this.#registered(subDevice, `subDevices[${i}]`)));
    for (const subDevice of added) this.#addToTopology(gateway, subDevice);
    this.#topologyChange(gateway, 'created', added);
  }

  removeTopology(productKey: string, deviceName: string, subDevices: readonly DeviceIdentity[]): void {
    const gateway = identity(this.#registered({ productKey, deviceName }, 'gateway'));
    const removed = subDevices.filter((subDevice) => this.#removeFromTopology(gateway, subDevice, CODES.topologyNotFound));
    this.#topologyChange(gateway, 'deleted', removed);
  }

  disable(productKey: string, deviceName: string): void {
    const device = this.#registered({ productKey, deviceName }, 'device');
    device.status = 'disabled';
    this.#forceOffline(device, CODES.deviceForbidden, 'disabled');
    const gateway = this.#topology.gatewayOf(device);
    if (gateway !== undefined) this.#topologyChange(gateway, 'disabled', [identity(device)]);
  }

  enable(productKey: string, deviceName: string): void {
    const device = this.#registered({ productKey, deviceName }, 'device');
    if (device.status === 'deleted') throw new EmulatorError('not-connected', `device ${deviceName} of product ${productKey} was deleted; it cannot be enabled`);
    device.status = 'enabled';
    const gateway = this.#topology.gatewayOf(device);
    if (gateway !== undefined) this.#topologyChange(gateway, 'enabled', [identity(device)]);
  }

  delete(productKey: string, deviceName: string): void {
    const device = this.#registered({ productKey, deviceName }, 'device');
    device.status = 'deleted';
    this.#forceOffline(device, CODES.deviceDeleted, 'deleted');
    const gateway = this.#topology.gatewayOf(device);
    if (gateway !== undefined && this.#topology.remove(gateway, device)) this.#topologyChange(gateway, 'deleted', [identity(device)]);
  }

  dropSession(productKey: string, deviceName: string): boolean {
    const subDevice = this.#host.presence.lookup(productKey, deviceName);
    if (subDevice?.gateway === undefined || !this.#host.presence.leave(subDevice)) return false;
    this.#announce(subDevice, 'logout', 'dropped');
    return true;
  }

  async notify(productKey: string, deviceName: string, action: LifecycleAction, timeoutMs = 10_000): Promise<AlinkReply> {
    const subDevice = this.#cloud.target(productKey, deviceName, timeoutMs);
    const kind = `thing-${action}` as const;
    const topic = serviceTopic(kind, subDevice.topics);
    const replyTopic = serviceTopic(kind, subDevice.topics, { reply: true });
    const id = this.#ids.next();
    const reply = this.#replies.wait(id, {
      topic: replyTopic,
      timeout: timeoutMs,
      what: `thing.${action}`,
      owner: subDevice.session,
      onTimeout: () => new EmulatorError('reply-timeout', `no answer to thing.${action} (id ${id}) on ${replyTopic} within ${timeoutMs} ms`),
    });
    this.#cloud.send(topic, buildLifecycleNotice({ id, action }));
    return reply;
  }

  // -------------------------------------------------------------------------------------------
  // The gateway's requests

  #serviceRequest(gateway: OnlineDevice, service: ParsedServiceTopic, topic: string, payload: Uint8Array): void {
    if (service.reply) {
      if (service.kind === 'topo-change') this.#settle(topic, payload);
      return;
    }
    const replyTopic = `${topic}_reply`;
    const qos = SESSION_KINDS.has(service.kind) ? GATEWAY_LIMITS.sessionQos : undefined;
    const answer = (reply: Answer): void => this.#cloud.send(replyTopic, buildAlinkReply(reply), qos);
    try {
      const handled = this.#handle(gateway, service.kind, payload);
      if (handled !== undefined) answer(handled);
    } catch (error) {
      // Only the strict readers throw here: the request cannot be read, 460 as the platform answers.
      answer({ id: readRequestId(payload) ?? NO_ID, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: ${(error as Error).message}` });
    }
  }

  /** The answer to one request, or `undefined` for a topic that is not a gateway request. */
  #handle(gateway: OnlineDevice, kind: ParsedServiceTopic['kind'], payload: Uint8Array): Answer | undefined {
    switch (kind) {
      case 'topo-add': {
        const { id, subDevices } = parseTopoAdd(payload);
        return this.#topoAdd(gateway, id, subDevices);
      }
      case 'topo-get':
        return { id: readRequestId(payload) ?? NO_ID, data: this.#topology.subDevicesOf(gateway.topics) };
      case 'topo-delete': {
        const { id, subDevices } = parseTopoDelete(payload);
        const unknown = subDevices.filter((device) => this.#host.registry.get(device.productKey, device.deviceName) === undefined);
        if (unknown.length > 0) return refusal(id, unknown.map((device) => ({ device, code: CODES.deviceNotFound, message: GATEWAY_REPLY_MESSAGES[6100]! })));
        for (const subDevice of subDevices) this.#removeFromTopology(gateway.topics, subDevice, undefined);
        return { id, data: subDevices };
      }
      case 'sub-register': {
        const { id, subDevices } = parseSubRegister(payload);
        return this.#subRegister(gateway, id, subDevices);
      }
      case 'login': {
        const { id, subDevice } = parseSubLogin(payload);
        const answer = this.#login(gateway, id, [subDevice]);
        return answer.code === undefined ? { id, data: identity(subDevice) } : answer;
      }
      case 'batch-login': {
        const { id, subDevices } = parseBatchLogin(payload);
        return this.#login(gateway, id, subDevices);
      }
      case 'logout': {
        const { id, subDevice } = parseSubLogout(payload);
        const answer = this.#logout(gateway, id, [subDevice]);
        return answer.code === undefined ? { id, data: subDevice } : answer;
      }
      case 'batch-logout': {
        const { id, subDevices } = parseBatchLogout(payload);
        return this.#logout(gateway, id, subDevices);
      }
      case 'pack-post':
        return this.#packPost(gateway, payload);
      case 'history-post': {
        const { id, entries } = parseHistoryPost(payload);
        const strangers = entries.filter((entry) => !this.#speaksFor(gateway, entry));
        if (strangers.length > 0) return refusal(id, strangers.map((device) => this.#refuse(device, CODES.topologyNotFound)));
        return { id, data: {} };
      }
      default:
        return undefined;
    }
  }

  #topoAdd(gateway: OnlineDevice, id: string, entries: readonly SubDeviceSignature[]): Answer {
    if (entries.length === 0 || entries.length > GATEWAY_LIMITS.maxTopoAdd || hasDuplicates(entries)) {
      return { id, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: give 1..${GATEWAY_LIMITS.maxTopoAdd} distinct sub-devices` };
    }
    const refusals: Refusal[] = [];
    for (const entry of entries) {
      const device = this.#host.registry.get(entry.productKey, entry.deviceName);
      if (device === undefined || device.status === 'deleted') refusals.push(this.#refuse(entry, CODES.deviceNotFound));
      else if (sameDevice(entry, gateway.topics)) refusals.push(this.#refuse(entry, CODES.cannotAddSelf));
      else if (device.status === 'disabled') refusals.push(this.#refuse(entry, CODES.deviceDisabled));
      else if (device.secret === '' || !verifySubDeviceSign(entry, device.secret)) refusals.push(this.#refuse(entry, CODES.authError));
    }
    if (refusals.length > 0) return refusal(id, refusals);
    for (const entry of entries) this.#addToTopology(identity(gateway.topics), identity(entry));
    return { id, data: entries.map(identity) };
  }

  #subRegister(gateway: OnlineDevice, id: string, subDevices: readonly DeviceIdentity[]): Answer {
    const refusals: Refusal[] = [];
    for (const subDevice of subDevices) {
      const device = this.#host.registry.get(subDevice.productKey, subDevice.deviceName);
      if (device === undefined || device.status === 'deleted') refusals.push(this.#refuse(subDevice, CODES.deviceNotFound));
      else if (sameDevice(subDevice, gateway.topics)) refusals.push(this.#refuse(subDevice, CODES.cannotAddSelf));
    }
    if (refusals.length > 0) return refusal(id, refusals);
    const data = subDevices.map((subDevice) => {
      const device = this.#host.registry.get(subDevice.productKey, subDevice.deviceName)!;
      const deviceSecret = this.#host.registry.activate(device);
      return { iotId: iotId(device), productKey: device.productKey, deviceName: device.deviceName, deviceSecret };
    });
    return { id, data };
  }

  /** A login of one or a batch: all succeed or none does, as the platform's page says. */
  #login(gateway: OnlineDevice, id: string, entries: readonly LoginEntry[]): Answer {
    if (entries.length === 0 || entries.length > GATEWAY_LIMITS.maxBatchLogin || hasDuplicates(entries)) {
      return { id, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: give 1..${GATEWAY_LIMITS.maxBatchLogin} distinct sub-devices` };
    }
    const now = this.#cloud.clock.now();
    const refusals: Refusal[] = [];
    for (const entry of entries) {
      const code = this.#loginRefusal(gateway, entry, now);
      if (code !== undefined) refusals.push(this.#refuse(entry, code));
    }
    if (refusals.length > 0) return refusal(id, refusals);
    const presence = this.#host.presence;
    const arriving = entries.filter((entry) => presence.subDevice(gateway, entry.productKey, entry.deviceName) === undefined).length;
    if (presence.subDeviceCount(gateway) + arriving > GATEWAY_LIMITS.maxOnlineSubDevices) {
      return refusal(id, entries.map((entry) => this.#refuse(entry, CODES.tooManySubDevices)));
    }
    for (const entry of entries) {
      this.#countLogin(entry, now);
      const subDevice = presence.join(gateway, entry.productKey, entry.deviceName);
      this.#announce(subDevice, 'login', 'login');
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

  #logout(gateway: OnlineDevice, id: string, subDevices: readonly DeviceIdentity[]): Answer {
    if (subDevices.length === 0 || subDevices.length > GATEWAY_LIMITS.maxBatchLogin) {
      return { id, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: give 1..${GATEWAY_LIMITS.maxBatchLogin} sub-devices` };
    }
    const online = subDevices.map((device) => this.#host.presence.subDevice(gateway, device.productKey, device.deviceName));
    const absent = subDevices.filter((_, i) => online[i] === undefined);
    if (absent.length > 0) return refusal(id, absent.map((device) => this.#refuse(device, CODES.noSession)));
    for (const subDevice of online) {
      if (this.#host.presence.leave(subDevice!)) this.#announce(subDevice!, 'logout', 'logout');
    }
    return { id, data: subDevices.map(identity) };
  }

  #packPost(gateway: OnlineDevice, payload: Uint8Array): Answer {
    const post = parsePackPost(payload);
    const properties = countValues(post.gateway.properties) + post.subDevices.reduce((sum, s) => sum + countValues(s.properties), 0);
    const events = countValues(post.gateway.events) + post.subDevices.reduce((sum, s) => sum + countValues(s.events), 0);
    if (properties > GATEWAY_LIMITS.maxPackProperties || events > GATEWAY_LIMITS.maxPackEvents || post.subDevices.length > GATEWAY_LIMITS.maxPackSubDevices) {
      const limits = `${GATEWAY_LIMITS.maxPackProperties} properties, ${GATEWAY_LIMITS.maxPackEvents} events, ${GATEWAY_LIMITS.maxPackSubDevices} sub-devices`;
      return { id: post.id, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: a packed post holds at most ${limits}` };
    }
    // A sub-device's data goes up through its session, as any message of it does.
    const offline = post.subDevices.filter((s) => this.#host.presence.subDevice(gateway, s.productKey, s.deviceName) === undefined);
    if (offline.length > 0) return refusal(post.id, offline.map((device) => this.#refuse(device, CODES.noSession)));
    return { id: post.id, data: {} };
  }

  // -------------------------------------------------------------------------------------------
  // Topology and notices

  #addToTopology(gateway: DeviceIdentity, subDevice: DeviceIdentity): void {
    const previous = this.#topology.add(gateway, subDevice);
    if (previous === undefined) return;
    const online = this.#host.presence.lookup(subDevice.productKey, subDevice.deviceName);
    if (online?.gateway !== undefined && sameDevice(online.gateway.topics, previous)) {
      this.#host.presence.leave(online);
      this.#notice(online.gateway, subDevice, CODES.topologyNotFound, GATEWAY_REPLY_MESSAGES[6401]!);
      this.#announce(online, 'logout', 'topology-removed');
    }
    this.#topologyChange(previous, 'deleted', [subDevice]);
  }

  /** Removes a sub-device from the topology, ending its session; `notice` is the code its gateway is told, if any. */
  #removeFromTopology(gateway: DeviceIdentity, subDevice: DeviceIdentity, notice: number | undefined): boolean {
    if (!this.#topology.remove(gateway, subDevice)) return false;
    const online = this.#host.presence.lookup(subDevice.productKey, subDevice.deviceName);
    if (online?.gateway !== undefined && sameDevice(online.gateway.topics, gateway) && this.#host.presence.leave(online)) {
      if (notice !== undefined) this.#notice(online.gateway, subDevice, notice, GATEWAY_REPLY_MESSAGES[notice]!);
      this.#announce(online, 'logout', 'topology-removed');
    }
    return true;
  }

  /** Ends the session of a device the console disabled or deleted: its own connection, or its sub-device session. */
  #forceOffline(device: RegisteredDevice, code: number, reason: SubDeviceEventReason): void {
    const online = this.#host.presence.lookup(device.productKey, device.deviceName);
    if (online === undefined) return;
    if (online.gateway === undefined) {
      online.session.kick();
      return;
    }
    if (!this.#host.presence.leave(online)) return;
    this.#notice(online.gateway, device, code, GATEWAY_REPLY_MESSAGES[code]!);
    this.#announce(online, 'logout', reason);
  }

  /** `thing.topo.change` to the gateway, when it is online; its answer is not waited for. */
  #topologyChange(gateway: DeviceIdentity, status: TopoChangeStatus, subDevices: readonly DeviceIdentity[]): void {
    const online = this.#host.presence.lookup(gateway.productKey, gateway.deviceName);
    if (online === undefined || online.gateway !== undefined || subDevices.length === 0) return;
    this.#cloud.send(serviceTopic('topo-change', online.topics), buildTopoChange({ id: this.#ids.next(), status, subDevices }));
  }

  /** A notice on `/ext/error/{gateway}` about one sub-device. */
  #notice(gateway: OnlineDevice, subDevice: DeviceIdentity, code: number, message: string, id = this.#ids.next()): void {
    const topic = serviceTopic('session-error', gateway.topics);
    this.#cloud.send(topic, buildSessionError({ id, subDevice: identity(subDevice), code, message }), GATEWAY_LIMITS.sessionQos);
  }

  #announce(subDevice: OnlineDevice, action: SubDeviceEvent['action'], reason: SubDeviceEventReason): void {
    const gateway = subDevice.gateway!;
    this.#host.subDevice({
      action,
      reason,
      productKey: subDevice.topics.productKey,
      deviceName: subDevice.topics.deviceName,
      gateway: identity(gateway.topics),
      connection: gateway.session.traced,
    });
  }

  /** A reply to a notice this side sent; unreadable ones answer nothing. */
  #settle(topic: string, payload: Uint8Array): void {
    let reply: AlinkReply;
    try {
      reply = parseAlinkReply(payload);
    } catch {
      return;
    }
    this.#replies.settle(reply.id, topic, reply);
  }

  #speaksFor(gateway: OnlineDevice, device: DeviceIdentity): boolean {
    return sameDevice(device, gateway.topics) || this.#topology.has(gateway.topics, device);
  }

  #registered(device: DeviceIdentity, field: string): RegisteredDevice {
    const registered = this.#host.registry.get(device.productKey, device.deviceName);
    if (registered === undefined) {
      throw new EmulatorError('not-connected', `${field}: device ${device.deviceName} of product ${device.productKey} is not registered; list it in the emulator's devices`);
    }
    return registered;
  }

  #refuse(device: DeviceIdentity, code: number): Refusal {
    return { device: identity(device), code, message: GATEWAY_REPLY_MESSAGES[code] ?? 'refused' };
  }
}

/** What a request is answered with: 200 and data, or a code and message. */
interface Answer {
  readonly id: string;
  readonly code?: number;
  readonly data?: unknown;
  readonly message?: string;
}

/** A refusal of the whole request: the first device's code and message, and `data` naming every device at fault (page 89300). */
function refusal(id: string, refusals: readonly Refusal[]): Answer {
  const first = refusals[0]!;
  return { id, code: first.code, message: first.message, data: refusals.map(({ device }) => device) };
}

/** The device whose topic this is: `/sys/{pk}/{dn}/...` or `/{pk}/{dn}/user/...`. */
function ownerOf(topic: string): DeviceIdentity | undefined {
  const levels = topic.split('/');
  if (levels[0] !== '' || levels.length < 5) return undefined;
  if (levels[1] === 'sys') return { productKey: levels[2]!, deviceName: levels[3]! };
  if (levels[3] === 'user') return { productKey: levels[1]!, deviceName: levels[2]! };
  return undefined;
}

function identity(device: DeviceIdentity): DeviceIdentity {
  return { productKey: device.productKey, deviceName: device.deviceName };
}

function sameDevice(a: DeviceIdentity, b: DeviceIdentity): boolean {
  return a.productKey === b.productKey && a.deviceName === b.deviceName;
}

function hasDuplicates(devices: readonly DeviceIdentity[]): boolean {
  return new Set(devices.map((device) => deviceKey(device.productKey, device.deviceName))).size !== devices.length;
}

function countValues(values: Readonly<Record<string, unknown>> | undefined): number {
  return values === undefined ? 0 : Object.keys(values).length;
}

/** A stable stand-in for the platform's opaque device id. */
function iotId(device: DeviceIdentity): string {
  return nodeCrypto().createHash('sha256').update(deviceKey(device.productKey, device.deviceName)).digest('base64url').slice(0, 28);
}
