/**
 * Reading a store file back: its header checked, the messages still waiting for their PUBACK, in
 * key order, and what was damaged. Pure: the caller reads the bytes and acts on the result.
 */
import { StoreError, type StoreDamage } from './errors.js';
import { findNextRecord, HEADER_SIZE, readHeader, readRecord, VERSION } from './format.js';

/** A stored message as the store keeps it in memory. */
export interface LiveEntry {
  readonly key: number;
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
  packetId: number | undefined;
  /** Bytes of its `add` record: what it takes in a compacted file. */
  readonly size: number;
  /** Bytes of the `sent` records written for it since the file was last compacted. */
  sentBytes: number;
}

export interface Replayed {
  /** The live messages by key; a Map iterates in insertion order, which is key order. */
  readonly entries: Map<number, LiveEntry>;
  readonly nextKey: number;
  /** Bytes of the live messages' `add` records. */
  readonly addBytes: number;
  /** Bytes of all the live messages' records (`add` and `sent`). */
  readonly liveBytes: number;
  /** Where the last valid record ends: what follows is a torn record, to be cut away. */
  readonly validEnd: number;
  readonly damage: StoreDamage;
}

/** What a store file holds, read at open: the damage is undefined when there was none. */
export interface StoreContents extends Omit<Replayed, 'damage'> {
  readonly damage: StoreDamage | undefined;
}

/**
 * The contents of the store file `file` read whole into `bytes`, or 'empty' for a new file (or one
 * whose creation was cut short), which holds nothing yet. Throws a StoreError for a file that is
 * not a store (`store-corrupt`) or of another format version (`store-version`).
 */
export function readStoreFile(bytes: Buffer, file: string): StoreContents | 'empty' {
  const header = readHeader(bytes, bytes.length);
  if (header === 'short') return 'empty';
  if (header === 'not-a-store') {
    throw new StoreError('store-corrupt', `${file} is not an aliot-mqtt store (its header does not check); move it away and the store starts empty, or point the store at another directory`, { path: file });
  }
  if (header !== 'damaged' && header.version !== VERSION) {
    throw new StoreError('store-version', `${file} is in store format ${header.version}, written by another version of aliot-mqtt; this one reads format ${VERSION}. Use that version, or move the file away (its messages are then not sent)`, { path: file });
  }
  const found = replay(bytes, bytes.length, header === 'damaged' ? 1 : header.nextKey);
  const { regions, bytes: skipped, strayRecords } = found.damage;
  if (header !== 'damaged' && regions === 0 && strayRecords === 0) return { ...found, damage: undefined };
  // A damaged header counts as one more damaged region (its next key is then taken from the records).
  return { ...found, damage: header === 'damaged' ? { regions: regions + 1, bytes: skipped + HEADER_SIZE, strayRecords } : found.damage };
}

/** Replays the records of `bytes[HEADER_SIZE..end)` on top of a header that gave `headerNextKey`. */
export function replay(bytes: Buffer, end: number, headerNextKey: number): Replayed {
  const entries = new Map<number, LiveEntry>();
  let lastKey = 0;
  let addBytes = 0;
  let sentBytes = 0;
  let regions = 0;
  let skipped = 0;
  let strayRecords = 0;
  let at = HEADER_SIZE;
  while (at < end) {
    const record = readRecord(bytes, at, end);
    if (record === undefined) {
      const next = findNextRecord(bytes, at + 1, end);
      // Nothing valid after it: a write cut short by the crash, not damage.
      if (next === -1) break;
      regions += 1;
      skipped += next - at;
      at = next;
      continue;
    }
    at += record.size;
    if (record.type === 'add') {
      // Keys only grow: one that does not is a record that belongs elsewhere (read from inside a
      // damaged region's payload, say), not a message.
      if (record.key <= lastKey) {
        strayRecords += 1;
        continue;
      }
      lastKey = record.key;
      // A copy, so that the file's bytes are not kept alive by one small payload.
      const payload = new Uint8Array(record.payload);
      entries.set(record.key, { key: record.key, topic: record.topic, payload, retain: record.retain, packetId: record.packetId, size: record.size, sentBytes: 0 });
      addBytes += record.size;
      continue;
    }
    const entry = entries.get(record.key);
    if (entry === undefined) {
      strayRecords += 1;
    } else if (record.type === 'sent') {
      entry.packetId = record.packetId;
      entry.sentBytes += record.size;
      sentBytes += record.size;
    } else {
      entries.delete(record.key);
      addBytes -= entry.size;
      sentBytes -= entry.sentBytes;
    }
  }
  return {
    entries,
    nextKey: Math.max(headerNextKey, lastKey + 1),
    addBytes,
    liveBytes: addBytes + sentBytes,
    validEnd: Math.min(at, end),
    damage: { regions, bytes: skipped, strayRecords },
  };
}
