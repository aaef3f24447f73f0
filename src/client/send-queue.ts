/**
 * The publishes accepted and not yet on the wire, in order, with the bytes they hold (topic and
 * payload, what `maxQueuedBytes` bounds). An array with a moving head: taking from the front
 * costs nothing, and the array is cut back once the taken part outweighs the rest. Empty, it
 * shares one frozen array, so an idle client keeps none of its own.
 */
const NONE: readonly never[] = Object.freeze([]);

export interface Queued {
  /** Bytes counted while queued (0 for one that never counts). */
  readonly size: number;
}

export class SendQueue<T extends Queued> {
  #items: T[] = NONE as unknown as T[];
  #head = 0;
  #bytes = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes of the queued messages. */
  get bytes(): number {
    return this.#bytes;
  }

  push(item: T): void {
    if (this.#items === (NONE as unknown)) this.#items = [];
    this.#items.push(item);
    this.#bytes += item.size;
  }

  /** The first queued item, not taken. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Takes the first item (the caller peeked it). */
  shift(): T {
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as unknown as T;
    this.#bytes -= item.size;
    return item;
  }

  /** Lets go of the taken part of the array when it is all or most of it. */
  compact(): void {
    if (this.#head === this.#items.length) {
      if (this.#head > 0) {
        this.#items = NONE as unknown as T[];
        this.#head = 0;
      }
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Removes the items `drop` picks, keeping the order of the others; returns the removed ones. */
  remove(drop: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const items = this.#items;
    let kept = this.#head;
    for (let i = this.#head; i < items.length; i++) {
      const item = items[i]!;
      if (drop(item)) {
        this.#bytes -= item.size;
        removed.push(item);
      } else {
        items[kept++] = item;
      }
    }
    if (removed.length > 0) items.length = kept;
    this.compact();
    return removed;
  }

  /** Empties the queue; returns what it held, in order. */
  takeAll(): T[] {
    const all = this.#items.slice(this.#head);
    this.#items = NONE as unknown as T[];
    this.#head = 0;
    this.#bytes = 0;
    return all;
  }
}

/** Those waiting for the outbox to be idle (`end()` waits for the last acks). */
export class IdleWaiters {
  #waiters: Array<() => void> | undefined;

  get waiting(): boolean {
    return this.#waiters !== undefined;
  }

  wait(): Promise<void> {
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve));
  }

  release(): void {
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w();
  }
}
