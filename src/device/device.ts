/**
 * A device on the platform, end to end: `connectDevice` signs in with the device's triple,
 * subscribes to its Alink topics and returns a handle that posts properties and events (resolving
 * with the platform's reply), answers property sets, service calls and RRPC requests, and
 * publishes within the platform's limits. The one part of the platform profile that talks to the
 * network, through an {@link MqttClient}.
 *
 * This module is the handle: connecting, the identity, holding back what arrives before
 * `connectDevice` resolves, and handing each message to its part. The parts live beside it: the
 * options and the sign-in (`device-options.ts`), the posts and their replies (`device-posts.ts`),
 * the answers to the cloud's requests (`alink-answer.ts`, shared with the gateway's sub-devices),
 * and the public shape (`device-types.ts`).
 */
import { EventEmitter } from 'node:events';
import { debug } from '../shared/builtins.js';
import { MqttClient } from '../client/client.js';
import type { EndOptions, EndReport } from '../client/client.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn } from '../shared/validate.js';
import { ALINK_METHODS } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { AlinkTopics } from '../aliyun/alink/topics.js';
import { platformTransportHint } from '../aliyun/hints.js';
import { TransportError } from '../transport/errors.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import { checkPlatformPublish, checkPlatformSubscribe } from '../aliyun/limits.js';
import { answerRequest, answerRrpc } from './alink-answer.js';
import type { Answerer } from './alink-answer.js';
import { deviceClientOptions, resolveDevice } from './device-options.js';
import type { ConnectCertificateDeviceOptions, ConnectDeviceOptions, DevicePublishOptions, EventPostOptions, PostOptions } from './device-options.js';
import { checkParams, checkPostOptions, DevicePosts } from './device-posts.js';
import type { AlinkRequestHandler, Device, DeviceEvents, RrpcHandler } from './device-types.js';
import { IdentityWatch } from './identity.js';
import { DeviceError } from './errors.js';

/**
 * Connects a device to the platform and returns its handle once the connection is accepted and
 * (unless `subscribe: false`) its Alink topics are subscribed.
 *
 * - Every option is checked before any network I/O: the device's triple, endpoint and keepalive
 *   (as {@link deviceConnectionOptions} checks them), the client options, `replyTimeout` and
 *   `subscribe`.
 * - The CONNECT is signed by {@link deviceConnectionOptions}: TLS with the platform's root CAs for
 *   platform hosts, IPv6 (`family` 6) in cn-shanghai. A refused CONNACK rejects with the client's
 *   ConnectionRefusedError, whose `hint` is {@link platformConnackHint}'s meaning, cause and fix.
 * - A device given `cert` and `key` (or `pfx`) instead of a secret authenticates by that X.509
 *   certificate, on the platform's X.509 endpoint by default ({@link x509ConnectionOptions}). If
 *   it does not know its productKey and deviceName, it waits (up to `replyTimeout`) for the
 *   platform to send them after CONNACK, and resolves knowing them: `device.identity`, worth
 *   keeping for the next connection. Every later identity message must name the same device.
 * - When connecting or subscribing fails, the client is ended before the promise rejects: nothing
 *   keeps retrying in the background.
 * - Requests that arrive before the promise resolves are held and handled on the next turn of
 *   the event loop, so handlers registered right after `await connectDevice(...)` see them.
 * - After a lost connection the client reconnects (unless `reconnect: false`) and restores the
 *   subscriptions; the handlers stay registered. Alink ids count up across reconnects, so a reply
 *   to a post sent before the drop still finds its post.
 *
 * @example
 * const device = await connectDevice({ productKey, deviceName, deviceSecret, endpoint: 'ipv6-test' });
 * device.onPropertySet((params) => { lamp.apply(params); return {}; });
 * await device.postProperties({ LightSwitch: 1 });
 * await device.end();
 *
 * @example
 * const device = await connectDevice({ cert: readFileSync('device.crt'), key: readFileSync('device.key') });
 * console.log(device.identity); // { productKey: 'a1...', deviceName: '...' }, as the platform said
 */
export async function connectDevice(options: ConnectDeviceOptions | ConnectCertificateDeviceOptions): Promise<Device> {
  const device = new PlatformDevice(options);
  await device.start();
  return device;
}

class PlatformDevice extends EventEmitter<DeviceEvents> implements Device {
  readonly client: MqttClient;
  readonly authentication: 'secret' | 'certificate';
  /** Known before connecting, or once the platform has said (a certificate device). */
  #topics: AlinkTopics | undefined;
  readonly #identity: IdentityWatch | undefined;
  readonly #subscribe: boolean;
  readonly #replyTimeout: number;
  get replyTimeout(): number {
    return this.#replyTimeout;
  }
  #filters: readonly string[] = [];
  readonly #posts: DevicePosts;
  /** Where the answers to the cloud's requests go, and their failures. */
  readonly #answerer: Answerer;
  /** Property set and service handlers by the Alink method they answer. */
  readonly #alinkHandlers = new Map<string, AlinkRequestHandler>();
  /** The RRPC handler, under the key `''`, when one is registered. */
  readonly #rrpcHandlers = new Map<string, RrpcHandler>();
  /** Messages that arrived before `connectDevice` resolved; `undefined` once they are handled. */
  #held: Array<{ readonly topic: string; readonly payload: Uint8Array }> | undefined = [];
  /** A bad identity message while connectDevice runs: it fails connectDevice, or is reported once it has resolved. */
  #identityError: Error | undefined;
  #ended = false;

  /** Checks every option and builds the client; no I/O. */
  constructor(options: ConnectDeviceOptions | ConnectCertificateDeviceOptions) {
    super();
    const device = resolveDevice(options);
    this.#replyTimeout = device.replyTimeout;
    this.#subscribe = device.subscribe;
    this.authentication = device.certificate ? 'certificate' : 'secret';
    if (device.identity !== undefined) this.#known(device.identity);
    this.client = new MqttClient(deviceClientOptions(options, device));
    this.#posts = new DevicePosts({
      client: this.client,
      replyTimeout: this.#replyTimeout,
      report: (error) => this.#report(error),
      subscribeHint: () => (this.#filters.length === 0 ? `; with subscribe: false, subscribe to ${this.topics.postReplyFilter()} first` : ''),
    });
    const ended = (): boolean => this.#ended;
    this.#answerer = {
      publishAnswer: (topic, payload) => this.client.publish(topic, payload, { qos: 0 }),
      report: (error) => this.#report(error),
      get ending() {
        return ended();
      },
    };
    if (device.certificate) this.#identity = new IdentityWatch(device.identity, this.client.options.clock);
    this.client.on('message', (topic, payload) => this.#received(topic, payload));
    this.client.on('end', () => this.#stop('the client ended (end(), its signal, or a refusal that cannot succeed on retry)'));
  }

  get topics(): AlinkTopics {
    if (this.#topics === undefined) throw new DeviceError('device-ended', 'the device does not know its identity yet: connectDevice has not resolved');
    return this.#topics;
  }

  get productKey(): string {
    return this.topics.productKey;
  }

  get deviceName(): string {
    return this.topics.deviceName;
  }

  get identity(): DeviceIdentity {
    return { productKey: this.productKey, deviceName: this.deviceName };
  }

  /** The identity is known: the topics, and the filters to subscribe to, follow from it. */
  #known(identity: DeviceIdentity): void {
    const topics = new AlinkTopics(identity);
    const filters = this.#subscribe ? [topics.postReplyFilter(), topics.serviceFilter(), topics.rrpcRequestFilter()] : [];
    for (const filter of filters) checkPlatformSubscribe(filter, 1);
    this.#topics = topics;
    this.#filters = filters;
  }

  /** Connects, learns the identity (a certificate device), subscribes; on failure ends the client and rejects. */
  async start(): Promise<void> {
    try {
      await this.client.connect();
      if (this.#topics === undefined) this.#known(await this.#identity!.wait(this.#replyTimeout));
      if (this.#filters.length > 0) await this.client.subscribe(this.#filters, { qos: 1 });
      if (this.#identityError !== undefined) throw this.#identityError;
    } catch (error) {
      this.#identity?.cancel(error as Error);
      this.#stop('connecting failed');
      const state = this.client.state;
      if (state !== 'ending' && state !== 'ended') await this.client.end({ force: true });
      // The transport does not know the platform's hosts; the profile says what they need.
      throw error instanceof TransportError ? error.withHint(platformTransportHint(error)) : error;
    }
    setImmediate(() => this.#release());
  }

  postProperties(params: Record<string, unknown>, options: PostOptions = {}): Promise<AlinkReply> {
    return this.#posts.post(this.topics.propertyPost(), this.topics.propertyPostReply(), ALINK_METHODS.propertyPost, params, options);
  }

  async postEvent(identifier: string, params: Record<string, unknown>, options: EventPostOptions = {}): Promise<AlinkReply> {
    checkPostOptions(options);
    const topic = this.topics.eventPost(identifier);
    const replyTopic = this.topics.eventPostReply(identifier);
    checkParams(params);
    const value =
      options.time === undefined
        ? { value: params }
        : { value: params, time: requireIntegerIn('time', options.time, 0, Number.MAX_SAFE_INTEGER, 'give milliseconds since the epoch') };
    return this.#posts.post(topic, replyTopic, ALINK_METHODS.eventPost(identifier), value, options);
  }

  onPropertySet(handler: AlinkRequestHandler): () => void {
    return register(this.#alinkHandlers, ALINK_METHODS.propertySet, handler, 'handler', 'property set');
  }

  onService(identifier: string, handler: AlinkRequestHandler): () => void {
    this.topics.serviceCall(identifier); // refuses an identifier that could never arrive
    return register(this.#alinkHandlers, ALINK_METHODS.serviceCall(identifier), handler, 'identifier', `service ${JSON.stringify(identifier)}`);
  }

  onRrpc(handler: RrpcHandler): () => void {
    return register(this.#rrpcHandlers, '', handler, 'handler', 'RRPC');
  }

  async publish(topic: string, payload: Uint8Array | string, options: DevicePublishOptions = {}): Promise<void> {
    const qos = options.qos ?? 0;
    checkPlatformPublish(topic, payload, { qos });
    await this.client.publish(topic, payload, { qos });
  }

  end(options?: EndOptions): Promise<EndReport> {
    this.#stop('end() was called');
    return this.client.end(options);
  }

  // -------------------------------------------------------------------------------------------
  // Requests from the cloud

  #received(topic: string, payload: Uint8Array): void {
    if (this.#ended) return;
    const said = this.#identity?.receive(topic, payload);
    if (said !== undefined && said !== false) {
      // While connectDevice runs, a bad identity message fails it; afterwards it is reported.
      if (said.error !== undefined) {
        if (this.#held === undefined) this.#report(said.error);
        else this.#identityError ??= said.error;
      }
      if (said.identity !== undefined) this.emit('identity', said.identity);
      return;
    }
    if (this.#held !== undefined) {
      this.#held.push({ topic, payload: Uint8Array.from(payload) });
      return;
    }
    try {
      this.#dispatch(topic, payload);
    } catch (error) {
      // Nothing a message holds may escape into the client's socket handler.
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Handles what connectDevice held back while it was connecting. */
  #release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    // Came after connectDevice's last look, before it resolved.
    if (this.#identityError !== undefined) this.#report(this.#identityError);
    for (const { topic, payload } of held) this.#received(topic, payload);
  }

  #dispatch(topic: string, payload: Uint8Array): void {
    const kind = this.topics.parse(topic);
    switch (kind?.kind) {
      case 'reply':
        // Replies to set and service calls are the device's own, echoed by thing/service/#.
        if (kind.to.kind === 'property-post' || kind.to.kind === 'event-post') this.#posts.replyArrived(topic, payload);
        return;
      case 'property-set':
        // The topic, not the request's `method`, picks the handler.
        answerRequest(this.#answerer, topic, payload, this.topics.propertySetReply(), this.#alinkHandlers.get(ALINK_METHODS.propertySet));
        return;
      case 'service-call':
        answerRequest(this.#answerer, topic, payload, this.topics.serviceCallReply(kind.identifier), this.#alinkHandlers.get(ALINK_METHODS.serviceCall(kind.identifier)));
        return;
      case 'rrpc-request':
        // An Alink request for a registered service or property set handler goes to it (the
        // platform calls synchronous services this way); anything else to the RRPC handler.
        answerRrpc(this.#answerer, kind.messageId, payload, this.topics.rrpcResponse(kind.messageId), (method) => this.#alinkHandlers.get(method), this.#rrpcHandlers.get(''));
        return;
      default:
        // User topics and the device's own posts: the caller's business, through the client.
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Ending and reporting

  /** Stops handling messages and fails every waiting post with `device-ended`. */
  #stop(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#held = undefined;
    this.#posts.end(why);
  }

  #report(error: Error): void {
    if (debug.enabled) debug('device %s: %s', this.#topics?.deviceName ?? '(identity not known yet)', error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/**
 * Puts `handler` in `slots` under `key` and returns the function that takes it out again (only
 * it: a later handler under the same key stays).
 *
 * @throws ConfigurationError for a handler that is not a function, or a key that has one already.
 */
function register<H>(slots: Map<string, H>, key: string, handler: H, field: string, what: string): () => void {
  if (typeof handler !== 'function') throw new ConfigurationError('handler', `got ${describeValue(handler)}; give a function`);
  if (slots.has(key)) {
    throw new ConfigurationError(field, `${what} has a handler already; call the function that registered it returned, to remove it first`);
  }
  slots.set(key, handler);
  return () => {
    if (slots.get(key) === handler) slots.delete(key);
  };
}
