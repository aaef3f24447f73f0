/**
 * The public shape of {@link fileStore}: its options (`fsync`, `maxBytes`) and their check, the
 * store it returns and the stats it gives.
 */
import { ConfigurationError } from '../shared/errors.js';
import { requireIntegerIn, requireOneOf } from '../shared/validate.js';
import type { StoreDamage, StoreError } from './errors.js';
import type { OutboxStore } from './types.js';

/**
 * When the store asks the disk to persist what it wrote (fsync), beyond handing it to the kernel:
 * - `never` (the default): a write syscall per tick. Survives the process being killed, not a
 *   power cut or a kernel crash (the last seconds of writes may be lost then).
 * - `tick`: one fdatasync per tick's batch, before the tick ends. Survives a power cut for
 *   everything written in a tick that completed.
 * - `message`: each `add` is written and synced before it returns.
 */
export type FsyncMode = 'never' | 'tick' | 'message';

export interface FileStoreOptions {
  /** Default `never`: see {@link FsyncMode}. */
  readonly fsync?: FsyncMode;
  /**
   * The largest the store file may grow, in bytes. An `add` that would pass it (once compaction
   * has reclaimed what it can) is refused with StoreError `store-full`. Default: no cap but the
   * disk's. At least 1024.
   */
  readonly maxBytes?: number;
}

/** What a file store holds and has done, for monitoring and tests. */
export interface FileStoreStats {
  /** The store file, once open. */
  readonly file: string | undefined;
  /** The size of the file, with what the current tick has yet to write. */
  readonly fileBytes: number;
  /** Bytes of the records that still matter (the stored messages and their `sent` records). */
  readonly liveBytes: number;
  /** Messages stored and not yet acknowledged. */
  readonly messages: number;
  /** Compactions since the store was opened. */
  readonly compactions: number;
  /** Bytes of a torn last record (a write cut short by a crash) cut away when the store was opened. */
  readonly tornBytes: number;
  /** Damage found and skipped when the store was opened (also reported to the `damaged` hook). */
  readonly damage: StoreDamage | undefined;
  /** The last write failure, until a write succeeds again; while set, `add` writes at once or throws. */
  readonly failure: StoreError | undefined;
}

export interface FileStore extends OutboxStore {
  /** The directory, made absolute. */
  readonly directory: string;
  readonly fsync: FsyncMode;
  readonly maxBytes: number | undefined;
  stats(): FileStoreStats;
  /**
   * Rewrites the file with only the live messages, now (the store also does it by itself). Throws
   * a StoreError when the new file cannot be written; the old one is then kept, intact.
   */
  compact(): void;
}

const FSYNC_MODES: readonly FsyncMode[] = ['never', 'tick', 'message'];

/** The options checked, defaults filled in; a ConfigurationError names a wrong one. */
export function resolveFileStoreOptions(options: FileStoreOptions): { readonly fsync: FsyncMode; readonly maxBytes: number | undefined } {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object such as { fsync: "tick" }, or nothing');
  }
  const fsync = requireOneOf('fsync', options.fsync ?? 'never', FSYNC_MODES);
  const maxBytes =
    options.maxBytes === undefined
      ? undefined
      : requireIntegerIn('maxBytes', options.maxBytes, 1024, Number.MAX_SAFE_INTEGER, 'use a whole number of bytes, at least 1024, or leave it out for no cap');
  return { fsync, maxBytes };
}
