/**
 * A tick's batch whose write failed, read back: which messages it was adding, and what of it stays
 * for the next write. The store (`file-store.ts`) decides what becomes of those messages; these
 * only find them in the batch's bytes and trim it. Every record of a batch is whole and valid,
 * since the store encoded it.
 */
import { readRecord, type RecordWriter } from './format.js';

/** The keys of the `add` records in `batch`, in order. */
export function addedKeys(batch: RecordWriter): number[] {
  const { bytes, length } = batch;
  const keys: number[] = [];
  for (let at = 0; at < length; ) {
    const record = readRecord(bytes, at, length)!;
    if (record.type === 'add') keys.push(record.key);
    at += record.size;
  }
  return keys;
}

/**
 * Takes the `add` records out of `batch`, with every other record of their messages; what stays
 * (`sent` and `acknowledged` records of messages written before) goes out with the next write.
 * Returns the keys of the messages whose `add` it held.
 */
export function takeAdds(batch: RecordWriter): number[] {
  const taken = addedKeys(batch);
  const dropped = new Set(taken);
  const { bytes, length } = batch;
  let kept = 0;
  for (let at = 0; at < length; ) {
    const record = readRecord(bytes, at, length)!;
    if (record.type !== 'add' && !dropped.has(record.key)) {
      bytes.copy(bytes, kept, at, at + record.size);
      kept += record.size;
    }
    at += record.size;
  }
  batch.truncate(kept);
  return taken;
}
