/**
 * What goes in comes back: add, sent and acknowledged, then a new store object on the same
 * directory returns exactly the live messages, in order, with their packet ids; and the same
 * against a model over random sequences of operations, reopenings and compactions.
 */
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { fileStore, StoreError } from '../../src/store/index.js';
import type { StoredEntry } from '../../src/store/types.js';
import { message, openStore, plain, spawnChild, storeFile, tempDir, tick } from './support.js';

// The store reaches node:fs through require (src/shared/builtins.ts): the same object as here.
const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');

describe('round trips', () => {
  it('a new store object on the directory returns the unacknowledged messages in order, with the packet ids they went out with', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const keys = [1, 2, 3, 4, 5].map((n) => store.add(message(n)));
    await tick();
    store.sent(keys[0]!, 10);
    store.sent(keys[1]!, 11);
    store.sent(keys[2]!, 12);
    store.acknowledged(keys[1]!);
    await tick();
    store.acknowledged(keys[3]!); // acknowledged without a sent record: the store does not insist
    await store.close();

    const again = openStore(dir);
    expect(plain(again.entries)).toEqual(
      plain([
        { key: keys[0]!, ...message(1, 10) },
        { key: keys[2]!, ...message(3, 12) },
        { key: keys[4]!, ...message(5) },
      ]),
    );
    expect(again.damaged).toEqual([]);
    await again.store.close();
  });

  it('keys grow across reopenings and compactions, even when everything was acknowledged', async () => {
    const dir = tempDir();
    const first = openStore(dir);
    const a = first.store.add(message(1));
    const b = first.store.add(message(2));
    expect(b).toBeGreaterThan(a);
    first.store.acknowledged(a);
    first.store.acknowledged(b);
    first.store.compact();
    await first.store.close();
    const second = openStore(dir);
    expect(second.entries).toEqual([]);
    expect(second.store.add(message(3))).toBeGreaterThan(b);
    await second.store.close();
  });

  it('keeps topics and payloads exactly: empty, binary, multi-byte UTF-8, 64 KiB', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const messages = [
      { topic: 'a', payload: new Uint8Array(0), retain: false, packetId: undefined },
      { topic: '设备/温度/°C', payload: Uint8Array.from([0, 0xfe, 0xa1, 0xff, 0x0a]), retain: true, packetId: 65535 },
      { topic: 'big', payload: new Uint8Array(65536).map((_, i) => (i * 31) & 0xff), retain: false, packetId: 1 },
    ];
    const keys = messages.map((m) => store.add(m));
    await store.close();
    const again = openStore(dir);
    expect(plain(again.entries)).toEqual(plain(messages.map((m, i) => ({ key: keys[i]!, ...m }))));
    await again.store.close();
  });

  it('returns payloads that are copies, not views of the bytes it read', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    store.add(message(1));
    await store.close();
    const again = openStore(dir);
    const payload = again.entries[0]!.payload;
    expect(payload.byteOffset).toBe(0);
    expect(payload.buffer.byteLength).toBe(payload.length);
    await again.store.close();
  });

  it('writes once per tick, from process.nextTick: before the next macrotask, not while the tick runs', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const file = storeFile(dir);
    const empty = statSync(file).size;
    const writes = vi.spyOn(fs, 'writeSync');
    try {
      for (let n = 0; n < 100; n++) store.add(message(n));
      expect(statSync(file).size).toBe(empty);
      expect(writes).not.toHaveBeenCalled();
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          // The next macrotask: the whole tick is in the file, in one write.
          expect(writes).toHaveBeenCalledTimes(1);
          expect(statSync(file).size).toBe(store.stats().fileBytes);
          resolve();
        }),
      );
    } finally {
      writes.mockRestore();
    }
    await store.close();
  });

  it('adds made in promise continuations of the same macrotask go out in the same write', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const writes = vi.spyOn(fs, 'writeSync');
    try {
      await new Promise<void>((resolve) => {
        setImmediate(async () => {
          store.add(message(1));
          await Promise.resolve();
          store.add(message(2));
          await null;
          store.add(message(3));
          resolve();
        });
      });
      await tick();
      expect(writes).toHaveBeenCalledTimes(1);
    } finally {
      writes.mockRestore();
    }
    await store.close();
  });

  it('a process that exits in the same tick as its add still stores it (the exit handler writes)', async () => {
    const dir = tempDir();
    const child = spawnChild(['exit-now', dir, 'device-1']);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    const { store, entries } = openStore(dir);
    expect(entries.map((e) => e.topic)).toEqual(['exit/1', 'exit/2']);
    await store.close();
  });

  it('fsync: never syncs for "never", once per tick for "tick", once per add for "message"', async () => {
    const counts: Record<string, number> = {};
    for (const mode of ['never', 'tick', 'message'] as const) {
      const dir = tempDir();
      const { store } = openStore(dir, { fsync: mode });
      const syncs = vi.spyOn(fs, 'fdatasyncSync');
      try {
        for (let n = 0; n < 10; n++) store.add(message(n));
        await tick();
        for (let n = 0; n < 10; n++) store.add(message(n));
        await tick();
        counts[mode] = syncs.mock.calls.length;
      } finally {
        syncs.mockRestore();
      }
      await store.close();
    }
    expect(counts).toEqual({ never: 0, tick: 2, message: 20 });
  });

  it('ignores sent and acknowledged for keys it does not hold, and after close', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const key = store.add(message(1));
    store.sent(999, 5);
    store.acknowledged(999);
    await store.close();
    store.sent(key, 5);
    store.acknowledged(key);
    const again = openStore(dir);
    expect(plain(again.entries)).toEqual(plain([{ key, ...message(1) }]));
    await again.store.close();
  });

  it('refuses add before open and after close (store-closed), and a second open of one object (store-locked); can be opened again after close', async () => {
    const dir = tempDir();
    const store = fileStore(dir);
    expect(() => store.add(message(1))).toThrow(expect.objectContaining({ code: 'store-closed' }));
    const hooks = { writeFailed: () => {} };
    store.open('device-1', hooks);
    expect(() => store.open('device-1', hooks)).toThrow(expect.objectContaining({ code: 'store-locked' }));
    store.add(message(1));
    await store.close();
    expect(() => store.add(message(2))).toThrow(StoreError);
    expect(store.open('device-1', hooks)).toHaveLength(1);
    await store.close();
    await store.close(); // twice is harmless
  });

  it('refuses a packet id outside 1..65535 and a topic over 65535 bytes', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    expect(() => store.add({ ...message(1), packetId: 0 })).toThrow(RangeError);
    expect(() => store.add({ ...message(1), topic: 'x'.repeat(65536) })).toThrow(RangeError);
    const key = store.add(message(1));
    expect(() => store.sent(key, 65536)).toThrow(RangeError);
    await store.close();
  });

  it('keeps each client id in its own files, so that clients can share a directory', async () => {
    const dir = tempDir();
    const a = openStore(dir, {}, 'gateway|securemode=2,signmethod=hmacsha256|');
    const b = openStore(dir, {}, 'gateway/securemode=2,signmethod=hmacsha256/');
    a.store.add(message(1));
    b.store.add(message(2));
    b.store.add(message(3));
    expect(a.store.stats().file).not.toBe(b.store.stats().file);
    expect(a.store.stats().file).toMatch(/\/gateway_securemode_2_signmethod_hmacsha2-[0-9a-f]{16}\.outbox$/);
    await a.store.close();
    await b.store.close();
    expect(openStore(dir, {}, 'gateway|securemode=2,signmethod=hmacsha256|').entries).toHaveLength(1);
  });

  it('keeps a client id that is a path (../x) inside the directory', async () => {
    const dir = tempDir();
    const { store } = openStore(dir, {}, '../../etc/passwd');
    expect(store.stats().file!.startsWith(`${dir}/`)).toBe(true);
    expect(store.stats().file!.slice(dir.length + 1)).not.toContain('/');
    await store.close();
  });
});

type Op =
  | { op: 'add'; n: number }
  | { op: 'sent'; pick: number; packetId: number }
  | { op: 'ack'; pick: number }
  | { op: 'tick' }
  | { op: 'reopen' }
  | { op: 'compact' };

const ops = fc.array(
  fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('add' as const), n: fc.nat(1000) }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant('sent' as const), pick: fc.nat(), packetId: fc.integer({ min: 1, max: 65535 }) }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('ack' as const), pick: fc.nat() }), weight: 4 },
    { arbitrary: fc.constant({ op: 'tick' as const }), weight: 2 },
    { arbitrary: fc.constant({ op: 'reopen' as const }), weight: 1 },
    { arbitrary: fc.constant({ op: 'compact' as const }), weight: 1 },
  ),
  { maxLength: 80 },
);

describe('against a model', () => {
  it('after any sequence of operations, reopenings and compactions, holds exactly the messages the model holds', async () => {
    await fc.assert(
      fc.asyncProperty(ops, fc.constantFrom<'never' | 'tick'>('never', 'tick'), async (sequence: Op[], fsync) => {
        const dir = tempDir();
        let opened = openStore(dir, { fsync });
        const model: StoredEntry[] = [];
        const check = (entries: readonly StoredEntry[]) => expect(plain(entries)).toEqual(plain(model));
        for (const step of sequence) {
          if (step.op === 'add') {
            const key = opened.store.add(message(step.n));
            if (model.length > 0) expect(key).toBeGreaterThan(model[model.length - 1]!.key);
            model.push({ key, ...message(step.n) });
          } else if (step.op === 'sent' && model.length > 0) {
            const i = step.pick % model.length;
            opened.store.sent(model[i]!.key, step.packetId);
            model[i] = { ...model[i]!, packetId: step.packetId };
          } else if (step.op === 'ack' && model.length > 0) {
            opened.store.acknowledged(model.splice(step.pick % model.length, 1)[0]!.key);
          } else if (step.op === 'tick') {
            await tick();
          } else if (step.op === 'compact') {
            opened.store.compact();
          } else if (step.op === 'reopen') {
            await opened.store.close();
            opened = openStore(dir, { fsync });
            check(opened.entries);
          }
          expect(opened.store.stats().messages).toBe(model.length);
        }
        await opened.store.close();
        const last = openStore(dir, { fsync });
        check(last.entries);
        expect(last.damaged).toEqual([]);
        expect(last.store.stats().tornBytes).toBe(0);
        await last.store.close();
        expect(readFileSync(storeFile(dir)).length).toBeGreaterThanOrEqual(24);
      }),
      { numRuns: 60 },
    );
  });
});
