/**
 * The outbox store: where a client keeps the QoS 1 messages it has accepted and not yet seen
 * acknowledged, so that a new process can send them after the old one died.
 *
 * The client drives the store; the store never calls the network. The order of keys is the
 * order of publish calls, and it is the order a new process sends the stored messages in.
 *
 *   open(clientId)      once, before the first connection: what a previous process left
 *   add(message)        a QoS 1 publish was accepted (queued, or about to go on the wire)
 *   sent(key, id)       it went on the wire with packet identifier `id`: at its first send, and
 *                       again whenever it goes out under a new id (resent as new after the broker
 *                       lost the session), never for a resend with DUP under the same id
 *   acknowledged(key)   its PUBACK arrived: it leaves the store
 *   close()             the client ended: write what is pending, release the directory
 *
 * The guarantee a store gives: once `add` has returned and the current tick has ended, the
 * message survives the process being killed. QoS 0 messages are never stored.
 */

/** A message as the store holds it. */
export interface StoredMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
  /**
   * The identifier it went out with, or `undefined` while it never went on the wire. A client adds
   * a message that goes on the wire at once with its identifier (one record instead of two).
   */
  readonly packetId?: number | undefined;
}

/** A stored message with its key (keys grow with every `add`; their order is publish order). */
export interface StoredEntry extends StoredMessage {
  readonly key: number;
}

/** What the store tells the client when writing failed after `add` had returned. */
export interface OutboxStoreHooks {
  /**
   * Writing these keys failed (a full disk, an I/O error) after `add` returned: they are not
   * durable. The client rejects their publishes with `error` unless they were acknowledged.
   */
  writeFailed(keys: readonly number[], error: Error): void;
  /**
   * Opening found damage in the stored data and skipped it (a StoreError, code `store-corrupt`):
   * the entries `open` returns are the intact ones, but a message in the skipped bytes is lost.
   * The client reports it (it is not a reason to stop). Called during `open`, before it returns.
   * Optional, so that a store that cannot be damaged (the memory store) need not know it; the file
   * store, given no such hook, reports through `process.emitWarning`.
   */
  damaged?(error: Error): void;
}

export interface OutboxStore {
  /**
   * Opens the store for `clientId` and returns what it holds, oldest first. Called once, before
   * the first connection. Throws a StoreError when the store cannot be used (another process holds
   * it, the directory is not writable, the file is not a store).
   */
  open(clientId: string, hooks: OutboxStoreHooks): readonly StoredEntry[];
  /**
   * Records an accepted QoS 1 message and returns its key. Throws a StoreError (code
   * `store-full`, nothing stored) when the store has no room: the publish is then refused.
   */
  add(message: StoredMessage): number;
  /**
   * The message went on the wire with `packetId` for the first time, or under a new identifier
   * (a new process whose broker kept no session sends stored messages as new ones): the store
   * keeps the latest, so that the next process resends under the identifier the broker knows.
   */
  sent(key: number, packetId: number): void;
  /** Its PUBACK arrived: the message leaves the store. */
  acknowledged(key: number): void;
  /** Writes what is pending and releases the store; the client calls it from `end()`. */
  close(): Promise<void>;
}
