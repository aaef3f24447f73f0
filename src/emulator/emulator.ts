/**
 * The local stand-in for the IoT Platform: a listener, the device registry, routing between
 * subscriptions, and the platform's Alink side (property post replies, property set, service
 * calls, RRPC).
 */
import { EventEmitter, once } from 'node:events';
import { isIP, nodeNet, nodeTls } from '../shared/builtins.js';
import type { AddressInfo, Server, Socket } from 'node:net';
import { AlinkPayloadError } from '../aliyun/alink/errors.js';
import { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { ALINK_METHODS, buildAlinkReply, buildAlinkRequest, parseAlinkReply, parseAlinkRequest } from '../aliyun/alink/payload.js';
import type { AlinkReply } from '../aliyun/alink/payload.js';
import { AlinkTopics } from '../aliyun/alink/topics.js';
import type { RefusedReturnCode } from '../aliyun/connack.js';
import type { AlinkRequestTopic } from '../aliyun/alink/topics.js';
import { PLATFORM_LIMITS } from '../aliyun/limits.js';
import { ConfigurationError } from '../shared/errors.js';
import { encodedLength } from '../packet/codec.js';
import type { ConnectPacket } from '../packet/types.js';
import { connackCodeForVerifyFailure, verifyCredentials } from '../sign/verify.js';
import { EmulatorError } from './errors.js';
import { deviceKey, resolveEmulatorOptions } from './options.js';
import type { ResolvedEmulatorOptions } from './options.js';
import { PendingReplies } from './pending.js';
import { CONNECT_TIMEOUT_MS, Session } from './session.js';
import type { Admission, SessionHost, SessionOutcome } from './session.js';
import type { Emulator, EmulatorConnection, EmulatorEvents, EmulatorOptions, RefuseReason } from './types.js';

/** How long `sendPropertySet`, `callService` and `rrpc` wait for the device by default. */
export const DEFAULT_REPLY_TIMEOUT_MS = 10_000;

/**
 * The QoS the emulator publishes its own messages with (requests, RRPC, post replies), lowered to
 * what the device's subscription grants: QoS 1 exercises the device's PUBACK path.
 */
const CLOUD_QOS = 1;

/** Alink's code for a request the platform cannot read: "request parameter error". */
export const ALINK_REQUEST_PARAMETER_ERROR = 460;

/**
 * Starts a local stand-in for the Alibaba Cloud IoT Platform: MQTT 3.1.1 over TLS (or plain TCP)
 * on the IPv6 loopback by default, built only on this project's codec and credential checks, so
 * that the demo and the tests run with no internet.
 *
 * It is a test and teaching fixture, **not a production broker**: it keeps no sessions between
 * connections, stores nothing, lets any device subscribe to any topic, and is built for a handful
 * of devices. It refuses what the platform refuses (QoS 2, retained and will messages, keepalive
 * outside 30..1200 s, bad signatures) with the codes the platform uses; `docs/emulator.md` lists
 * every rule and where it differs from the real platform.
 *
 * @throws ConfigurationError for bad options; EmulatorError `listen-failed` when the address
 *   cannot be listened on (e.g. no IPv6 loopback: pass `host: '127.0.0.1'`).
 *
 * @example
 * const emulator = await startEmulator({ devices: [{ productKey: 'pk', deviceName: 'dev', deviceSecret: 's' }] });
 * // connect to emulator.host / emulator.port trusting emulator.ca, then:
 * const reply = await emulator.sendPropertySet('pk', 'dev', { LightSwitch: 1 });
 * await emulator.close();
 */
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  return LocalPlatform.start(await resolveEmulatorOptions(options));
}

class LocalPlatform extends EventEmitter<EmulatorEvents> implements Emulator {
  readonly ca: string;
  readonly #options: ResolvedEmulatorOptions;
  readonly #server: Server;
  /** Every connection that has a session, accepted or not yet. */
  readonly #sessions = new Set<Session>();
  /** The accepted session of each device, by {@link deviceKey}. */
  readonly #devices = new Map<string, Session>();
  readonly #topics = new WeakMap<Session, AlinkTopics>();
  /** Raw sockets, so that `close()` also ends connections still in their TLS handshake. */
  readonly #sockets = new Set<Socket>();
  readonly #alinkIds = new AlinkIdGenerator();
  readonly #rrpcIds = new AlinkIdGenerator();
  readonly #replies: PendingReplies<AlinkReply>;
  readonly #rrpcResponses: PendingReplies<Uint8Array>;
  readonly #host: SessionHost;
  #nextConnectionId = 1;
  #address: AddressInfo | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: ResolvedEmulatorOptions) {
    super();
    this.#options = options;
    this.ca = options.tls?.ca ?? '';
    this.#replies = new PendingReplies(options.clock);
    this.#rrpcResponses = new PendingReplies(options.clock);
    this.#host = {
      clock: options.clock,
      tracing: () => this.listenerCount('packet') > 0,
      admit: (session, connect) => this.#admit(session, connect),
      opened: (session) => this.emit('connect', session.device!),
      published: (session, topic, payload, qos) => this.#published(session, topic, payload, qos),
      ended: (session, outcome) => this.#ended(session, outcome),
      trace: (event) => this.emit('packet', event),
    };
    const tls = options.tls;
    this.#server = tls
      ? nodeTls().createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', handshakeTimeout: CONNECT_TIMEOUT_MS })
      : nodeNet().createServer();
    this.#server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => this.#accept(socket));
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  get host(): string {
    return this.#address?.address ?? this.#options.host;
  }

  get port(): number {
    return this.#address?.port ?? 0;
  }

  get url(): string {
    const host = isIP(this.host) === 6 ? `[${this.host}]` : this.host;
    return `${this.#options.tls ? 'mqtts' : 'mqtt'}://${host}:${this.port}`;
  }

  /** A platform listening as `options` say; rejects with EmulatorError `listen-failed`. */
  static async start(options: ResolvedEmulatorOptions): Promise<LocalPlatform> {
    const platform = new LocalPlatform(options);
    await platform.#listen();
    return platform;
  }

  async #listen(): Promise<void> {
    const { host, port } = this.#options;
    this.#server.listen({ host, port });
    try {
      await once(this.#server, 'listening');
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      const hint =
        code === 'EADDRNOTAVAIL' && isIP(host) === 6
          ? "; this machine has no IPv6 loopback: pass host: '127.0.0.1'"
          : code === 'EADDRINUSE'
            ? '; another process listens there: pass port: 0 for a free port'
            : '';
      throw new EmulatorError('listen-failed', `cannot listen on ${host}:${port} (${String(code ?? cause)})${hint}`, { cause });
    }
    this.#address = this.#server.address() as AddressInfo;
    // From here on an error of the listening socket itself is the only thing reported as 'error'.
    this.#server.on('error', (error) => this.emit('error', error));
  }

  connections(): EmulatorConnection[] {
    return [...this.#sessions].filter((session) => session.open).map((session) => session.device!);
  }

  async publish(topic: string, payload: Uint8Array | string, qos: 0 | 1 = 0): Promise<void> {
    this.#checkRunning();
    if (qos !== 0 && qos !== 1) {
      throw new ConfigurationError('qos', `got ${String(qos)}; the platform supports QoS 0 and 1 only`);
    }
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    // Refuses a wildcard, empty or ill-formed topic before anything is sent.
    encodedLength({ type: 'publish', topic, payload: bytes, qos: 0, retain: false, dup: false });
    const acknowledged: Promise<void>[] = [];
    this.#route(topic, bytes, qos, acknowledged);
    await Promise.all(acknowledged);
  }

  sendPropertySet(
    productKey: string,
    deviceName: string,
    params: Record<string, unknown>,
    timeoutMs = DEFAULT_REPLY_TIMEOUT_MS,
  ): Promise<AlinkReply> {
    return this.#request(productKey, deviceName, { kind: 'property-set' }, ALINK_METHODS.propertySet, params, timeoutMs);
  }

  callService(
    productKey: string,
    deviceName: string,
    identifier: string,
    params: Record<string, unknown>,
    timeoutMs = DEFAULT_REPLY_TIMEOUT_MS,
  ): Promise<AlinkReply> {
    const method = ALINK_METHODS.serviceCall(identifier);
    return this.#request(productKey, deviceName, { kind: 'service-call', identifier }, method, params, timeoutMs);
  }

  async rrpc(
    productKey: string,
    deviceName: string,
    payload: Uint8Array | string,
    timeoutMs = DEFAULT_REPLY_TIMEOUT_MS,
  ): Promise<Uint8Array> {
    const { session, topics } = this.#target(productKey, deviceName, timeoutMs);
    const messageId = this.#rrpcIds.next();
    const topic = topics.rrpcRequest(messageId);
    const responseTopic = topics.rrpcResponse(messageId);
    this.#checkSubscribed(session, topic);
    const response = this.#rrpcResponses.wait(
      responseTopic,
      session,
      timeoutMs,
      `device ${deviceName} of product ${productKey} did not answer RRPC ${messageId} on ${responseTopic}`,
    );
    this.#route(topic, typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, CLOUD_QOS);
    return response;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // Before the sessions end, so that waiting requests learn the emulator closed, not that the device left.
    const error = new EmulatorError('closed', 'the emulator was closed before the device answered');
    this.#replies.fail(undefined, error);
    this.#rrpcResponses.fail(undefined, error);
    for (const session of [...this.#sessions]) session.shutdown();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #accept(socket: Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    this.#sessions.add(new Session(this.#nextConnectionId++, socket, this.#host));
  }

  /**
   * The platform's checks, in this order: an empty clientId (2), a will message (3), the
   * keepalive range (3), then the credentials as `verifyCredentials` reads them, with securemode
   * held to this listener's transport.
   */
  #admit(session: Session, connect: ConnectPacket): Admission {
    const refuse = (returnCode: RefusedReturnCode, reason: RefuseReason, message: string): Admission => ({
      ok: false,
      returnCode,
      reason,
      message,
    });
    if (connect.clientId === '') {
      return refuse(2, 'empty-client-id', 'the clientId is empty; the platform needs the device id and its |securemode=...| extension [MQTT-3.1.3-8]');
    }
    if (connect.will !== undefined) {
      return refuse(3, 'will-not-supported', 'the CONNECT carries a will message; the platform has none (it reports a device going offline itself)');
    }
    const { minKeepalive, maxKeepalive } = PLATFORM_LIMITS;
    if (connect.keepalive < minKeepalive || connect.keepalive > maxKeepalive) {
      return refuse(3, 'keepalive-out-of-range', `keepalive ${connect.keepalive} s is outside the platform's ${minKeepalive}..${maxKeepalive} s`);
    }
    const verdict = verifyCredentials(
      connect,
      (productKey, deviceName) => this.#options.devices.get(deviceKey(productKey, deviceName))?.deviceSecret,
      { transport: this.#options.tls ? 'tls' : 'tcp' },
    );
    if (!verdict.ok) return refuse(connackCodeForVerifyFailure(verdict.reason), verdict.reason, verdict.message);
    const { productKey, deviceName, clientId } = verdict;
    const key = deviceKey(productKey, deviceName);
    // Two connections of one device kick each other off on the platform; the newer one stays.
    this.#devices.get(key)?.kick();
    this.#devices.set(key, session);
    this.#topics.set(session, new AlinkTopics({ productKey, deviceName }));
    return { ok: true, productKey, deviceName, clientId };
  }

  #published(session: Session, topic: string, payload: Uint8Array, qos: 0 | 1): void {
    this.#route(topic, payload, qos);
    const topics = this.#topics.get(session)!;
    const parsed = topics.parse(topic);
    switch (parsed?.kind) {
      case 'property-post':
        if (this.#options.autoReplyPropertyPost) {
          this.#answerPost(payload, ALINK_METHODS.propertyPost, topics.propertyPostReply());
        }
        return;
      case 'event-post':
        if (this.#options.autoReplyEventPost) {
          this.#answerPost(payload, ALINK_METHODS.eventPost(parsed.identifier), topics.eventPostReply(parsed.identifier));
        }
        return;
      case 'reply': {
        let reply: AlinkReply;
        try {
          reply = parseAlinkReply(payload);
        } catch {
          return; // Without a readable id it answers nothing; the request times out, as on the platform.
        }
        this.#replies.settle(replyKey(topic, reply.id), reply);
        return;
      }
      case 'rrpc-response':
        // A copy: the payload is a view into the socket's chunk.
        this.#rrpcResponses.settle(topic, new Uint8Array(payload));
        return;
    }
  }

  /**
   * `{"id":<same>,"code":200,"data":{}}` on the post's `_reply` topic. A post that cannot be read
   * as an Alink request of the topic's method gets code 460 with a message saying why, and the id
   * of the request when one can be found in it, else `"0"` (an id no {@link AlinkIdGenerator} uses).
   */
  #answerPost(payload: Uint8Array, method: string, replyTopic: string): void {
    let reply: string;
    try {
      const request = parseAlinkRequest(payload);
      reply =
        request.method === method
          ? buildAlinkReply({ id: request.id })
          : buildAlinkReply({
              id: request.id,
              code: ALINK_REQUEST_PARAMETER_ERROR,
              message: `request parameter error: method ${request.method} on this topic; use ${method}`,
            });
    } catch (error) {
      if (!(error instanceof AlinkPayloadError)) throw error;
      reply = buildAlinkReply({
        id: salvageId(payload),
        code: ALINK_REQUEST_PARAMETER_ERROR,
        message: `request parameter error: ${error.message}`,
      });
    }
    this.#route(replyTopic, Buffer.from(reply, 'utf8'), CLOUD_QOS);
  }

  async #request(
    productKey: string,
    deviceName: string,
    kind: AlinkRequestTopic,
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<AlinkReply> {
    const { session, topics } = this.#target(productKey, deviceName, timeoutMs);
    const topic = topics.request(kind);
    const replyTopic = topics.reply(kind);
    const id = this.#alinkIds.next();
    const payload = buildAlinkRequest({ id, method, params });
    this.#checkSubscribed(session, topic);
    const reply = this.#replies.wait(
      replyKey(replyTopic, id),
      session,
      timeoutMs,
      `device ${deviceName} of product ${productKey} did not answer ${method} (id ${id}) on ${replyTopic}`,
    );
    this.#route(topic, Buffer.from(payload, 'utf8'), CLOUD_QOS);
    return reply;
  }

  /** The open session of a device and its topics; throws when there is none. */
  #target(productKey: string, deviceName: string, timeoutMs: number): { session: Session; topics: AlinkTopics } {
    this.#checkRunning();
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new ConfigurationError('timeoutMs', `got ${String(timeoutMs)}; give milliseconds greater than 0`);
    }
    const session = this.#devices.get(deviceKey(productKey, deviceName));
    if (session === undefined) {
      throw new EmulatorError(
        'not-connected',
        `device ${deviceName} of product ${productKey} is not connected; emulator.connections() lists the devices that are`,
      );
    }
    return { session, topics: this.#topics.get(session)! };
  }

  #checkSubscribed(session: Session, topic: string): void {
    if (session.grantedQos(topic) < 0) {
      throw new EmulatorError(
        'not-subscribed',
        `device ${session.device!.deviceName} has no subscription matching ${topic}, so it would never see the request; subscribe to it first`,
      );
    }
  }

  #checkRunning(): void {
    if (this.#closing !== undefined) throw new EmulatorError('closed', 'the emulator is closed');
  }

  /**
   * Sends to every matching subscription at the lower of `qos` and the grant. With
   * `acknowledged`, each QoS 1 delivery adds a promise settled by its PUBACK; without, nobody
   * waits, so nothing can reject unheard.
   */
  #route(topic: string, payload: Uint8Array, qos: 0 | 1, acknowledged?: Promise<void>[]): void {
    for (const session of this.#sessions) {
      const granted = session.grantedQos(topic);
      if (granted === -1) continue;
      const effective = qos < granted ? qos : granted;
      if (acknowledged === undefined || effective === 0) {
        session.deliver(topic, payload, effective);
      } else {
        acknowledged.push(
          new Promise<void>((resolve, reject) => {
            session.deliver(topic, payload, 1, (error) => (error === undefined ? resolve() : reject(error)));
          }),
        );
      }
    }
  }

  #ended(session: Session, outcome: SessionOutcome): void {
    this.#sessions.delete(session);
    const connection = session.traced;
    if (!outcome.accepted) {
      this.emit('refuse', { returnCode: outcome.returnCode, reason: outcome.reason, message: outcome.message, connection });
      return;
    }
    const { productKey, deviceName, clientId } = session.device!;
    const key = deviceKey(productKey, deviceName);
    if (this.#devices.get(key) === session) this.#devices.delete(key);
    const error = new EmulatorError('disconnected', `device ${deviceName} of product ${productKey} disconnected (${outcome.reason}) before answering`);
    this.#replies.fail(session, error);
    this.#rrpcResponses.fail(session, error);
    this.emit('disconnect', { productKey, deviceName, clientId, reason: outcome.reason, message: outcome.message, connection });
  }
}

/** Pairs a reply with its request: the reply topic names the device and the request kind, the id the request. */
function replyKey(replyTopic: string, id: string): string {
  return `${replyTopic} ${id}`;
}

/** The `id` of a post that failed to parse as a request, when it has a usable one. */
function salvageId(payload: Uint8Array): string {
  try {
    const id: unknown = (JSON.parse(Buffer.from(payload).toString('utf8')) as { id?: unknown } | null)?.id;
    if ((typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isFinite(id))) return String(id);
  } catch {
    // not JSON: no id to salvage
  }
  return '0';
}
