/**
 * `MqttClient`: the public face of the MQTT 3.1.1 session. It checks what callers pass, and
 * hands the work to the session (`session.ts`), whose states are drawn in `lifecycle.ts`:
 *
 *   new ─▶ connecting ─▶ connected ─▶ waiting (reconnect on) ─▶ connecting ...
 *                                  └▶ disconnected (reconnect off) ─connect()─▶ connecting
 *   any of them ─ end(), signal, a refusal that would recur ─▶ ending ─▶ ended
 *
 * The modules behind it: `connection.ts` (socket, writer, decoder, keepalive, one cleanup path),
 * `outbox.ts` (queue, in-flight store, packet ids, pending requests), `inbox.ts` (incoming
 * messages and iterators), `lifecycle.ts` (the states and their one transition table).
 */
import { EventEmitter } from 'node:events';
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue } from '../shared/validate.js';
import { describePacket } from '../packet/describe.js';
import type { Packet, PublishPacket, Subscription } from '../packet/types.js';
import type { PacketTap } from './connection.js';
import { MqttClientError } from './errors.js';
import type { SubscriptionGrant } from './errors.js';
import type { ClientState } from './lifecycle.js';
import type { MessageStream, MqttMessage } from './messages.js';
import { resolveClientOptions } from './options.js';
import type { MqttClientOptions, ResolvedClientOptions } from './options.js';
import { Session } from './session.js';
import type { ConnectionInfo, EndReport, SessionEvents } from './events.js';

export type { ClientState } from './lifecycle.js';
export type { ConnectionInfo, EndReport } from './events.js';
export type { UnacknowledgedMessage } from './events.js';
export type { CloseDetails } from './events.js';

export interface PublishOptions {
  /** 0 (default) or 1. The platform has no QoS 2, and this client sends none. */
  readonly qos?: 0 | 1;
  readonly retain?: boolean;
}

export interface SubscribeOptions {
  /** Maximum QoS asked for every filter given as a string: 0 (default) or 1. */
  readonly qos?: 0 | 1;
}

export interface EndOptions {
  /** Milliseconds to wait for outstanding QoS 1 acks before giving up on them (default 5000). */
  readonly timeout?: number;
  /** Skip the wait: report unacknowledged messages at once. */
  readonly force?: boolean;
}

/**
 * Events and their listener arguments.
 *
 * - `connect`: a connection was accepted.
 * - `message`: a PUBLISH arrived; `payload` is a Buffer viewing the received bytes.
 * - `close`: a connection closed (there may be more: see `reconnect`); `error` says why it failed,
 *   `details` whether CONNACK had accepted it and, if not, the first bytes the server sent.
 * - `offline`: a connection that was up went down; publishes now queue.
 * - `reconnect`: a new attempt starts, after `delay` ms of backoff.
 * - `error`: something went wrong; the same error also settles the promises concerned.
 * - `end`: the client is finished (`end()`, the signal, or a refusal that would recur).
 * - `restored`: every message restored from the durable store (see `restoredCount`) is settled:
 *   `acknowledged` of them by PUBACK, `refused` dropped for good (each also reported on `error`).
 * - `packetsend`, `packetreceive`: every packet with its bytes as they cross the wire (the
 *   password is in CONNECT's bytes: mask it before showing them). Free when nobody listens.
 */
export type MqttClientEvents = SessionEvents;

/**
 * An MQTT 3.1.1 client over TLS or TCP, IPv6 first.
 *
 * ```ts
 * const client = new MqttClient({ host: '::1', port: 8883, ca, clientId: 'dev-1' });
 * await client.connect();
 * await client.subscribe('cmd/#', { qos: 1 });
 * await client.publish('telemetry', JSON.stringify({ t: 21.5 }), { qos: 1 });
 * for await (const message of client.messages()) console.log(message.topic, message.payload.toString());
 * ```
 */
export class MqttClient extends EventEmitter<MqttClientEvents> {
  /** The options after validation, with defaults filled in. The password is not among them. */
  readonly options: ResolvedClientOptions;
  readonly #session: Session;

  /** Checks every option (everything that goes into CONNECT included) before any I/O. */
  constructor(options: MqttClientOptions) {
    super();
    const { options: resolved, password } = resolveClientOptions(options);
    this.options = Object.freeze(resolved);
    const { clientId, keepalive, clean, username, will } = resolved;
    this.#session = new Session(resolved, { type: 'connect', clientId, keepalive, clean, username, password, will }, this);
    // Shared functions, not closures: a gateway holds thousands of clients.
    const emitter = this as EventEmitter;
    emitter.on('newListener', listenerAdded);
    emitter.on('removeListener', listenerRemoved);
    this.#observe(undefined, 0);
    const signal = resolved.signal;
    if (signal !== undefined) {
      if (signal.aborted) void this.end({ force: true });
      else signal.addEventListener('abort', () => void this.end({ force: true }), { once: true });
    }
  }

  get state(): ClientState {
    return this.#session.lifecycle.state;
  }

  get connected(): boolean {
    return this.#session.lifecycle.state === 'connected';
  }

  /** QoS 1 messages sent and awaiting PUBACK. */
  get inflightCount(): number {
    return this.#session.outbox.inflightCount;
  }

  /** Publishes accepted but not yet sent. */
  get queuedCount(): number {
    return this.#session.outbox.queuedCount;
  }

  /**
   * Messages of the durable store that no caller waits for, not yet acknowledged: those a previous
   * process left (known from construction on), and those kept after giving up (reconnect off).
   * They go out before anything new; `restored` is emitted when this comes down to 0.
   */
  get restoredCount(): number {
    return this.#session.outbox.restoredCount;
  }

  /**
   * Connects, and resolves on the first CONNACK that accepts the connection.
   *
   * It rejects with the first attempt's error (a TransportError, ConnectionRefusedError,
   * MqttProtocolError or MqttClientError). When reconnecting is on and the failure may pass (a
   * network error, CONNACK 3), the client also keeps trying in the background, keeping the
   * process alive while it does, and emits `connect` when it gets through. `end()` stops it.
   */
  connect(): Promise<ConnectionInfo> {
    return this.#session.open();
  }

  /**
   * Publishes a message. QoS 0 resolves once the message is in the socket's next write; QoS 1
   * resolves on its PUBACK. While not connected the message waits (see `offlineQueueSize`);
   * without room it rejects with `queue-full`, naming the limit. A malformed message rejects at
   * once and nothing is sent.
   */
  publish(topic: string, payload: Uint8Array | string, options?: PublishOptions): Promise<void> {
    let qos: 0 | 1 = 0;
    let retain = false;
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) return Promise.reject(argument('options', options, 'give { qos, retain } or leave it out'));
      const q = options.qos;
      if (q !== undefined && q !== 0 && q !== 1) {
        return Promise.reject(
          q === 2
            ? new MqttClientError('unsupported', 'QoS 2 is not supported: the platform offers QoS 0 and 1 only; use qos: 1')
            : argument('qos', q, 'use 0 or 1'),
        );
      }
      qos = q ?? 0;
      const r = options.retain;
      if (r !== undefined && typeof r !== 'boolean') return Promise.reject(argument('retain', r, 'use true or false'));
      retain = r ?? false;
    }
    if (typeof topic !== 'string') return Promise.reject(argument('topic', topic, 'give the topic name as a string'));
    let bytes: Uint8Array;
    if (typeof payload === 'string') bytes = Buffer.from(payload, 'utf8');
    else if (payload instanceof Uint8Array) bytes = payload;
    else return Promise.reject(argument('payload', payload, 'give a string or a Uint8Array (Buffer)'));
    const packet: PublishPacket = { type: 'publish', topic, payload: bytes, qos, retain, dup: false, packetId: undefined };
    return this.#session.publish(packet);
  }

  /**
   * Subscribes to one or more topic filters and resolves with what the server granted for each.
   * Rejects with SubscribeError when the server refuses any of them (SUBACK 0x80).
   */
  async subscribe(filters: string | readonly string[] | readonly Subscription[], options: SubscribeOptions = {}): Promise<SubscriptionGrant[]> {
    if (typeof options !== 'object' || options === null) throw argument('options', options, 'give { qos } or leave it out');
    const qos = options.qos ?? 0;
    checkQos('qos', qos);
    const given = typeof filters === 'string' ? [filters] : filters;
    if (!Array.isArray(given) || given.length === 0) throw argument('filters', filters, 'give a topic filter, or a non-empty list of them');
    const list = given.map((f: string | Subscription, i): Subscription => {
      if (typeof f === 'string') return { topicFilter: f, qos };
      if (typeof f !== 'object' || f === null || typeof f.topicFilter !== 'string') {
        throw argument(`filters[${i}]`, f, 'give a topic filter string or { topicFilter, qos }');
      }
      checkQos(`filters[${i}].qos`, f.qos);
      return { topicFilter: f.topicFilter, qos: f.qos };
    });
    return this.#session.subscribe(list);
  }

  /** Unsubscribes from one or more topic filters; resolves on UNSUBACK. */
  async unsubscribe(filters: string | readonly string[]): Promise<void> {
    const list = typeof filters === 'string' ? [filters] : filters;
    if (!Array.isArray(list) || list.length === 0 || list.some((f) => typeof f !== 'string')) {
      throw argument('filters', filters, 'give a topic filter, or a non-empty list of them');
    }
    await this.#session.unsubscribe([...list]);
  }

  /**
   * Sends a PINGREQ now and resolves with the round trip in milliseconds when the PINGRESP
   * arrives. No PINGRESP within `pingTimeout` rejects with `ping-timeout` and closes the
   * connection, as the keepalive scheduler would. Rejects with `connection-closed` when offline.
   */
  ping(): Promise<number> {
    return this.#session.ping();
  }

  /**
   * Incoming messages as an async iterator (each iterator sees every message from the moment
   * it is created). A consumer that falls `messageBuffer` messages behind pauses the socket.
   */
  messages(): MessageStream {
    return this.#session.inbox.stream(this.state === 'ended');
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
    const timeout = options.timeout ?? 5000;
    if (!Number.isInteger(timeout) || timeout < 0) {
      return Promise.reject(new ConfigurationError('timeout', `expected a whole number of milliseconds, got ${describeValue(timeout)}`, 'invalid-argument'));
    }
    return this.#session.end(options.force === true ? 0 : timeout);
  }

  /**
   * Lets the process exit while this client is its only work, as `socket.unref()` does. By
   * default a client that has not been ended keeps the process alive, connected or waiting to
   * reconnect.
   */
  unref(): this {
    this.#session.ref(false);
    return this;
  }

  /** Undoes `unref()`. */
  ref(): this {
    this.#session.ref(true);
    return this;
  }

  /** What `console.log(client)` shows: never a secret. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const o = this.options;
    return `MqttClient { state: '${this.state}', clientId: ${JSON.stringify(o.clientId)}, server: '${o.socket.host}' port ${o.socket.port} over ${o.socket.transport.toUpperCase()}, inflight: ${this.inflightCount}, queued: ${this.queuedCount} }`;
  }

  /** @internal Keeps the session's wire tap in step with the listeners: nothing is spent when nobody observes. */
  static observe(client: MqttClient, event: string | symbol, adding: number): void {
    client.#observe(event, adding);
  }

  #observe(event: string | symbol | undefined, adding: number): void {
    if (event !== undefined && event !== 'packetsend' && event !== 'packetreceive') return;
    const observed = adding + this.listenerCount('packetsend') + this.listenerCount('packetreceive') > 0;
    let tap: PacketTap | undefined;
    if (observed) {
      tap = (up, packet, frame) => {
        if (debug.enabled) trace(up, packet);
        this.emit(up ? 'packetsend' : 'packetreceive', packet, frame);
      };
    } else if (debug.enabled) {
      tap = trace;
    }
    this.#session.tap = tap;
  }
}

function listenerAdded(this: MqttClient, event: string | symbol): void {
  MqttClient.observe(this, event, 1);
}

function listenerRemoved(this: MqttClient, event: string | symbol): void {
  MqttClient.observe(this, event, 0);
}

/** The `NODE_DEBUG=aliot` line of a packet. */
function trace(up: boolean, packet: Packet): void {
  debug('%s %s', up ? '->' : '<-', describePacket(packet));
}

function argument(field: string, value: unknown, fix: string): ConfigurationError {
  return new ConfigurationError(field, `got ${describeValue(value)}; ${fix}`, 'invalid-argument');
}

function checkQos(field: string, qos: unknown): void {
  if (qos === 0 || qos === 1) return;
  if (qos === 2) throw new MqttClientError('unsupported', `QoS 2 is not supported (${field}): the platform offers QoS 0 and 1 only; use 0 or 1`);
  throw argument(field, qos, 'use 0 or 1');
}

export type { MqttMessage };
