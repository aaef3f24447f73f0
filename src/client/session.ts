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
import { refTimer } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { RefClock } from './ref-clock.js';
import { MqttProtocolError } from '../packet/errors.js';
import type { ConnectPacket, Packet, PublishPacket, Subscription } from '../packet/types.js';
import { Backoff } from './backoff.js';
import { Connection, ListenerFailure, SocketFailure } from './connection.js';
import type { ConnectionOwner, PacketTap } from './connection.js';
import type { ConnectionInfo, EndReport, SessionEmitter } from './events.js';
import { ConnectionRefusedError, MqttClientError } from './errors.js';
import type { SubscriptionGrant } from './errors.js';
import { closedError, endedError, hintFor, isFatal, toError, toTransportFailure, unexpected } from './failures.js';
import { Inbox } from './inbox.js';
import { Subscriptions } from './subscriptions.js';
import type { InboxHooks } from './inbox.js';
import type { MqttMessage } from './messages.js';
import { Lifecycle } from './lifecycle.js';
import { Outbox } from './outbox.js';
import { Reporter } from './reporter.js';
import type { ResolvedClientOptions } from './options.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

const SESSION_PRESENT: ConnectionInfo = Object.freeze({ sessionPresent: true });
const NO_SESSION: ConnectionInfo = Object.freeze({ sessionPresent: false });

export class Session implements ConnectionOwner, InboxHooks {
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
  readonly subscriptions: Subscriptions;
  readonly reporter: Reporter;
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
    this.reporter = new Reporter(events);
    this.outbox = new Outbox(options, this.lifecycle, this.reporter);
    this.inbox = new Inbox(options.messageBuffer, this);
    this.subscriptions = new Subscriptions(this.outbox, this.reporter);
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

  subscribe(list: Subscription[]): Promise<SubscriptionGrant[]> {
    if (this.lifecycle.refusing) return Promise.reject(this.#refusal());
    return this.subscriptions.subscribe(list);
  }

  unsubscribe(topicFilters: string[]): Promise<void> {
    if (this.lifecycle.refusing) return Promise.reject(this.#refusal());
    return this.subscriptions.unsubscribe(topicFilters);
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
        this.reporter.report(failure);
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
            `SUBACK carries ${packet.returnCodes.length} return codes for ${request.packet.subscriptions.length} filters`,
            'suback',
            undefined,
            'MQTT-3.9.3-1',
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
      throw new MqttProtocolError('invalid-connack-flags', 'CONNACK says Session Present on a Clean Session connection', 'connack', undefined, 'MQTT-3.2.2-1');
    }
    conn.accept(now);
    this.#attempts = 1;
    this.lifecycle.move('accepted');
    this.#lastConnection = sessionPresent ? SESSION_PRESENT : NO_SESSION;
    if (this.inbox.behind) conn.consumerBehind(true);
    this.outbox.attach(conn, sessionPresent);
    if (!sessionPresent) {
      this.inbox.sessionLost();
      this.subscriptions.restore();
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

  /** @internal A 'message' or 'connect' listener threw. */
  listenerThrew(error: unknown): void {
    this.reporter.listenerThrew(error);
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
    if (failure !== undefined) this.reporter.report(error!);
    if (refused !== undefined) this.reporter.report(refused);
    this.events.emit('close', error, conn.details());
    if (over) {
      // end() may be waiting for acks that can no longer come on this connection.
      this.outbox.releaseIdleWaiters();
      return;
    }
    if (conn.accepted) {
      const now = this.clock.now();
      this.#backoff?.connectionLasted(conn.acceptedAt, now);
      this.reporter.connectionLost(now - conn.acceptedAt, byPeer && failure === undefined && refused === undefined && !this.outbox.suspecting);
      this.events.emit('offline');
    }
    this.#afterFailure(error ?? closedError(), conn.accepted);
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
      this.reporter.report(toError(storeError));
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
}
