/**
 * A gateway on the platform: one connection (`connectDevice`) that speaks for many sub-devices.
 * Topology (add, each sub-device signed with its own secret; get; delete; the cloud's change
 * notices), sub-device registration, sub-device sessions (login, batch login, logout; the
 * platform's limits checked before sending; the cloud's notices; logging them all in again after
 * a reconnect, by itself), the packed and history posts, and a {@link SubDevice} handle per
 * logged-in sub-device over ONE shared subscription set (see `gateway-topics.ts`).
 *
 * Formats and rules: docs/platform-formats.md sections 4 to 6 and docs/gateway.md.
 */
import { EventEmitter } from 'node:events';
import { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { AlinkPayloadError } from '../aliyun/alink/errors.js';
import { ALINK_METHODS, buildAlinkReply, buildAlinkRequest, parseAlinkReply } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { PendingReplies } from '../aliyun/alink/pending.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import { checkOnlineCapacity, GATEWAY_LIMITS, inBatches } from '../aliyun/gateway/limits.js';
import { buildHistoryPost, buildPackPost } from '../aliyun/gateway/pack.js';
import type { HistoryEntry } from '../aliyun/gateway/pack.js';
import {
  buildBatchLogin,
  buildBatchLogout,
  buildSubLogin,
  buildSubLogout,
  parseBatchSessionReply,
  parseLifecycleNotice,
  parseSessionError,
  parseSessionReply,
} from '../aliyun/gateway/session.js';
import { signSubDevice } from '../aliyun/gateway/sign.js';
import type { SubDeviceCredentials } from '../aliyun/gateway/sign.js';
import {
  buildSubRegister,
  buildTopoAdd,
  buildTopoDelete,
  buildTopoGet,
  parseSubRegisterReply,
  parseTopoChange,
  parseTopologyReply,
} from '../aliyun/gateway/topology.js';
import type { RegisteredSubDevice } from '../aliyun/gateway/topology.js';
import { checkPlatformPublish, checkPlatformSubscribe } from '../aliyun/limits.js';
import { serviceTopic } from '../aliyun/service-topics.js';
import { readReply } from '../aliyun/wire/envelope.js';
import type { PlatformReply } from '../aliyun/wire/envelope.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { checkIdentity, identityKey } from '../aliyun/wire/identity.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import type { EndOptions, EndReport, MqttClient } from '../client/client.js';
import { MqttClientError, SubscribeError } from '../client/errors.js';
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireOneOf } from '../shared/validate.js';
import { SIGN_METHODS } from '../sign/types.js';
import type { SignMethod } from '../sign/types.js';
import { answerRequest, answerRrpc } from './alink-answer.js';
import { connectDevice, DEFAULT_REPLY_TIMEOUT } from './device.js';
import type { ConnectDeviceOptions, Device, PostOptions } from './device.js';
import { ALINK_REPLY_CODES, AlinkReplyError } from './errors.js';
import { GATEWAY_REPLY_CODES } from './gateway-codes.js';
import { GatewayError, GatewayLoginError, GatewayReplyError } from './gateway-errors.js';
import type { FailedLogin } from './gateway-errors.js';
import { gatewayFilters, readSubDeviceTopic, REQUEST_KINDS, subDeviceFilters } from './gateway-topics.js';
import type { GatewayRequestKind, GatewaySubscriptions } from './gateway-topics.js';
import { SubDeviceHandle } from './sub-device.js';
import type {
  Gateway,
  GatewayEvents,
  GatewayOptions,
  GatewayPackInput,
  GatewayRequestOptions,
  ReloginReport,
  SubDeviceLoginOptions,
  SubDeviceNoticeKind,
} from './gateway-types.js';
import type { SubDevice, SubDeviceHost, SubDeviceOfflineReason, SubDeviceState } from './sub-device.js';

/** The longest delay timers take; anything larger would fire at once. */
const MAX_TIMEOUT = 2_147_483_647;

/**
 * Where the gateway's own request ids start. The gateway's Device counts its posts from 1 on the
 * same connection; the two sequences would meet only after two billion requests, so no id is
 * used twice for the gateway's own topics.
 */
const FIRST_GATEWAY_ID = 2_000_000_001;

const EVENT = 'thing/event/';
const POST_REPLY = '/post_reply';

/** How long a sub-device refused with 429 (five logins a minute) waits before the next try. */
const RATE_LIMIT_WAIT = 60_000;

/**
 * Connects the gateway as a device (`connectDevice(deviceOptions)`) and makes it a gateway
 * ({@link createGateway}). With `subscriptions: 'wildcard'` the device subscribes nothing of its
 * own: the shared filters cover its topics too.
 *
 * @example
 * const gateway = await connectGateway({ productKey, deviceName, deviceSecret, endpoint: 'ipv6-test' });
 * await gateway.addTopology([meter]);
 * const sub = await gateway.login(meter);
 * await sub.postProperties({ Power: 12.5 });
 */
export async function connectGateway(deviceOptions: ConnectDeviceOptions, options: GatewayOptions = {}): Promise<Gateway> {
  const settings = resolveGatewayOptions(options);
  const device = await connectDevice(settings.subscriptions === 'wildcard' ? { ...deviceOptions, subscribe: false } : deviceOptions);
  try {
    return await startGateway(device, settings);
  } catch (error) {
    await device.end({ force: true });
    throw error;
  }
}

/**
 * Makes a connected device a gateway: checks the options, subscribes the gateway's shared filters
 * (one SUBSCRIBE) and returns the handle. Messages of sub-devices arrive through `device.client`.
 *
 * @throws ConfigurationError for bad options; GatewayError `subscribe-refused`.
 */
export async function createGateway(device: Device, options: GatewayOptions = {}): Promise<Gateway> {
  return startGateway(device, resolveGatewayOptions(options));
}

async function startGateway(device: Device, settings: GatewaySettings): Promise<Gateway> {
  const gateway = new PlatformGateway(device, settings);
  await gateway.start();
  return gateway;
}

interface GatewaySettings {
  readonly replyTimeout: number;
  readonly subscriptions: GatewaySubscriptions;
  readonly signMethod: SignMethod;
  readonly relogin: boolean;
  readonly cleanSession: boolean;
}

function resolveGatewayOptions(options: GatewayOptions): GatewaySettings {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', `got ${describeValue(options)}; give { replyTimeout, subscriptions, signMethod, relogin, cleanSession } or leave it out`);
  }
  const known = new Set(['replyTimeout', 'subscriptions', 'signMethod', 'relogin', 'cleanSession']);
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new ConfigurationError(name, `is not a gateway option; use ${[...known].join(', ')}`, 'unknown-option');
  }
  return {
    replyTimeout: checkTimeout('replyTimeout', options.replyTimeout ?? DEFAULT_REPLY_TIMEOUT),
    subscriptions: requireOneOf('subscriptions', options.subscriptions ?? 'wildcard', ['wildcard', 'per-product'] as const),
    signMethod: requireOneOf('signMethod', options.signMethod ?? 'hmacsha256', SIGN_METHODS),
    relogin: checkBoolean('relogin', options.relogin ?? true),
    cleanSession: checkBoolean('cleanSession', options.cleanSession ?? true),
  };
}

/** A gateway request waiting for its reply: what to read the reply with. */
type ReplyReader = (payload: Uint8Array) => PlatformReply<unknown>;

const READERS: Readonly<Record<GatewayRequestKind, ReplyReader>> = {
  'topo-add': parseTopologyReply,
  'topo-get': parseTopologyReply,
  'topo-delete': parseTopologyReply,
  'sub-register': parseSubRegisterReply,
  login: parseSessionReply,
  'batch-login': parseBatchSessionReply,
  logout: parseSessionReply,
  'batch-logout': parseBatchSessionReply,
  'pack-post': (payload) => readReply(payload, (data) => data),
  'history-post': (payload) => readReply(payload, (data) => data),
};

/** The session topics go at QoS 0 only (page 89300); the gateway's other requests at QoS 1, as its posts. */
function requestQos(kind: GatewayRequestKind): 0 | 1 {
  return kind.includes('log') ? GATEWAY_LIMITS.sessionQos : 1;
}

class PlatformGateway extends EventEmitter<GatewayEvents> implements Gateway, SubDeviceHost {
  readonly device: Device;
  readonly client: MqttClient;
  readonly productKey: string;
  readonly deviceName: string;
  readonly subscriptions: GatewaySubscriptions;
  readonly #settings: GatewaySettings;
  readonly #ids = new AlinkIdGenerator(FIRST_GATEWAY_ID);
  /** The gateway's own requests waiting for their `_reply`, by id. */
  readonly #requests: PendingReplies<PlatformReply<unknown>>;
  /** Sub-devices' posts waiting for their `post_reply`, by id. */
  readonly #posts: PendingReplies<AlinkReply>;
  /** Posts held until their sub-device is logged in again; a timeout takes the id out. */
  readonly #held = new Set<string>();
  /** The gateway's reply topics and what each answers. */
  readonly #replyKinds = new Map<string, GatewayRequestKind>();
  readonly #topoChangeTopic: string;
  readonly #errorTopic: string;
  /** Every sub-device the program logged in and has not logged out, by `${pk}/${dn}`. */
  readonly #subDevices = new Map<string, SubDeviceHandle>();
  #online = 0;
  /** Products whose filters are subscribed (`per-product`). */
  readonly #products = new Set<string>();
  /** The last unreadable reply seen on a reply topic with no id, for the timeout that follows. */
  readonly #unreadable = new Map<string, Error>();
  /** Sub-devices waiting for the next automatic login round. */
  readonly #returning = new Set<SubDeviceHandle>();
  #round: Promise<void> | undefined;
  /** Settles whenever a round ends, for posts waiting for their sub-device. */
  #roundEnded = deferred();
  #ended = false;

  constructor(device: Device, settings: GatewaySettings) {
    super();
    this.device = device;
    this.client = device.client;
    this.productKey = device.productKey;
    this.deviceName = device.deviceName;
    this.subscriptions = settings.subscriptions;
    this.#settings = settings;
    this.#requests = new PendingReplies(this.client.options.clock);
    this.#posts = new PendingReplies(this.client.options.clock);
    for (const kind of REQUEST_KINDS) this.#replyKinds.set(serviceTopic(kind, this, { reply: true }), kind);
    this.#topoChangeTopic = serviceTopic('topo-change', this);
    this.#errorTopic = serviceTopic('session-error', this);
  }

  get onlineCount(): number {
    return this.#online;
  }

  get ending(): boolean {
    return this.#ended;
  }

  /** Listens, then subscribes the shared filters in one SUBSCRIBE. */
  async start(): Promise<void> {
    const client = this.client;
    client.on('message', (topic, payload) => this.#received(topic, payload));
    client.on('offline', () => this.#connectionLost());
    client.on('connect', () => this.#reconnected());
    client.on('end', () => this.#stop('the client ended'));
    const filters = gatewayFilters(this);
    if (this.subscriptions === 'wildcard') filters.push(...subDeviceFilters('+'));
    await this.#subscribe(filters);
  }

  // -------------------------------------------------------------------------------------------
  // Topology and registration

  async addTopology(subDevices: readonly SubDeviceCredentials[], options: GatewayRequestOptions & { readonly signMethod?: SignMethod } = {}): Promise<DeviceIdentity[]> {
    checkList('subDevices', subDevices);
    const signMethod = options.signMethod ?? this.#settings.signMethod;
    const timestamp = Date.now();
    // Every message is built (and every sub-device signed) once before the first goes out.
    const messages = inBatches(subDevices, GATEWAY_LIMITS.maxTopoAdd).map((batch) => prebuild((id) => buildTopoAdd({ id, subDevices: batch, signMethod, timestamp })));
    const added: DeviceIdentity[] = [];
    for (const build of messages) added.push(...((await this.#request('topo-add', build, options)).data as DeviceIdentity[]));
    return added;
  }

  async getTopology(options: GatewayRequestOptions = {}): Promise<DeviceIdentity[]> {
    return (await this.#request('topo-get', (id) => buildTopoGet({ id }), options)).data as DeviceIdentity[];
  }

  async deleteTopology(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions = {}): Promise<DeviceIdentity[]> {
    const build = prebuild((id) => buildTopoDelete({ id, subDevices }));
    const removed = (await this.#request('topo-delete', build, options)).data as DeviceIdentity[];
    for (const device of removed) this.#goOffline(this.#subDevices.get(identityKey(device)), 'topology-removed');
    return removed;
  }

  async registerSubDevices(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions = {}): Promise<RegisteredSubDevice[]> {
    const build = prebuild((id) => buildSubRegister({ id, subDevices }));
    return (await this.#request('sub-register', build, options)).data as RegisteredSubDevice[];
  }

  // -------------------------------------------------------------------------------------------
  // Sub-device sessions

  async login(subDevice: SubDeviceCredentials, options: SubDeviceLoginOptions = {}): Promise<SubDevice> {
    const cleanSession = this.#cleanSession(options);
    signSubDevice(subDevice); // refuses credentials that cannot be signed, before anything is sent
    const handle = this.#handleFor(subDevice);
    if (handle.state === 'online') return handle;
    checkOnlineCapacity(this.#online + this.#returning.size, handle.state === 'returning' ? 0 : 1);
    await this.#subscribeProducts([handle]);
    const timestamp = Date.now();
    const signMethod = this.#settings.signMethod;
    const build = (id: string): string => buildSubLogin({ id, subDevice: handle.credentials, cleanSession, signMethod, timestamp });
    await this.#request('login', prebuild(build), options);
    this.#cameOnline(handle);
    return handle;
  }

  async loginAll(subDevices: readonly SubDeviceCredentials[], options: SubDeviceLoginOptions = {}): Promise<SubDevice[]> {
    checkList('subDevices', subDevices);
    const cleanSession = this.#cleanSession(options);
    const seen = new Set<string>();
    subDevices.forEach((credentials, i) => {
      const { productKey, deviceName } = checkIdentity(credentials, `subDevices[${i}]`);
      signSubDevice(credentials); // refuses credentials that cannot be signed, before anything is sent
      const key = identityKey({ productKey, deviceName });
      if (seen.has(key)) throw new ConfigurationError(`subDevices[${i}]`, `${key} appears twice; list each sub-device once`);
      seen.add(key);
    });
    const handles = subDevices.map((credentials) => this.#handleFor(credentials));
    const arriving = handles.filter((handle) => handle.state !== 'online');
    checkOnlineCapacity(this.#online + this.#returning.size, arriving.filter((handle) => handle.state === 'offline').length);
    const { failed } = await this.#loginInBatches(arriving, cleanSession, options.timeout);
    if (failed.length > 0) throw new GatewayLoginError(handles.filter((handle) => handle.state === 'online'), failed);
    return handles;
  }

  async logout(subDevice: DeviceIdentity, options: GatewayRequestOptions = {}): Promise<void> {
    const { productKey, deviceName } = checkIdentity(subDevice, 'subDevice');
    const build = prebuild((id) => buildSubLogout({ id, subDevice: { productKey, deviceName } }));
    await this.#request('logout', build, options);
    this.#loggedOut(identityKey({ productKey, deviceName }));
  }

  async logoutAll(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions = {}): Promise<void> {
    checkList('subDevices', subDevices);
    const identities = subDevices.map((device, i) => checkIdentity(device, `subDevices[${i}]`));
    const messages = inBatches(identities).map((batch) => ({ batch, build: prebuild((id) => buildBatchLogout({ id, subDevices: batch })) }));
    for (const { batch, build } of messages) {
      await this.#request('batch-logout', build, options);
      for (const device of batch) this.#loggedOut(identityKey(device));
    }
  }

  subDevice(productKey: string, deviceName: string): SubDevice | undefined {
    return this.#subDevices.get(identityKey({ productKey, deviceName }));
  }

  subDevices(): SubDevice[] {
    return [...this.#subDevices.values()];
  }

  // -------------------------------------------------------------------------------------------
  // Batch posts

  async postPack(input: GatewayPackInput, options: PostOptions = {}): Promise<AlinkReply> {
    if (typeof input !== 'object' || input === null) throw new ConfigurationError('input', 'give { properties, events, subDevices }');
    const build = prebuild((id) => buildPackPost({ ...input, id }));
    for (const report of input.subDevices ?? []) {
      const handle = this.#subDevices.get(identityKey(report));
      if (handle?.state !== 'online') {
        throw new GatewayError('not-logged-in', `sub-device ${identityKey(report)} is not logged in through this gateway (${handle?.reason ?? 'never logged in'}); log it in before posting for it`);
      }
    }
    return this.#post('pack-post', build, options);
  }

  async postHistory(entries: readonly HistoryEntry[], options: PostOptions = {}): Promise<AlinkReply> {
    return this.#post('history-post', prebuild((id) => buildHistoryPost({ id, entries })), options);
  }

  end(options?: EndOptions): Promise<EndReport> {
    this.#stop('end() was called');
    return this.device.end(options);
  }

  // -------------------------------------------------------------------------------------------
  // What a sub-device asks of its gateway (SubDeviceHost)

  async post(subDevice: SubDeviceHandle, topic: string, replyTopic: string, method: string, params: unknown, options: PostOptions): Promise<AlinkReply> {
    if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', `got ${describeValue(options)}; give { timeout, qos } or leave it out`);
    const timeout = options.timeout === undefined ? this.#settings.replyTimeout : checkTimeout('timeout', options.timeout);
    const qos = options.qos ?? 0;
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new ConfigurationError('params', `got ${describeValue(params)}; give a JSON object such as { "temperature": 21.5 }`);
    }
    const id = this.#ids.next();
    const payload = buildAlinkRequest({ id, method, params: params as Record<string, unknown> });
    checkPlatformPublish(topic, payload, { qos });
    this.#checkUsable(subDevice, method);
    const reply = this.#posts.wait(id, {
      topic: replyTopic,
      timeout,
      what: method,
      owner: subDevice,
      onTimeout: () => {
        this.#held.delete(id);
        return this.#timeoutError(`${method} of ${subDevice.key}`, id, replyTopic, timeout);
      },
    });
    if (subDevice.state === 'online') {
      this.client.publish(topic, payload, { qos }).catch((error: Error) => this.#posts.reject(id, this.#sendFailed(error, `a post of ${subDevice.key}`, id)));
    } else {
      void this.#sendWhenBack(subDevice, id, topic, payload, qos, reply);
    }
    const answer = await reply;
    if (answer.code !== ALINK_REPLY_CODES.success) throw new AlinkReplyError(method, answer);
    return answer;
  }

  async publish(subDevice: SubDeviceHandle, topic: string, payload: Uint8Array | string, qos: 0 | 1): Promise<void> {
    checkPlatformPublish(topic, payload, { qos });
    this.#checkUsable(subDevice, `a message on ${topic}`);
    if (subDevice.state !== 'online') {
      throw new GatewayError('not-logged-in', `sub-device ${subDevice.key} is being logged in again (${subDevice.reason}); publish once it is online`);
    }
    await this.client.publish(topic, payload, { qos });
  }

  publishAnswer(topic: string, payload: Uint8Array | string): Promise<void> {
    return this.client.publish(topic, payload, { qos: 0 });
  }

  // -------------------------------------------------------------------------------------------
  // Requests and replies

  /** Sends one gateway request and resolves with its reply; a refusal rejects with GatewayReplyError. */
  async #request(kind: GatewayRequestKind, build: (id: string) => string, options: GatewayRequestOptions, qos: 0 | 1 = requestQos(kind)): Promise<PlatformReply<unknown>> {
    checkOptions(options);
    const timeout = options.timeout === undefined ? this.#settings.replyTimeout : checkTimeout('timeout', options.timeout);
    if (this.#ended) throw new GatewayError('gateway-ended', `the gateway has ended; ${describeKind(kind)} was not sent`);
    const id = this.#ids.next();
    const payload = build(id);
    const topic = serviceTopic(kind, this);
    const replyTopic = serviceTopic(kind, this, { reply: true });
    checkPlatformPublish(topic, payload, { qos });
    const what = describeKind(kind);
    const reply = this.#requests.wait(id, { topic: replyTopic, timeout, what, onTimeout: () => this.#timeoutError(what, id, replyTopic, timeout) });
    this.client.publish(topic, payload, { qos }).catch((error: Error) => this.#requests.reject(id, this.#sendFailed(error, what, id)));
    const answer = await reply;
    if (!answer.ok) throw refused(what, answer);
    return answer;
  }

  /** A packed or history post: a gateway request whose reply is an Alink reply. */
  async #post(kind: 'pack-post' | 'history-post', build: (id: string) => string, options: PostOptions): Promise<AlinkReply> {
    checkOptions(options);
    if (options.qos !== undefined && options.qos !== 0 && options.qos !== 1) throw new ConfigurationError('qos', `got ${describeValue(options.qos)}; use 0 or 1`);
    const { id, code, data, message } = await this.#request(kind, build, options, options.qos);
    return message === undefined ? { id, code, data } : { id, code, data, message };
  }

  /** Publishes the post of a sub-device on its way back online, once it is back. */
  async #sendWhenBack(subDevice: SubDeviceHandle, id: string, topic: string, payload: string, qos: 0 | 1, reply: Promise<AlinkReply>): Promise<void> {
    this.#held.add(id);
    const settled = reply.then(() => {}, () => {});
    while (stateOf(subDevice) === 'returning' && this.#held.has(id)) await Promise.race([this.#roundEnded.promise, settled]);
    // A timeout took it out, or the sub-device went offline for good and its posts failed with it.
    if (!this.#held.delete(id) || stateOf(subDevice) !== 'online') return;
    try {
      await this.client.publish(topic, payload, { qos });
    } catch (error) {
      this.#posts.reject(id, this.#sendFailed(error as Error, `a post of ${subDevice.key}`, id));
    }
  }

  #sendFailed(error: Error, what: string, id: string): Error {
    if (error instanceof MqttClientError && error.code === 'client-ended') {
      return new GatewayError('gateway-ended', `the client ended before ${what} (id ${id}) went out`, { cause: error });
    }
    return error;
  }

  #timeoutError(what: string, id: string, replyTopic: string, timeout: number): GatewayError {
    const unreadable = this.#unreadable.get(replyTopic);
    const seen = unreadable === undefined ? '' : `; an unreadable reply without an id arrived on that topic meanwhile (${unreadable.message})`;
    return new GatewayError('reply-timeout', `no reply to ${what} (id ${id}) on ${replyTopic} within ${timeout} ms${seen}`, unreadable === undefined ? undefined : { cause: unreadable });
  }

  #checkUsable(subDevice: SubDeviceHandle, what: string): void {
    if (this.#ended) throw new GatewayError('gateway-ended', `the gateway has ended; ${what} was not sent`);
    if (subDevice.state === 'offline') {
      throw new GatewayError('not-logged-in', `sub-device ${subDevice.key} is not logged in (${subDevice.reason}); ${what} was not sent: log it in with gateway.login first`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // What arrives

  #received(topic: string, payload: Uint8Array): void {
    if (this.#ended) return;
    try {
      this.#dispatch(topic, payload);
    } catch (error) {
      // Nothing a message holds may escape into the client's socket handler.
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #dispatch(topic: string, payload: Uint8Array): void {
    // Sub-devices' messages first: with many sub-devices they are nearly all the traffic.
    if (topic.startsWith('/sys/')) {
      const productEnd = topic.indexOf('/', 5);
      const nameEnd = productEnd < 0 ? -1 : topic.indexOf('/', productEnd + 1);
      // A sub-device not logged in through this gateway is not its business; the gateway's own topics are its Device's.
      const subDevice = nameEnd < 0 ? undefined : this.#subDevices.get(topic.slice(5, nameEnd));
      if (subDevice !== undefined) {
        this.#subDeviceMessage(subDevice, topic, nameEnd + 1, payload);
        return;
      }
    }
    const kind = this.#replyKinds.get(topic);
    if (kind !== undefined) {
      this.#replyArrived(kind, topic, payload);
    } else if (topic === this.#topoChangeTopic) {
      this.#topologyChanged(topic, payload);
    } else if (topic === this.#errorTopic) {
      this.#sessionError(payload);
    }
  }

  /** A message on `topic`, whose part after `/sys/{pk}/{dn}/` starts at `at`. */
  #subDeviceMessage(subDevice: SubDeviceHandle, topic: string, at: number, payload: Uint8Array): void {
    // The post reply, `thing/event/{identifier}/post_reply`, without splitting the topic.
    const identifierEnd = topic.length - POST_REPLY.length;
    if (topic.endsWith(POST_REPLY) && topic.startsWith(EVENT, at) && identifierEnd > at + EVENT.length && topic.indexOf('/', at + EVENT.length) === identifierEnd) {
      this.#postReplyArrived(topic, payload);
      return;
    }
    const rest = readSubDeviceTopic(topic.slice(at));
    switch (rest?.kind) {
      case 'post-reply':
        this.#postReplyArrived(topic, payload);
        return;
      case 'property-set':
        answerRequest(subDevice, topic, payload, `${topic}_reply`, subDevice.handler(ALINK_METHODS.propertySet));
        return;
      case 'service-call':
        answerRequest(subDevice, topic, payload, `${topic}_reply`, subDevice.handler(ALINK_METHODS.serviceCall(rest.identifier)));
        return;
      case 'rrpc-request':
        answerRrpc(subDevice, rest.messageId, payload, `${subDevice.sys}rrpc/response/${rest.messageId}`, (method) => subDevice.handler(method), subDevice.rrpcHandler());
        return;
      case 'lifecycle':
        this.#lifecycleNotice(subDevice, topic, payload);
        return;
      default:
        // The echoes of the sub-device's own answers are nobody's.
        return;
    }
  }

  #replyArrived(kind: GatewayRequestKind, topic: string, payload: Uint8Array): void {
    let reply: PlatformReply<unknown>;
    try {
      reply = READERS[kind](payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#unreadableReply(this.#requests, topic, payload, error);
      return;
    }
    this.#unreadable.delete(topic);
    if (!this.#requests.settle(reply.id, topic, reply) && debug.enabled) debug('gateway: reply %s on %s matches no waiting request', reply.id, topic);
  }

  #postReplyArrived(topic: string, payload: Uint8Array): void {
    let reply: AlinkReply;
    try {
      reply = parseAlinkReply(payload);
    } catch (error) {
      if (!(error instanceof AlinkPayloadError)) throw error;
      this.#unreadableReply(this.#posts, topic, payload, error);
      return;
    }
    this.#unreadable.delete(topic);
    this.#posts.settle(reply.id, topic, reply);
  }

  /**
   * A reply that cannot be read: the request with the id it still shows fails with
   * `malformed-reply`; without an id, the next timeout on that topic says what came.
   */
  #unreadableReply(table: { reject(id: string, error: Error): boolean }, topic: string, payload: Uint8Array, error: Error): void {
    const id = readRequestId(payload);
    const failure = new GatewayError('malformed-reply', `the reply on ${topic}${id === undefined ? '' : ` to id ${id}`} cannot be read: ${error.message}`, { cause: error });
    if (id !== undefined && table.reject(id, failure)) return;
    if (id === undefined) this.#unreadable.set(topic, error);
    this.#report(failure);
  }

  /** `thing.topo.change`: answered 200, reported, and the sub-devices concerned follow it. */
  #topologyChanged(topic: string, payload: Uint8Array): void {
    let change: ReturnType<typeof parseTopoChange>;
    try {
      change = parseTopoChange(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#unreadableNotice(topic, payload, error);
      return;
    }
    void this.publishAnswer(`${topic}_reply`, buildAlinkReply({ id: change.id })).catch((error: Error) => this.#answerFailed(topic, error));
    const kind: SubDeviceNoticeKind = { created: 'topology-added', deleted: 'topology-removed', enabled: 'enabled', disabled: 'disabled' }[change.status] as SubDeviceNoticeKind;
    for (const device of change.subDevices) this.#notice(device, kind, undefined, undefined);
    this.emit('topology', { status: change.status, subDevices: change.subDevices });
  }

  /** A notice on `/ext/error/{gateway}` about one sub-device. */
  #sessionError(payload: Uint8Array): void {
    let notice: ReturnType<typeof parseSessionError>;
    try {
      notice = parseSessionError(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#report(new GatewayError('malformed-reply', `the notice on ${this.#errorTopic} cannot be read: ${error.message}`, { cause: error }));
      return;
    }
    const codes = GATEWAY_REPLY_CODES;
    const kinds: Readonly<Record<number, SubDeviceNoticeKind>> = {
      [codes.noSession]: 'no-session',
      [codes.connectedElsewhere]: 'kicked',
      [codes.deviceDeleted]: 'deleted',
      [codes.deviceForbidden]: 'disabled',
      [codes.topologyNotFound]: 'topology-removed',
    };
    if (notice.code === codes.noSession) {
      // The message it names was not taken: its post fails now rather than at its timeout.
      const what = `the platform answered id ${notice.id} of ${identityKey(notice.subDevice)} with ${notice.code} (${notice.message ?? 'no session'}): it had no session, so the message was not taken; the gateway logs it in again, send once it is online`;
      this.#posts.reject(notice.id, new GatewayError('no-session', what));
    }
    this.#notice(notice.subDevice, kinds[notice.code] ?? 'other', notice.code, notice.message);
  }

  /** `thing.disable`, `thing.enable`, `thing.delete` on a sub-device's topic (iotkit-embedded 3.x): answered 200, then followed. */
  #lifecycleNotice(subDevice: SubDeviceHandle, topic: string, payload: Uint8Array): void {
    let notice: ReturnType<typeof parseLifecycleNotice>;
    try {
      notice = parseLifecycleNotice(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#unreadableNotice(topic, payload, error);
      return;
    }
    void this.publishAnswer(`${topic}_reply`, buildAlinkReply({ id: notice.id })).catch((error: Error) => this.#answerFailed(topic, error));
    const kind = ({ disable: 'disabled', enable: 'enabled', delete: 'deleted' } as const)[notice.action];
    this.#notice(subDevice, kind, undefined, undefined);
  }

  /** An unreadable notice is reported, and answered 460 when its id can be read. */
  #unreadableNotice(topic: string, payload: Uint8Array, error: Error): void {
    const id = readRequestId(payload);
    this.#report(new GatewayError('malformed-reply', `the notice on ${topic} cannot be read (${error.message})${id === undefined ? '' : `; answered ${ALINK_REPLY_CODES.requestParameterError}`}`, { cause: error }));
    if (id === undefined) return;
    const reply = buildAlinkReply({ id, code: ALINK_REPLY_CODES.requestParameterError, message: `request parameter error: ${error.message}` });
    void this.publishAnswer(`${topic}_reply`, reply).catch((failure: Error) => this.#answerFailed(topic, failure));
  }

  #answerFailed(topic: string, error: Error): void {
    if (!this.#ended) this.#report(new GatewayError('gateway-ended', `could not answer the notice on ${topic}: ${error.message}`, { cause: error }));
  }

  /** Follows a notice: the sub-device goes offline, or comes back, as it says; then it is announced. */
  #notice(device: DeviceIdentity, kind: SubDeviceNoticeKind, code: number | undefined, message: string | undefined): void {
    const subDevice = this.#subDevices.get(identityKey(device));
    switch (kind) {
      case 'no-session':
        if (subDevice?.state === 'online') this.#returnLater(subDevice, 'no-session');
        break;
      case 'enabled':
        if (subDevice?.state === 'offline' && subDevice.reason === 'disabled') this.#returnLater(subDevice, 'disabled');
        break;
      case 'kicked':
      case 'disabled':
      case 'deleted':
      case 'topology-removed':
        this.#goOffline(subDevice, kind);
        break;
      default:
        break;
    }
    this.emit('notice', { productKey: device.productKey, deviceName: device.deviceName, kind, code, message });
  }

  // -------------------------------------------------------------------------------------------
  // Sub-device states

  /** The handle of `credentials`' sub-device, made on first use; a later login's credentials replace the earlier ones. */
  #handleFor(credentials: SubDeviceCredentials): SubDeviceHandle {
    const key = identityKey(credentials);
    let handle = this.#subDevices.get(key);
    if (handle === undefined) {
      handle = new SubDeviceHandle(this, credentials, key);
      this.#subDevices.set(key, handle);
    } else {
      handle.credentials = credentials;
    }
    return handle;
  }

  #cameOnline(handle: SubDeviceHandle): void {
    const was = handle.state;
    this.#returning.delete(handle);
    if (was === 'online') return;
    handle.state = 'online';
    handle.reason = undefined;
    this.#online++;
    if (was === 'returning') handle.emit('online');
  }

  /** Takes a sub-device offline for good (until the program or an enable logs it in); its posts fail. */
  #goOffline(handle: SubDeviceHandle | undefined, reason: SubDeviceOfflineReason): void {
    if (handle === undefined || (this.#ended && reason !== 'gateway-ended')) return;
    if (handle.state === 'offline') {
      // Already offline: only why changes (disabled, then deleted, is deleted).
      handle.reason = reason;
      return;
    }
    if (handle.state === 'online') this.#online--;
    this.#returning.delete(handle);
    handle.state = 'offline';
    handle.reason = reason;
    this.#posts.rejectAll((id, what) => new GatewayError('not-logged-in', `${what} of ${handle.key} (id ${id}) failed: the sub-device went offline (${reason})`), handle);
    handle.emit('offline', reason);
  }

  /** Takes a sub-device offline for a while: the next login round brings it back. */
  #returnLater(handle: SubDeviceHandle, reason: SubDeviceOfflineReason): void {
    if (!this.#settings.relogin) {
      this.#goOffline(handle, reason);
      return;
    }
    if (handle.state === 'online') this.#online--;
    const was = handle.state;
    handle.state = 'returning';
    handle.reason = reason;
    this.#returning.add(handle);
    if (was === 'online') handle.emit('offline', reason);
    if (this.client.connected) this.#startRound();
  }

  #loggedOut(key: string): void {
    const handle = this.#subDevices.get(key);
    if (handle === undefined) return;
    this.#goOffline(handle, 'logout');
    this.#subDevices.delete(key);
  }

  /** The gateway's connection went down: its sub-devices' sessions end with it. */
  #connectionLost(): void {
    for (const handle of this.#subDevices.values()) if (handle.state === 'online') this.#returnLater(handle, 'gateway-offline');
  }

  /** A new connection: every sub-device on its way back is logged in again. */
  #reconnected(): void {
    if (this.#returning.size > 0) this.#startRound();
  }

  // -------------------------------------------------------------------------------------------
  // Logging in, by the program and by itself

  /** Starts a login round for every returning sub-device, unless one runs (it picks them up). */
  #startRound(): void {
    if (this.#round !== undefined || this.#ended) return;
    // One turn of the event loop later, so that notices arriving together go in one batch.
    this.#round = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#loginRound());
  }

  async #loginRound(): Promise<void> {
    try {
      while (this.#returning.size > 0 && this.client.connected && !this.#ended) {
        const handles = [...this.#returning];
        this.#returning.clear();
        const report = await this.#loginInBatches(handles, this.#settings.cleanSession, undefined);
        this.emit('relogin', report);
      }
    } catch (error) {
      this.#report(error as Error);
    } finally {
      this.#round = undefined;
      const ended = this.#roundEnded;
      this.#roundEnded = deferred();
      ended.resolve();
    }
  }

  /**
   * Logs `handles` in with batch logins of 50, one after the other. A refused batch is sent once
   * more without the sub-devices its refusal names; a 429 sends the sub-devices concerned back to
   * wait a minute. Sub-devices that do not get in go offline (reason `relogin-failed` for those
   * that were returning).
   */
  async #loginInBatches(handles: readonly SubDeviceHandle[], cleanSession: boolean, timeout: number | undefined): Promise<ReloginReport> {
    const loggedIn: SubDevice[] = [];
    const failed: FailedLogin[] = [];
    await this.#subscribeProducts(handles).catch((error: Error) => {
      for (const handle of handles) {
        const failure = this.#loginFailed(handle, error);
        if (failure !== undefined) failed.push(failure);
      }
      handles = [];
    });
    for (const batch of inBatches(handles)) {
      let pending = batch;
      for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
        try {
          await this.#batchLogin(pending, cleanSession, timeout);
          for (const handle of pending) {
            this.#cameOnline(handle);
            loggedIn.push(handle);
          }
          pending = [];
        } catch (error) {
          const named = error instanceof GatewayReplyError ? new Set(error.subDevices.map(identityKey)) : new Set<string>();
          const atFault = named.size === 0 || attempt === 1 ? pending : pending.filter((handle) => named.has(handle.key));
          for (const handle of atFault) {
            const failure = this.#loginFailed(handle, error as Error);
            if (failure !== undefined) failed.push(failure);
          }
          pending = pending.filter((handle) => !atFault.includes(handle));
        }
      }
    }
    return { loggedIn, failed };
  }

  async #batchLogin(handles: readonly SubDeviceHandle[], cleanSession: boolean, timeout: number | undefined): Promise<void> {
    const timestamp = Date.now();
    const signMethod = this.#settings.signMethod;
    const subDevices = handles.map((handle) => handle.credentials);
    await this.#request('batch-login', (id) => buildBatchLogin({ id, subDevices, cleanSession, signMethod, timestamp }), { timeout });
  }

  /**
   * A sub-device that did not get in: offline with `error`; or, for one on its way back, kept for
   * the next round when the connection dropped meanwhile (`undefined`: not a failure yet), or
   * again in a minute after a 429.
   */
  #loginFailed(handle: SubDeviceHandle, error: Error): FailedLogin | undefined {
    if (handle.state === 'returning' && !this.client.connected && !this.#ended) {
      this.#returning.add(handle);
      return undefined;
    }
    if (error instanceof GatewayReplyError && error.code === GATEWAY_REPLY_CODES.tooManyRequests && handle.state === 'returning') {
      // Five logins a minute: try this one again once the minute has passed.
      const clock = this.client.options.clock;
      clock.setTimeout(() => {
        if (handle.state === 'returning' && !this.#ended) {
          this.#returning.add(handle);
          if (this.client.connected) this.#startRound();
        }
      }, RATE_LIMIT_WAIT);
    } else {
      this.#goOffline(handle, handle.state === 'returning' ? 'relogin-failed' : 'not-logged-in');
    }
    return { productKey: handle.productKey, deviceName: handle.deviceName, error };
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions, options, ending

  /** Subscribes the filters of the products of `handles` not subscribed yet (`per-product` only). */
  async #subscribeProducts(handles: readonly SubDeviceHandle[]): Promise<void> {
    if (this.subscriptions !== 'per-product') return;
    const products = [...new Set(handles.map((handle) => handle.productKey))].filter((product) => !this.#products.has(product));
    if (products.length === 0) return;
    await this.#subscribe(products.flatMap(subDeviceFilters));
    for (const product of products) this.#products.add(product);
  }

  async #subscribe(filters: readonly string[]): Promise<void> {
    for (const filter of filters) checkPlatformSubscribe(filter, 1);
    try {
      await this.client.subscribe(filters, { qos: 1 });
    } catch (error) {
      if (!(error instanceof SubscribeError)) throw error;
      const refused = error.grants.filter((grant) => grant.qos === null).map((grant) => grant.topicFilter);
      const other = this.subscriptions === 'wildcard' ? "subscriptions: 'per-product'" : "subscriptions: 'wildcard'";
      throw new GatewayError('subscribe-refused', `the platform refused ${refused.join(', ')}; try the gateway option ${other}`, { cause: error });
    }
  }

  #cleanSession(options: SubDeviceLoginOptions): boolean {
    checkOptions(options);
    return options.cleanSession === undefined ? this.#settings.cleanSession : checkBoolean('cleanSession', options.cleanSession);
  }

  /** Stops handling messages, fails everything waiting and takes every sub-device offline. */
  #stop(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    const ended = (id: string, what: string): Error => new GatewayError('gateway-ended', `${why} before the reply to ${what} (id ${id}) came`);
    this.#requests.rejectAll(ended);
    this.#posts.rejectAll(ended);
    this.#held.clear();
    for (const handle of this.#subDevices.values()) this.#goOffline(handle, 'gateway-ended');
    this.#returning.clear();
    this.#roundEnded.resolve();
  }

  #report(error: Error): void {
    if (debug.enabled) debug('gateway %s: %s', this.deviceName, error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/** A refusal as a GatewayReplyError naming the sub-devices its `data` lists. */
function refused(what: string, reply: Extract<PlatformReply<unknown>, { ok: false }>): GatewayReplyError {
  const named: DeviceIdentity[] = [];
  const data = Array.isArray(reply.data) ? reply.data : reply.data === undefined || reply.data === null ? [] : [reply.data];
  for (const item of data) {
    const { productKey, deviceName } = (item ?? {}) as Partial<DeviceIdentity>;
    if (typeof productKey === 'string' && typeof deviceName === 'string') named.push({ productKey, deviceName });
  }
  const alinkReply: AlinkReply = reply.message === undefined ? { id: reply.id, code: reply.code, data: reply.data } : { id: reply.id, code: reply.code, data: reply.data, message: reply.message };
  return new GatewayReplyError(what, alinkReply, named);
}

function describeKind(kind: GatewayRequestKind): string {
  const names: Readonly<Record<GatewayRequestKind, string>> = {
    'topo-add': 'thing.topo.add',
    'topo-get': 'thing.topo.get',
    'topo-delete': 'thing.topo.delete',
    'sub-register': 'thing.sub.register',
    login: 'combine/login',
    'batch-login': 'combine/batch_login',
    logout: 'combine/logout',
    'batch-logout': 'combine/batch_logout',
    'pack-post': 'thing.event.property.pack.post',
    'history-post': 'thing.event.property.history.post',
  };
  return names[kind];
}

/** Builds the message once with a placeholder id, so that bad input throws before anything is sent. */
function prebuild(build: (id: string) => string): (id: string) => string {
  build('1');
  return build;
}

function checkList(field: string, list: unknown): void {
  if (!Array.isArray(list) || list.length === 0) throw new ConfigurationError(field, `got ${describeValue(list)}; give a non-empty array`);
}

function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', `got ${describeValue(options)}; give { timeout } or leave it out`);
}

function checkTimeout(field: string, value: unknown): number {
  return requireIntegerIn(field, value, 1, MAX_TIMEOUT, `give whole milliseconds, 1..${MAX_TIMEOUT}`);
}

function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigurationError(field, `got ${describeValue(value)}; use true or false`);
  return value;
}

/** The state now: read through a call, since it changes while a caller awaits. */
function stateOf(subDevice: SubDeviceHandle): SubDeviceState {
  return subDevice.state;
}

function deferred(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

