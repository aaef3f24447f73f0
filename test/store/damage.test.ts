/**
 * What a crash or a failing disk leaves behind: a file cut at any byte (a torn last record), a
 * changed byte in a record in the middle, garbage between records, zeros at the end, a damaged
 * header, a file that is not a store at all. The store keeps every complete record before a cut,
 * skips damage in the middle and reports it, and never returns anything it did not store.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { fileStore, StoreError } from '../../src/store/index.js';
import type { StoredEntry } from '../../src/store/types.js';
import { message, openStore, plain, storeFile, tempDir, tick } from './support.js';

type Op = { op: 'add'; n: number } | { op: 'sent'; of: number; packetId: number } | { op: 'ack'; of: number };

/** The operations behind the file: `of` is the index of the add it refers to. */
const OPS: Op[] = [
  { op: 'add', n: 1 },
  { op: 'add', n: 2 },
  { op: 'sent', of: 0, packetId: 1 },
  { op: 'add', n: 3 },
  { op: 'ack', of: 0 },
  { op: 'sent', of: 1, packetId: 2 },
  { op: 'add', n: 4 },
  { op: 'sent', of: 3, packetId: 3 },
  { op: 'add', n: 5 },
  { op: 'ack', of: 3 },
  { op: 'sent', of: 2, packetId: 4 },
  { op: 'add', n: 6 },
];

/** The live entries after the operations `ops[i]` for which `keep(i)` holds, keys as the store gave them. */
function model(keys: readonly number[], keep: (i: number) => boolean): StoredEntry[] {
  const live = new Map<number, StoredEntry>();
  const addIndex = OPS.flatMap((op, i) => (op.op === 'add' ? [i] : []));
  OPS.forEach((op, i) => {
    if (!keep(i)) return;
    if (op.op === 'add') {
      const key = keys[addIndex.indexOf(i)]!;
      live.set(key, { key, ...message(op.n) });
      return;
    }
    const key = keys[op.of]!;
    const entry = live.get(key);
    if (entry === undefined) return;
    if (op.op === 'sent') live.set(key, { ...entry, packetId: op.packetId });
    else live.delete(key);
  });
  return [...live.values()];
}

/** Runs OPS, one per tick, and returns the file, the end of each record in it, and the keys. */
async function build(): Promise<{ bytes: Buffer; ends: number[]; keys: number[]; name: string }> {
  const dir = tempDir();
  const { store } = openStore(dir);
  const keys: number[] = [];
  const ends: number[] = [];
  for (const op of OPS) {
    if (op.op === 'add') keys.push(store.add(message(op.n)));
    else if (op.op === 'sent') store.sent(keys[op.of]!, op.packetId);
    else store.acknowledged(keys[op.of]!);
    await tick();
    ends.push(store.stats().fileBytes);
  }
  await store.close();
  const file = storeFile(dir);
  return { bytes: readFileSync(file), ends, keys, name: basename(file) };
}

/** A directory holding `bytes` as the store file. */
function withFile(name: string, bytes: Uint8Array): { dir: string; file: string } {
  const dir = tempDir();
  writeFileSync(join(dir, name), bytes);
  return { dir, file: join(dir, name) };
}

describe('a torn last record', () => {
  it('cut at every byte: every complete record before the cut survives, nothing else comes back, the rest is cut away', async () => {
    const { bytes, ends, keys, name } = await build();
    expect(ends[ends.length - 1]).toBe(bytes.length);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { dir, file } = withFile(name, bytes.subarray(0, cut));
      const complete = ends.filter((end) => end <= cut).length;
      const opened = openStore(dir);
      expect(plain(opened.entries), `cut at ${cut}`).toEqual(plain(model(keys, (i) => i < complete)));
      expect(opened.damaged).toEqual([]);
      const validEnd = cut < 24 ? 24 : (ends[complete - 1] ?? 24);
      expect(opened.store.stats().tornBytes).toBe(cut < 24 ? 0 : cut - validEnd);
      expect(statSync(file).size).toBe(validEnd);
      // The store carries on after the cut, and the next start sees no damage.
      const key = opened.store.add(message(99));
      await opened.store.close();
      const again = openStore(dir);
      expect(again.entries[again.entries.length - 1]?.key).toBe(key);
      expect(again.store.stats().tornBytes).toBe(0);
      await again.store.close();
    }
  });

  it('zeros after the last record (a file extended but not written before a power cut) are cut away', async () => {
    const { bytes, keys, name } = await build();
    const { dir, file } = withFile(name, Buffer.concat([bytes, Buffer.alloc(4096)]));
    const opened = openStore(dir);
    expect(plain(opened.entries)).toEqual(plain(model(keys, () => true)));
    expect(opened.store.stats().tornBytes).toBe(4096);
    expect(opened.damaged).toEqual([]);
    expect(statSync(file).size).toBe(bytes.length);
    await opened.store.close();
  });
});

describe('damage in the middle', () => {
  it('a changed byte anywhere in a middle record: that record is skipped and reported, every other one kept, the file rewritten clean', async () => {
    const { bytes, ends, keys, name } = await build();
    // The add of message 3, the acknowledged of message 1, and the sent of message 2.
    for (const index of [3, 4, 5]) {
      const start = ends[index - 1]!;
      for (let at = start; at < ends[index]!; at++) {
        const changed = Buffer.from(bytes);
        changed[at]! ^= 0x5a;
        const { dir } = withFile(name, changed);
        const opened = openStore(dir);
        const where = `record ${index}, byte ${at - start}`;
        expect(plain(opened.entries), where).toEqual(plain(model(keys, (i) => i !== index)));
        expect(opened.damaged, where).toHaveLength(1);
        const error = opened.damaged[0] as StoreError;
        expect(error.code).toBe('store-corrupt');
        expect(error.damage?.regions).toBe(1);
        expect(error.damage?.bytes).toBe(ends[index]! - start);
        // Without its add, message 3's later sent record belongs to nothing.
        expect(error.damage?.strayRecords).toBe(index === 3 ? 1 : 0);
        expect(opened.store.stats().damage).toEqual(error.damage);
        await opened.store.close();
        const again = openStore(dir);
        expect(again.damaged).toEqual([]);
        expect(plain(again.entries)).toEqual(plain(opened.entries));
        await again.store.close();
      }
    }
  });

  it('garbage between records, even holding false markers, is skipped and reported', async () => {
    const { bytes, ends, keys, name } = await build();
    const garbage = Buffer.from([0xfe, 0xa1, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 3, 0xfe, 0xa1, 1, 2, 3]);
    const { dir } = withFile(name, Buffer.concat([bytes.subarray(0, ends[5]), garbage, bytes.subarray(ends[5])]));
    const opened = openStore(dir);
    expect(plain(opened.entries)).toEqual(plain(model(keys, () => true)));
    expect((opened.damaged[0] as StoreError).damage).toEqual({ regions: 1, bytes: garbage.length, strayRecords: 0 });
    await opened.store.close();
  });

  it('a damaged header: the records are still read, the damage reported, the header rewritten', async () => {
    const { bytes, keys, name } = await build();
    for (const at of [0, 9, 15, 21]) {
      const changed = Buffer.from(bytes);
      changed[at]! ^= 0x10;
      const { dir } = withFile(name, changed);
      const opened = openStore(dir);
      expect(plain(opened.entries), `header byte ${at}`).toEqual(plain(model(keys, () => true)));
      expect((opened.damaged[0] as StoreError).damage).toMatchObject({ regions: 1, bytes: 24 });
      const key = opened.store.add(message(7));
      expect(key).toBeGreaterThan(keys[keys.length - 1]!);
      await opened.store.close();
      expect(openStore(dir).damaged).toEqual([]);
    }
  });

  it('without a damaged hook the report goes to process.emitWarning', async () => {
    const { bytes, ends, name } = await build();
    const changed = Buffer.from(bytes);
    changed[ends[3]! + 4]! ^= 1;
    const { dir } = withFile(name, changed);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const store = fileStore(dir);
      store.open('device-1', { writeFailed: () => {} });
      expect(warn).toHaveBeenCalledWith(expect.objectContaining({ name: 'StoreError', code: 'store-corrupt' }));
      await store.close();
    } finally {
      warn.mockRestore();
    }
  });
});

describe('files that are not stores', () => {
  it('a file that is not a store: store-corrupt, it is left as it was, and the lock is released', async () => {
    const { name } = await build();
    const { dir, file } = withFile(name, Buffer.from('{"this is": "somebody else\'s file"}\n'));
    const store = fileStore(dir);
    expect(() => store.open('device-1', { writeFailed: () => {} })).toThrow(expect.objectContaining({ code: 'store-corrupt', path: file }));
    expect(readFileSync(file, 'utf8')).toContain('somebody else');
    writeFileSync(file, '');
    expect(store.open('device-1', { writeFailed: () => {} })).toEqual([]);
    await store.close();
  });

  it('a store of a later format version: store-version', async () => {
    const { bytes, name } = await build();
    const later = Buffer.from(bytes);
    later.writeUInt16BE(2, 8);
    const { crc32 } = await import('node:zlib');
    later.writeUInt32BE(crc32(later.subarray(0, 20)), 20);
    const { dir } = withFile(name, later);
    expect(() => openStore(dir)).toThrow(expect.objectContaining({ code: 'store-version' }));
  });

  it('a directory where the store file should be: a StoreError, not a crash', async () => {
    const { name } = await build();
    const dir = tempDir();
    mkdirSync(join(dir, name));
    expect(() => openStore(dir)).toThrow(StoreError);
  });
});
