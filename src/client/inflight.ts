/**
 * The QoS 1 publishes awaiting their PUBACK, by packet identifier, and the choice of a free
 * identifier [MQTT-2.3.1-2]: the identifiers in use are the keys here and those of the pending
 * SUBSCRIBE/UNSUBSCRIBE requests, and one is free again once its ack removes it [MQTT-2.3.1-3].
 *
 * The map is a shared empty one until first used, and again once emptied: a gateway holds
 * thousands of idle clients, which then keep no hash table for it.
 */

/** Never modified: it stands in for an empty map. */
const EMPTY = new Map<number, never>();

/** What else holds identifiers (the pending requests). */
interface IdHolder {
  readonly size: number;
  has(packetId: number): boolean;
}

export class InFlight<O> {
  #map: Map<number, O> = EMPTY;
  #lastId = 0;

  get size(): number {
    return this.#map.size;
  }

  get(packetId: number): O | undefined {
    return this.#map.get(packetId);
  }

  set(packetId: number, outgoing: O): void {
    if (this.#map === EMPTY) this.#map = new Map();
    this.#map.set(packetId, outgoing);
  }

  delete(packetId: number): void {
    if (this.#map.size === 1) this.#map = EMPTY;
    else this.#map.delete(packetId);
  }

  /** The oldest entry (the first sent), if any. */
  oldest(): [number, O] | undefined {
    return this.#map.entries().next().value;
  }

  /** In the order they were sent. */
  entries(): IterableIterator<[number, O]> {
    return this.#map.entries();
  }

  /** Empties the store; returns its entries in order. */
  takeAll(): Array<[number, O]> {
    const all = [...this.#map];
    this.#map = EMPTY;
    return all;
  }

  /** Messages a previous process left in flight, in order: the next identifier follows the last. */
  restore(entries: Array<[number, O]>): void {
    if (entries.length === 0) return;
    this.#map = new Map(entries);
    this.#lastId = entries.at(-1)![0];
  }

  /**
   * A packet identifier that neither this store nor `others` holds [MQTT-2.3.1-2], the one after
   * the last given out where possible; `undefined` when all 65,535 are taken.
   */
  allocate(others: IdHolder): number | undefined {
    if (this.#map.size + others.size >= 65_535) return undefined;
    let id = this.#lastId;
    do {
      id = id === 65_535 ? 1 : id + 1;
    } while (this.#map.has(id) || others.has(id));
    this.#lastId = id;
    return id;
  }
}
