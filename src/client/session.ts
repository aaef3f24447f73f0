/**
 * The MQTT session: one client, a succession of connections. It decides what each event means
 * for the session (see the state diagram in `lifecycle.ts`); the connection, the outbox and the
 * inbox do the work.
 *
 * - Attempts: the transport opens the socket within `connectTimeout`, CONNECT goes first, CONNACK
 *   must come within what remains of it [MQTT-3.1.0-1, MQTT-3.2.0-1].
 * - A refusal that would recur (CONNACK 1, 2, 4, 5, a certificate the client refuses, a bad
 *   option) ends the client instead of hammering the server; anything else is retried with
 *   backoff when reconnecting is on.
 * - On each new connection: unacknowledged publishes first, then pending requests, then the
 *   subscriptions the server no longer holds, then new traffic.
 */
import type { Duplex } from 'node:stream';
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { refTimer } from '../shared/clock.js';
import type { Clock } from '../shared/clock.js';
import { MqttProtocolError } from '../packet/errors.js';
import type { ConnectPacket, Packet, PublishPacket, QoS, SubackPacket, Subscription } from '../packet/types.js';
import { StoreError } from '../store/errors.js';
import { TransportError } from '../transport/errors.js';
import { Backoff } from './backoff.js';
import { Connection, ListenerFailure, SocketFailure } from './connection.js';
import type { CloseDetails, ConnectionOwner, PacketTap } from './connection.js';
import { ConnectionRefusedError, MqttClientError, SubscribeError, UnexpectedPacketError } from './errors.js';
import type { ConnackHint, SubscriptionGrant } from './errors.js';
import { Inbox } from './inbox.js';
import type { InboxHooks } from './inbox.js';
import type { MqttMessage } from './messages.js';
import { Lifecycle } from './lifecycle.js';
import { Outbox } from './outbox.js';
import type { OutboxHooks, UnacknowledgedMessage } from './outbox.js';
import type { ResolvedClientOptions } from './options.js';

/** What a successful connection reports. */
export interface ConnectionInfo {
  /** The server still had a session for this client id (clean session 0 only). */
  readonly sessionPresent: boolean;
}

export interface EndReport {
  /** QoS 1 messages without PUBACK and messages still queued, in order; their promises rejected. */
  readonly unacknowledged: readonly UnacknowledgedMessage[];
}

/** The events the session raises, as the client's public events. */
export interface SessionEvents {
  connect: [info: ConnectionInfo];
  message: [topic: string, payload: Buffer, message: MqttMessage];
  close: [error: Error | undefined, details: CloseDetails];
  offline: [];
  reconnect: [attempt: number, delay: number];
  error: [error: Error];
  end: [];
  restored: [acknowledged: number, refused: number];
  packetsend: [packet: Packet, frame: Uint8Array];
  packetreceive: [packet: Packet, frame: Uint8Array];
}

/** The client's emitter, as the session sees it. */
export interface SessionEmitter {
  emit<K extends keyof SessionEvents>(event: K, ...args: SessionEvents[K]): boolean;
  listenerCount(event: keyof SessionEvents): number;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

const SESSION_PRESENT: ConnectionInfo = Object.freeze({ sessionPresent: true });
const NO_SESSION: ConnectionInfo = Object.freeze({ sessionPresent: false });
/** A connection dropped sooner than this after CONNACK counts as a quick drop. */
const QUICK_DROP_MS = 5000;

/**
 * The session's clock: the caller's, with timers that follow `unref()` (a client that was told not
 * to hold the process arms no timer that does).
 */
class RefClock implements Clock {
  refd = true;
  constructor(private readonly base: Clock) {}
  now(): number {
    return this.base.now();
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.base.setTimeout(callback, ms);
    if (!this.refd) refTimer(handle, false);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.base.clearTimeout(handle);
  }
}

export class Session implements ConnectionOwner, InboxHooks, OutboxHooks {
  readonly lifecycle = new Lifecycle();
  readonly outbox: Outbox;
  readonly inbox: Inbox;
  readonly clock: RefClock;
  tap: PacketTap | undefined;
  #conn: Connection | undefined;
  #attempt: AbortController | undefined;
  #retryTimer: unknown;
  readonly #backoff: Backoff | undefined;
  #attempts = 0;
  #quickDrops = 0;
  /** Filters and QoS the server should hold for us, to restore into a session that was lost. */
  readonly #subscriptions = new Map<string, QoS>();
  #connectWaiters: Array<Waiter<ConnectionInfo>> | undefined;
  #lastConnection: ConnectionInfo = NO_SESSION;
  #ending: Promise<EndReport> | undefined;
  #fatal: Error | undefined;

  /** The CONNECT of every attempt, password included: kept where no inspection reaches. */
  readonly #connect: ConnectPacket;

  constructor(
    readonly options: ResolvedClientOptions,
    connect: ConnectPacket,
    private readonly events: SessionEmitter,
  ) {
    this.#connect = connect;
    this.clock = new RefClock(options.clock);
    if (options.reconnect !== false) this.#backoff = new Backoff(options.reconnect, options.random);
    this.outbox = new Outbox(options, this.lifecycle, this);
    this.inbox = new Inbox(options.messageBuffer, this);
  }

  get lastConnection(): ConnectionInfo {
    return this.#lastConnection;
  }

  // -------------------------------------------------------------------------------------------
  // What the facade asks for

  open(): Promise<ConnectionInfo> {
    switch (this.lifecycle.state) {
      case 'connected':
        return Promise.resolve(this.#lastConnection);
      case 'ending':
      case 'ended':
        return Promise.reject(this.#fatal ?? endedError());
    }
    const promise = new Promise<ConnectionInfo>((resolve, reject) => (this.#connectWaiters ??= []).push({ resolve, reject }));
    if (this.lifecycle.allows('connect')) {
      this.#clearRetryTimer();
      this.#startAttempt(0);
    }
    return promise;
  }

  publish(packet: PublishPacket): Promise<void> {
    if (this.lifecycle.refusing) return Promise.reject(this.#refusal());
    return this.outbox.publish(packet);
  }

  async subscribe(list: Subscription[]): Promise<SubscriptionGrant[]> {
    if (this.lifecycle.refusing) throw this.#refusal();
    const ack = (await this.outbox.request({ type: 'subscribe', packetId: 1, subscriptions: list })) as SubackPacket;
    const grants = list.map((s, i): SubscriptionGrant => {
      const code = ack.returnCodes[i]!;
      return { topicFilter: s.topicFilter, qos: code === 0x80 ? null : code };
    });
    for (let i = 0; i < list.length; i++) {
      if (grants[i]!.qos !== null) this.#subscriptions.set(list[i]!.topicFilter, list[i]!.qos);
    }
    if (grants.some((g) => g.qos === null)) throw new SubscribeError(grants);
    return grants;
  }

  async unsubscribe(topicFilters: string[]): Promise<void> {
    if (this.lifecycle.refusing) throw this.#refusal();
    await this.outbox.request({ type: 'unsubscribe', packetId: 1, topicFilters });
    for (const f of topicFilters) this.#subscriptions.delete(f);
  }

  ping(): Promise<number> {
    const conn = this.#conn;
    if (this.lifecycle.state !== 'connected' || conn === undefined) {
      return Promise.reject(new MqttClientError('connection-closed', `not connected (state ${this.lifecycle.state}): nothing to ping`));
    }
    return conn.ping();
  }

  end(timeout: number, cause: Error | undefined = undefined): Promise<EndReport> {
    this.#ending ??= this.#finish(timeout, cause);
    return this.#ending;
  }

  /** Holds the process (true, the default) or not, as `socket.ref()`/`unref()` do. */
  ref(ref: boolean): void {
    this.clock.refd = ref;
    const socket = this.#conn?.socket as (Duplex & { ref?: () => void; unref?: () => void }) | undefined;
    if (ref) socket?.ref?.();
    else socket?.unref?.();
    if (this.#retryTimer !== undefined) refTimer(this.#retryTimer, ref);
  }

  #refusal(): Error {
    if (this.lifecycle.state === 'disconnected') {
      return new MqttClientError(
        'connection-closed',
        'not connected, and reconnect is off: the connection was lost (see the close event); call connect() to start again',
      );
    }
    return this.#fatal ?? endedError();
  }

  // -------------------------------------------------------------------------------------------
  // Attempts

  #startAttempt(delay: number): void {
    this.lifecycle.move('connect');
    // Attempts count from the last time the client was connected (1 = the first retry).
    const attempt = this.#attempts++;
    if (attempt > 0) this.events.emit('reconnect', attempt, delay);
    const abort = new AbortController();
    this.#attempt = abort;
    const deadline = this.clock.now() + this.options.socket.connectTimeout;
    // A promise even when openSocket throws at once: a sync throw must not escape connect() or a timer.
    new Promise<Duplex>((resolve) => resolve(this.options.openSocket({ ...this.options.socket, signal: abort.signal }))).then(
      (socket) => {
        if (this.#attempt !== abort) {
          socket.destroy(); // end() came first
          return;
        }
        this.#attempt = undefined;
        this.#opened(socket, deadline);
      },
      (error: unknown) => {
        if (this.#attempt !== abort) return;
        this.#attempt = undefined;
        const failure = toError(error);
        this.#report(failure);
        this.#afterFailure(failure, false);
      },
    );
  }

  #opened(socket: Duplex, deadline: number): void {
    const conn = new Connection(this, socket, this.options, this.clock);
    this.#conn = conn;
    if (!this.clock.refd) (socket as Duplex & { unref?: () => void }).unref?.();
    try {
      conn.open(this.#connect, deadline);
    } catch (error) {
      // Every CONNECT field was checked at construction; an encoding error here is still an error
      // of the options, reported as such rather than left to hang or escape.
      conn.close(new ConfigurationError('options', `CONNECT could not be encoded: ${toError(error).message}`));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Receiving (ConnectionOwner)

  /** @internal */
  handle(conn: Connection, packet: Packet, now: number): void {
    if (!conn.accepted) {
      if (packet.type !== 'connack') throw unexpected(packet, `the server sent ${packet.type.toUpperCase()} before CONNACK [MQTT-3.2.0-1]`);
      this.#connack(conn, packet.returnCode, packet.sessionPresent, now);
      return;
    }
    switch (packet.type) {
      case 'publish':
        this.inbox.receive(conn, packet);
        return;
      case 'puback':
        // A late ack for a message already settled (end(), refused) is harmless.
        if (!this.outbox.acknowledged(packet.packetId) && debug.enabled) debug('PUBACK for unknown packet id %d ignored', packet.packetId);
        return;
      case 'suback':
      case 'unsuback': {
        const expected = packet.type === 'suback' ? 'subscribe' : 'unsubscribe';
        const request = this.outbox.takeRequest(packet.packetId, expected);
        if (request === undefined) throw unexpected(packet, `${packet.type.toUpperCase()} for packet id ${packet.packetId}, which has no ${expected} outstanding`);
        if (packet.type === 'suback' && request.packet.type === 'subscribe' && packet.returnCodes.length !== request.packet.subscriptions.length) {
          // [MQTT-3.9.3-1]: one return code per filter, the automatic re-subscribe included.
          const error = new MqttProtocolError(
            'invalid-remaining-length',
            `SUBACK carries ${packet.returnCodes.length} return codes for ${request.packet.subscriptions.length} filters [MQTT-3.9.3-1]`,
            'suback',
          );
          request.reject(error);
          throw error;
        }
        request.resolve(packet);
        return;
      }
      case 'pingresp':
        conn.pingrespReceived(now);
        return;
      case 'pubrel':
        this.inbox.pubrel(conn, packet.packetId);
        return;
      default:
        throw unexpected(packet, `a server does not send ${packet.type.toUpperCase()} after CONNACK`);
    }
  }

  #connack(conn: Connection, returnCode: number, sessionPresent: boolean, now: number): void {
    conn.connackArrived();
    if (returnCode !== 0) {
      throw new ConnectionRefusedError(returnCode as 1 | 2 | 3 | 4 | 5, hintFor(this.options.connackHint, returnCode));
    }
    if (sessionPresent && this.options.clean) {
      // [MQTT-3.2.2-1]: with Clean Session 1 the server must answer Session Present 0. Believing
      // it would skip restoring the subscriptions.
      throw new MqttProtocolError('invalid-connack-flags', 'CONNACK says Session Present on a Clean Session connection [MQTT-3.2.2-1]', 'connack');
    }
    conn.accept(now);
    this.#attempts = 1;
    this.lifecycle.move('accepted');
    this.#lastConnection = sessionPresent ? SESSION_PRESENT : NO_SESSION;
    if (this.inbox.behind) conn.consumerBehind(true);
    this.outbox.attach(conn, sessionPresent);
    if (!sessionPresent) {
      this.inbox.sessionLost();
      this.#restoreSubscriptions();
    }
    this.outbox.pump();
    const waiters = this.#connectWaiters;
    this.#connectWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w.resolve(this.#lastConnection);
    try {
      this.events.emit('connect', this.#lastConnection);
    } catch (error) {
      throw new ListenerFailure(error);
    }
  }

  #restoreSubscriptions(): void {
    const pending = this.outbox.pendingFilters();
    const restore: Subscription[] = [];
    for (const [topicFilter, qos] of this.#subscriptions) if (!pending.has(topicFilter)) restore.push({ topicFilter, qos });
    if (restore.length === 0) return;
    this.outbox.request({ type: 'subscribe', packetId: 1, subscriptions: restore }).then(
      (ack) => {
        const codes = (ack as SubackPacket).returnCodes;
        const grants = restore.map((s, i) => ({ topicFilter: s.topicFilter, qos: codes[i] === 0x80 ? null : (codes[i] ?? null) }));
        if (grants.some((g) => g.qos === null)) this.#report(new SubscribeError(grants));
      },
      (error: Error) => {
        if (!(error instanceof MqttClientError && error.code === 'client-ended')) this.#report(error);
      },
    );
  }

  /** @internal The inbox's hook: a message for the `message` event. */
  message(topic: string, payload: Buffer, message: MqttMessage): void {
    this.events.emit('message', topic, payload, message);
  }

  /** @internal The inbox's hook: an iterator fell behind, or none is behind any more. */
  behind(behind: boolean): void {
    this.#conn?.consumerBehind(behind);
  }

  /** @internal */
  drained(): void {
    this.outbox.pump();
  }

  /** @internal The outbox's hook: opening the durable store (in the constructor) found damage. */
  damaged(error: Error): void {
    process.nextTick(() => this.#reportOrWarn(error)); // once the program can listen
  }

  /** @internal The outbox's hook: a stored message no caller waits for failed. */
  lost(error: Error): void {
    this.#reportOrWarn(error);
  }

  /** @internal The outbox's hook: `closed` reports the refusal on 'error'; warn if nobody listens. */
  refusedUnheard(error: Error): void {
    if (this.events.listenerCount('error') === 0) process.emitWarning(error.message, { code: 'ALIOT_STORE_LOST' });
  }

  /** @internal The outbox's hook: every restored message is settled. */
  restored(acknowledged: number, refused: number): void {
    try {
      this.events.emit('restored', acknowledged, refused);
    } catch (error) {
      this.listenerThrew(error);
    }
  }

  /** @internal A 'message' or 'connect' listener threw: hand it back the way EventEmitter would. */
  listenerThrew(error: unknown): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', toError(error));
    else
      process.nextTick(() => {
        throw error;
      });
  }

  // -------------------------------------------------------------------------------------------
  // Losing a connection

  /** @internal The one place a closed connection is accounted for. */
  closed(conn: Connection, failure: Error | undefined): void {
    if (this.#conn === conn) this.#conn = undefined;
    const byPeer = failure === undefined || failure instanceof SocketFailure;
    const over = this.lifecycle.over;
    const error =
      failure instanceof SocketFailure
        ? toTransportFailure(failure.error, this.options.socket.host, this.options.socket.port)
        : (failure ?? (over ? undefined : closedError()));
    const refused = conn.accepted && !over ? this.outbox.detach(conn, byPeer) : undefined;
    if (failure !== undefined) this.#report(error!);
    if (refused !== undefined) this.#report(refused);
    this.events.emit('close', error, conn.details());
    if (over) {
      // end() may be waiting for acks that can no longer come on this connection.
      this.outbox.releaseIdleWaiters();
      return;
    }
    if (conn.accepted) {
      const now = this.clock.now();
      this.#backoff?.connectionLasted(conn.acceptedAt, now);
      this.#noteQuickDrop(conn, now, byPeer && failure === undefined && refused === undefined && !this.outbox.suspecting);
      this.events.emit('offline');
    }
    this.#afterFailure(error ?? closedError(), conn.accepted);
  }

  /**
   * Two connections with the same credentials kick each other off and both reconnect: name the
   * symptom when connections keep being closed by the server right after CONNACK, with no
   * message of ours to blame.
   */
  #noteQuickDrop(conn: Connection, now: number, unexplained: boolean): void {
    this.#quickDrops = unexplained && now - conn.acceptedAt < QUICK_DROP_MS ? this.#quickDrops + 1 : 0;
    if (this.#quickDrops === 3) {
      this.#report(
        new MqttClientError(
          'connection-closed',
          'the server closed the connection right after accepting it, three times in a row, with nothing of ours to blame: ' +
            'another client with the same client id (or the same device credentials) may be connected and kicking this one off',
        ),
      );
    }
  }

  /** Decides what follows a failed attempt or a lost connection. */
  #afterFailure(error: Error, wasConnected: boolean): void {
    if (this.lifecycle.over) return;
    if (isFatal(error)) {
      this.#fatal = error;
      this.end(0, error);
      return;
    }
    // Before the first success, connect() reports the failure; reconnecting may still go on.
    if (!wasConnected) this.#rejectConnectWaiters(error);
    if (this.#backoff === undefined) {
      this.lifecycle.move('give-up');
      this.#rejectConnectWaiters(error);
      this.outbox.giveUp(error); // nothing is held that the client will not try to send
      return;
    }
    this.lifecycle.move('retry-later');
    const delay = this.#backoff.next();
    this.#retryTimer = this.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#startAttempt(delay);
    }, delay);
  }

  #clearRetryTimer(): void {
    if (this.#retryTimer === undefined) return;
    this.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Ending

  async #finish(timeout: number, cause: Error | undefined): Promise<EndReport> {
    const wasConnected = this.lifecycle.state === 'connected';
    this.lifecycle.move('end');
    this.#clearRetryTimer();
    if (this.#attempt !== undefined) {
      this.#attempt.abort(cause ?? endedError());
      this.#attempt = undefined;
    }
    const conn = this.#conn;
    // Connected at TCP/TLS level but no CONNACK yet: nothing to wait for.
    if (conn !== undefined && !conn.accepted) conn.close(cause);
    if (wasConnected && timeout > 0 && !this.outbox.idle) await this.#waitForAcks(timeout);
    const error = cause ?? endedError();
    const unacknowledged = this.outbox.rejectAll(error);
    this.#rejectConnectWaiters(error);
    const live = this.#conn;
    if (live !== undefined && !live.closed) await live.disconnect();
    try {
      await this.outbox.close();
    } catch (storeError) {
      this.#report(toError(storeError));
    }
    this.lifecycle.move('ended');
    this.inbox.finish();
    // A fatal cause was reported on 'error' where it happened: once.
    this.events.emit('end');
    return { unacknowledged };
  }

  #waitForAcks(timeout: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(resolve, timeout);
      void this.outbox.whenIdle().then(() => {
        this.clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  #rejectConnectWaiters(error: Error): void {
    const waiters = this.#connectWaiters;
    this.#connectWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w.reject(error);
  }

  /** Emits `error`, or warns when nobody listens: for news no promise carries. */
  #reportOrWarn(error: Error): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', error);
    else process.emitWarning(error.message, { code: error instanceof StoreError && error.code === 'store-corrupt' ? 'ALIOT_STORE_DAMAGE' : 'ALIOT_STORE_LOST' });
  }

  /** Emits `error` when someone listens; the same error also settles the promises concerned. */
  #report(error: Error): void {
    if (debug.enabled) debug('error: %s', error.message);
    if (this.events.listenerCount('error') > 0) this.events.emit('error', error);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function endedError(): MqttClientError {
  return new MqttClientError('client-ended', 'the client was ended (end() or its signal) before this completed');
}

function closedError(): MqttClientError {
  return new MqttClientError('connection-closed', 'the server (or the network) closed the connection');
}

function unexpected(packet: Packet, message: string): UnexpectedPacketError {
  return new UnexpectedPacketError(packet.type, message);
}

/** The caller's reading of a refusal; a hint function that throws must not hide the refusal. */
function hintFor(connackHint: ResolvedClientOptions['connackHint'], returnCode: number): ConnackHint | undefined {
  try {
    return connackHint?.(returnCode);
  } catch {
    return undefined;
  }
}

function toTransportFailure(error: Error, host: string, port: number): Error {
  if (error instanceof TransportError) return error;
  return new MqttClientError('connection-closed', `the connection to ${host} port ${port} failed: ${error.message}`, { cause: error });
}

/** Errors that will recur on every attempt: reconnecting would only hammer the server. */
function isFatal(error: Error): boolean {
  if (error instanceof ConnectionRefusedError) return !error.retryable;
  if (error instanceof ConfigurationError) return true;
  if (error instanceof TransportError) return error.code === 'tls-verification-failed';
  return false;
}
