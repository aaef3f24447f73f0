/**
 * No room: the `maxBytes` cap, a real kernel refusal (a file size limit, EFBIG, which needs no
 * privileges; a full tmpfs, ENOSPC, where this process may mount one), and other I/O errors. What
 * was stored before is never lost; an add that cannot be stored is refused (thrown at once when
 * the store knows, else reported through writeFailed); the store recovers when there is room.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { StoreError } from '../../src/store/index.js';
import { message, mountTmpfs, openStore, spawnChild, storeFile, tempDir, tick } from './support.js';

const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const sized = (n: number, bytes: number) => ({ topic: `full/${n}`, payload: Buffer.alloc(bytes, n & 0xff), retain: false, packetId: undefined });

describe('maxBytes', () => {
  it('refuses, at once and storing nothing, an add that would pass the cap; keeps everything stored before', async () => {
    const dir = tempDir();
    const { store } = openStore(dir, { maxBytes: 4096 });
    const keys: number[] = [];
    let refused: unknown;
    for (let n = 0; n < 100 && refused === undefined; n++) {
      try {
        keys.push(store.add(sized(n, 500)));
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused).toMatchObject({ code: 'store-full', message: expect.stringContaining('maxBytes (4096)') });
    expect(keys).toHaveLength(7); // 24 + 7 x 524 = 3692; an eighth would make 4216
    await tick();
    expect(statSync(storeFile(dir)).size).toBeLessThanOrEqual(4096);
    await store.close();
    const again = openStore(dir, { maxBytes: 4096 });
    expect(again.entries.map((e) => e.key)).toEqual(keys);
    await again.store.close();
  });

  it('makes room by compacting once messages are acknowledged, and the file stays under the cap through sent and acknowledged records', async () => {
    const dir = tempDir();
    const { store } = openStore(dir, { maxBytes: 8192 });
    const live: number[] = [];
    let packetId = 1;
    for (let round = 0; round < 200; round++) {
      for (;;) {
        try {
          live.push(store.add(sized(round, 300)));
        } catch (error) {
          expect(error).toMatchObject({ code: 'store-full' });
          break;
        }
      }
      for (const key of live) store.sent(key, packetId++);
      store.acknowledged(live.shift()!);
      store.acknowledged(live.shift()!);
      await tick();
      expect(store.stats().fileBytes).toBeLessThanOrEqual(8192);
      expect(statSync(storeFile(dir)).size).toBeLessThanOrEqual(8192);
    }
    expect(store.stats().compactions).toBeGreaterThan(100);
    await store.close();
    expect(openStore(dir).entries.map((e) => e.key)).toEqual(live);
  });

  it('a message larger than the cap is refused with a message that says so', async () => {
    const dir = tempDir();
    const { store } = openStore(dir, { maxBytes: 2048 });
    expect(() => store.add(sized(1, 4000))).toThrow(expect.objectContaining({ code: 'store-full', message: expect.stringContaining('a message of 4030 bytes') }));
    expect(store.stats().messages).toBe(0);
    await store.close();
  });
});

describe('a file size limit (ulimit -f: the kernel refuses writes with EFBIG)', () => {
  it('messages whose batch failed are reported lost, a later add is refused with store-full, and after acknowledgements a compaction makes room again; nothing stored is lost', async () => {
    const dir = tempDir();
    // dash and bash count ulimit -f in different units (512 or 1024 bytes): 64 is 32 or 64 KiB.
    const child = spawnChild(['fill', dir, 'device-1'], 'ulimit -f 64;');
    const { code } = await child.exited;
    const lines = child.lines;
    expect(code, lines.slice(-5).join('\n')).toBe(0);
    const ids = (word: string) => lines.filter((l) => l.startsWith(`${word} `)).map((l) => Number(l.split(' ')[1]));
    expect(ids('lost').length).toBeGreaterThan(0);
    expect(lines.some((l) => /^refused \d+ store-full$/.test(l))).toBe(true);
    expect(lines).not.toContain('never refused');
    const acked = new Set(ids('acked'));
    expect(acked.size).toBeGreaterThan(0);
    const stored = ids('added').filter((id) => !acked.has(id));
    // Added after the acknowledgements: the compaction made room.
    const lastAck = lines.length - 1 - [...lines].reverse().findIndex((l) => l.startsWith('acked '));
    expect(lines.slice(lastAck).filter((l) => l.startsWith('added '))).toHaveLength(4);
    const { store, entries } = openStore(dir);
    expect(entries.map((e) => e.topic)).toEqual(stored.map((id) => `fill/${id}`));
    expect(entries.every((e) => e.payload.length === 1024 && e.payload.every((b) => b === (Number(e.topic.slice(5)) & 0xff)))).toBe(true);
    await store.close();
  });
});

const tmpfs = mountTmpfs('512k');

describe.runIf(tmpfs !== undefined)('a full disk (a 512 KiB tmpfs: ENOSPC)', () => {
  const dir = tmpfs!;
  afterAll(() => {
    execFileSync('umount', ['-l', dir]); // lazily: a store a failed test left open must not keep it mounted
    rmSync(dir, { recursive: true });
  });

  it('reports the lost batch, refuses the next add at once, keeps what was stored, and recovers when space is freed', async () => {
    const { store, failed } = openStore(dir);
    const stored = [0, 1, 2, 3, 4].map((n) => store.add(sized(n, 5000)));
    await tick();
    const filler = join(dir, 'filler');
    const fd = fs.openSync(filler, 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    fs.closeSync(fd);

    const lost = [5, 6].map((n) => store.add(sized(n, 5000)));
    store.sent(stored[0]!, 1);
    await tick();
    expect(failed).toEqual([{ keys: lost, code: 'store-full' }]);
    expect(store.stats().failure?.code).toBe('store-full');
    expect(() => store.add(sized(7, 5000))).toThrow(expect.objectContaining({ code: 'store-full', message: expect.stringContaining('ENOSPC') }));
    expect(store.stats().messages).toBe(5);

    rmSync(filler);
    const later = store.add(sized(8, 5000));
    expect(store.stats().failure).toBeUndefined();
    await store.close();
    const again = openStore(dir);
    expect(again.entries.map((e) => [e.key, e.packetId])).toEqual([...stored.map((key, i) => [key, i === 0 ? 1 : undefined]), [later, undefined]]);
    await again.store.close();
  });

  it('a disk the store filled itself: once everything is acknowledged (acknowledgements that cannot be written either), the file is cut back in place and new messages are stored again', async () => {
    const { store, failed } = openStore(dir, {}, 'self-filled');
    const stored: number[] = [];
    // Fill the disk with stored messages until a tick's write fails, then fill what is left.
    for (let n = 0; failed.length === 0 && n < 1000; n++) {
      const batch = [0, 1, 2, 3].map((i) => store.add(sized(4 * n + i, 3000)));
      await tick();
      if (failed.length === 0) stored.push(...batch);
    }
    expect(failed).toHaveLength(1);
    const filler = join(dir, 'filler-2');
    const fd = fs.openSync(filler, 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(512));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    fs.closeSync(fd);
    expect(() => store.add(sized(9999, 3000))).toThrow(expect.objectContaining({ code: 'store-full' }));

    // Every stored message is acknowledged in one tick, with two new ones: nothing in the file
    // matters any more, and no new file (a compaction) fits.
    for (const key of stored) store.acknowledged(key);
    const fresh = [store.add(sized(10_001, 100)), store.add(sized(10_002, 100))];
    await tick();
    expect(failed).toHaveLength(1);
    expect(store.stats()).toMatchObject({ failure: undefined, messages: 2, compactions: 0 });
    const later = store.add(sized(10_003, 100));
    await tick();
    await store.close();
    const again = openStore(dir, {}, 'self-filled');
    expect(again.entries.map((e) => e.key)).toEqual([...fresh, later]);
    expect(again.damaged).toEqual([]);
    await again.store.close();
    rmSync(filler);
  });
});

describe('other I/O errors (injected: EIO from write and from fdatasync)', () => {
  it('a failed write reports its adds with store-io, keeps the sent and acknowledged records for the next write, and the file stays valid', async () => {
    const dir = tempDir();
    const { store, failed } = openStore(dir);
    const first = [1, 2, 3].map((n) => store.add(message(n)));
    await tick();
    const eio = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    const write = vi.spyOn(fs, 'writeSync').mockImplementation(() => {
      throw eio;
    });
    let lost: number[];
    try {
      store.sent(first[0]!, 9);
      store.acknowledged(first[1]!);
      lost = [4, 5].map((n) => store.add(message(n)));
      await tick();
      expect(failed).toEqual([{ keys: lost, code: 'store-io' }]);
      expect(() => store.add(message(6))).toThrow(expect.objectContaining({ code: 'store-io', cause: eio }));
    } finally {
      write.mockRestore();
    }
    const next = store.add(message(7));
    await store.close();
    const again = openStore(dir);
    expect(again.entries.map((e) => [e.key, e.packetId])).toEqual([
      [first[0], 9],
      [first[2], undefined],
      [next, undefined],
    ]);
    expect(again.damaged).toEqual([]);
    await again.store.close();
  });

  it('a failed fdatasync ("tick") counts as a failed write: the batch is cut back off the file and reported', async () => {
    const sub = tempDir();
    const { store, failed } = openStore(sub, { fsync: 'tick' });
    store.add(message(1));
    await tick();
    const size = statSync(storeFile(sub)).size;
    const sync = vi.spyOn(fs, 'fdatasyncSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    });
    const key = store.add(message(2));
    await tick();
    sync.mockRestore();
    expect(failed).toEqual([{ keys: [key], code: 'store-io' }]);
    expect(statSync(storeFile(sub)).size).toBe(size);
    await store.close();
  });

  it('with fsync "message" a failed write throws from add itself', async () => {
    const sub = tempDir();
    const { store, failed } = openStore(sub, { fsync: 'message' });
    const write = vi.spyOn(fs, 'writeSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    expect(() => store.add(message(1))).toThrow(expect.objectContaining({ code: 'store-full' }));
    write.mockRestore();
    expect(failed).toEqual([]);
    expect(store.stats().messages).toBe(0);
    store.add(message(2));
    await store.close();
    expect(openStore(sub).entries.map((e) => e.topic)).toEqual(['t/2']);
  });
});
