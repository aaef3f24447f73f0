/**
 * The store's directory: checked when `fileStore()` is called, so that a path that cannot work is
 * a ConfigurationError before the client does any I/O; the file names inside it, one set per
 * client id; and syncing it, so that a new name survives a power cut.
 */
import { createRequire } from 'node:module';
import { debug, nodeCrypto, nodeFs } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';

/** The files of one client's store. */
export interface StorePaths {
  /** The log. */
  readonly file: string;
  /** Where compaction writes the next log before renaming it over the current one. */
  readonly temporary: string;
  readonly lock: string;
}

/**
 * `directory` made absolute (so that a later `process.chdir` cannot move the store), created when
 * it does not exist, and proven writable by creating and removing a file in it: permission bits
 * say nothing for root, and a read-only mount passes `access(W_OK)` for some directories.
 */
export function checkDirectory(directory: unknown): string {
  if (typeof directory !== 'string' || directory.length === 0) {
    throw new ConfigurationError('directory', `expected the path of a directory for the store, got ${typeof directory === 'string' ? 'an empty string' : typeof directory}`);
  }
  if (directory.includes('\0')) {
    throw new ConfigurationError('directory', 'must not contain a NUL character; pass the path of a directory');
  }
  const fs = nodeFs();
  const absolute = nodePath().resolve(directory);
  try {
    fs.mkdirSync(absolute, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new ConfigurationError('directory', `${directory} is a file, or lies under one, not a directory; pass the path of a directory (it is created if missing)`);
    }
    throw new ConfigurationError('directory', `cannot create ${directory} (${code ?? String(error)}); create it or choose a path this process may write to`);
  }
  if (!fs.statSync(absolute).isDirectory()) {
    throw new ConfigurationError('directory', `${directory} is not a directory; pass the path of a directory (it is created if missing)`);
  }
  const probe = nodePath().join(absolute, `.aliot-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
    fs.unlinkSync(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigurationError('directory', `cannot create files in ${directory} (${code ?? String(error)}); make it writable by this process (user ${process.getuid?.() ?? '?'}) or choose another directory`);
  }
  return absolute;
}

/**
 * The file names for `clientId`: a readable prefix (the id with anything but letters, digits, '_'
 * and '-' replaced by '_', cut at 40 characters) and 16 hex digits of its SHA-256, so that ids that
 * differ only in replaced characters, in case (on case-insensitive file systems) or beyond the
 * prefix still get files of their own.
 */
export function storePaths(directory: string, clientId: string): StorePaths {
  const prefix = clientId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  const hash = nodeCrypto().createHash('sha256').update(clientId, 'utf8').digest('hex').slice(0, 16);
  const base = nodePath().join(directory, `${prefix === '' ? 'outbox' : prefix}-${hash}`);
  return { file: `${base}.outbox`, temporary: `${base}.outbox.tmp`, lock: `${base}.lock` };
}

/** Makes a rename (or a new file) durable: the directory's own entry list is synced. Not every platform can. */
export function syncDirectory(directory: string): void {
  const fs = nodeFs();
  let fd = -1;
  try {
    fd = fs.openSync(directory, 'r');
    fs.fsyncSync(fd);
  } catch (error) {
    // Windows cannot open a directory; some file systems refuse to sync one (EINVAL).
    debug('store: syncing the directory %s failed: %s', directory, (error as Error).message);
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
}

// Loaded on first use like the modules of src/shared/builtins.ts.
type Path = typeof import('node:path');
let path: Path | undefined;
const nodePath = (): Path => (path ??= createRequire(import.meta.url)('node:path') as Path);
