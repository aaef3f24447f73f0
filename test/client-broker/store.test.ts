/**
 * The client with a file store against mosquitto over TLS on [::1]: compaction while 30,000 QoS 1
 * messages go through; a full disk (a real ENOSPC on a small tmpfs, and the store's own maxBytes):
 * new publishes reject with a typed error and what was stored reaches the broker after a restart;
 * two processes on one store; a directory the process cannot write.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import type { MqttClientOptions } from '../../src/client/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { fileStore, StoreError } from '../../src/store/index.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { CHILD, mountTmpfs, readOnlyDirectory, spawnChild, tempDir } from '../store/support.js';
import { brokerOptions, next, uniqueId, until, useBroker } from './support.js';
import type { ClientPool } from './support.js';

const PUBLISHER = fileURLToPath(new URL('./publisher.mjs', import.meta.url));

/** A subscriber with a persistent session on `topic`, and the labels of what it receives. */
async function sink(pool: ClientPool, options: MqttClientOptions, topic: string): Promise<{ received: string[]; arrived(count: number, ms?: number): Promise<void> }> {
  const subscriber = pool.track({ ...options, clientId: uniqueId('sink'), clean: false });
  await subscriber.connect();
  await subscriber.subscribe(topic, { qos: 1 });
  const received: string[] = [];
  subscriber.on('message', (_topic, payload) => received.push(payload.toString('utf8', 0, 12)));
  return { received, arrived: (count, ms) => until(subscriber, 'message', () => received.length >= count, ms).catch(() => undefined) };
}

const label = (n: number): string => `m${String(n).padStart(11, '0')}`;

describeWithBroker('MqttClient with a file store, against mosquitto', () => {
  const suite = useBroker();

  it('compacts under load: 30,000 QoS 1 messages, 1,000 in flight, the file stays bounded, all arrive, the store ends empty', { timeout: 60_000 }, async () => {
    const topic = `store/compact/${uniqueId('t')}`;
    const { received, arrived } = await sink(suite.pool, brokerOptions(suite.broker), topic);
    const store = fileStore(tempDir());
    const client = suite.pool.track(brokerOptions(suite.broker, { clientId: uniqueId('compact'), clean: false, store }));
    await client.connect();
    const total = 30_000;
    let largest = 0;
    let acked = 0;
    const filler = 'x'.repeat(88);
    const all: Array<Promise<void>> = [];
    for (let n = 0; n < total; n++) {
      while (n - acked >= 1000) await new Promise((resolve) => setImmediate(resolve));
      all.push(client.publish(topic, `${label(n)}${filler}`, { qos: 1 }).then(() => void (acked += 1)));
      if (n % 500 === 0) largest = Math.max(largest, store.stats().fileBytes);
    }
    await Promise.all(all);
    const stats = store.stats();
    expect(stats.compactions).toBeGreaterThanOrEqual(1);
    expect(stats.messages).toBe(0);
    // Over 6 MB of records went through; the file never held much more than the compaction threshold.
    expect(largest).toBeLessThan(3 * 1024 * 1024);
    await arrived(total, 20_000);
    expect(new Set(received).size).toBe(total);
    await client.end();
    const again = fileStore(store.directory);
    expect(again.open(client.options.clientId, { writeFailed: () => {} })).toEqual([]);
    await again.close();
  });

  const tmpfs = mountTmpfs('256k');
  afterAll(() => {
    if (tmpfs === undefined) return;
    execFileSync('umount', ['-l', tmpfs]); // lazily: a client a failed test left open must not keep it mounted
    rmSync(tmpfs, { recursive: true });
  });

  it.runIf(tmpfs !== undefined)('a full disk (ENOSPC on a tmpfs): publishes accepted in the failing tick reject with store-full and leave the queue, the next is refused at once; what was stored arrives after a restart', async () => {
    const dir = tmpfs!;
    const topic = `store/full/${uniqueId('t')}`;
    const clientId = uniqueId('full');
    const { received, arrived } = await sink(suite.pool, brokerOptions(suite.broker), topic);
    // Offline (never connected): everything accepted stays stored.
    const first = suite.pool.track(brokerOptions(suite.broker, { clientId, clean: false, store: fileStore(dir) }));
    const payload = (n: number): string => `${label(n)}${'p'.repeat(4000)}`;
    const stored = Array.from({ length: 10 }, (_, n) => first.publish(topic, payload(n), { qos: 1 }));
    stored.forEach((p) => p.catch(() => undefined));
    await new Promise((resolve) => setImmediate(resolve));
    const filler = join(dir, 'filler');
    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(4096));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      closeSync(fd);
    }
    // Accepted (publish returned); the write at the end of the tick fails.
    const failing = [10, 11].map((n) => first.publish(topic, payload(n), { qos: 1 }).then(() => 'resolved', (error: unknown) => error));
    expect(first.queuedCount).toBe(12);
    const [a, b] = await Promise.all(failing);
    for (const error of [a, b]) {
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'store-full', message: expect.stringContaining('ENOSPC') });
    }
    expect(first.queuedCount).toBe(10); // not sent later: the caller was told it failed
    await expect(first.publish(topic, payload(12), { qos: 1 })).rejects.toMatchObject({ name: 'StoreError', code: 'store-full' });
    const report = await first.end();
    expect(report.unacknowledged.map((m) => Buffer.from(m.payload).toString('utf8', 0, 12))).toEqual(Array.from({ length: 10 }, (_, n) => label(n)));

    rmSync(filler);
    const second = suite.pool.track(brokerOptions(suite.broker, { clientId, clean: false, store: fileStore(dir) }));
    expect(second.restoredCount).toBe(10);
    const restored = next<[number, number]>(second, 'restored');
    await second.connect();
    expect(await restored).toEqual([10, 0]);
    await arrived(10);
    expect(received).toEqual(Array.from({ length: 10 }, (_, n) => label(n)));
    await second.end();
  });

  it('maxBytes: a publish that does not fit is refused at once with store-full, naming the cap; what was stored arrives after a restart, in order', async () => {
    const dir = tempDir();
    const topic = `store/cap/${uniqueId('t')}`;
    const clientId = uniqueId('cap');
    const { received, arrived } = await sink(suite.pool, brokerOptions(suite.broker), topic);
    const first = suite.pool.track(brokerOptions(suite.broker, { clientId, clean: false, store: fileStore(dir, { maxBytes: 16 * 1024 }) }));
    const accepted: Array<Promise<void>> = [];
    let refused: unknown;
    for (let n = 0; refused === undefined && n < 100; n++) {
      const p = first.publish(topic, `${label(n)}${'q'.repeat(1000)}`, { qos: 1 });
      // A refusal rejects before the next turn of the loop; an accepted one stays pending.
      const outcome = await Promise.race([p.then(() => 'settled', (error: unknown) => error), new Promise((resolve) => setImmediate(() => resolve('pending')))]);
      if (outcome === 'pending') {
        p.catch(() => undefined);
        accepted.push(p);
      } else refused = outcome;
    }
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused).toMatchObject({ code: 'store-full', message: expect.stringContaining('maxBytes (16384)') });
    expect(accepted.length).toBeGreaterThan(10);
    expect(first.queuedCount).toBe(accepted.length);
    await first.end();

    const second = suite.pool.track(brokerOptions(suite.broker, { clientId, clean: false, store: fileStore(dir, { maxBytes: 16 * 1024 }) }));
    expect(second.restoredCount).toBe(accepted.length);
    const restored = next(second, 'restored');
    await second.connect();
    await restored;
    await arrived(accepted.length);
    expect(received).toEqual(accepted.map((_, n) => label(n)));
    await second.end();
  });

  it('two processes on one store: a client finds it held by another process (store-locked, at construction), and a second process finds it held by a client', async () => {
    const dir = tempDir();
    const clientId = uniqueId('locked');
    const holder = spawnChild(['hold', dir, clientId], undefined, CHILD);
    expect(await holder.waitFor(() => true)).toBe('open 0');
    let error: unknown;
    try {
      suite.pool.track(brokerOptions(suite.broker, { clientId, clean: false, store: fileStore(dir) }));
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'store-locked', message: expect.stringContaining(`process ${holder.process.pid}`) });
    holder.process.stdin!.end();
    expect((await holder.exited).code).toBe(0);

    const client = suite.pool.track(brokerOptions(suite.broker, { clientId, clean: false, store: fileStore(dir) }));
    const other = spawnChild([String(suite.broker.tlsPort), dir, clientId, 'store/locked', '1', '1', 'run', '0'], undefined, PUBLISHER);
    const exit = await other.waitFor(() => false);
    expect(exit).toMatch(/^exited 1: [\s\S]*StoreError[\s\S]*store-locked/);
    expect(other.lines).toEqual([]);
    await client.end();
  });

  it('a directory this process cannot write is a ConfigurationError when the client is made, before any I/O', () => {
    const readOnly = readOnlyDirectory();
    try {
      let error: unknown;
      try {
        suite.pool.track(brokerOptions(suite.broker, { clientId: uniqueId('ro'), clean: false, store: fileStore(join(readOnly.path, 'store')) }));
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error).toMatchObject({ field: 'directory', message: expect.stringContaining('cannot create') });
    } finally {
      readOnly.cleanup();
    }
  });
});

