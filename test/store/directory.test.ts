/**
 * fileStore(directory, options) checks its directory and options at once, before the client does
 * any I/O: a missing directory is created, one that cannot hold the store is a ConfigurationError.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/shared/errors.js';
import { fileStore } from '../../src/store/index.js';
import { readOnlyDirectory, tempDir } from './support.js';

const readOnly = readOnlyDirectory();
afterAll(() => readOnly.cleanup());

function configurationError(run: () => unknown): ConfigurationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError, nothing was thrown');
}

describe('the directory', () => {
  it('is created, with its parents, when it does not exist; nothing is left in it until the store is opened', async () => {
    const dir = join(tempDir(), 'a', 'b', 'c');
    const store = fileStore(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    store.open('device-1', { writeFailed: () => {} });
    expect(readdirSync(dir).sort()).toEqual([expect.stringMatching(/\.lock$/), expect.stringMatching(/\.outbox$/)]);
    await store.close();
  });

  it('a relative path is made absolute at construction, so a later chdir does not move the store', async () => {
    const dir = tempDir();
    const store = fileStore(relative(process.cwd(), join(dir, 'rel')));
    expect(store.directory).toBe(join(dir, 'rel'));
  });

  it(`that cannot be written is a ConfigurationError at construction (${readOnly.how})`, () => {
    const error = configurationError(() => fileStore(readOnly.path));
    expect(error.field).toBe('directory');
    expect(error.message).toMatch(/cannot create files in .*; make it writable by this process/);
    expect(readdirSync(readOnly.path).filter((n) => n.startsWith('.aliot-probe'))).toEqual([]);
  });

  it('a path that is a file, or lies under one, is a ConfigurationError at construction', () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    for (const path of [file, join(file, 'store'), join(file, 'a', 'b')]) {
      const error = configurationError(() => fileStore(path));
      expect(error.message).toMatch(/is a file, or lies under one, not a directory/);
    }
  });

  it('a directory that cannot be created is a ConfigurationError', () => {
    const error = configurationError(() => fileStore(join(readOnly.path, 'store')));
    expect(error.message).toMatch(/cannot create|cannot create files/);
  });

  it('an empty or non-string path, or a NUL in it, is a ConfigurationError', () => {
    for (const path of ['', 42, undefined, 'a\0b']) {
      expect(configurationError(() => fileStore(path as string)).field).toBe('directory');
    }
  });
});

describe('the options', () => {
  it('fsync is one of never, tick, message (default never)', () => {
    const dir = tempDir();
    expect(fileStore(dir).fsync).toBe('never');
    expect(fileStore(dir, { fsync: 'message' }).fsync).toBe('message');
    const error = configurationError(() => fileStore(dir, { fsync: 'always' as 'tick' }));
    expect(error.field).toBe('fsync');
    expect(error.message).toContain('"never", "tick", "message"');
  });

  it('maxBytes is a whole number of at least 1024', () => {
    const dir = tempDir();
    expect(fileStore(dir, { maxBytes: 1024 }).maxBytes).toBe(1024);
    for (const maxBytes of [0, 1023, 1.5, -1, Number.NaN, '4096']) {
      expect(configurationError(() => fileStore(dir, { maxBytes: maxBytes as number })).field).toBe('maxBytes');
    }
  });

  it('options that are not an object are a ConfigurationError', () => {
    expect(configurationError(() => fileStore(tempDir(), null as never)).field).toBe('options');
  });
});

// Root can only lose the right to write by a remount; anyone else, by a chmod.
const canRevoke = readOnly.how === 'a read-only tmpfs mount' || process.getuid?.() !== 0;

describe.runIf(canRevoke)('opening after the directory changed', () => {
  it('a directory that turned read-only after construction: store-not-writable from open, nothing thrown at construction', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aliot-store-revoke-'));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    try {
      const store = fileStore(dir);
      if (asRoot) execFileSync('mount', ['-o', 'remount,ro', dir]);
      else chmodSync(dir, 0o555);
      expect(() => store.open('device-1', { writeFailed: () => {} })).toThrow(expect.objectContaining({ name: 'StoreError', code: 'store-not-writable' }));
    } finally {
      if (asRoot) execFileSync('umount', [dir]);
      else chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true });
    }
  });
});
