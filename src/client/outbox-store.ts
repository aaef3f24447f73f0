/**
 * The outbox's side of a durable store (the `store` option): what the outbox tells the store, what
 * a previous process left in it, and the stored messages that no caller waits for.
 *
 * - A QoS 1 publish is added to the store before `publish` returns; QoS 0 never is. One that goes
 *   straight onto the wire is added with the packet identifier it goes out with (one record); a
 *   queued one is added without, and `sent` records its identifier when it goes out. It leaves the
 *   store with its PUBACK, or when it is refused for good (`message-refused`).
 * - Restored messages: what a previous process left, oldest first, comes back with no caller
 *   waiting. The outbox puts those that had gone out back in flight under their identifiers and
 *   the others at the front of the queue, so that all of them go out before anything new.
 *   `pending` counts the caller-less messages not yet settled; when it comes down to zero the
 *   client emits `restored` with how many were acknowledged and how many refused.
 * - Promises rejected while their messages stay stored: `end()` rejects what is unacknowledged and
 *   the store keeps it for the next process. A client that gives up after a lost connection
 *   (reconnect off) rejects with an error that says the message stays stored, and keeps it,
 *   caller-less, for its own next `connect()`: the next connection sends it first, whichever
 *   process makes it.
 * - A write that fails after `publish` returned (a full disk, an I/O error) makes those messages
 *   not durable: the outbox rejects their publishes with the StoreError (`Outbox#writeFailed`).
 */
import { encodedLength } from '../packet/codec.js';
import type { PublishPacket } from '../packet/types.js';
import { StoreError } from '../store/errors.js';
import { MqttClientError } from './errors.js';
import type { OutboxStore, StoredEntry } from '../store/types.js';

/** What the outbox's records of a message look like to this module. */
export interface Keyed {
  /** The store's key, while the store holds the message. */
  key: number | undefined;
  resolve(): void;
  reject(error: Error): void;
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

export interface StoreLinkHooks {
  /** Opening found damage and skipped it (a StoreError `store-corrupt`): messages in it are lost. */
  damaged(error: Error): void;
  /** A stored message failed with no caller to tell, or a write failed at `end()`: for `error`. */
  lost(error: Error): void;
  /** Every caller-less message is settled: `acknowledged` by PUBACK, `refused` for good. */
  restored(acknowledged: number, refused: number): void;
  /** These keys were not written (see OutboxStoreHooks.writeFailed): the outbox rejects them. */
  writeFailed(keys: ReadonlySet<number>, error: Error): void;
}

export class StoreLink {
  /** What a previous process left, oldest first (read by the outbox once, at construction). */
  readonly left: readonly StoredEntry[];
  readonly #store: OutboxStore;
  readonly #hooks: StoreLinkHooks;
  #pending = 0;
  #acknowledged = 0;
  #refused = 0;
  /** From `end()` on: the keys of the messages it rejected, which the store is to keep. */
  #ending: Set<number> | undefined;

  /** Opens the store (throws its StoreError when it cannot be used: locked, not a store...). */
  constructor(store: OutboxStore, clientId: string, hooks: StoreLinkHooks) {
    this.#store = store;
    this.#hooks = hooks;
    this.left = store.open(storeId(clientId), {
      writeFailed: (keys, error) => this.#writeFailed(keys, error),
      damaged: (error) => hooks.damaged(error),
    });
  }

  /** Caller-less messages (restored, or kept after giving up) not yet acknowledged or refused. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Stores an accepted QoS 1 message; `packet.packetId` is set when it goes on the wire at once.
   * Throws the store's StoreError (nothing stored) when it has no room.
   */
  add(outgoing: Keyed, packet: PublishPacket): void {
    try {
      outgoing.key = this.#store.add(packet);
    } catch (error) {
      // The store's own checks (a topic over 65,535 bytes) come before the codec's: give the
      // caller the codec's error, which names the MQTT rule.
      if (!(error instanceof StoreError)) encodedLength({ ...packet, packetId: packet.packetId ?? 1 });
      throw error;
    }
  }

  sent(outgoing: Keyed, packetId: number): void {
    if (outgoing.key !== undefined) this.#store.sent(outgoing.key, packetId);
  }

  /** The message leaves the store (acknowledged, or refused for good). */
  forget(outgoing: Keyed): void {
    if (outgoing.key === undefined) return;
    this.#store.acknowledged(outgoing.key);
    outgoing.key = undefined;
  }

  /**
   * The client gives up (reconnect off) with these messages unsettled: QoS 0 ones and those the
   * store failed to write are rejected with `error`; the stored ones are rejected with an error
   * that says they stay stored, and are kept caller-less. Returns those that stay, in order.
   */
  keep<K extends Keyed>(all: Array<[number | undefined, K]>, error: Error): Array<[number | undefined, K]> {
    const stays = new MqttClientError(
      'connection-closed',
      `${error.message}; reconnect is off. The message stays in the durable store and goes out first on the next connection ` +
        "(this client's connect(), or the next process on the same store): publish it again only if you want it twice",
      { cause: error },
    );
    return all.filter(([, o]) => {
      if (o.key === undefined) {
        o.reject(error); // QoS 0, or a message the store failed to write
        return false;
      }
      if (!this.adopted(o)) {
        o.reject(stays);
        this.adopt(o);
      }
      return true;
    });
  }

  /** Makes `outgoing` caller-less: from now on its fate is counted for the `restored` event. */
  adopt(outgoing: Keyed): void {
    outgoing.resolve = this.#settledAcknowledged;
    outgoing.reject = this.#settledRefused;
    this.#pending += 1;
  }

  /** True when no caller waits for `outgoing` (its failure must be reported on `error`). */
  adopted(outgoing: Keyed): boolean {
    return outgoing.reject === this.#settledRefused;
  }

  /** `end()` is rejecting these keys: they stay stored; a write of them that fails is reported. */
  ending(keys: Iterable<number>): void {
    this.#ending = new Set(keys);
  }

  close(): Promise<void> {
    return this.#store.close();
  }

  readonly #settledAcknowledged = (): void => {
    this.#acknowledged += 1;
    this.#settled();
  };

  readonly #settledRefused = (): void => {
    if (this.#ending !== undefined) return; // end(): not a refusal, and nobody waits any more
    this.#refused += 1;
    this.#settled();
  };

  #settled(): void {
    if (--this.#pending > 0) return;
    const acknowledged = this.#acknowledged;
    const refused = this.#refused;
    this.#acknowledged = this.#refused = 0;
    this.#hooks.restored(acknowledged, refused);
  }

  #writeFailed(keys: readonly number[], error: Error): void {
    const ending = this.#ending;
    if (ending === undefined) this.#hooks.writeFailed(new Set(keys), error);
    else if (keys.some((key) => ending.has(key))) this.#hooks.lost(error);
  }
}

/**
 * The name a client's messages are stored under: its client id without the platform's signing
 * extension (`id|securemode=2,signmethod=hmacsha256,timestamp=...|`), whose timestamp changes with
 * every process: the next process must find what this one stored.
 */
export function storeId(clientId: string): string {
  const bar = clientId.indexOf('|');
  return bar > 0 && clientId.endsWith('|') ? clientId.slice(0, bar) : clientId;
}

/**
 * The outbox's records of what a previous process left, oldest first: those that had gone out
 * go back in flight under their identifiers (the first record of an identifier wins), the others
 * to the queue, counted against its limits. `make` builds a record; each is adopted (no caller).
 */
export function restoredRecords<O extends Keyed>(
  entries: readonly StoredEntry[],
  durable: StoreLink,
  make: (packet: PublishPacket, size: number, key: number) => O,
): { inflight: Array<[packetId: number, record: O]>; queued: O[] } {
  const inflight: Array<[number, O]> = [];
  const queued: O[] = [];
  const ids = new Set<number>();
  for (const entry of entries) {
    const packet: PublishPacket = { type: 'publish', topic: entry.topic, payload: entry.payload, qos: 1, retain: entry.retain, dup: false, packetId: undefined };
    const goesInFlight = entry.packetId !== undefined && !ids.has(entry.packetId);
    const record = make(packet, goesInFlight ? 0 : entry.payload.length + entry.topic.length, entry.key);
    durable.adopt(record);
    if (goesInFlight) {
      ids.add(entry.packetId!);
      inflight.push([entry.packetId!, record]);
    } else {
      queued.push(record);
    }
  }
  return { inflight, queued };
}
