/**
 * Compaction: the file stays bounded however many messages pass through, keys, order and packet
 * ids survive it, and a crash at any point of it leaves a valid store (the old file or the new).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMPACT_AFTER } from '../../src/store/compaction.js';
import { HEADER_SIZE } from '../../src/store/format.js';
import type { StoredEntry } from '../../src/store/types.js';
import { openStore, plain, prng, spawnChild, storeFile, tempDir, tick } from './support.js';

const payload100 = (n: number): Buffer => Buffer.alloc(100, n & 0xff);

describe('compaction', () => {
  it('under load (60,000 messages, 200 in flight, sent and acknowledged as a client would) keeps the file bounded and the live messages intact', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const live: StoredEntry[] = [];
    let sent = 0;
    let largest = 0;
    for (let n = 0; n < 60_000; ) {
      for (let i = 0; i < 50; i++, n++) {
        const message = { topic: `load/${n % 10}`, payload: payload100(n), retain: false, packetId: undefined };
        live.push({ key: store.add(message), ...message });
      }
      for (; sent < live.length; sent++) {
        const packetId = (live[sent]!.key % 65535) + 1;
        store.sent(live[sent]!.key, packetId);
        live[sent] = { ...live[sent]!, packetId };
      }
      while (live.length > 200) {
        store.acknowledged(live.shift()!.key);
        sent--;
      }
      await tick();
      const { fileBytes, liveBytes } = store.stats();
      expect(fileBytes).toBe(statSync(storeFile(dir)).size);
      // Dead records never outweigh max(COMPACT_AFTER, the live ones) by more than one tick's worth.
      expect(fileBytes - HEADER_SIZE - liveBytes).toBeLessThanOrEqual(Math.max(COMPACT_AFTER, liveBytes) + 50 * 200);
      largest = Math.max(largest, fileBytes);
    }
    // 170 bytes of records per message (add 130, sent 21, acknowledged 19): 10 MB went through
    // a file that stayed near 1 MiB.
    expect(store.stats().compactions).toBeGreaterThanOrEqual(9);
    expect(largest).toBeLessThan(COMPACT_AFTER + 100 * 1024);
    await store.close();
    const again = openStore(dir);
    expect(plain(again.entries)).toEqual(plain(live));
    await again.store.close();
  });

  it('keeps unsent messages, packet ids and the next key through a compaction and a reopening', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const keys = [0, 1, 2, 3].map((n) => store.add({ topic: `k/${n}`, payload: payload100(n), retain: n === 1, packetId: undefined }));
    store.sent(keys[1]!, 77);
    store.sent(keys[2]!, 78);
    store.acknowledged(keys[0]!);
    store.compact();
    expect(store.stats()).toMatchObject({ compactions: 1, messages: 3 });
    expect(store.stats().fileBytes).toBe(HEADER_SIZE + store.stats().liveBytes);
    await store.close();
    const again = openStore(dir);
    expect(again.entries.map((e) => [e.key, e.topic, e.retain, e.packetId])).toEqual([
      [keys[1], 'k/1', true, 77],
      [keys[2], 'k/2', false, 78],
      [keys[3], 'k/3', false, undefined],
    ]);
    expect(again.store.add({ topic: 'next', payload: payload100(9), retain: false, packetId: undefined })).toBe(keys[3]! + 1);
    await again.store.close();
  });

  it('a temporary file left by a compaction that never reached its rename is ignored and removed', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const key = store.add({ topic: 'kept', payload: payload100(1), retain: false, packetId: undefined });
    await store.close();
    const file = storeFile(dir);
    // A half-written temporary file, and then one that is a complete store of other messages.
    for (const leftover of [readFileSync(file).subarray(0, 30), Buffer.concat([readFileSync(file), readFileSync(file).subarray(24)])]) {
      writeFileSync(`${file}.tmp`, leftover);
      const again = openStore(dir);
      expect(again.entries.map((e) => [e.key, e.topic])).toEqual([[key, 'kept']]);
      expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      await again.store.close();
    }
  });

  it('a compaction that cannot write its new file throws, and the store carries on with the old one', async () => {
    const dir = tempDir();
    const { store } = openStore(dir);
    const keys = [1, 2, 3].map((n) => store.add({ topic: `c/${n}`, payload: payload100(n), retain: false, packetId: undefined }));
    store.acknowledged(keys[0]!);
    await tick();
    // A directory where the temporary file goes: opening it for writing fails (EISDIR).
    mkdirSync(`${storeFile(dir)}.tmp`);
    const before = readFileSync(storeFile(dir));
    expect(() => store.compact()).toThrow(expect.objectContaining({ name: 'StoreError', code: 'store-io' }));
    expect(readFileSync(storeFile(dir))).toEqual(before);
    const key = store.add({ topic: 'c/4', payload: payload100(4), retain: false, packetId: undefined });
    await store.close();
    rmSync(`${storeFile(dir)}.tmp`, { recursive: true });
    const again = openStore(dir);
    expect(again.entries.map((e) => e.key)).toEqual([keys[1], keys[2], key]);
    await again.store.close();
  });

  it('a process killed at random moments while it compacts leaves the store whole every time (10 kills, seeded)', async () => {
    const dir = tempDir();
    const { store } = openStore(dir, {}, 'compacting');
    const expected: StoredEntry[] = [];
    for (let n = 0; n < 2000; n++) {
      const message = { topic: `big/${n}`, payload: Buffer.alloc(800, n & 0xff), retain: n % 2 === 0, packetId: undefined };
      expected.push({ key: store.add(message), ...message });
      if (n % 3 === 0) {
        store.sent(expected[n]!.key, (n % 65535) + 1);
        expected[n] = { ...expected[n]!, packetId: (n % 65535) + 1 };
      }
    }
    await store.close();
    const random = prng(20240611);
    let sawTemporary = 0;
    for (let kill = 0; kill < 10; kill++) {
      const child = spawnChild(['compact', dir, 'compacting']);
      expect(await child.waitFor((line) => line.startsWith('open') || line.startsWith('exited'))).toBe('open 2000');
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 150)));
      if (readdirSync(dir).some((name) => name.endsWith('.tmp'))) sawTemporary++;
      child.process.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      const again = openStore(dir, {}, 'compacting');
      expect(again.entries.length).toBe(2000);
      expect(plain(again.entries)).toEqual(plain(expected));
      expect(again.damaged).toEqual([]);
      expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      await again.store.close();
    }
    // Where the kills landed depends on timing; this says how many hit a compaction in progress.
    console.log(`compaction kills: a temporary file was present just before ${sawTemporary} of 10 kills`);
  });
});
