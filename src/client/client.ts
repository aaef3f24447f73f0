/**
 * The MQTT 3.1.1 session: one client, a succession of connections.
 *
 *   new ──connect()──▶ connecting ──CONNACK 0──▶ connected
 *                         │  ▲                       │ connection lost
 *                 failed  │  └──── waiting ◀─────────┘ (reconnect on: backoff with full jitter)
 *                         ▼          │
 *                       ended ◀──────┴── end(), signal, or a refusal that cannot succeed
 *
 * What survives a connection: the QoS 1 messages awaiting PUBACK (re-sent first on the next
 * connection, DUP set, same ids, same order [MQTT-4.4.0-1, MQTT-4.6.0-1]), the SUBSCRIBE and
 * UNSUBSCRIBE requests awaiting their acks, the subscriptions (restored when the server has no
 * session for us), and publishes queued while offline (a bounded queue).
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { DISCONNECT_FRAME, PINGREQ_FRAME, encodedLength } from '../packet/codec.js';
import { PacketDecoder } from '../packet/decoder.js';
import { MqttProtocolError } from '../packet/errors.js';
import type {
  ConnectPacket,
  Packet,
  PublishPacket,
  QoS,
  SubackPacket,
  Subscription,
} from '../packet/types.js';
import { TransportError } from '../transport/errors.js';
import { Backoff } from './backoff.js';
import { ConnectionRefusedError, MqttClientError, SubscribeError } from './errors.js';
import type { ConnackHint, SubscriptionGrant } from './errors.js';
import { KeepaliveScheduler } from './keepalive.js';
import type { KeepaliveHooks } from './keepalive.js';
import { MessageStream } from './messages.js';
import type { MessageStreamHost } from './messages.js';
import { resolveClientOptions } from './options.js';
import type { MqttClientOptions, ResolvedClientOptions } from './options.js';
import { describePacket } from '../packet/describe.js';
import { FrameWriter } from './writer.js';


export type ClientState = 'new' | 'connecting' | 'connected' | 'waiting' | 'ending' | 'ended';

/** What a successful connection reports. */
export interface ConnectionInfo {
  /** The server still had a session for this client id (clean session 0 only). */
  readonly sessionPresent: boolean;
}

export interface PublishOptions {
  /** 0 (default) or 1. QoS 2 is refused: the platform has none. */
  readonly qos?: QoS;
  readonly retain?: boolean;
}

export interface SubscribeOptions {
  /** Maximum QoS asked for every filter given as a string: 0 (default) or 1. */
  readonly qos?: QoS;
}

export interface EndOptions {
  /** Milliseconds to wait for outstanding QoS 1 acks before giving up on them (default 5000). */
  readonly timeout?: number;
  /** Skip the wait: report unacknowledged messages at once. */
  readonly force?: boolean;
}

/** A QoS 1 message that was never acknowledged, reported by `end()`. */
export interface UnacknowledgedMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly packetId: number | undefined;
}

export interface EndReport {
  /** QoS 1 messages without PUBACK and messages still queued, in order; their promises rejected. */
  readonly unacknowledged: readonly UnacknowledgedMessage[];
}

/** Events and their listener arguments. */
export interface MqttClientEvents {
  connect: [info: ConnectionInfo];
  message: [topic: string, payload: Uint8Array, packet: PublishPacket];
  /** A connection closed (there may be more: see `reconnect`). `error` is why, if it failed. */
  close: [error: Error | undefined];
  /** A connection that was up went down; publishes now queue. */
  offline: [];
  /** A new connection attempt starts, after `delay` ms of backoff. */
  reconnect: [attempt: number, delay: number];
  /** Something went wrong; the client reports it here as well as through any promise it settles. */
  error: [error: Error];
  /** The client is finished: `end()`, the signal, or a refusal that cannot succeed on retry. */
  end: [];
}

interface Outgoing {
  readonly packet: PublishPacket;
  resolve(): void;
  reject(error: Error): void;
}

interface PendingRequest {
  readonly packet: Extract<Packet, { type: 'subscribe' | 'unsubscribe' }>;
  /** Internal requests (restoring subscriptions) have no caller waiting. */
  resolve(ack: Packet): void;
  reject(error: Error): void;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/** One network connection of the session. */
interface Connection {
  readonly client: MqttClient;
  readonly socket: Duplex;
  readonly writer: FrameWriter;
  readonly decoder: PacketDecoder;
  readonly keepalive: KeepaliveScheduler;
  connackTimer: unknown;
  connected: boolean;
  connectedAt: number;
  closed: boolean;
  /** closed() has run for it (it runs once, from teardown or from the socket's 'close'). */
  closeHandled: boolean;
  /** Why it closed, when it failed. */
  failure: Error | undefined;
}

/**
 * An MQTT 3.1.1 client over TLS or TCP, IPv6 first.
 *
 * ```ts
 * const client = new MqttClient({ host: '::1', port: 8883, ca, clientId: 'dev-1' });
 * await client.connect();
 * await client.subscribe('cmd/#', { qos: 1 });
 * await client.publish('telemetry', JSON.stringify({ t: 21.5 }), { qos: 1 });
 * for await (const message of client.messages()) console.log(message.topic);
 * ```
 */
export class MqttClient extends EventEmitter<MqttClientEvents> implements MessageStreamHost, KeepaliveHooks {
  readonly options: Readonly<Omit<ResolvedClientOptions, 'password'>>;
  private readonly password: Uint8Array | undefined;
  private readonly clock: ResolvedClientOptions['clock'];
  private _state: ClientState = 'new';
  private conn: Connection | undefined;
  private attemptAbort: AbortController | undefined;
  private reconnectTimer: unknown = undefined;
  private readonly backoff: Backoff | undefined;
  private attempts = 0;
  private quickDrops = 0;

  /** The last packet identifier handed out. */
  private lastPacketId = 0;
  // The two maps below are replaced by a shared empty map whenever they empty, so an idle
  // client (a gateway holds thousands) keeps no hash table for them.
  /** QoS 1 publishes awaiting PUBACK, in the order they were first sent. */
  private inflight: Map<number, Outgoing> = NO_OUTGOING;
  /** SUBSCRIBE/UNSUBSCRIBE awaiting SUBACK/UNSUBACK, in the order they were sent. */
  private requests: Map<number, PendingRequest> = NO_REQUESTS;
  /** Publishes not yet on the wire (offline, no in-flight room, or socket saturated). Bounded. */
  private queue: Outgoing[] = none();
  private queueHead = 0;
  /** Filters and QoS the server should hold for us, to restore into a session that was lost. */
  private readonly subscriptions = new Map<string, QoS>();
  /** Incoming QoS 2 ids awaiting PUBREL (a QoS 2 message is delivered once) [MQTT-4.3.3-2]. */
  private awaitingPubrel: Set<number> | undefined;

  private connectWaiters: Array<Waiter<ConnectionInfo>> = none();
  private lastConnection: ConnectionInfo | undefined;
  // Created on first use: a gateway holds thousands of clients, most never iterate or see QoS 2.
  private streams: Set<MessageStream> | undefined;
  private fullStreams: Set<MessageStream> | undefined;
  private ending: Promise<EndReport> | undefined;
  private ackWaiters: Array<() => void> = none();
  private pingWaiters: Array<Waiter<number>> = none();
  private fatal: Error | undefined;

  constructor(options: MqttClientOptions) {
    super();
    const resolved = resolveClientOptions(options);
    const { password, ...visible } = resolved;
    this.options = Object.freeze(visible);
    this.password = password;
    this.clock = resolved.clock;
    if (resolved.reconnect !== false) this.backoff = new Backoff(resolved.reconnect, resolved.random);
    const signal = resolved.signal;
    if (signal !== undefined) {
      if (signal.aborted) this._state = 'ended';
      else signal.addEventListener('abort', () => void this.end({ force: true }), { once: true });
    }
  }

  get state(): ClientState {
    return this._state;
  }

  get connected(): boolean {
    return this._state === 'connected';
  }

  /** QoS 1 messages sent and awaiting PUBACK. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Publishes accepted but not yet sent. */
  get queuedCount(): number {
    return this.queue.length - this.queueHead;
  }

  /**
   * Connects, and resolves on the first CONNACK that accepts the connection.
   *
   * It rejects with the first attempt's error (a TransportError, ConnectionRefusedError,
   * MqttProtocolError or MqttClientError). When reconnecting is on and the failure may pass (a
   * network error, CONNACK 3), the client also keeps trying in the background and emits
   * `connect` when it gets through; publishes queue meanwhile. `end()` stops it.
   */
  connect(): Promise<ConnectionInfo> {
    switch (this._state) {
      case 'connected':
        return Promise.resolve(this.lastConnection!);
      case 'ending':
      case 'ended':
        return Promise.reject(this.fatal ?? endedError());
    }
    const promise = new Promise<ConnectionInfo>((resolve, reject) => {
      this.connectWaiters = add(this.connectWaiters, { resolve, reject });
    });
    if (this._state === 'new') this.startAttempt(0);
    else if (this._state === 'waiting') this.reconnectNow();
    return promise;
  }

  /**
   * Publishes a message. QoS 0 resolves once the message is in the socket's next write (this
   * tick's batch; when the socket is saturated, after it drains); QoS 1 resolves on its PUBACK.
   * While offline, the message waits in the offline queue; a full queue rejects with `queue-full`
   * at once. A malformed message (topic, QoS, payload) rejects at once and nothing is sent.
   */
  publish(topic: string, payload: Uint8Array | string, options: PublishOptions = {}): Promise<void> {
    const qos = options.qos ?? 0;
    if (qos === 2) {
      return Promise.reject(
        new MqttClientError('unsupported', 'QoS 2 is not supported: the platform offers QoS 0 and 1 only; use qos: 1'),
      );
    }
    const packet: PublishPacket = {
      type: 'publish',
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
      qos,
      retain: options.retain ?? false,
      dup: false,
      packetId: undefined,
    };
    if (this._state === 'ending' || this._state === 'ended') return Promise.reject(this.fatal ?? endedError());
    if (this.queueHead === this.queue.length && this.canSend(qos)) {
      // The fast path: straight into this tick's batch. Encoding validates the message and
      // throws before writing anything, so a bad message is still refused at once.
      if (qos === 0) {
        try {
          this.sendPacket(this.conn!, packet);
        } catch (error) {
          return Promise.reject(error);
        }
        return RESOLVED;
      }
      return new Promise<void>((resolve, reject) => {
        try {
          this.send({ packet, resolve, reject });
        } catch (error) {
          reject(error);
        }
      });
    }
    try {
      // Validate now (topic, QoS, payload type) so the caller hears about a bad message at once.
      encodedLength(qos === 0 ? packet : { ...packet, packetId: 1 });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      const outgoing: Outgoing = { packet, resolve, reject };
      if (this._state !== 'connected' && qos === 0 && this.options.offlineQoS0 === 'reject') {
        reject(new MqttClientError('connection-closed', 'not connected, and offlineQoS0 is "reject": the QoS 0 message was not sent'));
        return;
      }
      if (this.queuedCount >= this.options.offlineQueueSize) {
        reject(
          new MqttClientError(
            'queue-full',
            `the offline queue holds ${this.options.offlineQueueSize} messages already (offlineQueueSize); the message was not accepted`,
          ),
        );
        return;
      }
      this.queue = add(this.queue, outgoing);
    });
  }

  /**
   * Subscribes to one or more topic filters and resolves with what the server granted for each.
   * Rejects with SubscribeError when the server refuses any of them (SUBACK 0x80).
   */
  async subscribe(
    filters: string | readonly string[] | readonly Subscription[],
    options: SubscribeOptions = {},
  ): Promise<SubscriptionGrant[]> {
    const qos = options.qos ?? 0;
    const list: Subscription[] = (typeof filters === 'string' ? [filters] : [...filters]).map((f) =>
      typeof f === 'string' ? { topicFilter: f, qos } : f,
    );
    for (const s of list) {
      if (s.qos === 2) {
        throw new MqttClientError('unsupported', `QoS 2 is not supported (filter ${JSON.stringify(s.topicFilter)}): use 0 or 1`);
      }
    }
    const ack = (await this.request({ type: 'subscribe', packetId: 1, subscriptions: list })) as SubackPacket;
    if (ack.returnCodes.length !== list.length) {
      // [MQTT-3.9.3-1]: one return code per filter.
      const error = new MqttProtocolError(
        'invalid-remaining-length',
        `SUBACK carries ${ack.returnCodes.length} return codes for ${list.length} filters`,
        'suback',
      );
      this.connectionFailed(error);
      throw error;
    }
    const grants = list.map((s, i): SubscriptionGrant => {
      const code = ack.returnCodes[i]!;
      return { topicFilter: s.topicFilter, qos: code === 0x80 ? null : code };
    });
    for (const g of grants) {
      if (g.qos !== null) this.subscriptions.set(g.topicFilter, list.find((s) => s.topicFilter === g.topicFilter)!.qos);
    }
    if (grants.some((g) => g.qos === null)) throw new SubscribeError(grants);
    return grants;
  }

  /** Unsubscribes from one or more topic filters; resolves on UNSUBACK. */
  async unsubscribe(filters: string | readonly string[]): Promise<void> {
    const topicFilters = typeof filters === 'string' ? [filters] : [...filters];
    await this.request({ type: 'unsubscribe', packetId: 1, topicFilters });
    for (const f of topicFilters) this.subscriptions.delete(f);
  }

  /**
   * Sends a PINGREQ now and resolves with the round trip in milliseconds when the PINGRESP
   * arrives. No PINGRESP within `pingTimeout` rejects with `ping-timeout` and closes the
   * connection, as the keepalive scheduler would. Rejects with `connection-closed` when offline.
   */
  ping(): Promise<number> {
    const conn = this.conn;
    if (this._state !== 'connected' || conn === undefined) {
      return Promise.reject(new MqttClientError('connection-closed', 'not connected: nothing to ping'));
    }
    const sentAt = this.clock.now();
    return new Promise<number>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pingWaiters = this.pingWaiters.filter((w) => w !== waiter);
        const error = new MqttClientError('ping-timeout', `no PINGRESP within ${this.options.pingTimeout} ms of PINGREQ`);
        reject(error);
        this.connectionFailed(error, conn);
      }, this.options.pingTimeout);
      const waiter: Waiter<number> = {
        resolve: (at) => {
          this.clock.clearTimeout(timer);
          resolve(at - sentAt);
        },
        reject: (error) => {
          this.clock.clearTimeout(timer);
          reject(error);
        },
      };
      this.pingWaiters = add(this.pingWaiters, waiter);
      this.sendPing();
    });
  }

  /**
   * Incoming messages as an async iterator (each iterator sees every message from the moment
   * it is created). A consumer that falls `messageBuffer` messages behind pauses the socket.
   */
  messages(): MessageStream {
    const stream = new MessageStream(this, this.options.messageBuffer);
    if (this._state === 'ended') stream.finish();
    else (this.streams ??= new Set()).add(stream);
    return stream;
  }

  [Symbol.asyncIterator](): MessageStream {
    return this.messages();
  }

  /**
   * Ends the session: waits (up to `timeout`) for outstanding QoS 1 acks, sends DISCONNECT,
   * flushes and closes; nothing is sent after DISCONNECT [MQTT-3.14.4-1, MQTT-3.14.4-2].
   * Cancels a reconnect wait. Resolves with the messages that were never acknowledged (their
   * promises reject with `client-ended`): nothing is dropped silently.
   */
  end(options: EndOptions = {}): Promise<EndReport> {
    if (this.ending !== undefined) return this.ending;
    const timeout = options.timeout ?? 5000;
    if (!Number.isInteger(timeout) || timeout < 0) {
      return Promise.reject(new ConfigurationError('timeout', `expected a whole number of milliseconds, got ${String(timeout)}`));
    }
    this.ending = this.finish(options.force === true ? 0 : timeout, undefined);
    return this.ending;
  }

  // -------------------------------------------------------------------------------------------
  // Connection attempts

  private startAttempt(delay: number): void {
    this._state = 'connecting';
    // Attempts count from the last time the client was connected (1 = the first retry).
    const attempt = this.attempts++;
    if (attempt > 0) this.emit('reconnect', attempt, delay);
    const abort = new AbortController();
    this.attemptAbort = abort;
    const o = this.options;
    const deadline = this.clock.now() + o.connectTimeout;
    // A promise even when openSocket throws at once: a sync throw must not escape connect() or a timer.
    new Promise<Duplex>((resolve) =>
      resolve(
        o.openSocket({
          host: o.host,
          port: o.port,
          transport: o.transport,
          family: o.family,
          ...(o.ca !== undefined ? { ca: o.ca } : {}),
          ...(o.servername !== undefined ? { servername: o.servername } : {}),
          rejectUnauthorized: o.rejectUnauthorized,
          connectTimeout: o.connectTimeout,
          signal: abort.signal,
          ...(o.lookup !== undefined ? { lookup: o.lookup } : {}),
        }),
      ),
    ).then(
      (socket) => {
        if (this.attemptAbort !== abort) {
          socket.destroy(); // end() came first
          return;
        }
        this.attemptAbort = undefined;
        this.open(socket, deadline);
      },
      (error: unknown) => {
        if (this.attemptAbort !== abort) return;
        this.attemptAbort = undefined;
        this.attemptFailed(toError(error));
      },
    );
  }

  private open(socket: Duplex, deadline: number): void {
    const o = this.options;
    // The client is the scheduler's hooks object: no closures per connection.
    const keepalive = new KeepaliveScheduler(this.clock, o.keepalive * 1000, o.pingTimeout, this);
    const conn: Connection = {
      socket,
      client: this,
      writer: new FrameWriter(socket, keepalive, this.clock),
      decoder: new PacketDecoder({ maxPacketSize: o.maxPacketSize }),
      keepalive,
      connackTimer: undefined,
      connected: false,
      connectedAt: 0,
      closed: false,
      closeHandled: false,
      failure: undefined,
    };
    this.conn = conn;
    // Shared listener functions find their connection on the socket: no closures per connection.
    (socket as ConnectionSocket)[CONNECTION] = conn;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    // Not paused for a consumer that is behind until the CONNACK is in (see connack()).

    const connect: ConnectPacket = {
      type: 'connect',
      clientId: o.clientId,
      keepalive: o.keepalive,
      clean: o.clean,
      username: o.username,
      password: this.password,
      will: o.will,
    };
    this.sendPacket(conn, connect); // the first packet on the connection [MQTT-3.1.0-1]
    conn.writer.flush();
    conn.connackTimer = this.clock.setTimeout(
      () =>
        this.connectionFailed(
          new MqttClientError('connack-timeout', `no CONNACK within ${o.connectTimeout} ms (connectTimeout) of connecting`),
          conn,
        ),
      Math.max(1, deadline - this.clock.now()),
    );
  }

  /** A connection attempt failed before a socket existed. */
  private attemptFailed(error: Error): void {
    this.report(error);
    this.afterFailure(error, false);
  }

  /** Decides what follows a failed attempt or a lost connection. */
  private afterFailure(error: Error | undefined, wasConnected: boolean): void {
    if (this._state === 'ending' || this._state === 'ended') return;
    if (error !== undefined && isFatal(error)) {
      this.fatal = error;
      // Through `ending`, so a later end() returns this same shutdown instead of running another.
      this.ending = this.finish(0, error);
      return;
    }
    // Before the first success, connect() reports the failure; reconnecting may still go on.
    if (!wasConnected) this.rejectConnectWaiters(error ?? closedError());
    if (this.backoff === undefined) {
      this._state = 'new';
      if (wasConnected || this.attempts > 0) this.rejectPendingWork(error ?? closedError());
      return;
    }
    this._state = 'waiting';
    const delay = this.backoff.next();
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      this.startAttempt(delay);
    }, delay);
  }

  private reconnectNow(): void {
    if (this.reconnectTimer !== undefined) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.startAttempt(0);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  /** @internal */
  received(conn: Connection, chunk: Buffer): void {
    if (conn.closed) return;
    let packets: Packet[];
    try {
      packets = conn.decoder.push(chunk);
    } catch (error) {
      this.connectionFailed(toError(error), conn); // [MQTT-4.8.0-1]
      return;
    }
    const now = this.clock.now();
    conn.keepalive.packetReceived(now);
    let listenerError: unknown;
    for (const packet of packets) {
      if (conn.closed) break;
      if (debug.enabled) debug('<- %s', describePacket(packet));
      try {
        this.handle(conn, packet, now);
      } catch (error) {
        if (error instanceof ListenerFailure) {
          listenerError ??= error.thrown;
        } else if (error instanceof MqttProtocolError || error instanceof MqttClientError) {
          this.connectionFailed(error, conn);
          break;
        } else {
          listenerError ??= error;
        }
      }
    }
    if (listenerError !== undefined) this.listenerThrew(listenerError);
  }

  private handle(conn: Connection, packet: Packet, now: number): void {
    if (!conn.connected) {
      if (packet.type !== 'connack') {
        throw violation(`the server sent ${packet.type.toUpperCase()} before CONNACK [MQTT-3.2.0-1]`, packet);
      }
      this.connack(conn, packet.returnCode, packet.sessionPresent);
      return;
    }
    switch (packet.type) {
      case 'publish':
        this.incoming(conn, packet);
        return;
      case 'puback': {
        const outgoing = this.inflight.get(packet.packetId);
        if (outgoing === undefined) {
          // A late ack for a message already settled: harmless, not worth a connection.
          if (debug.enabled) debug('PUBACK for unknown packet id %d ignored', packet.packetId);
          return;
        }
        // The id is free again now that its ack is in [MQTT-2.3.1-3].
        if (this.inflight.size === 1) this.inflight = NO_OUTGOING;
        else this.inflight.delete(packet.packetId);
        outgoing.resolve();
        if (this.ackWaiters.length > 0 && this.inflight.size === 0) this.releaseAckWaiters();
        this.pump();
        return;
      }
      case 'suback':
      case 'unsuback': {
        const request = this.requests.get(packet.packetId);
        const expected = packet.type === 'suback' ? 'subscribe' : 'unsubscribe';
        if (request === undefined || request.packet.type !== expected) {
          throw violation(`${packet.type.toUpperCase()} for packet id ${packet.packetId}, which has no ${expected} outstanding`, packet);
        }
        if (this.requests.size === 1) this.requests = NO_REQUESTS;
        else this.requests.delete(packet.packetId);
        request.resolve(packet);
        this.pump();
        return;
      }
      case 'pingresp': {
        conn.keepalive.pingrespReceived(now);
        const waiters = this.pingWaiters;
        this.pingWaiters = none();
        for (const w of waiters) w.resolve(now);
        return;
      }
      case 'pubrel':
        // The end of an incoming QoS 2 exchange (a server may use QoS 2 with other brokers).
        this.awaitingPubrel?.delete(packet.packetId);
        this.sendPacket(conn, { type: 'pubcomp', packetId: packet.packetId });
        return;
      default:
        throw violation(`a server does not send ${packet.type.toUpperCase()} after CONNACK`, packet);
    }
  }

  private connack(conn: Connection, returnCode: number, sessionPresent: boolean): void {
    this.clock.clearTimeout(conn.connackTimer);
    conn.connackTimer = undefined;
    if (returnCode !== 0) {
      const hint = hintFor(this.options.connackHint, returnCode);
      throw new ConnectionRefusedError(returnCode as 1 | 2 | 3 | 4 | 5, hint);
    }
    conn.connected = true;
    conn.connectedAt = this.clock.now();
    this.attempts = 1;
    this._state = 'connected';
    this.lastConnection = sessionPresent ? SESSION_PRESENT : NO_SESSION;
    conn.keepalive.start();
    // A consumer still behind pauses reading now, after the CONNACK: pausing a new socket at once
    // would leave the CONNACK unread and end the attempt with connack-timeout.
    if (this.fullStreams !== undefined && this.fullStreams.size > 0) conn.socket.pause();

    // 1. Unacknowledged QoS 1 publishes, first and in their original order, with their ids and
    //    DUP set [MQTT-4.4.0-1, MQTT-3.3.1-1, MQTT-4.6.0-1, MQTT-2.3.1-3]. With clean session 1
    //    the server has no memory of them, so they go out as new messages (DUP 0) instead.
    for (const [id, outgoing] of this.inflight) {
      this.sendPacket(conn, { ...outgoing.packet, packetId: id, dup: !this.options.clean });
    }
    // 2. SUBSCRIBE/UNSUBSCRIBE still awaiting their acks.
    for (const request of this.requests.values()) this.sendPacket(conn, request.packet);
    // 3. Subscriptions the server no longer holds. Without a session, incoming QoS 2 ids awaiting
    //    PUBREL mean nothing any more: the same id is a new message [MQTT-3.1.2-6].
    if (!sessionPresent) {
      this.awaitingPubrel?.clear();
      this.restoreSubscriptions();
    }
    // 4. Then new traffic.
    this.pump();

    const waiters = this.connectWaiters;
    this.connectWaiters = none();
    for (const w of waiters) w.resolve(this.lastConnection);
    this.emitFromHandler('connect', this.lastConnection);
  }

  private restoreSubscriptions(): void {
    const pending = new Set<string>();
    for (const r of this.requests.values()) {
      if (r.packet.type === 'subscribe') for (const s of r.packet.subscriptions) pending.add(s.topicFilter);
    }
    const restore: Subscription[] = [];
    for (const [topicFilter, qos] of this.subscriptions) if (!pending.has(topicFilter)) restore.push({ topicFilter, qos });
    if (restore.length === 0) return;
    this.request({ type: 'subscribe', packetId: 1, subscriptions: restore }).then(
      (ack) => {
        const codes = (ack as SubackPacket).returnCodes;
        const grants = restore.map((s, i) => ({ topicFilter: s.topicFilter, qos: codes[i] === 0x80 ? null : (codes[i] ?? null) }));
        if (grants.some((g) => g.qos === null)) this.report(new SubscribeError(grants));
      },
      (error: Error) => {
        if (!(error instanceof MqttClientError && error.code === 'client-ended')) this.report(error);
      },
    );
  }

  private incoming(conn: Connection, packet: PublishPacket): void {
    if (packet.qos === 2) {
      const id = packet.packetId!;
      const awaiting = (this.awaitingPubrel ??= new Set());
      const duplicate = awaiting.has(id);
      awaiting.add(id);
      this.sendPacket(conn, { type: 'pubrec', packetId: id });
      if (duplicate) return; // delivered once already [MQTT-4.3.3-2]
    } else if (packet.qos === 1) {
      // Acknowledged whether or not anybody listens [MQTT-4.5.0-2], in arrival order
      // [MQTT-4.6.0-2]; queued before delivery, so a throwing listener cannot lose it.
      this.sendPacket(conn, { type: 'puback', packetId: packet.packetId! });
    }
    if (this.streams !== undefined) for (const stream of this.streams) stream.push(packet);
    this.emitFromHandler('message', packet.topic, packet.payload, packet);
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private canSend(qos: QoS): boolean {
    const conn = this.conn;
    // While end() waits for acks, queued messages still go out: finish() empties the queue before
    // it writes DISCONNECT, so nothing can follow that.
    const open = this._state === 'connected' || (this._state === 'ending' && conn !== undefined && conn.connected && !conn.closed);
    if (!open || conn === undefined || conn.writer.saturated) return false;
    return qos === 0 || (this.inflight.size < this.options.maxInflight && this.inflight.size + this.requests.size < 65_535);
  }

  /** Puts a publish on the wire; the caller checked `canSend`. */
  private send(outgoing: Outgoing): void {
    const conn = this.conn!;
    const packet = outgoing.packet;
    if (packet.qos === 0) {
      this.sendPacket(conn, packet);
      outgoing.resolve();
      return;
    }
    const packetId = this.allocatePacketId()!;
    // Written first: if encoding refuses the message, no id is held for it.
    this.sendPacket(conn, { ...packet, packetId });
    if (this.inflight === NO_OUTGOING) this.inflight = new Map();
    this.inflight.set(packetId, outgoing);
  }

  /** Moves queued publishes to the wire while the connection has room. */
  /** @internal */
  pump(): void {
    while (this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead]!;
      if (!this.canSend(next.packet.qos)) break;
      this.queue[this.queueHead++] = undefined as unknown as Outgoing;
      this.send(next);
    }
    if (this.queueHead === this.queue.length) {
      this.queue = none();
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    // end() waiting for the queue to drain (QoS 0 behind a saturated socket) waits no more.
    if (this.ackWaiters.length > 0 && this.inflight.size === 0) this.releaseAckWaiters();
  }

  /**
   * A packet identifier no unacknowledged PUBLISH, SUBSCRIBE or UNSUBSCRIBE holds
   * [MQTT-2.3.1-2]; `undefined` when all 65,535 are taken. The ids in use are the keys of the
   * two maps, so an id is free again exactly when its ack removes it [MQTT-2.3.1-3].
   */
  private allocatePacketId(): number | undefined {
    if (this.inflight.size + this.requests.size >= 65_535) return undefined;
    let id = this.lastPacketId;
    do {
      id = id === 65_535 ? 1 : id + 1;
    } while (this.inflight.has(id) || this.requests.has(id));
    this.lastPacketId = id;
    return id;
  }

  private request(packet: PendingRequest['packet']): Promise<Packet> {
    if (this._state === 'ending' || this._state === 'ended') return Promise.reject(this.fatal ?? endedError());
    const packetId = this.allocatePacketId();
    if (packetId === undefined) {
      return Promise.reject(new MqttClientError('queue-full', 'all 65,535 packet identifiers are in use'));
    }
    const withId = { ...packet, packetId } as PendingRequest['packet'];
    try {
      encodedLength(withId); // a bad filter is the caller's error, found before anything is sent
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Packet>((resolve, reject) => {
      if (this.requests === NO_REQUESTS) this.requests = new Map();
      this.requests.set(packetId, { packet: withId, resolve, reject });
      // Offline, it goes out right after CONNACK (see connack()).
      if (this._state === 'connected') this.sendPacket(this.conn!, withId);
    });
  }

  /** Encodes `packet` into this tick's batch (the keepalive hears of it when the batch is flushed). */
  private sendPacket(conn: Connection, packet: Packet): void {
    if (debug.enabled) debug('-> %s', describePacket(packet));
    conn.writer.write(packet);
  }

  /** @internal The keepalive scheduler's hook: a PINGREQ is due. */
  sendPing(): void {
    const conn = this.conn;
    if (conn === undefined || conn.closed) return;
    if (debug.enabled) debug('-> PINGREQ');
    conn.writer.writeFrame(PINGREQ_FRAME);
    // The scheduler re-arms from this at once; the flush at the end of the tick will not be late.
    conn.keepalive.packetSent(this.clock.now());
  }

  /** @internal A socket error on a connection. */
  socketFailed(conn: Connection, error: Error): void {
    this.connectionFailed(toTransportFailure(error, this.options.host, this.options.port), conn);
  }

  /** @internal The keepalive scheduler's hook: no PINGRESP in time. */
  pingTimedOut(): void {
    const o = this.options;
    if (this.fullStreams !== undefined && this.fullStreams.size > 0) {
      // Reading is paused for a consumer that fell behind, so the PINGRESP may be among the
      // unread bytes: that is not a dead connection. Start the period again; the check is
      // reliable once reading resumes.
      this.conn?.keepalive.start();
      return;
    }
    this.connectionFailed(
      new MqttClientError(
        'ping-timeout',
        `no PINGRESP within ${o.pingTimeout} ms of PINGREQ: the connection is dead (keepalive ${o.keepalive} s)`,
      ),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Losing a connection

  /** Closes the current (or given) connection because of `error`. */
  private connectionFailed(error: Error, conn: Connection | undefined = this.conn): void {
    if (conn === undefined || conn.closed) return;
    conn.failure ??= error;
    this.teardown(conn);
  }

  private teardown(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.keepalive.stop();
    if (conn.connackTimer !== undefined) this.clock.clearTimeout(conn.connackTimer);
    conn.writer.close();
    conn.socket.destroy();
    // The socket's 'close' event follows and calls closed(); run it now so state is consistent
    // for the caller, and let the event find it done.
    this.closed(conn);
  }

  /** @internal */
  closed(conn: Connection): void {
    if (conn.closeHandled) return;
    conn.closeHandled = true;
    if (!conn.closed) {
      conn.closed = true;
      conn.keepalive.stop();
      if (conn.connackTimer !== undefined) this.clock.clearTimeout(conn.connackTimer);
      conn.writer.close();
    }
    if (this.conn === conn) this.conn = undefined;
    const pingWaiters = this.pingWaiters;
    this.pingWaiters = none();
    for (const w of pingWaiters) w.reject(conn.failure ?? closedError());
    const error = conn.failure ?? (this._state === 'ending' || this._state === 'ended' ? undefined : closedError());
    if (conn.failure !== undefined) this.report(conn.failure);
    this.emit('close', error);
    if (this._state === 'ending' || this._state === 'ended') {
      // end() may be waiting for acks that can no longer come on this connection.
      const ackWaiters = this.ackWaiters;
      this.ackWaiters = none();
      for (const w of ackWaiters) w();
      return;
    }
    const now = this.clock.now();
    if (conn.connected) {
      this.backoff?.connectionLasted(conn.connectedAt, now);
      this.noteQuickDrop(conn, now);
      this.emit('offline');
    }
    this.afterFailure(error, conn.connected);
  }

  /**
   * Two connections with the same credentials kick each other off and both reconnect: name the
   * symptom when connections keep dropping right after CONNACK.
   */
  private noteQuickDrop(conn: Connection, now: number): void {
    const quick = now - conn.connectedAt < 5000 && conn.failure === undefined;
    this.quickDrops = quick ? this.quickDrops + 1 : 0;
    if (this.quickDrops === 3) {
      this.report(
        new MqttClientError(
          'connection-closed',
          'the server closed the connection right after accepting it, three times in a row: another client with the same ' +
            'client id (or the same device credentials) may be connected and kicking this one off',
        ),
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Ending

  private async finish(timeout: number, cause: Error | undefined): Promise<EndReport> {
    const wasState = this._state;
    this._state = 'ending';
    if (this.reconnectTimer !== undefined) {
      this.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
    if (this.attemptAbort !== undefined) {
      this.attemptAbort.abort(cause ?? endedError());
      this.attemptAbort = undefined;
    }
    const conn = this.conn;
    if (conn !== undefined && !conn.closed && !conn.connected) {
      // Connected at TCP/TLS level but no CONNACK yet: nothing to wait for.
      conn.failure ??= cause;
      this.teardown(conn);
    }
    if (wasState === 'connected' && timeout > 0 && (this.inflight.size > 0 || this.queuedCount > 0)) {
      await this.waitForAcks(timeout);
    }
    const error = cause ?? endedError();
    const unacknowledged: UnacknowledgedMessage[] = [];
    for (const [packetId, outgoing] of this.inflight) {
      unacknowledged.push(describeUnacked(outgoing.packet, packetId));
      outgoing.reject(error);
    }
    this.inflight = NO_OUTGOING;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const outgoing = this.queue[i]!;
      unacknowledged.push(describeUnacked(outgoing.packet, undefined));
      outgoing.reject(error);
    }
    this.queue = none();
    this.queueHead = 0;
    this.rejectPendingWork(error);
    this.rejectConnectWaiters(error);
    const live = this.conn;
    if (live !== undefined && !live.closed) {
      live.writer.writeFrame(DISCONNECT_FRAME);
      live.writer.flush();
      live.writer.close(); // nothing after DISCONNECT [MQTT-3.14.4-2]
      live.keepalive.stop();
      await this.closeSocket(live);
    }
    this._state = 'ended';
    if (this.streams !== undefined) for (const stream of this.streams) stream.finish();
    this.streams = undefined;
    // A fatal cause was reported on 'error' where it happened (closed() or attemptFailed()): once.
    this.emit('end');
    return { unacknowledged };
  }

  /** Ends the socket after DISCONNECT and waits for it to close (destroying it if it lingers). */
  private closeSocket(conn: Connection): Promise<void> {
    return new Promise((resolve) => {
      const socket = conn.socket;
      const timer = this.clock.setTimeout(() => socket.destroy(), 2000);
      socket.once('close', () => {
        this.clock.clearTimeout(timer);
        resolve();
      });
      socket.end(); // [MQTT-3.14.4-1]
      if (socket.destroyed) {
        this.clock.clearTimeout(timer);
        resolve();
      }
    });
  }

  private waitForAcks(timeout: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.ackWaiters = this.ackWaiters.filter((w) => w !== done);
        resolve();
      }, timeout);
      const done = (): void => {
        this.clock.clearTimeout(timer);
        resolve();
      };
      this.ackWaiters = add(this.ackWaiters, done);
      // A connection lost while waiting ends the wait too (see closed()).
    });
  }

  private releaseAckWaiters(): void {
    if (this.queuedCount > 0) return;
    const waiters = this.ackWaiters;
    this.ackWaiters = none();
    for (const w of waiters) w();
  }

  private rejectPendingWork(error: Error): void {
    const requests = this.requests;
    this.requests = NO_REQUESTS;
    for (const request of requests.values()) request.reject(error);
    if (this._state !== 'ending') {
      // Without reconnecting, in-flight and queued messages cannot complete either.
      const inflight = this.inflight;
      this.inflight = NO_OUTGOING;
      for (const outgoing of inflight.values()) outgoing.reject(error);
      for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i]!.reject(error);
      this.queue = none();
      this.queueHead = 0;
    }
    const waiters = this.ackWaiters;
    this.ackWaiters = none();
    for (const w of waiters) w();
  }

  private rejectConnectWaiters(error: Error): void {
    const waiters = this.connectWaiters;
    this.connectWaiters = none();
    for (const w of waiters) w.reject(error);
  }

  // -------------------------------------------------------------------------------------------
  // Errors and streams

  /** Emits `error` when someone listens; the same error also settles the promises concerned. */
  private report(error: Error): void {
    if (debug.enabled) debug('error: %s', error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** Emits an application event from packet handling (see ListenerFailure). */
  private emitFromHandler<K extends keyof MqttClientEvents>(event: K, ...args: MqttClientEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: MqttClientEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      throw new ListenerFailure(error);
    }
  }

  private listenerThrew(error: unknown): void {
    // A 'message' listener threw. The packets of the chunk were all processed (acks included);
    // hand the exception back the way EventEmitter would: to 'error', or uncaught.
    if (this.listenerCount('error') > 0) this.emit('error', toError(error));
    else
      process.nextTick(() => {
        throw error;
      });
  }

  /** @internal */
  streamBackpressure(stream: MessageStream, full: boolean): void {
    const fullStreams = (this.fullStreams ??= new Set());
    if (full) fullStreams.add(stream);
    else fullStreams.delete(stream);
    const socket = this.conn?.socket;
    if (socket === undefined) return;
    if (fullStreams.size > 0) socket.pause();
    else socket.resume();
  }

  /** @internal */
  streamClosed(stream: MessageStream): void {
    this.streams?.delete(stream);
    this.streamBackpressure(stream, false);
  }
}

const CONNECTION = Symbol('aliot.connection');
type ConnectionSocket = Duplex & { [CONNECTION]?: Connection };

function onSocketData(this: ConnectionSocket, chunk: Buffer): void {
  const conn = this[CONNECTION]!;
  conn.client.received(conn, chunk);
}

function onSocketError(this: ConnectionSocket, error: Error): void {
  const conn = this[CONNECTION]!;
  conn.client.socketFailed(conn, error);
}

function onSocketClose(this: ConnectionSocket): void {
  const conn = this[CONNECTION]!;
  conn.client.closed(conn);
}

function onSocketDrain(this: ConnectionSocket): void {
  const conn = this[CONNECTION]!;
  conn.writer.drained();
  conn.client.pump();
}

/** A shared frozen empty list; `add` swaps in a real array on the first push. */
const NONE: readonly never[] = Object.freeze([]);
function none<T>(): T[] {
  return NONE as unknown as T[];
}
function add<T>(list: T[], item: T): T[] {
  const target = list === (NONE as unknown) ? [] : list;
  target.push(item);
  return target;
}

/** What a QoS 0 publish that went straight into the batch returns: nothing to wait for. */
const RESOLVED: Promise<void> = Promise.resolve();

const SESSION_PRESENT: ConnectionInfo = Object.freeze({ sessionPresent: true });
const NO_SESSION: ConnectionInfo = Object.freeze({ sessionPresent: false });

/** Shared, never modified: stand in for an empty in-flight or request map. */
const NO_OUTGOING: Map<number, Outgoing> = new Map();
const NO_REQUESTS: Map<number, PendingRequest> = new Map();

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function endedError(): MqttClientError {
  return new MqttClientError('client-ended', 'the client was ended (end() or its signal) before this completed');
}

function closedError(): MqttClientError {
  return new MqttClientError('connection-closed', 'the connection closed');
}

/**
 * An application listener's exception on its way out of packet handling, marked so that it is not
 * taken for the server's protocol violation even when it is one of this library's errors.
 */
class ListenerFailure {
  constructor(readonly thrown: unknown) {}
}

/** The caller's reading of a refusal; a hint function that throws must not hide the refusal. */
function hintFor(connackHint: ResolvedClientOptions['connackHint'], returnCode: number): ConnackHint | undefined {
  try {
    return connackHint?.(returnCode);
  } catch {
    return undefined;
  }
}

function violation(message: string, packet: Packet): MqttProtocolError {
  return new MqttProtocolError('unexpected-packet', message, packet.type);
}

function toTransportFailure(error: Error, host: string, port: number): Error {
  if (error instanceof TransportError) return error;
  return new MqttClientError('connection-closed', `the connection to ${host} port ${port} failed: ${error.message}`, {
    cause: error,
  });
}

/** Errors that will recur on every attempt: reconnecting would only hammer the server. */
function isFatal(error: Error): boolean {
  if (error instanceof ConnectionRefusedError) return !error.retryable;
  if (error instanceof ConfigurationError) return true;
  if (error instanceof TransportError) return error.code === 'tls-verification-failed';
  return false;
}

function describeUnacked(packet: PublishPacket, packetId: number | undefined): UnacknowledgedMessage {
  return { topic: packet.topic, payload: packet.payload, qos: packet.qos, packetId };
}
