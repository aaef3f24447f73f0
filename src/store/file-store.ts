/**
 * `fileStore(directory, options)`: the outbox kept in an append-only file per client id, so that
 * what a client accepted survives the process being killed.
 *
 * Every `add`, `sent` and `acknowledged` is encoded into one buffer at once and the buffer is
 * written (one write syscall) from a `process.nextTick` callback queued from a promise job: before
 * the current macrotask ends, and once for everything the tick did. A message whose `add`
 * returned is therefore in the kernel's hands by the end of the tick, which is what surviving
 * SIGKILL takes; surviving a power cut takes an fsync as well, which is the `fsync` option.
 *
 * The file only grows until the dead records (acknowledged messages, and `sent` records folded
 * into their messages) outweigh the live ones; then the live messages are written to a new file
 * that is renamed over the old one (see `compaction.ts`).
 *
 * This module holds the live messages and what their records weigh, and decides what is written
 * when, and what a failed write costs. Its parts live beside it: the options and public types
 * (`file-store-options.ts`), when a batch is written (`end-of-tick.ts`), the file's system calls
 * (`log-file.ts`), compaction (`compaction.ts`), a failed batch read back (`failed-batch.ts`),
 * the record format (`format.ts`), reading a file back at open (`replay.ts`), the lock
 * (`lock.ts`) and the directory (`directory.ts`).
 */
import { debug, nodeFs } from '../shared/builtins.js';
import { checkDirectory, storePaths, type StorePaths } from './directory.js';
import { compactionDue, COMPACT_AFTER, writeCompacted, writeEntry } from './compaction.js';
import { capError, damageError, ioError, StoreError, type StoreDamage } from './errors.js';
import { resolveFileStoreOptions, type FileStore, type FileStoreOptions, type FileStoreStats, type FsyncMode } from './file-store-options.js';
import { EndOfTick } from './end-of-tick.js';
import { addedKeys, takeAdds } from './failed-batch.js';
import { addRecordSize, HEADER_SIZE, RecordWriter, SENT_RECORD_SIZE } from './format.js';
import { acquireLock, releaseLock } from './lock.js';
import { appendToLog, openLogFile, readLogFile, restartLogFile, truncateLog } from './log-file.js';
import { readStoreFile, type LiveEntry } from './replay.js';
import type { OutboxStoreHooks, StoredEntry, StoredMessage } from './types.js';

const BATCH_BUFFER = 16 * 1024;

/**
 * A durable outbox store in `directory` (created if missing), one file per client id. Throws a
 * ConfigurationError at once when the directory cannot be used (a file, not writable) or an option
 * is wrong; opening the store (the client does it) can throw a StoreError.
 */
export function fileStore(directory: string, options: FileStoreOptions = {}): FileStore {
  const { fsync, maxBytes } = resolveFileStoreOptions(options);
  return new FileOutboxStore(checkDirectory(directory), fsync, maxBytes);
}

/** Open stores, so that one `exit` listener writes what the last tick of each left pending. */
const openStores = new Set<FileOutboxStore>();
const flushAllOnExit = (): void => {
  for (const store of openStores) store.flush();
};

class FileOutboxStore implements FileStore {
  readonly directory: string;
  readonly fsync: FsyncMode;
  readonly maxBytes: number | undefined;

  private paths: StorePaths | undefined;
  private fd = -1;
  private hooks: OutboxStoreHooks | undefined;
  private entries = new Map<number, LiveEntry>();
  private nextKey = 1;
  /** Bytes in the file: where the next batch goes. */
  private fileBytes = 0;
  /** Bytes of the live messages' `add` records: the size of a compacted file, less its header. */
  private addBytes = 0;
  /** Bytes of the live messages' `add` and `sent` records, written or pending. */
  private liveBytes = 0;
  private readonly batch = new RecordWriter(BATCH_BUFFER);
  private failure: StoreError | undefined;
  /** After a failed compaction, the file size to reach before trying again. */
  private compactRetryAt = 0;
  /** After a failed write, the compacted size a compaction failed to write (see recoverByCompaction). */
  private recoveryFailedAt = Infinity;
  private compactions = 0;
  private tornBytes = 0;
  private damage: StoreDamage | undefined;
  private readonly endOfTick = new EndOfTick(() => this.flush());

  constructor(directory: string, fsync: FsyncMode, maxBytes: number | undefined) {
    this.directory = directory;
    this.fsync = fsync;
    this.maxBytes = maxBytes;
  }

  open(clientId: string, hooks: OutboxStoreHooks): readonly StoredEntry[] {
    if (typeof clientId !== 'string') throw new TypeError(`open: the client id must be a string, got ${typeof clientId}`);
    if (this.fd !== -1) {
      throw new StoreError('store-locked', `this store object is already open for a client (${this.paths?.file}); give each client its own fileStore(...)`, { path: this.paths?.file });
    }
    const paths = storePaths(this.directory, clientId);
    acquireLock(paths.lock, `the store of client id ${JSON.stringify(clientId)} in ${this.directory}`);
    try {
      // A compaction that never reached its rename: the file it was replacing is the store.
      nodeFs().rmSync(paths.temporary, { force: true });
      this.paths = paths;
      this.load(paths.file);
    } catch (error) {
      if (this.fd !== -1) nodeFs().closeSync(this.fd);
      this.fd = -1;
      releaseLock(paths.lock);
      throw error instanceof StoreError ? error : ioError('opening', paths.file, error);
    }
    this.hooks = hooks;
    openStores.add(this);
    if (openStores.size === 1) process.on('exit', flushAllOnExit);
    if (this.damage !== undefined) this.reportDamage(this.damage, hooks);
    return [...this.entries.values()].map(({ key, topic, payload, retain, packetId }) => ({ key, topic, payload, retain, packetId }));
  }

  add(message: StoredMessage): number {
    if (this.fd === -1) {
      throw new StoreError('store-closed', 'add: the store is not open; the client opens it before the first connection and closes it in end()');
    }
    const { topic, payload, retain, packetId } = message;
    const topicBytes = Buffer.byteLength(topic, 'utf8');
    if (topicBytes > 0xffff) throw new RangeError(`add: a topic is at most 65535 bytes of UTF-8, got ${topicBytes}`);
    if (packetId !== undefined) checkPacketId(packetId);
    const size = addRecordSize(topicBytes, payload.length);
    if (this.maxBytes !== undefined && this.fileBytes + this.batch.length + size > this.maxBytes) this.makeRoom(size);
    const key = this.nextKey++;
    this.batch.add(key, topic, topicBytes, payload, retain, packetId);
    this.entries.set(key, { key, topic, payload, retain, packetId, size, sentBytes: 0 });
    this.addBytes += size;
    this.liveBytes += size;
    if (this.failure === undefined && this.fsync !== 'message') {
      this.endOfTick.schedule();
      return key;
    }
    // After a failure every add is a probe: written now, so the caller learns at once whether
    // there is room again. With fsync 'message' every add is written and synced before returning.
    const error = this.writeBatch();
    if (error === undefined) {
      this.failure = undefined;
      this.maybeCompact();
      return key;
    }
    if (this.recoverByCompaction()) return key;
    // Its record is the batch's last (a restart in place rebuilds the batch in key order).
    this.batch.truncate(this.batch.length - size);
    this.forget(key);
    this.failure = error;
    throw error;
  }

  sent(key: number, packetId: number): void {
    const entry = this.fd === -1 ? undefined : this.entries.get(key);
    // After close, or for a message whose write failed: nothing to record (a reopened store
    // still has the message and sends it again, which at least once allows).
    if (entry === undefined) return;
    checkPacketId(packetId);
    entry.packetId = packetId;
    entry.sentBytes += SENT_RECORD_SIZE;
    this.liveBytes += SENT_RECORD_SIZE;
    this.batch.sent(key, packetId);
    this.endOfTick.schedule();
  }

  acknowledged(key: number): void {
    if (this.fd === -1 || !this.forget(key)) return;
    this.batch.acknowledged(key);
    this.endOfTick.schedule();
  }

  close(): Promise<void> {
    if (this.fd === -1) return Promise.resolve();
    this.flush();
    const fs = nodeFs();
    const paths = this.paths!;
    let failure: unknown;
    try {
      fs.closeSync(this.fd);
    } catch (error) {
      failure = ioError('closing', paths.file, error);
    }
    this.fd = -1;
    this.entries = new Map();
    openStores.delete(this);
    if (openStores.size === 0) process.off('exit', flushAllOnExit);
    releaseLock(paths.lock);
    return failure === undefined ? Promise.resolve() : Promise.reject(failure);
  }

  stats(): FileStoreStats {
    return {
      file: this.paths?.file,
      fileBytes: this.fileBytes + this.batch.length,
      liveBytes: this.liveBytes,
      messages: this.entries.size,
      compactions: this.compactions,
      tornBytes: this.tornBytes,
      damage: this.damage,
      failure: this.failure,
    };
  }

  compact(): void {
    if (this.fd === -1) throw new StoreError('store-closed', 'compact: the store is not open');
    this.compactNow();
  }

  /** Writes what the tick recorded; the store's nextTick callback, and `close` and exit. */
  flush(): void {
    this.endOfTick.ran();
    if (this.fd === -1 || this.batch.length === 0) return;
    const error = this.writeBatch();
    if (error === undefined) {
      this.failure = undefined;
      this.maybeCompact();
      return;
    }
    if (this.recoverByCompaction()) return;
    this.failure = error;
    const lost = this.dropUnwrittenAdds();
    debug('store: a write failed (%s); %d messages not stored', error.code, lost.length);
    if (lost.length > 0) this.hooks?.writeFailed(lost, error);
  }

  /** Removes a message from memory; false when there was none with `key`. */
  private forget(key: number): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.addBytes -= entry.size;
    this.liveBytes -= entry.size + entry.sentBytes;
    return true;
  }

  private load(file: string): void {
    this.fd = openLogFile(file, this.directory, this.fsync);
    const bytes = readLogFile(this.fd, file);
    this.entries = new Map();
    this.compactions = 0;
    this.tornBytes = 0;
    this.damage = undefined;
    this.failure = undefined;
    this.compactRetryAt = 0;
    this.recoveryFailedAt = Infinity;
    this.batch.clear();
    const found = readStoreFile(bytes, file);
    if (found === 'empty') {
      this.nextKey = 1;
      this.fileBytes = 0;
      this.addBytes = this.liveBytes = 0;
      this.batch.header(1);
      const error = this.writeBatch();
      if (error !== undefined) throw error;
      nodeFs().ftruncateSync(this.fd, HEADER_SIZE);
      return;
    }
    this.entries = found.entries;
    this.nextKey = found.nextKey;
    this.addBytes = found.addBytes;
    this.liveBytes = found.liveBytes;
    this.fileBytes = found.validEnd;
    if (found.validEnd < bytes.length) {
      this.tornBytes = bytes.length - found.validEnd;
      truncateLog(this.fd, found.validEnd, this.fsync);
      debug('store: cut a torn record of %d bytes from the end of %s', this.tornBytes, file);
    }
    if (found.damage === undefined) {
      this.maybeCompact();
      return;
    }
    this.damage = found.damage;
    // Rewritten clean, so that the damage is reported once, not at every start.
    try {
      this.compactNow();
    } catch (error) {
      debug('store: could not rewrite the damaged %s: %s', file, (error as Error).message);
    }
  }

  private reportDamage(damage: StoreDamage, hooks: OutboxStoreHooks): void {
    const error = damageError(this.paths!.file, damage, this.entries.size);
    if (hooks.damaged !== undefined) hooks.damaged(error);
    else process.emitWarning(error);
  }

  /** Before an `add` of `size` bytes that would pass `maxBytes`: compacts if that makes room, else throws. */
  private makeRoom(size: number): void {
    if (HEADER_SIZE + this.addBytes + size > this.maxBytes!) {
      throw capError(this.paths?.file, this.entries.size, HEADER_SIZE + this.addBytes, size, this.maxBytes!);
    }
    this.compactNow();
  }

  /** Writes the pending batch at the end of the file; on failure cuts the file back and returns the error. */
  private writeBatch(): StoreError | undefined {
    const { bytes, length } = this.batch;
    const error = appendToLog(this.fd, this.paths!.file, bytes, length, this.fileBytes, this.fsync);
    if (error !== undefined) return error;
    this.fileBytes += length;
    this.batch.clear();
    this.recoveryFailedAt = Infinity;
    return undefined;
  }

  /**
   * After a batch failed to write: its messages leave the store (they are not durable, so the
   * client rejects them), and its `sent` and `acknowledged` records for other messages stay in
   * the batch, to go out with the next write. Returns the keys of the messages dropped.
   */
  private dropUnwrittenAdds(): number[] {
    const lost = takeAdds(this.batch);
    for (const key of lost) this.forget(key);
    return lost;
  }

  /**
   * After a failed write: when the acknowledged messages' records take room that a compacted file
   * would not, writing one may succeed where appending failed (a per-file size limit, or a disk
   * with room for a smaller file). Everything in memory, the failed batch included, is then in the
   * new file and nothing is lost. Tried again only once more has been acknowledged, so that a
   * publisher retrying on a full disk does not rewrite the file at every attempt.
   */
  private recoverByCompaction(): boolean {
    if (this.restartInPlace()) return true;
    const compacted = HEADER_SIZE + this.addBytes;
    if (compacted >= this.fileBytes + this.batch.length || compacted >= this.recoveryFailedAt) return false;
    try {
      this.compactNow();
      return true;
    } catch (error) {
      this.recoveryFailedAt = compacted;
      debug('store: compaction after a failed write failed too: %s', (error as Error).message);
      return false;
    }
  }

  /**
   * After a failed write, when nothing the file holds still matters (every live message's `add`
   * is in the failed batch, not in the file: the messages the file holds were all acknowledged
   * since): the file is cut back, in place, to a fresh header, and the live messages are written
   * after it. Unlike a compaction this needs no new block, so it is the way back on a disk filled
   * to its last block (by the store itself, whose acknowledgements then cannot be written either).
   * A crash in the middle leaves a header, perhaps a torn record, and loses nothing: the messages
   * of the batch had not been written, so their tick had not ended. When the write fails again,
   * the file is a bare header and the batch holds the live messages' `add` records alone.
   */
  private restartInPlace(): boolean {
    const unwritten = addedKeys(this.batch).filter((key) => this.entries.has(key)).length;
    if (unwritten !== this.entries.size || this.fileBytes <= HEADER_SIZE) return false;
    if (!restartLogFile(this.fd, this.paths!.file, this.nextKey)) return false;
    this.fileBytes = HEADER_SIZE;
    this.batch.clear();
    for (const entry of this.entries.values()) {
      writeEntry(this.batch, entry);
      entry.sentBytes = 0;
    }
    this.liveBytes = this.addBytes;
    if (this.writeBatch() !== undefined) return false;
    this.failure = undefined;
    this.compactRetryAt = 0;
    return true;
  }

  private maybeCompact(): void {
    if (!compactionDue(this.fileBytes, this.liveBytes, this.maxBytes) || this.fileBytes < this.compactRetryAt) return;
    try {
      this.compactNow();
    } catch (error) {
      // The old file is intact and appends may still work; try again once it has grown more.
      this.compactRetryAt = this.fileBytes + COMPACT_AFTER;
      debug('store: compaction failed: %s', (error as Error).message);
    }
  }

  /**
   * Rewrites the file with the live messages alone (see `writeCompacted`). What the tick has not
   * written yet is in memory, so it is in the new file too, and the batch starts empty.
   */
  private compactNow(): void {
    const { fd, size } = writeCompacted(this.paths!, this.directory, this.fsync, this.nextKey, this.entries.values());
    const old = this.fd;
    this.fd = fd;
    this.fileBytes = size;
    for (const entry of this.entries.values()) entry.sentBytes = 0;
    this.liveBytes = this.addBytes;
    this.batch.clear();
    this.failure = undefined;
    this.compactRetryAt = 0;
    this.recoveryFailedAt = Infinity;
    this.compactions += 1;
    try {
      nodeFs().closeSync(old);
    } catch (error) {
      // The file it named is gone already; the new one is in use.
      debug('store: closing the replaced file failed: %s', (error as Error).message);
    }
  }
}

function checkPacketId(packetId: number): void {
  if (!Number.isInteger(packetId) || packetId < 1 || packetId > 0xffff) {
    throw new RangeError(`a packet identifier is an integer in 1..65535 [MQTT-2.3.1-1], got ${packetId}`);
  }
}
