/**
 * Everything the client has to send and has not seen through: publishes waiting to go out (the
 * queue), QoS 1 publishes awaiting PUBACK (the in-flight store), SUBSCRIBE/UNSUBSCRIBE awaiting
 * their acks, and the packet identifiers they hold.
 *
 * - A QoS 1 publish takes an identifier that no unacknowledged PUBLISH, SUBSCRIBE or UNSUBSCRIBE
 *   holds [MQTT-2.3.1-2]: the identifiers in use are exactly the keys of the in-flight store and
 *   of the pending requests, and one is free again when its ack removes its entry [MQTT-2.3.1-3]
 *   (`inflight.ts`, `requests.ts`).
 * - The queue is bounded two ways, both named in the `queue-full` error: `maxQueuedBytes` (bytes
 *   of topic and payload waiting, in any state) and `offlineQueueSize` (messages a publish made
 *   while not connected may find waiting).
 * - On a new connection the unacknowledged publishes go out first, in their original order,
 *   with their identifiers, DUP set when the server kept the session [MQTT-4.4.0-1,
 *   MQTT-3.3.1-1, MQTT-4.6.0-1]; then the requests still unanswered; then the queue.
 * - A message the server keeps refusing (it closes the connection right after it) is probed
 *   alone and then rejected with `message-refused`, and the rest go on: see `probe.ts`.
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
import { RefusalProbe, refusedError } from './probe.js';
import { InFlight } from './inflight.js';
import { PendingRequests } from './requests.js';
import { IdleWaiters, SendQueue } from './send-queue.js';
import { noRoom, tooLarge } from './send-limits.js';
import type { PendingRequest, RequestPacket } from './requests.js';
import { restoredRecords, StoreLink } from './outbox-store.js';
import type { Keyed, OutboxHooks } from './outbox-store.js';

export type { OutboxHooks };

interface Outgoing extends Keyed {
  readonly packet: PublishPacket;
  /** Bytes counted against `maxQueuedBytes` while queued. */
  readonly size: number;
  /** The connection it last went out on. */
  sentOn: Connection | undefined;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class Outbox {
  /** The connection publishes go out on: set from CONNACK until the connection is lost. */
  #link: Connection | undefined;
  /** QoS 1 publishes awaiting PUBACK, and the packet identifiers (see `inflight.ts`). */
  readonly #inflight = new InFlight<Outgoing>();
  readonly #requests = new PendingRequests();
  readonly #queue = new SendQueue<Outgoing>();
  /** A message the server may refuse, and its probe (see `probe.ts`). */
  readonly #refusal = new RefusalProbe<Outgoing>();
  /** DUP for re-sends on this connection: the server kept the session. */
  #resendDup = false;
  /** Made when `end()` first waits: an idle client keeps none. */
  #idle: IdleWaiters | undefined;
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
    return this.#queue.length;
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
    if (this.#queue.length === 0 && link !== undefined && this.#canSend(link, packet.qos)) {
      // The fast path. Encoding validates the message and throws before writing anything.
      if (packet.payload.length + 3 * packet.topic.length + 9 > this.options.maxOutgoingPacketSize) {
        const refused = tooLarge(packet, this.options.maxOutgoingPacketSize);
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
    const refused = tooLarge(packet, this.options.maxOutgoingPacketSize) ?? noRoom(packet, this.options, { state: this.lifecycle.state, online: this.#link !== undefined, queued: this.#queue.length, queuedBytes: this.#queue.bytes });
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
      this.#queue.push(outgoing);
    });
  }

  #canSend(link: Connection, qos: number): boolean {
    if (link.closed || link.writer.saturated || this.#refusal.probing) return false;
    return qos === 0 || (this.#inflight.size < this.options.maxInflight && this.#inflight.size + this.#requests.size < 65_535);
  }

  /** Puts a publish on the wire; the caller checked `#canSend`. */
  #send(link: Connection, outgoing: Outgoing): void {
    const packet = outgoing.packet;
    if (packet.qos === 0) {
      link.send(packet);
      outgoing.resolve();
      return;
    }
    const packetId = this.#inflight.allocate(this.#requests)!;
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
    this.#inflight.set(packetId, outgoing);
    outgoing.sentOn = link;
  }

  /** Moves queued publishes to the wire while the connection has room. */
  pump(): void {
    const link = this.#link;
    if (link !== undefined) {
      for (let next = this.#queue.peek(); next !== undefined; next = this.#queue.peek()) {
        if (!this.#canSend(link, next.packet.qos)) break;
        this.#queue.shift();
        try {
          this.#send(link, next);
        } catch (error) {
          if (this.#durable?.adopted(next)) this.hooks.lost(error as Error);
          next.reject(error as Error);
        }
      }
    }
    this.#queue.compact();
    this.#checkIdle();
  }

  /** PUBACK for `packetId`; `false` when nothing waits for it (a late ack, harmless). */
  acknowledged(packetId: number): boolean {
    const outgoing = this.#inflight.get(packetId);
    if (outgoing === undefined) return false;
    // The id is free again now that its ack is in [MQTT-2.3.1-3].
    this.#inflight.delete(packetId);
    this.#durable?.forget(outgoing);
    outgoing.resolve();
    // The probe's PUBACK: the server took it, it was not the problem. Now the rest, in order.
    if (this.#refusal.acknowledged(outgoing) && this.#link !== undefined) this.#resend(this.#link);
    this.pump();
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // SUBSCRIBE and UNSUBSCRIBE

  /** Sends a request now when connected, or on the next connection; resolves with its ack. */
  request(packet: RequestPacket): Promise<Packet> {
    const packetId = this.#inflight.allocate(this.#requests);
    if (packetId === undefined) {
      return Promise.reject(new MqttClientError('queue-full', 'all 65,535 packet identifiers are in use by unacknowledged messages and requests'));
    }
    const withId = { ...packet, packetId } as RequestPacket;
    try {
      encodedLength(withId); // a bad filter is the caller's error, found before anything is sent
    } catch (error) {
      return Promise.reject(error);
    }
    const answered = this.#requests.add(withId);
    // During a probe it waits, and goes out with the other requests after the probe's PUBACK.
    if (this.#link !== undefined && !this.#refusal.probing) this.#link.send(withId);
    return answered;
  }

  /** The request an ack answers, removed from the pending map; `undefined` when none matches. */
  takeRequest(packetId: number, type: RequestPacket['type']): PendingRequest | undefined {
    const request = this.#requests.take(packetId, type);
    if (request !== undefined) this.pump();
    return request;
  }

  /** Filters a SUBSCRIBE still awaiting its SUBACK asks for (not to be restored twice). */
  pendingFilters(): Set<string> {
    return this.#requests.filters();
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
    const oldest = this.#inflight.oldest();
    if (oldest !== undefined && this.#refusal.start(oldest[1])) {
      this.#sendAgain(link, oldest[0], oldest[1]);
      return;
    }
    this.#resend(link);
  }

  /** Every unacknowledged publish not yet sent on `link`, in order, then every pending request. */
  #resend(link: Connection): void {
    for (const [packetId, outgoing] of this.#inflight.entries()) {
      if (outgoing.sentOn !== link) this.#sendAgain(link, packetId, outgoing);
    }
    for (const request of this.#requests.packets()) link.send(request.packet);
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
    const oldest = this.#inflight.oldest();
    if (!this.#refusal.lost(oldest?.[1], oldest?.[1].sentOn === link, byPeer)) return undefined;
    const [packetId, o] = oldest!;
    this.#inflight.delete(packetId);
    this.#durable?.forget(o);
    const error = refusedError(o.packet, packetId);
    // The session reports it on 'error'; with nobody listening there, a restored message's
    // refusal would be news nobody hears (no promise carries it).
    if (this.#durable?.adopted(o)) this.hooks.refusedUnheard(error);
    o.reject(error);
    return error;
  }

  /** The last connection loss came right after a message that may be refused (see `detach`). */
  get suspecting(): boolean {
    return this.#refusal.suspecting;
  }

  // -------------------------------------------------------------------------------------------
  // Settling everything

  /** Nothing in flight and nothing queued. */
  get idle(): boolean {
    return this.#inflight.size === 0 && this.queuedCount === 0;
  }

  /** Resolves once `idle` (end() waits on it, bounded by its own timer). */
  whenIdle(): Promise<void> {
    return this.idle ? RESOLVED : (this.#idle ??= new IdleWaiters()).wait();
  }

  /** Stops every `whenIdle` wait (the connection is gone: the acks cannot come). */
  releaseIdleWaiters(): void {
    this.#idle?.release();
  }

  #checkIdle(): void {
    if (this.#idle?.waiting === true && this.idle) this.#idle.release();
  }

  /** Rejects the pending requests (they cannot complete on a connection that will not come). */
  rejectRequests(error: Error): void {
    this.#requests.rejectAll(error);
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
    for (const [packetId, o] of durable.keep(this.#takeAll(), error)) {
      if (packetId !== undefined) this.#inflight.set(packetId, o);
      else this.#queue.push(o);
    }
    this.releaseIdleWaiters();
  }

  /** Empties the in-flight store and the queue; returns their publishes in order, in flight first. */
  #takeAll(): Array<[packetId: number | undefined, outgoing: Outgoing]> {
    const all: Array<[number | undefined, Outgoing]> = this.#inflight.takeAll();
    for (const o of this.#queue.takeAll()) all.push([undefined, o]);
    this.#refusal.reset();
    return all;
  }

  /** Closes the durable store, if any (end()). */
  close(): Promise<void> {
    return this.#durable?.close() ?? RESOLVED;
  }

  // -------------------------------------------------------------------------------------------
  // The store

  /**
   * What a previous process left in the store, with no caller waiting: those that had gone out
   * back in flight under their identifiers, the others first in the queue, all in their order.
   */
  #restore(entries: readonly StoredEntry[]): void {
    const { inflight, queued } = restoredRecords(entries, this.#durable!, (packet, size, key): Outgoing => ({ packet, size, resolve: noop, reject: noop, key, sentOn: undefined }));
    this.#inflight.restore(inflight);
    for (const o of queued) this.#queue.push(o);
  }

  /**
   * The store could not write these messages after `publish` had returned (a full disk, an I/O
   * error): they are not durable, so their publishes reject with the StoreError. One still queued
   * leaves the queue: it was not sent, and publishing it again sends it once. One already on the
   * wire (the fast path writes at once) stays in flight under its identifier until its PUBACK: the
   * server may have it, and the identifier must not be reused before [MQTT-2.3.1-2].
   */
  #writeFailed(keys: ReadonlySet<number>, error: Error): void {
    for (const [, o] of this.#inflight.entries()) if (o.key !== undefined && keys.has(o.key)) this.#unstored(o, error);
    for (const o of this.#queue.remove((o) => o.key !== undefined && keys.has(o.key))) this.#unstored(o, error);
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
