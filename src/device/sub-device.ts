/**
 * A sub-device logged in through a gateway: the handle a program uses as it uses a `Device`
 * (`postProperties`, `postEvent`, `onPropertySet`, `onService`, `onRrpc`, `publish`), every
 * message carried over the gateway's one connection. The gateway owns the traffic (its reply
 * table, its subscriptions, its id sequence); this object holds only what is the sub-device's own,
 * so that a gateway with 2,000 of them stays small.
 */
import { EventEmitter } from 'node:events';
import { ALINK_METHODS } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { AlinkTopics } from '../aliyun/alink/topics.js';
import type { SubDeviceCredentials } from '../aliyun/gateway/sign.js';
import { parseServiceTopic } from '../aliyun/service-topics.js';
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn } from '../shared/validate.js';
import type { Answerer } from './alink-answer.js';
import type { DevicePublishOptions, EventPostOptions, PostOptions } from './device-options.js';
import type { AlinkRequestHandler, RrpcHandler } from './device-types.js';

/** Why a sub-device is offline. */
export type SubDeviceOfflineReason =
  /** Not logged in yet. */
  | 'not-logged-in'
  /** The program logged it out. */
  | 'logout'
  /** The gateway's connection is down; the gateway logs it in again once it is back. */
  | 'gateway-offline'
  /** The platform said it had no session (520); the gateway is logging it in again. */
  | 'no-session'
  /** The same sub-device logged in elsewhere (427). */
  | 'kicked'
  /** Disabled in the console (522, or a topology change); the gateway logs it in again when it is enabled. */
  | 'disabled'
  /** Deleted in the console (521). */
  | 'deleted'
  /** Taken out of the gateway's topology (6401, or a topology change). */
  | 'topology-removed'
  /** Logging it in again after a reconnect or a 520 failed (see the gateway's `relogin` event). */
  | 'relogin-failed'
  /** The gateway ended. */
  | 'gateway-ended';

/** A sub-device's events. */
export interface SubDeviceEvents {
  /** It is logged in again (after a reconnect of the gateway, a 520, or being enabled). */
  online: [];
  /** It went offline; while `reason` is `gateway-offline` or `no-session` the gateway logs it back in. */
  offline: [reason: SubDeviceOfflineReason];
  /** Something it handled on its own went wrong: a DeviceError, as `Device` reports them. */
  error: [error: Error];
}

/** A sub-device logged in through a gateway; see `Gateway.login`. */
export interface SubDevice extends EventEmitter<SubDeviceEvents> {
  readonly productKey: string;
  readonly deviceName: string;
  /** Its Alink and user topics. */
  readonly topics: AlinkTopics;
  /** Logged in now: its messages go through. */
  readonly online: boolean;
  /** Why it is offline, or `undefined` while online. */
  readonly offlineReason: SubDeviceOfflineReason | undefined;

  /**
   * Posts properties and resolves with the platform's `_reply`, as `Device.postProperties`. The
   * post goes at QoS 0 unless `qos: 1` (the platform carries sub-device messages at QoS 0,
   * page 89300). While the gateway logs the sub-device in again, the post waits for it.
   *
   * @throws ConfigurationError before anything is sent, for params or options the platform refuses.
   * @throws AlinkReplyError when the reply's code is not 200.
   * @throws GatewayError `not-logged-in`, `no-session` (the platform dropped it: send again once
   *   it is `online`), `reply-timeout`, `malformed-reply`, `gateway-ended`.
   */
  postProperties(params: Record<string, unknown>, options?: PostOptions): Promise<AlinkReply>;
  /** Posts event `identifier`, as `Device.postEvent`; throws as {@link SubDevice.postProperties}. */
  postEvent(identifier: string, params: Record<string, unknown>, options?: EventPostOptions): Promise<AlinkReply>;
  /** Handles its property sets; returns the function that removes the handler. */
  onPropertySet(handler: AlinkRequestHandler): () => void;
  /** Handles its service `identifier` (asynchronous or over RRPC); returns the function that removes it. */
  onService(identifier: string, handler: AlinkRequestHandler): () => void;
  /** Handles its RRPC requests that no service handler takes; returns the function that removes it. */
  onRrpc(handler: RrpcHandler): () => void;
  /**
   * Publishes on one of its own topics (`/sys/{pk}/{dn}/...`, `/{pk}/{dn}/user/...`, or its
   * NTP, shadow or OTA topics), after the platform's limits; QoS 0 by default.
   *
   * @throws ConfigurationError for another device's topic or a message the platform would refuse.
   * @throws GatewayError `not-logged-in` while it is offline.
   */
  publish(topic: string, payload: Uint8Array | string, options?: DevicePublishOptions): Promise<void>;
  /** Logs it out (`combine/logout`); posts still waiting fail with `not-logged-in`. */
  logout(): Promise<void>;
}

/** @internal What a sub-device needs of its gateway. */
export interface SubDeviceHost {
  readonly ending: boolean;
  post(subDevice: SubDeviceHandle, topic: string, replyTopic: string, method: string, params: unknown, options: PostOptions): Promise<AlinkReply>;
  publish(subDevice: SubDeviceHandle, topic: string, payload: Uint8Array | string, qos: 0 | 1): Promise<void>;
  publishAnswer(topic: string, payload: Uint8Array | string): Promise<void>;
  logout(subDevice: SubDeviceHandle): Promise<void>;
}

/**
 * @internal The state of a sub-device: online; `returning`, offline for a reason that passes
 * while the gateway logs it in again; or offline for good until the program (or an enable) logs it in.
 */
export type SubDeviceState = 'online' | 'returning' | 'offline';

/** @internal The sub-device as the gateway keeps it. */
export class SubDeviceHandle extends EventEmitter<SubDeviceEvents> implements SubDevice, Answerer {
  readonly productKey: string;
  readonly deviceName: string;
  /** The gateway's map key, `${productKey}/${deviceName}`. */
  readonly key: string;
  /** What it logs in with again after a reconnect; the secret never leaves the signature. */
  credentials: SubDeviceCredentials;
  state: SubDeviceState = 'offline';
  reason: SubDeviceOfflineReason | undefined = 'not-logged-in';
  readonly #host: SubDeviceHost;
  /** Its property set and service handlers by method, and its RRPC handler under `''`; made on first use. */
  #handlers: Map<string, AlinkRequestHandler | RrpcHandler> | undefined;
  #topics: AlinkTopics | undefined;

  constructor(host: SubDeviceHost, credentials: SubDeviceCredentials, key: string) {
    super();
    this.#host = host;
    this.productKey = credentials.productKey;
    this.deviceName = credentials.deviceName;
    this.key = key;
    this.credentials = credentials;
  }

  get topics(): AlinkTopics {
    return (this.#topics ??= new AlinkTopics(this));
  }

  get online(): boolean {
    return this.state === 'online';
  }

  get offlineReason(): SubDeviceOfflineReason | undefined {
    return this.state === 'online' ? undefined : this.reason;
  }

  get ending(): boolean {
    return this.#host.ending;
  }

  /** The `/sys/{pk}/{dn}/` prefix of its thing-model topics. */
  get sys(): string {
    return `/sys/${this.productKey}/${this.deviceName}/`;
  }

  postProperties(params: Record<string, unknown>, options: PostOptions = {}): Promise<AlinkReply> {
    const topic = `${this.sys}thing/event/property/post`;
    return this.#host.post(this, topic, `${topic}_reply`, ALINK_METHODS.propertyPost, params, options);
  }

  async postEvent(identifier: string, params: Record<string, unknown>, options: EventPostOptions = {}): Promise<AlinkReply> {
    const topic = this.topics.eventPost(identifier);
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new ConfigurationError('params', `got ${describeValue(params)}; give a JSON object of the event's output parameters`);
    }
    const time = options?.time;
    const value = time === undefined ? { value: params } : { value: params, time: requireIntegerIn('time', time, 0, Number.MAX_SAFE_INTEGER, 'give milliseconds since the epoch') };
    return this.#host.post(this, topic, `${topic}_reply`, ALINK_METHODS.eventPost(identifier), value, options);
  }

  onPropertySet(handler: AlinkRequestHandler): () => void {
    return this.#register(ALINK_METHODS.propertySet, handler, 'handler', 'property set');
  }

  onService(identifier: string, handler: AlinkRequestHandler): () => void {
    this.topics.serviceCall(identifier); // refuses an identifier that could never arrive
    return this.#register(ALINK_METHODS.serviceCall(identifier), handler, 'identifier', `service ${JSON.stringify(identifier)}`);
  }

  onRrpc(handler: RrpcHandler): () => void {
    return this.#register('', handler, 'handler', 'RRPC');
  }

  async publish(topic: string, payload: Uint8Array | string, options: DevicePublishOptions = {}): Promise<void> {
    if (typeof topic !== 'string' || !this.#owns(topic)) {
      throw new ConfigurationError('topic', `${describeValue(topic)} is not a topic of ${this.productKey}/${this.deviceName}; a sub-device publishes on its own topics only`);
    }
    return this.#host.publish(this, topic, payload, options.qos ?? 0);
  }

  logout(): Promise<void> {
    return this.#host.logout(this);
  }

  /** The handler for a property set or service `method`. */
  handler(method: string): AlinkRequestHandler | undefined {
    return method === '' ? undefined : (this.#handlers?.get(method) as AlinkRequestHandler | undefined);
  }

  /** The RRPC handler, if one is registered. */
  rrpcHandler(): RrpcHandler | undefined {
    return this.#handlers?.get('') as RrpcHandler | undefined;
  }

  publishAnswer(topic: string, payload: Uint8Array | string): Promise<void> {
    return this.#host.publishAnswer(topic, payload);
  }

  report(error: Error): void {
    if (debug.enabled) debug('sub-device %s: %s', this.key, error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** Whether `topic` is one of this sub-device's own. */
  #owns(topic: string): boolean {
    if (this.topics.parse(topic) !== undefined) return true;
    const service = parseServiceTopic(topic);
    return service !== undefined && service.productKey === this.productKey && service.deviceName === this.deviceName;
  }

  #register(key: string, handler: AlinkRequestHandler | RrpcHandler, field: string, what: string): () => void {
    if (typeof handler !== 'function') throw new ConfigurationError('handler', `got ${describeValue(handler)}; give a function`);
    const handlers = (this.#handlers ??= new Map());
    if (handlers.has(key)) {
      throw new ConfigurationError(field, `${what} has a handler already; call the function that registered it returned, to remove it first`);
    }
    handlers.set(key, handler);
    return () => {
      if (handlers.get(key) === handler) handlers.delete(key);
    };
  }
}
