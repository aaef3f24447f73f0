/**
 * The MQTT session state the server holds for one device [MQTT-3.1.3-2, MQTT-4.1.0-1]: its
 * subscriptions, the QoS 1 deliveries it has not acknowledged and, while it is offline, the QoS 1
 * messages that matched its subscriptions. A connection works on one; with Clean Session 0 it
 * outlives the connection in the {@link SessionStore} and the next connection of the same
 * clientId takes it back.
 */
import type { Clock } from '../shared/clock.js';
import { boundMessage } from './echo.js';
import { EmulatorError } from './errors.js';
import { InFlight } from './in-flight.js';
import type { DeliveryCallback, KeptMessage } from './in-flight.js';
import { duration } from './session-limits.js';
import type { SessionLimits } from './session-limits.js';
import { topicMatches } from './topic-filter.js';
import type { SessionEvent } from './types.js';

/** What every session of the stand-in shares: the clock, the limits, and where its events go. */
export interface SessionPolicy {
  readonly clock: Clock;
  readonly limits: SessionLimits;
  report(event: SessionEvent): void;
}

/** Whose session it is: the device, and the bare clientId that names the session [MQTT-3.1.3-2]. */
export interface SessionOwner {
  readonly productKey: string;
  readonly deviceName: string;
  readonly clientId: string;
}

export class SessionState {
  readonly owner: SessionOwner;
  /** Clean Session 0: the session outlives its connection [MQTT-3.1.2-4]. */
  readonly persistent: boolean;
  /** Topic filter to granted QoS; a new SUBSCRIBE to the same filter replaces it [MQTT-3.8.4-3]. */
  readonly subscriptions = new Map<string, 0 | 1>();
  readonly inFlight = new InFlight();
  /** QoS 1 messages that matched while the device was offline, oldest first. */
  #queue: KeptMessage[] = [];
  #messages = 0;
  #bytes = 0;
  readonly #policy: SessionPolicy;

  constructor(owner: SessionOwner, persistent: boolean, policy: SessionPolicy) {
    this.owner = owner;
    this.persistent = persistent;
    this.#policy = policy;
  }

  /** Kept QoS 1 messages: unacknowledged ones the session will send again, and queued ones. */
  get messages(): number {
    return this.#messages;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The highest QoS granted by the filters that match `topic`, or -1 when none matches [MQTT-3.3.5-1]. */
  grantedQos(topic: string): -1 | 0 | 1 {
    let granted: -1 | 0 | 1 = -1;
    for (const [filter, qos] of this.subscriptions) {
      if (qos > granted && topicMatches(filter, topic)) granted = qos;
    }
    return granted;
  }

  /**
   * A QoS 1 message for the session to hold until the device acknowledges it, or `undefined`
   * when it does not keep messages (Clean Session 1) or is full: the message then goes out once,
   * and is reported `dropped` as one that will not be sent again.
   */
  keep(topic: string, payload: Uint8Array, done: DeliveryCallback | undefined): KeptMessage | undefined {
    if (!this.persistent) return undefined;
    // A copy: what is routed can be a view into a socket's chunk, which is reused.
    const message = this.#message(topic, new Uint8Array(payload), done);
    const full = this.#full(message.size);
    if (full === undefined) {
      this.#count(message, 1);
      return message;
    }
    this.#report('dropped', `${topic}: delivered, but not kept for a resend: ${full}`);
    return undefined;
  }

  /** A PUBACK: settles its delivery and lets its kept message go. */
  acknowledge(packetId: number): void {
    const message = this.inFlight.acknowledge(packetId);
    if (message !== undefined) this.#count(message, -1);
  }

  /**
   * Queues a message that matched while the device is offline; the {@link SessionStore} has
   * checked what all sessions hold together, and made `payload` a copy of its own (one for every
   * session it goes to). `false`, with the message failed and reported, when this session is full.
   */
  enqueue(topic: string, payload: Uint8Array, done: DeliveryCallback | undefined): boolean {
    const message = this.#message(topic, payload, done);
    const full = this.#full(message.size);
    if (full !== undefined) {
      this.#refuse(message, `not kept for the offline device: ${full}`);
      return false;
    }
    this.#count(message, 1);
    this.#queue.push(message);
    return true;
  }

  /** Fails a message the session cannot take, and reports it. */
  refuse(topic: string, payload: Uint8Array, done: DeliveryCallback | undefined, why: string): void {
    this.#refuse(this.#message(topic, payload, done), why);
  }

  /** The queued messages, oldest first, handed to a new connection (they stay counted: it keeps them in flight). */
  takeQueue(): KeptMessage[] {
    const queue = this.#queue;
    this.#queue = [];
    return queue;
  }

  /** Lets go of the newest messages until the session holds at most `messages` and `bytes`; reports each. */
  trim(messages: number, bytes: number, why: string): void {
    while (this.#messages > messages || this.#bytes > bytes) {
      const queued = this.#queue.pop();
      if (queued !== undefined) {
        this.#drop(queued, why);
        continue;
      }
      const newest = this.inFlight.kept().pop();
      if (newest === undefined) return;
      this.inFlight.remove(newest[0]);
      this.#drop(newest[1], why);
    }
  }

  /** Lets go of every message older than `sessions.messageExpiry`, as the platform does after seven days. */
  expire(): void {
    const { clock, limits } = this.#policy;
    const now = clock.now();
    const expired = (message: KeptMessage): boolean => now - message.at >= limits.messageExpiry;
    const why = `older than ${duration(limits.messageExpiry)} (sessions.messageExpiry)`;
    for (const [packetId, message] of this.inFlight.kept()) {
      if (!expired(message)) continue;
      this.inFlight.remove(packetId);
      this.#drop(message, why);
    }
    while (this.#queue.length > 0 && expired(this.#queue[0]!)) this.#drop(this.#queue.shift()!, why);
  }

  /** The session is over: whoever waits for a message it held learns so. */
  discard(error: () => EmulatorError): void {
    const queued = this.#queue;
    this.#queue = [];
    this.#messages = 0;
    this.#bytes = 0;
    let shared: EmulatorError | undefined;
    for (const { done } of queued) done?.((shared ??= error()));
    this.inFlight.failAll(error);
  }

  /** The session event `action`, with what the session holds now. */
  event(action: SessionEvent['action'], message: string): SessionEvent {
    return {
      action,
      ...this.owner,
      subscriptions: this.subscriptions.size,
      messages: this.#messages,
      message: boundMessage(message),
    };
  }

  #message(topic: string, payload: Uint8Array, done: DeliveryCallback | undefined): KeptMessage {
    return { topic, payload, at: this.#policy.clock.now(), size: payload.byteLength + topic.length, done };
  }

  /** Why one more message of `size` bytes does not fit, or `undefined` when it does. */
  #full(size: number): string | undefined {
    const { maxMessages, maxBytes } = this.#policy.limits;
    if (this.#messages + 1 > maxMessages) return `the session holds ${this.#messages} messages, the most it may (sessions.maxMessages)`;
    if (this.#bytes + size > maxBytes) return `${this.#bytes} bytes held plus ${size} would pass ${maxBytes} (sessions.maxBytes)`;
    return undefined;
  }

  #count(message: KeptMessage, sign: 1 | -1): void {
    this.#messages += sign;
    this.#bytes += sign * message.size;
  }

  #drop(message: KeptMessage, why: string): void {
    this.#count(message, -1);
    this.#refuse(message, `dropped: ${why}`);
  }

  #refuse(message: KeptMessage, why: string): void {
    const text = `${message.topic}: ${why}`;
    message.done?.(new EmulatorError('not-acknowledged', `the QoS 1 message on ${message.topic} was not delivered: the session of device ${this.owner.deviceName} let it go (${why})`));
    this.#report('dropped', text);
  }

  #report(action: SessionEvent['action'], message: string): void {
    this.#policy.report(this.event(action, message));
  }
}
