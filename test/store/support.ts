/** Helpers for the store tests: temporary directories, an opened store with its hooks' reports, child processes. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { fileStore, type FileStore, type FileStoreOptions } from '../../src/store/index.js';
import type { StoredEntry } from '../../src/store/types.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      console.warn(`could not remove ${dir}: ${(error as Error).message}`);
    }
  }
});

/** A fresh directory, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aliot-store-'));
  made.push(dir);
  return dir;
}

export interface Opened {
  readonly store: FileStore;
  readonly entries: readonly StoredEntry[];
  /** Every writeFailed call: the keys and the error's code. */
  readonly failed: Array<{ keys: readonly number[]; code: string }>;
  /** Every damaged call. */
  readonly damaged: Error[];
}

/** `fileStore(dir, options).open(clientId, hooks)` with hooks that record what they are told. */
export function openStore(dir: string, options: FileStoreOptions = {}, clientId = 'device-1'): Opened {
  const store = fileStore(dir, options);
  const failed: Opened['failed'] = [];
  const damaged: Error[] = [];
  const entries = store.open(clientId, {
    writeFailed: (keys, error) => failed.push({ keys, code: (error as { code?: string }).code ?? '' }),
    damaged: (error) => damaged.push(error),
  });
  return { store, entries, failed, damaged };
}

/** Lets the current tick end (the store writes in process.nextTick, before this resolves). */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The one store file in `dir`. */
export function storeFile(dir: string): string {
  const files = readdirSync(dir).filter((name) => name.endsWith('.outbox'));
  if (files.length !== 1) throw new Error(`expected one .outbox file in ${dir}, found ${files.join(', ') || 'none'}`);
  return join(dir, files[0]!);
}

/** A message for tests: topic and payload follow from `n`. */
export function message(n: number, packetId?: number): { topic: string; payload: Uint8Array; retain: boolean; packetId: number | undefined } {
  return { topic: `t/${n}`, payload: Buffer.from(`payload ${n} `.repeat(1 + (n % 4))), retain: n % 3 === 0, packetId };
}

/** Entries as plain values for comparison. */
export const plain = (entries: readonly StoredEntry[]) =>
  entries.map(({ key, topic, payload, retain, packetId }) => ({ key, topic, payload: Buffer.from(payload).toString('hex'), retain, packetId }));

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));

export interface Child {
  readonly process: ChildProcess;
  /** Lines printed so far. */
  readonly lines: string[];
  /** Resolves with the first line that satisfies `test`. */
  waitFor(test: (line: string) => boolean): Promise<string>;
  /** Resolves when the process has exited and everything it printed has been read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `node child.mjs ...args` (optionally through `sh -c` with a prefix such as `ulimit -f 64;`), or
 * another `script` that prints lines the same way.
 */
export function spawnChild(args: readonly string[], shellPrefix?: string, script: string = CHILD): Child {
  const quoted = [process.execPath, script, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child =
    shellPrefix === undefined
      ? spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('sh', ['-c', `${shellPrefix} exec ${quoted}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  let partial = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      if (line === '') continue;
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.test(line)) waiters.splice(i, 1)[0]!.resolve(line);
      }
    }
  });
  // 'close', not 'exit': a killed child's last lines may still be in the pipe when it exits.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const waiter of waiters.splice(0)) waiter.resolve(`exited ${code ?? signal}: ${stderr.trim()}`);
      resolve({ code, signal });
    }),
  );
  return {
    process: child,
    lines,
    exited,
    waitFor: (test) => {
      const found = lines.find(test);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ test, resolve }));
    },
  };
}

/**
 * A directory this process cannot create files in, and how it was made. Permission bits do not
 * stop root, so as root it is a read-only tmpfs mount (EROFS) where mounting is allowed, else
 * /sys/kernel (EACCES even for root); as anyone else, a directory with mode 0555.
 */
export function readOnlyDirectory(): { path: string; how: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'aliot-store-ro-'));
  if (process.getuid?.() !== 0) {
    chmodSync(dir, 0o555);
    return { path: dir, how: 'mode 0555', cleanup: () => rmSync(dir, { recursive: true }) };
  }
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    return {
      path: dir,
      how: 'a read-only tmpfs mount',
      cleanup: () => {
        execFileSync('umount', [dir]);
        rmSync(dir, { recursive: true });
      },
    };
  } catch {
    rmSync(dir, { recursive: true });
    if (existsSync('/sys/kernel')) return { path: '/sys/kernel', how: '/sys/kernel', cleanup: () => {} };
    throw new Error('no way to make a directory this process cannot write: not root, no mount, no /sys');
  }
}

/**
 * A tmpfs of `size` (such as '512k') mounted at a fresh directory, where this process may mount
 * one (root); else undefined. Not under tempDir(), which is removed after each test: the caller
 * unmounts it (`umount`) and removes it.
 */
export function mountTmpfs(size: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'aliot-store-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true });
    return undefined;
  }
}
