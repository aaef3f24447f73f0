/**
 * A device on the platform, end to end: `connectDevice` signs in with the device's triple,
 * subscribes to its Alink topics and returns a handle that posts properties and events (resolving
 * with the platform's reply), answers property sets, service calls and RRPC requests, and
 * publishes within the platform's limits. The one part of the platform profile that talks to the
 * network, through an {@link MqttClient}.
 */
import { EventEmitter } from 'node:events';
import { debug } from '../shared/builtins.js';
import { MqttClient } from '../client/client.js';
import type { EndOptions, EndReport } from '../client/client.js';
import { MqttClientError } from '../client/errors.js';
import type { MqttClientOptions } from '../client/options.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn } from '../shared/validate.js';
import { AlinkPayloadError } from '../aliyun/alink/errors.js';
import { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { PendingReplies } from '../aliyun/alink/pending.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import { ALINK_METHODS, buildAlinkReply, buildAlinkRequest, parseAlinkReply, parseAlinkRequest } from '../aliyun/alink/payload.js';
import type { AlinkReply, AlinkReplyInput, AlinkRequest } from '../aliyun/alink/payload.js';
import { AlinkTopics } from '../aliyun/alink/topics.js';
import { platformConnackHint } from '../aliyun/connack.js';
import { platformTransportHint } from '../aliyun/hints.js';
import { TransportError } from '../transport/errors.js';
import type { DeviceOptions } from '../aliyun/connection.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import type { x509ConnectionOptions } from '../aliyun/x509.js';
import { x509ConnackHint } from '../aliyun/x509.js';
import { IdentityWatch, signIn } from './identity.js';
import type { CertificateDeviceOptions } from './identity.js';
import { ALINK_REPLY_CODES, AlinkHandlerError, AlinkReplyError, DeviceError } from './errors.js';
import { checkPlatformPublish, checkPlatformSubscribe, PLATFORM_LIMITS } from '../aliyun/limits.js';


/** How long a post waits for its `_reply` when neither the device nor the call says: 10 s. */
export const DEFAULT_REPLY_TIMEOUT = 10_000;

/** The longest delay timers take; anything larger would fire at once. */
const MAX_TIMEOUT = 2_147_483_647;


/**
 * The options the device decides from its identity and endpoint (see {@link DeviceOptions}), or
 * that the platform does not have (`will`): not client options of `connectDevice`.
 */
const DEVICE_DECIDES = ['host', 'servername', 'rejectUnauthorized', 'username', 'password', 'will', 'connackHint'] as const;

/** The options of {@link connectDevice} that are the device's own, not the client's. */
const DEVICE_KEYS: ReadonlySet<string> = new Set([
  'productKey', 'deviceName', 'deviceSecret', 'endpoint', 'region', 'port', 'transport', 'keepalive',
  'signMethod', 'clientId', 'timestamp', 'ca', 'clean', 'replyTimeout', 'subscribe',
] satisfies Array<keyof ConnectDeviceOptions>);

/**
 * The client options {@link connectDevice} hands to {@link MqttClient} as they are (reconnect,
 * queues, timeouts, store, clock...). `family` overrides the one the endpoint implies;
 * `maxOutgoingPacketSize` defaults to the platform's limit.
 */
export type DeviceClientOptions = Omit<MqttClientOptions, keyof DeviceOptions | (typeof DEVICE_DECIDES)[number]> &
  Pick<MqttClientOptions, 'family'>;

/**
 * What {@link connectDevice} needs for a device that signs in with its secret: the device's
 * identity and endpoint ({@link DeviceOptions}), client options passed through
 * ({@link DeviceClientOptions}; `family` overrides the one the endpoint implies), and the
 * handle's own two settings.
 */
export interface ConnectDeviceOptions extends DeviceOptions, DeviceClientOptions, DeviceHandleOptions {}

/**
 * What {@link connectDevice} needs for a device that authenticates by the X.509 certificate the
 * platform issued it: the certificate as the client options `cert` and `key` (or `pfx`), no
 * secret, the identity only if the device knows it ({@link CertificateDeviceOptions}), and the
 * same client options and handle settings as a device with a secret.
 */
export type ConnectCertificateDeviceOptions = CertificateDeviceOptions &
  DeviceClientOptions &
  DeviceHandleOptions &
  ({ readonly cert: string | Uint8Array } | { readonly pfx: Uint8Array });

/** The settings of the device handle itself. */
export interface DeviceHandleOptions {
  /**
   * Milliseconds a post waits for its `_reply`, 1..2147483647; default 10000. A certificate device
   * that does not know its identity also waits this long for it after connecting.
   */
  readonly replyTimeout?: number | undefined;
  /**
   * Subscribe at connect to the post replies (`thing/event/+/post_reply`), property set and
   * service calls (`thing/service/#`) and RRPC requests (`rrpc/request/+`), at QoS 1. Default
   * `true`. With `false` nothing is subscribed: posts time out and requests never arrive until
   * the caller subscribes to the filters it wants (`device.topics` builds them).
   */
  readonly subscribe?: boolean | undefined;
}

/** Options of one post. */
export interface PostOptions {
  /** Milliseconds to wait for the `_reply`; default the device's `replyTimeout`. */
  readonly timeout?: number | undefined;
  /** QoS of the post itself: 1 (default, the platform acknowledges it) or 0. */
  readonly qos?: 0 | 1 | undefined;
}

/** Options of one event post. */
export interface EventPostOptions extends PostOptions {
  /** When the event happened, in milliseconds since the epoch; sent as `params.time`. Default: left out. */
  readonly time?: number | undefined;
}

/** Options of {@link Device.publish}. */
export interface DevicePublishOptions {
  /** 0 (default) or 1; the platform has no QoS 2. */
  readonly qos?: 0 | 1 | undefined;
}

/**
 * Answers a property set or a service call. It gets the request's `params` and the whole request;
 * what it returns (or resolves with) is the reply's `data` (`{}` for `undefined`). Throwing an
 * {@link AlinkHandlerError} answers with its code; any other throw answers 400.
 */
export type AlinkRequestHandler = (params: Readonly<Record<string, unknown>>, request: AlinkRequest) => unknown;

/**
 * Answers an RRPC request: it gets the request's bytes (a copy it may keep) and the platform's
 * messageId, and returns the response's bytes or text.
 */
export type RrpcHandler = (payload: Uint8Array, messageId: string) => Uint8Array | string | Promise<Uint8Array | string>;

/** The device's events and their listener arguments. */
export interface DeviceEvents {
  /**
   * Something the device handled on its own went wrong: a DeviceError with code
   * `malformed-request`, `malformed-reply`, `no-handler`, `handler-failed` or `reply-failed`.
   * Without a listener these go to the `NODE_DEBUG=aliot` log only. Connection problems are the
   * client's: listen on `device.client` for those. A certificate device also reports
   * `malformed-identity` and `identity-mismatch` for identity messages after the first.
   */
  error: [error: Error];
  /** A certificate device: the platform said who it is, as it does on every connection. */
  identity: [identity: DeviceIdentity];
}

/** A connected device; see {@link connectDevice}. */
export interface Device extends EventEmitter<DeviceEvents> {
  /** The MQTT client underneath, for its events (`connect`, `offline`, `error`, ...), `subscribe` and `messages()`. */
  readonly client: MqttClient;
  /** Who the device is: as given, or as the platform said after connecting (a certificate device). */
  readonly productKey: string;
  readonly deviceName: string;
  /** `productKey` and `deviceName` together: what a certificate device may keep to connect next time. */
  readonly identity: DeviceIdentity;
  /** How it signed in: with its secret, or with the X.509 certificate the platform issued it. */
  readonly authentication: 'secret' | 'certificate';
  /** The device's Alink and user topics. */
  readonly topics: AlinkTopics;

  /**
   * Posts properties (`thing.event.property.post`) and resolves with the platform's `_reply`
   * carrying the same id.
   *
   * @throws ConfigurationError for params that are not a JSON object or a post over the
   *   platform's limits, before anything is sent.
   * @throws AlinkReplyError when the reply's code is not 200.
   * @throws DeviceError `reply-timeout` with no reply in time, `device-ended` when the device
   *   ends first; or the client's error when the post cannot be sent (e.g. `queue-full`).
   */
  postProperties(params: Record<string, unknown>, options?: PostOptions): Promise<AlinkReply>;

  /**
   * Posts event `identifier` (`thing.event.{identifier}.post`) with its output parameters as
   * Alink's `params.value` (and `params.time` when given), and resolves with the `_reply`.
   * Throws as {@link Device.postProperties} does, and ConfigurationError for a bad identifier.
   */
  postEvent(identifier: string, params: Record<string, unknown>, options?: EventPostOptions): Promise<AlinkReply>;

  /**
   * Handles `thing.service.property.set` (and a property set the platform sends over RRPC).
   * Returns a function that removes the handler.
   *
   * @throws ConfigurationError when a property set handler is registered already.
   */
  onPropertySet(handler: AlinkRequestHandler): () => void;

  /**
   * Handles service `identifier`, called asynchronously on `thing/service/{identifier}` (answered
   * on its `_reply` topic) or synchronously over RRPC (answered on `rrpc/response/{messageId}`).
   * Returns a function that removes the handler.
   *
   * @throws ConfigurationError for a bad identifier or one that has a handler already.
   */
  onService(identifier: string, handler: AlinkRequestHandler): () => void;

  /**
   * Handles RRPC requests that are not Alink requests for a registered service or property set
   * handler, answering on `rrpc/response/{messageId}`. Returns a function that removes it.
   *
   * @throws ConfigurationError when an RRPC handler is registered already.
   */
  onRrpc(handler: RrpcHandler): () => void;

  /**
   * Publishes to any topic after checking the platform's limits (QoS 0 or 1, never retained, a
   * topic of at most 128 characters, a payload of at most 256 KB). Resolves as the client's
   * `publish` does.
   *
   * @throws ConfigurationError for a message the platform would refuse, before anything is sent.
   */
  publish(topic: string, payload: Uint8Array | string, options?: DevicePublishOptions): Promise<void>;

  /**
   * Ends the device: posts still waiting for a reply reject with DeviceError `device-ended`, then
   * the client ends (see `MqttClient.end`) and its report is returned.
   */
  end(options?: EndOptions): Promise<EndReport>;
}

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
  #filters: readonly string[] = [];
  /** Per device, not per network connection: a reply that crosses a reconnect still matches. */
  readonly #ids = new AlinkIdGenerator();
  /** Posts waiting for their `_reply`, by Alink id. */
  readonly #posts: PendingReplies<AlinkReply>;
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
    if (typeof options !== 'object' || options === null) {
      throw new ConfigurationError('options', 'expected an object with productKey, deviceName and deviceSecret');
    }
    this.#replyTimeout = checkTimeout('replyTimeout', options.replyTimeout ?? DEFAULT_REPLY_TIMEOUT);
    const subscribe = options.subscribe ?? true;
    if (typeof subscribe !== 'boolean') {
      throw new ConfigurationError('subscribe', `got ${describeValue(subscribe)}; use true or false`);
    }
    this.#subscribe = subscribe;
    const { certificate, connection, identity } = signIn(options);
    this.authentication = certificate ? 'certificate' : 'secret';
    if (identity !== undefined) this.#known(identity);
    const clientOptions = Object.fromEntries(Object.entries(options).filter(([name]) => !DEVICE_KEYS.has(name))) as DeviceClientOptions;
    for (const name of DEVICE_DECIDES) {
      if (Object.hasOwn(clientOptions, name)) {
        throw new ConfigurationError(name, 'connectDevice sets this itself from the device\'s identity and endpoint (the platform has no will); leave it out');
      }
    }
    // Everything else goes to the client as it is; the client refuses names it does not know.
    this.client = new MqttClient({
      maxOutgoingPacketSize: PLATFORM_LIMITS.maxPacketBytes,
      ...clientOptions,
      ...connection,
      family: clientOptions.family ?? connection.family,
      connackHint: (returnCode) => (certificate ? x509ConnackHint(returnCode) : platformConnackHint(returnCode)),
    });
    this.#posts = new PendingReplies(this.client.options.clock);
    if (certificate) this.#identity = new IdentityWatch(identity, this.client.options.clock);
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
    return this.#post(this.topics.propertyPost(), this.topics.propertyPostReply(), ALINK_METHODS.propertyPost, params, options);
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
    return this.#post(topic, replyTopic, ALINK_METHODS.eventPost(identifier), value, options);
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
  // Posts and their replies

  async #post(
    topic: string,
    replyTopic: string,
    method: string,
    params: Record<string, unknown>,
    options: PostOptions,
  ): Promise<AlinkReply> {
    checkPostOptions(options);
    const timeout = options.timeout === undefined ? this.#replyTimeout : checkTimeout('timeout', options.timeout);
    const qos = options.qos ?? 1;
    checkParams(params);
    if (this.#ended) throw endedError(method);
    const id = this.#ids.next();
    const payload = buildAlinkRequest({ id, method, params });
    checkPlatformPublish(topic, payload, { qos });
    const hint = this.#filters.length === 0 ? `; with subscribe: false, subscribe to ${this.topics.postReplyFilter()} first` : '';
    const reply = this.#posts.wait(id, {
      topic: replyTopic,
      timeout,
      what: method,
      onTimeout: () => new DeviceError('reply-timeout', `no reply to ${method} (id ${id}) on ${replyTopic} within ${timeout} ms${hint}`),
    });
    this.client.publish(topic, payload, { qos }).catch((error: Error) => {
      const ended = error instanceof MqttClientError && error.code === 'client-ended';
      const failure = ended
        ? new DeviceError('device-ended', `the client ended before ${method} (id ${id}) was acknowledged`, { cause: error })
        : error;
      this.#posts.reject(id, failure);
    });
    const answer = await reply;
    if (answer.code !== ALINK_REPLY_CODES.success) throw new AlinkReplyError(method, answer);
    return answer;
  }

  #replyArrived(topic: string, payload: Uint8Array): void {
    let reply: AlinkReply;
    try {
      reply = parseAlinkReply(payload);
    } catch (error) {
      if (!(error instanceof AlinkPayloadError)) throw error;
      this.#report(new DeviceError('malformed-reply', `cannot read the reply on ${topic} (${error.message}); the post it answers will time out`, { cause: error }));
      return;
    }
    if (!this.#posts.settle(reply.id, topic, reply)) {
      // Late (after its timeout) or not ours: nothing waits for it.
      if (debug.enabled) debug('reply %s on %s matches no waiting post', reply.id, topic);
    }
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
        if (kind.to.kind === 'property-post' || kind.to.kind === 'event-post') this.#replyArrived(topic, payload);
        return;
      case 'property-set':
        this.#requestArrived(topic, payload, this.topics.propertySetReply(), ALINK_METHODS.propertySet);
        return;
      case 'service-call':
        this.#requestArrived(topic, payload, this.topics.serviceCallReply(kind.identifier), ALINK_METHODS.serviceCall(kind.identifier));
        return;
      case 'rrpc-request':
        this.#rrpcArrived(kind.messageId, payload);
        return;
      default:
        // User topics and the device's own posts: the caller's business, through the client.
        return;
    }
  }

  /**
   * A request on a property set or service topic. The topic, not the request's `method`, picks
   * the handler: `method` is the handler key the topic implies.
   */
  #requestArrived(topic: string, payload: Uint8Array, replyTopic: string, method: string): void {
    let request: AlinkRequest;
    try {
      request = parseAlinkRequest(payload);
    } catch (error) {
      if (!(error instanceof AlinkPayloadError)) throw error;
      const id = readRequestId(payload);
      this.#report(
        new DeviceError(
          'malformed-request',
          `cannot read the request on ${topic} (${error.message}); ` +
            (id === undefined ? 'it has no readable id, so it cannot be answered' : `answered ${ALINK_REPLY_CODES.requestParameterError}`),
          { cause: error },
        ),
      );
      if (id !== undefined) {
        const reply = { id, code: ALINK_REPLY_CODES.requestParameterError, message: `request parameter error: ${error.message}` };
        void this.#reply(replyTopic, reply, `the unreadable request ${id}`);
      }
      return;
    }
    void this.#answer(request, replyTopic, this.#alinkHandlers.get(method));
  }

  /**
   * An RRPC request: an Alink request for a registered service or property set handler goes to
   * it (the platform calls synchronous services this way); anything else goes to the RRPC handler.
   */
  #rrpcArrived(messageId: string, payload: Uint8Array): void {
    const responseTopic = this.topics.rrpcResponse(messageId);
    const request = readAlinkRequest(payload);
    if (request !== undefined) {
      const handler = this.#alinkHandlers.get(request.method);
      if (handler !== undefined || this.#rrpcHandlers.size === 0) {
        void this.#answer(request, responseTopic, handler);
        return;
      }
    }
    const rrpc = this.#rrpcHandlers.get('');
    if (rrpc === undefined) {
      this.#report(new DeviceError('no-handler', `no RRPC handler for RRPC ${messageId}; answered ${ALINK_REPLY_CODES.notSupported}: register one with onRrpc`));
      void this.#reply(responseTopic, notSupported(messageId, 'RRPC requests'), `RRPC ${messageId}`);
      return;
    }
    void this.#answerRrpc(rrpc, messageId, Uint8Array.from(payload), responseTopic);
  }

  async #answer(request: AlinkRequest, replyTopic: string, handler: AlinkRequestHandler | undefined): Promise<void> {
    const what = `${request.method} (id ${request.id})`;
    if (handler === undefined) {
      this.#report(
        new DeviceError('no-handler', `no handler for ${what}; answered ${ALINK_REPLY_CODES.notSupported}: register one with onPropertySet or onService`),
      );
      await this.#reply(replyTopic, notSupported(request.id, request.method), what);
      return;
    }
    let reply: AlinkReplyInput;
    try {
      reply = { id: request.id, code: ALINK_REPLY_CODES.success, data: await handler(request.params, request) };
    } catch (error) {
      reply = this.#failedHandler(error, request.id, what);
    }
    await this.#reply(replyTopic, reply, what);
  }

  async #answerRrpc(handler: RrpcHandler, messageId: string, payload: Uint8Array, responseTopic: string): Promise<void> {
    const what = `RRPC ${messageId}`;
    let response: Uint8Array | string;
    try {
      const result: unknown = await handler(payload, messageId);
      if (typeof result !== 'string' && !(result instanceof Uint8Array)) {
        throw new TypeError(`the RRPC handler returned ${describeValue(result)}; return a string or a Uint8Array`);
      }
      response = result;
      checkPlatformPublish(responseTopic, response, { qos: 0 });
    } catch (error) {
      await this.#reply(responseTopic, this.#failedHandler(error, messageId, what), what);
      return;
    }
    await this.#send(responseTopic, response, what);
  }

  /** The reply to a request whose handler threw: its own code for AlinkHandlerError, else 400 (reported). */
  #failedHandler(error: unknown, id: string, what: string): AlinkReplyInput {
    if (error instanceof AlinkHandlerError) return { id, code: error.code, message: error.message, data: error.data };
    const reason = error instanceof Error ? error.message : String(error);
    this.#report(new DeviceError('handler-failed', `the handler for ${what} failed (${reason}); answered ${ALINK_REPLY_CODES.requestError}`, { cause: error }));
    return { id, code: ALINK_REPLY_CODES.requestError, message: 'request error: the device failed to handle the request' };
  }

  /** Sends an Alink reply; one that cannot be written or is too large becomes a 400 reply. */
  async #reply(topic: string, reply: AlinkReplyInput, what: string): Promise<void> {
    let text: string;
    try {
      text = buildAlinkReply(reply);
      checkPlatformPublish(topic, text, { qos: 0 });
    } catch (error) {
      this.#report(new DeviceError('handler-failed', `the answer to ${what} cannot be sent (${(error as Error).message}); answered ${ALINK_REPLY_CODES.requestError}`, { cause: error }));
      text = buildAlinkReply({ id: reply.id, code: ALINK_REPLY_CODES.requestError, message: 'request error: the device could not send its answer' });
    }
    await this.#send(topic, text, what);
  }

  /**
   * Publishes an answer at QoS 0, as the vendor SDKs do: a lost answer ends in the cloud's own
   * timeout, and a late one after a reconnect is of no use to it.
   */
  async #send(topic: string, payload: Uint8Array | string, what: string): Promise<void> {
    try {
      await this.client.publish(topic, payload, { qos: 0 });
    } catch (error) {
      if (this.#ended) return; // ending drops unsent answers on purpose
      this.#report(new DeviceError('reply-failed', `could not send the answer to ${what} on ${topic}: ${(error as Error).message}`, { cause: error }));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Ending and reporting

  /** Stops handling messages and fails every waiting post with `device-ended`. */
  #stop(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#held = undefined;
    this.#posts.rejectAll((id, method) => new DeviceError('device-ended', `${why} before the reply to ${method} (id ${id}) came`));
  }

  #report(error: Error): void {
    if (debug.enabled) debug('device %s: %s', this.#topics?.deviceName ?? '(identity not known yet)', error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

function endedError(method: string): DeviceError {
  return new DeviceError('device-ended', `the device has ended; ${method} was not sent`);
}

function notSupported(id: string, what: string): AlinkReplyInput {
  return { id, code: ALINK_REPLY_CODES.notSupported, message: `not supported: this device has no handler for ${what}` };
}

function checkTimeout(field: string, value: unknown): number {
  return requireIntegerIn(field, value, 1, MAX_TIMEOUT, `give whole milliseconds, 1..${MAX_TIMEOUT}`);
}

function checkPostOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', `got ${describeValue(options)}; give { timeout, qos } or leave it out`);
  }
}

function checkParams(params: unknown): void {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ConfigurationError('params', `got ${describeValue(params)}; give a JSON object such as { "temperature": 21.5 }`);
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

/** The payload as an Alink request, or `undefined` when it is not one (a raw RRPC payload). */
function readAlinkRequest(payload: Uint8Array): AlinkRequest | undefined {
  try {
    return parseAlinkRequest(payload);
  } catch (error) {
    if (error instanceof AlinkPayloadError) return undefined;
    throw error;
  }
}
