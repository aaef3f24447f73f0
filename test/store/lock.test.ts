/**
 * One process per store: a second opener gets StoreError `store-locked` with a message that names
 * the holder; a lock left by a process that is gone (killed, rebooted, pid reused) is taken over.
 */
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileStore, StoreError } from '../../src/store/index.js';
import { message, openStore, spawnChild, tempDir } from './support.js';

const lockFile = (dir: string): string => {
  const name = readdirSync(dir).find((n) => n.endsWith('.lock'));
  if (name === undefined) throw new Error(`no lock file in ${dir}`);
  return `${dir}/${name}`;
};
/** The lock file's path for client id device-1 in `dir`, from a store opened and closed there. */
async function lockPath(dir: string): Promise<string> {
  const { store } = openStore(dir);
  const path = store.stats().file!.replace(/\.outbox$/, '.lock');
  await store.close();
  expect(existsSync(path)).toBe(false);
  return path;
}
const hasProc = existsSync('/proc/self/stat');

describe('two processes on one store', () => {
  it('a second process gets store-locked naming the first; once the first closes, it opens', async () => {
    const dir = tempDir();
    const holder = spawnChild(['hold', dir, 'device-1']);
    expect(await holder.waitFor(() => true)).toBe('open 0');
    let error: unknown;
    try {
      openStore(dir);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'store-locked' });
    expect((error as Error).message).toContain(`process ${holder.process.pid}`);
    const other = spawnChild(['hold', dir, 'device-1']);
    expect(await other.waitFor(() => true)).toBe('error store-locked');
    expect((await other.exited).code).toBe(3);

    holder.process.stdin!.end();
    expect(await holder.exited).toEqual({ code: 0, signal: null });
    expect(readdirSync(dir).filter((n) => n.endsWith('.lock'))).toEqual([]);
    const { store } = openStore(dir);
    await store.close();
  });

  it('a holder killed with SIGKILL leaves a stale lock that the next opener takes over, with the messages intact', async () => {
    const dir = tempDir();
    const first = openStore(dir);
    first.store.add(message(1));
    await first.store.close();
    const holder = spawnChild(['hold', dir, 'device-1']);
    expect(await holder.waitFor(() => true)).toBe('open 1');
    holder.process.kill('SIGKILL');
    await holder.exited;
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(holder.process.pid);
    const again = openStore(dir);
    expect(again.entries.map((e) => e.topic)).toEqual(['t/1']);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(process.pid);
    await again.store.close();
  });

  it('four processes started at once on one store, with or without a stale lock: exactly one opens it', async () => {
    for (const stale of [false, true, false, true]) {
      const dir = tempDir();
      if (stale) writeFileSync(await lockPath(dir), JSON.stringify({ pid: 2 ** 22 + 1 }));
      const children = [0, 1, 2, 3].map(() => spawnChild(['hold', dir, 'device-1']));
      const first = await Promise.all(children.map((c) => c.waitFor(() => true)));
      expect(first.filter((line) => line === 'open 0')).toHaveLength(1);
      expect(first.filter((line) => line === 'error store-locked')).toHaveLength(3);
      for (const child of children) child.process.stdin!.end();
      await Promise.all(children.map((c) => c.exited));
    }
  });

  it('clients with different ids share a directory without locking each other out', async () => {
    const dir = tempDir();
    const holder = spawnChild(['hold', dir, 'device-1']);
    expect(await holder.waitFor(() => true)).toBe('open 0');
    const { store } = openStore(dir, {}, 'device-2');
    await store.close();
    holder.process.stdin!.end();
    await holder.exited;
  });
});

describe('stale locks', () => {
  it('a lock naming a process that does not exist is taken over', async () => {
    const dir = tempDir();
    writeFileSync(await lockPath(dir), JSON.stringify({ pid: 2 ** 22 + 1 }));
    const { store } = openStore(dir);
    await store.close();
  });

  it('a lock naming this process, held by no store in it (a container whose pid 1 restarted), is taken over', async () => {
    const dir = tempDir();
    writeFileSync(await lockPath(dir), JSON.stringify({ pid: process.pid }));
    const { store } = openStore(dir);
    // ...while a second store object in this process is refused.
    expect(() => fileStore(dir).open('device-1', { writeFailed: () => {} })).toThrow(expect.objectContaining({ code: 'store-locked', message: expect.stringContaining('another store object in this process') }));
    await store.close();
  });

  it('a lock naming a live process is respected', async () => {
    const dir = tempDir();
    // pid 1 is always alive; a lock without boot id or start time cannot be proven stale.
    writeFileSync(await lockPath(dir), JSON.stringify({ pid: 1 }));
    expect(() => openStore(dir)).toThrow(expect.objectContaining({ code: 'store-locked', message: expect.stringContaining('process 1,') }));
  });

  it.runIf(hasProc)('with /proc: a lock from before a reboot (another boot id) or from a reused pid (another start time) is taken over', async () => {
    const dir = tempDir();
    const path = await lockPath(dir);
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync('/proc/1/stat', 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
    writeFileSync(path, JSON.stringify({ pid: 1, boot, start }));
    expect(() => openStore(dir)).toThrow(expect.objectContaining({ code: 'store-locked' }));
    for (const stale of [{ pid: 1, boot: 'another-boot', start }, { pid: 1, boot, start: `${Number(start) + 1}` }]) {
      writeFileSync(path, JSON.stringify(stale));
      const { store } = openStore(dir);
      await store.close();
    }
  });

  it('an unreadable lock is taken as being written for 10 s, then as stale', async () => {
    const dir = tempDir();
    const path = await lockPath(dir);
    writeFileSync(path, '');
    expect(() => openStore(dir)).toThrow(expect.objectContaining({ code: 'store-locked', message: expect.stringContaining('being written') }));
    const old = (Date.now() - 11_000) / 1000;
    utimesSync(path, old, old);
    const { store } = openStore(dir);
    await store.close();
  });
});
