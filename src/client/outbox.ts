/**
 * Everything the client has to send and has not seen through: publishes waiting to go out (the
 * queue), QoS 1 publishes awaiting PUBACK (the in-flight store), SUBSCRIBE/UNSUBSCRIBE awaiting
 * their acks, and the packet identifiers they hold.
 *
 * - A QoS 1 publish takes an identifier that no unacknowledged PUBLISH, SUBSCRIBE or UNSUBSCRIBE
 *   holds [MQTT-2.3.1-2]: the identifiers in use are exactly the keys of the two maps, and one is
 *   free again when its ack removes its entry [MQTT-2.3.1-3].
 * - The queue is bounded two ways, both named in the `queue-full` error: `maxQueuedBytes` (bytes
 *   of topic and payload waiting, in any state) and `offlineQueueSize` (messages a publish made
 *   while not connected may find waiting).
 * - On a new connection the unacknowledged publishes go out first, in their original order,
 *   with their identifiers, DUP set when the server kept the session [MQTT-4.4.0-1,
 *   MQTT-3.3.1-1, MQTT-4.6.0-1]; then the requests still unanswered; then the queue.
 * - A message the server keeps refusing: when the server (or the network) closes a connection
 *   while a message is the oldest unacknowledged one, the next connection sends that message
 *   alone first and waits for its PUBACK before anything else (a probe). When the server closes
 *   the connection right after the probe twice in a row, the message is rejected with
 *   `message-refused` and the rest go on. Blaming a message wrongly would take two network cuts
 *   in a row, each inside the probe's one round trip.
 * - With a durable store (`outbox-store.ts`), every accepted QoS 1 message is recorded before
 *   `publish` returns and leaves the store only with its PUBACK; what a previous process left goes
 *   out first. A write that fails after `publish` returned rejects the publish with the
 *   StoreError (see `#writeFailed`).
 */
import type { Packet, PublishPacket, Subscription } from '../packet/types.js';
import { encodedLength } from '../packet/codec.js';
import type { StoredEntry } from '../store/types.js';
import type { Connection } from './connection.js';
import { MqttClientError } from './errors.js';
import type { Lifecycle } from './lifecycle.js';
import type { ResolvedClientOptions } from './options.js';
import type { UnacknowledgedMessage } from './events.js';
import { StoreLink } from './outbox-store.js';
import type { Keyed } from './outbox-store.js';


interface Outgoing extends Keyed {
  readonly packet: PublishPacket;
  /** Bytes counted against `maxQueuedBytes` while queued. */
  readonly size: number;
  /** The connection it last went out on. */
  sentOn: Connection | undefined;
}

/** What the outbox tells the session about a durable store (see `outbox-store.ts`). */
export interface OutboxHooks {
  /** Opening the store found damage and skipped it: a message in it is lost. */
  damaged(error: Error): void;
  /** A stored message failed with no caller waiting for it, or a write failed at `end()`. */
  lost(error: Error): void;
  /** A message no caller waits for was refused; the session reports that on 'error' itself. */
  refusedUnheard(error: Error): void;
  /** Every restored message is settled (the `restored` event). */
  restored(acknowledged: number, refused: number): void;
}

export type RequestPacket = Extract<Packet, { type: 'subscribe' | 'unsubscribe' }>;

interface PendingRequest {
  readonly packet: RequestPacket;
  resolve(ack: Packet): void;
  reject(error: Error): void;
}

const RESOLVED: Promise<void> = Promise.resolve();
/** Probes in a row the server must close the connection after before a message is refused. */
const PROBES = 2;
/** Never modified: they stand in for an empty map or queue (see `#inflight`). */
const NO_OUTGOING: Map<number, Outgoing> = new Map();
const NO_REQUESTS: Map<number, PendingRequest> = new Map();
const NO_QUEUE: Outgoing[] = [];

export class Outbox {
  /** The connection publishes go out on: set from CONNACK until the connection is lost. */
  #link: Connection | undefined;
  #lastPacketId = 0;
  // The maps and the queue are shared empty ones until first used, and again once emptied: a
  // gateway holds thousands of idle clients, which then keep no hash table for them.
  #inflight: Map<number, Outgoing> = NO_OUTGOING;
  #requests: Map<number, PendingRequest> = NO_REQUESTS;
  #queue: Outgoing[] = NO_QUEUE;
  #queueHead = 0;
  #queuedBytes = 0;
  /** The oldest unacknowledged message when the last connection was lost by the server. */
  #suspect: Outgoing | undefined;
  /** The suspect, sent alone on this connection; nothing else goes out until its PUBACK. */
  #probe: Outgoing | undefined;
  /** Connections in a row the server closed right after the probe. */
  #probesFailed = 0;
  /** DUP for re-sends on this connection: the server kept the session. */
  #resendDup = false;
  #idleWaiters: Array<() => void> | undefined;
  /** The durable store, when the `store` option gives one. */
  readonly #durable: StoreLink | undefined;

  /** Opens the durable store, if any, and takes back what a previous process left in it. */
  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly lifecycle: Lifecycle,
    private readonly hooks: OutboxHooks,
  ) {
    if (options.store !== undefined) {
      this.#durable = new StoreLink(options.store, options.clientId, {
        damaged: (error) => hooks.damaged(error),
        lost: (error) => hooks.lost(error),
        restored: (acknowledged, refused) => hooks.restored(acknowledged, refused),
        writeFailed: (keys, error) => this.#writeFailed(keys, error),
      });
      this.#restore(this.#durable.left);
    }
  }

  get inflightCount(): number {
    return this.#inflight.size;
  }

  get queuedCount(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** Stored messages no caller waits for (left by a previous process) not yet settled. */
  get restoredCount(): number {
    return this.#durable?.pending ?? 0;
  }

  // -------------------------------------------------------------------------------------------
  // Publishing

  /**
   * Accepts a publish: straight onto the wire when the connection has room and nothing waits
   * before it, otherwise into the queue. QoS 0 resolves once written; QoS 1 on its PUBACK.
   */
  publish(packet: PublishPacket): Promise<void> {
    const link = this.#link;
    if (this.#queueHead === this.#queue.length && link !== undefined && this.#canSend(link, packet.qos)) {
      // The fast path. Encoding validates the message and throws before writing anything.
      if (packet.payload.length + 3 * packet.topic.length + 9 > this.options.maxOutgoingPacketSize) {
        const refused = this.#tooLarge(packet);
        if (refused !== undefined) return Promise.reject(refused);
      }
      if (packet.qos === 0) {
        try {
          link.send(packet);
        } catch (error) {
          return Promise.reject(error);
        }
        return RESOLVED;
      }
      return new Promise<void>((resolve, reject) => {
        const outgoing: Outgoing = { packet, size: 0, resolve, reject, key: undefined, sentOn: undefined };
        try {
          this.#send(link, outgoing); // stores it too, with its packet id, before writing it
        } catch (error) {
          reject(error);
        }
      });
    }
    return this.#enqueue(packet);
  }

  #enqueue(packet: PublishPacket): Promise<void> {
    try {
      // Validate now (topic, QoS, payload type, size) so the caller hears about a bad message at once.
      encodedLength(packet.qos === 0 ? packet : { ...packet, packetId: 1 });
    } catch (error) {
      return Promise.reject(error);
    }
    const refused = this.#tooLarge(packet) ?? this.#full(packet);
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise<void>((resolve, reject) => {
      const outgoing: Outgoing = {
        packet,
        size: packet.payload.length + packet.topic.length,
        resolve,
        reject,
        key: undefined,
        sentOn: undefined,
      };
      try {
        // Offline too: the offline limit was checked above, so it bounds what is stored.
        if (this.#durable !== undefined && packet.qos === 1) this.#durable.add(outgoing, packet);
      } catch (error) {
        reject(error);
        return;
      }
      if (this.#queue === NO_QUEUE) this.#queue = [];
      this.#queue.push(outgoing);
      this.#queuedBytes += outgoing.size;
    });
  }

  /** A reason to refuse `packet` for its size, or undefined. */
  #tooLarge(packet: PublishPacket): MqttClientError | undefined {
    const max = this.options.maxOutgoingPacketSize;
    const size = encodedLength(packet.qos === 0 ? packet : { ...packet, packetId: 1 });
    if (size <= max) return undefined;
    return new MqttClientError(
      'packet-too-large',
      `the PUBLISH to ${JSON.stringify(packet.topic)} would be ${size} bytes on the wire; the limit is ${max} (maxOutgoingPacketSize). ` +
        'Send a smaller payload (split it, or compress it)',
    );
  }

  /** A reason to refuse a queued publish for room, naming the limit and the state, or undefined. */
  #full(packet: PublishPacket): MqttClientError | undefined {
    const o = this.options;
    const state = this.lifecycle.state;
    if (this.#link === undefined) {
      if (packet.qos === 0 && o.offlineQoS0 === 'reject') {
        return new MqttClientError('connection-closed', `not connected (state ${state}), and offlineQoS0 is 'reject': the QoS 0 message was not sent`);
      }
      if (this.queuedCount >= o.offlineQueueSize) {
        return new MqttClientError(
          'queue-full',
          `not connected (state ${state}) and ${this.queuedCount} messages wait already (offlineQueueSize ${o.offlineQueueSize}); ` +
            'the message was not accepted. Raise offlineQueueSize, or wait for the connect event',
        );
      }
    }
    const size = packet.payload.length + packet.topic.length;
    if (this.#queuedBytes + size > o.maxQueuedBytes) {
      return new MqttClientError(
        'queue-full',
        `${this.#queuedBytes} bytes wait to be sent already (maxQueuedBytes ${o.maxQueuedBytes}, state ${state}); the message was not accepted. ` +
          (this.#link === undefined ? 'Wait for the connect event' : 'The connection is slower than the publisher: await publishes, or raise maxQueuedBytes'),
      );
    }
    return undefined;
  }

  #canSend(link: Connection, qos: number): boolean {
    if (link.closed || link.writer.saturated || this.#probe !== undefined) return false;
    return qos === 0 || (this.#inflight.size < this.options.maxInflight && this.#inflight.size + this.#requests.size < 65_535);
  }

  #removeInflight(packetId: number): void {
    if (this.#inflight.size === 1) this.#inflight = NO_OUTGOING;
    else this.#inflight.delete(packetId);
  }

  /** Puts a publish on the wire; the caller checked `#canSend`. */
  #send(link: Connection, outgoing: Outgoing): void {
    const packet = outgoing.packet;
    if (packet.qos === 0) {
      link.send(packet);
      outgoing.resolve();
      return;
    }
    const packetId = this.#allocatePacketId()!;
    const withId = { ...packet, packetId };
    const durable = this.#durable;
    if (durable !== undefined) {
      // Stored before it is written: a message the store refuses (no room) must not go out.
      if (outgoing.key === undefined) durable.add(outgoing, withId);
      else durable.sent(outgoing, packetId);
    }
    try {
      // Written before the id is taken: if encoding refuses the message, no id is held for it.
      link.send(withId);
    } catch (error) {
      durable?.forget(outgoing);
      throw error;
    }
    if (this.#inflight === NO_OUTGOING) this.#inflight = new Map();
    this.#inflight.set(packetId, outgoing);
    outgoing.sentOn = link;
  }

  /** Moves queued publishes to the wire while the connection has room. */
  pump(): void {
    const link = this.#link;
    if (link !== undefined) {
      while (this.#queueHead < this.#queue.length) {
        const next = this.#queue[this.#queueHead]!;
        if (!this.#canSend(link, next.packet.qos)) break;
        this.#queue[this.#queueHead++] = undefined as unknown as Outgoing;
        this.#queuedBytes -= next.size;
        try {
          this.#send(link, next);
        } catch (error) {
          if (this.#durable?.adopted(next)) this.hooks.lost(error as Error);
          next.reject(error as Error);
        }
      }
    }
    this.#compactQueue();
    this.#checkIdle();
  }

  #compactQueue(): void {
    if (this.#queueHead === this.#queue.length) {
      if (this.#queueHead > 0) {
        this.#queue = NO_QUEUE;
        this.#queueHead = 0;
      }
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /** PUBACK for `packetId`; `false` when nothing waits for it (a late ack, harmless). */
  acknowledged(packetId: number): boolean {
    const outgoing = this.#inflight.get(packetId);
    if (outgoing === undefined) return false;
    // The id is free again now that its ack is in [MQTT-2.3.1-3].
    this.#removeInflight(packetId);
    this.#durable?.forget(outgoing);
    if (this.#suspect === outgoing) this.#suspect = undefined;
    outgoing.resolve();
    if (this.#probe === outgoing) {
      // The server took it: it was not the problem. Now the rest, in order.
      this.#probe = undefined;
      if (this.#link !== undefined) this.#resend(this.#link);
    }
    this.pump();
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // SUBSCRIBE and UNSUBSCRIBE

  /** Sends a request now when connected, or on the next connection; resolves with its ack. */
  request(packet: RequestPacket): Promise<Packet> {
    const packetId = this.#allocatePacketId();
    if (packetId === undefined) {
      return Promise.reject(new MqttClientError('queue-full', 'all 65,535 packet identifiers are in use by unacknowledged messages and requests'));
    }
    const withId = { ...packet, packetId } as RequestPacket;
    try {
      encodedLength(withId); // a bad filter is the caller's error, found before anything is sent
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Packet>((resolve, reject) => {
      if (this.#requests === NO_REQUESTS) this.#requests = new Map();
      this.#requests.set(packetId, { packet: withId, resolve, reject });
      // During a probe it waits, and goes out with the other requests after the probe's PUBACK.
      if (this.#link !== undefined && this.#probe === undefined) this.#link.send(withId);
    });
  }

  /** The request an ack answers, removed from the pending map; `undefined` when none matches. */
  takeRequest(packetId: number, type: RequestPacket['type']): PendingRequest | undefined {
    const request = this.#requests.get(packetId);
    if (request === undefined || request.packet.type !== type) return undefined;
    if (this.#requests.size === 1) this.#requests = NO_REQUESTS;
    else this.#requests.delete(packetId);
    this.pump();
    return request;
  }

  /** Filters a SUBSCRIBE still awaiting its SUBACK asks for (not to be restored twice). */
  pendingFilters(): Set<string> {
    const pending = new Set<string>();
    for (const r of this.#requests.values()) {
      if (r.packet.type === 'subscribe') for (const s of r.packet.subscriptions) pending.add(s.topicFilter);
    }
    return pending;
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  /**
   * A connection was accepted: re-send what is unacknowledged, first and in order, then the
   * requests, and let the queue flow; or, after a loss that may be a message's fault, that
   * message alone first (see the header).
   */
  attach(link: Connection, sessionPresent: boolean): void {
    this.#link = link;
    this.#resendDup = sessionPresent;
    const oldest = this.#inflight.entries().next().value;
    if (this.#suspect !== undefined && oldest !== undefined && oldest[1] === this.#suspect) {
      this.#probe = this.#suspect;
      this.#sendAgain(link, oldest[0], this.#probe);
      return;
    }
    this.#resend(link);
  }

  /** Every unacknowledged publish not yet sent on `link`, in order, then every pending request. */
  #resend(link: Connection): void {
    for (const [packetId, outgoing] of this.#inflight) {
      if (outgoing.sentOn !== link) this.#sendAgain(link, packetId, outgoing);
    }
    for (const request of this.#requests.values()) link.send(request.packet);
  }

  #sendAgain(link: Connection, packetId: number, outgoing: Outgoing): void {
    link.send({ ...outgoing.packet, packetId, dup: this.#resendDup });
    outgoing.sentOn = link;
  }

  /**
   * The connection was lost. `byPeer`: the server (or the network) closed it, not one of our
   * own decisions. Returns the error a message was rejected with because the server closed the
   * connection right after it twice in a row, if that is what happened.
   */
  detach(link: Connection, byPeer: boolean): MqttClientError | undefined {
    if (this.#link === link) this.#link = undefined;
    const probe = this.#probe;
    this.#probe = undefined;
    const oldest = this.#inflight.entries().next().value;
    if (!byPeer || oldest === undefined || oldest[1].sentOn !== link) {
      this.#suspect = undefined;
      this.#probesFailed = 0;
      return undefined;
    }
    const [packetId, o] = oldest;
    if (probe !== o) {
      this.#suspect = o;
      this.#probesFailed = 0;
      return undefined;
    }
    if (++this.#probesFailed < PROBES) return undefined; // still the suspect: probe it again
    this.#suspect = undefined;
    this.#probesFailed = 0;
    this.#removeInflight(packetId);
    this.#durable?.forget(o);
    const error = new MqttClientError(
      'message-refused',
      `the server closed the connection right after this message (PUBLISH to ${JSON.stringify(o.packet.topic)}, ` +
        `${o.packet.payload.length} bytes, packet id ${packetId}), and again each time it was sent alone: it refuses it, ` +
        'often for its size (a server-side maximum packet size; see maxOutgoingPacketSize) or its topic. It was dropped; the others go on',
    );
    // The session reports it on 'error'; with nobody listening there, a restored message's
    // refusal would be news nobody hears (no promise carries it).
    if (this.#durable?.adopted(o)) this.hooks.refusedUnheard(error);
    o.reject(error);
    return error;
  }

  /** The last connection loss came right after a message that may be refused (see `detach`). */
  get suspecting(): boolean {
    return this.#suspect !== undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Settling everything

  /** Nothing in flight and nothing queued. */
  get idle(): boolean {
    return this.#inflight.size === 0 && this.queuedCount === 0;
  }

  /** Resolves once `idle` (end() waits on it, bounded by its own timer). */
  whenIdle(): Promise<void> {
    if (this.idle) return RESOLVED;
    return new Promise((resolve) => (this.#idleWaiters ??= []).push(resolve));
  }

  /** Stops every `whenIdle` wait (the connection is gone: the acks cannot come). */
  releaseIdleWaiters(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w();
  }

  #checkIdle(): void {
    if (this.#idleWaiters !== undefined && this.idle) this.releaseIdleWaiters();
  }

  /** Rejects the pending requests (they cannot complete on a connection that will not come). */
  rejectRequests(error: Error): void {
    const requests = this.#requests;
    this.#requests = NO_REQUESTS;
    for (const request of requests.values()) request.reject(error);
  }

  /**
   * Rejects everything with `error` and returns the publishes that were never acknowledged, in
   * order (in flight first, then queued): `end()`. A durable store keeps them for the next process.
   */
  rejectAll(error: Error): UnacknowledgedMessage[] {
    this.rejectRequests(error);
    const all = this.#takeAll();
    this.#durable?.ending(all.flatMap(([, o]) => (o.key === undefined ? [] : [o.key])));
    const unacknowledged: UnacknowledgedMessage[] = [];
    for (const [packetId, o] of all) {
      unacknowledged.push(describe(o.packet, packetId));
      o.reject(error);
    }
    this.releaseIdleWaiters();
    return unacknowledged;
  }

  /**
   * The connection is lost for good (reconnect off): rejects everything with `error`. With a
   * durable store the stored messages stay, in flight or queued as they were, with no caller: the
   * next connection sends them first, this client's `connect()` or the next process's.
   */
  giveUp(error: Error): void {
    const durable = this.#durable;
    if (durable === undefined) {
      this.rejectAll(error);
      return;
    }
    this.rejectRequests(error);
    const stays = new MqttClientError(
      'connection-closed',
      `${error.message}; reconnect is off. The message stays in the durable store and goes out first on the next connection ` +
        "(this client's connect(), or the next process on the same store): publish it again only if you want it twice",
      { cause: error },
    );
    for (const [packetId, o] of this.#takeAll()) {
      if (o.key === undefined) {
        o.reject(error); // QoS 0, or a message the store failed to write
        continue;
      }
      if (!durable.adopted(o)) {
        o.reject(stays);
        durable.adopt(o);
      }
      if (packetId !== undefined) {
        if (this.#inflight === NO_OUTGOING) this.#inflight = new Map();
        this.#inflight.set(packetId, o);
      } else {
        if (this.#queue === NO_QUEUE) this.#queue = [];
        this.#queue.push(o);
        this.#queuedBytes += o.size;
      }
    }
    this.releaseIdleWaiters();
  }

  /** Empties the in-flight store and the queue; returns their publishes in order, in flight first. */
  #takeAll(): Array<[packetId: number | undefined, outgoing: Outgoing]> {
    const all: Array<[number | undefined, Outgoing]> = [...this.#inflight];
    for (let i = this.#queueHead; i < this.#queue.length; i++) all.push([undefined, this.#queue[i]!]);
    this.#inflight = NO_OUTGOING;
    this.#queue = NO_QUEUE;
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    this.#suspect = undefined;
    return all;
  }

  /** Closes the durable store, if any (end()). */
  close(): Promise<void> {
    return this.#durable?.close() ?? RESOLVED;
  }

  // -------------------------------------------------------------------------------------------
  // Identifiers and the store

  /**
   * A packet identifier no unacknowledged PUBLISH, SUBSCRIBE or UNSUBSCRIBE holds
   * [MQTT-2.3.1-2]; `undefined` when all 65,535 are taken.
   */
  #allocatePacketId(): number | undefined {
    if (this.#inflight.size + this.#requests.size >= 65_535) return undefined;
    let id = this.#lastPacketId;
    do {
      id = id === 65_535 ? 1 : id + 1;
    } while (this.#inflight.has(id) || this.#requests.has(id));
    this.#lastPacketId = id;
    return id;
  }

  /**
   * What a previous process left in the store, with no caller waiting: those that had gone out
   * back in flight under their identifiers, the others first in the queue, all in their order.
   */
  #restore(entries: readonly StoredEntry[]): void {
    if (entries.length === 0) return;
    const durable = this.#durable!;
    this.#inflight = new Map();
    this.#queue = [];
    for (const entry of entries) {
      const packet: PublishPacket = { type: 'publish', topic: entry.topic, payload: entry.payload, qos: 1, retain: entry.retain, dup: false, packetId: undefined };
      const inflight = entry.packetId !== undefined && !this.#inflight.has(entry.packetId);
      const size = inflight ? 0 : entry.payload.length + entry.topic.length;
      const outgoing: Outgoing = { packet, size, resolve: noop, reject: noop, key: entry.key, sentOn: undefined };
      durable.adopt(outgoing);
      if (inflight) {
        this.#inflight.set(entry.packetId!, outgoing);
        this.#lastPacketId = entry.packetId!;
      } else {
        this.#queue.push(outgoing);
        this.#queuedBytes += size;
      }
    }
    if (this.#inflight.size === 0) this.#inflight = NO_OUTGOING;
    if (this.#queue.length === 0) this.#queue = NO_QUEUE;
  }

  /**
   * The store could not write these messages after `publish` had returned (a full disk, an I/O
   * error): they are not durable, so their publishes reject with the StoreError. One still queued
   * leaves the queue: it was not sent, and publishing it again sends it once. One already on the
   * wire (the fast path writes at once) stays in flight under its identifier until its PUBACK: the
   * server may have it, and the identifier must not be reused before [MQTT-2.3.1-2].
   */
  #writeFailed(keys: ReadonlySet<number>, error: Error): void {
    for (const o of this.#inflight.values()) if (o.key !== undefined && keys.has(o.key)) this.#unstored(o, error);
    const queue = this.#queue;
    let kept = this.#queueHead;
    for (let i = this.#queueHead; i < queue.length; i++) {
      const o = queue[i]!;
      if (o.key !== undefined && keys.has(o.key)) {
        this.#queuedBytes -= o.size;
        this.#unstored(o, error);
      } else {
        queue[kept++] = o;
      }
    }
    queue.length = kept;
    this.#compactQueue();
    this.#checkIdle();
  }

  #unstored(o: Outgoing, error: Error): void {
    o.key = undefined;
    if (this.#durable!.adopted(o)) this.hooks.lost(error);
    o.reject(error);
  }
}

const noop = (): void => {};

function describe(packet: PublishPacket, packetId: number | undefined): UnacknowledgedMessage {
  return { topic: packet.topic, payload: packet.payload, qos: packet.qos === 0 ? 0 : 1, packetId };
}

export type { Subscription };
