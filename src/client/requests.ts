/**
 * SUBSCRIBE and UNSUBSCRIBE requests awaiting their SUBACK or UNSUBACK, by packet identifier, in
 * the order they were sent: re-sent on a new connection until answered [MQTT-2.3.1-3].
 */
import type { Packet } from '../packet/types.js';

export type RequestPacket = Extract<Packet, { type: 'subscribe' | 'unsubscribe' }>;

export interface PendingRequest {
  readonly packet: RequestPacket;
  resolve(ack: Packet): void;
  reject(error: Error): void;
}

/** Never modified: stands in for an empty map, so an idle client keeps no hash table for it. */
const NONE: Map<number, PendingRequest> = new Map();

export class PendingRequests {
  #byId: Map<number, PendingRequest> = NONE;

  get size(): number {
    return this.#byId.size;
  }

  has(packetId: number): boolean {
    return this.#byId.has(packetId);
  }

  /** Holds `packet` (its identifier already allocated) until its ack. */
  add(packet: RequestPacket): Promise<Packet> {
    return new Promise<Packet>((resolve, reject) => {
      if (this.#byId === NONE) this.#byId = new Map();
      this.#byId.set(packet.packetId, { packet, resolve, reject });
    });
  }

  /** The request an ack answers, removed; `undefined` when none of that type holds the id. */
  take(packetId: number, type: RequestPacket['type']): PendingRequest | undefined {
    const request = this.#byId.get(packetId);
    if (request === undefined || request.packet.type !== type) return undefined;
    if (this.#byId.size === 1) this.#byId = NONE;
    else this.#byId.delete(packetId);
    return request;
  }

  /** The packets to send again, in the order first sent. */
  packets(): IterableIterator<PendingRequest> {
    return this.#byId.values();
  }

  /** Filters a SUBSCRIBE still awaiting its SUBACK asks for (not to be restored twice). */
  filters(): Set<string> {
    const pending = new Set<string>();
    for (const r of this.#byId.values()) {
      if (r.packet.type === 'subscribe') for (const s of r.packet.subscriptions) pending.add(s.topicFilter);
    }
    return pending;
  }

  /** Rejects every request (they cannot complete on a connection that will not come). */
  rejectAll(error: Error): void {
    const requests = this.#byId;
    this.#byId = NONE;
    for (const request of requests.values()) request.reject(error);
  }
}
