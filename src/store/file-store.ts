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
 * that is renamed over the old one (see `compact`).
 */
import { debug, nodeFs } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { requireIntegerIn, requireOneOf } from '../shared/validate.js';
import { checkDirectory, storePaths, type StorePaths } from './directory.js';
import { ioError, StoreError, type StoreDamage } from './errors.js';
import { addRecordSize, HEADER_SIZE, readHeader, readRecord, RecordWriter, SENT_RECORD_SIZE, VERSION } from './format.js';
import { acquireLock, releaseLock } from './lock.js';
import { replay, type LiveEntry } from './replay.js';
import type { OutboxStore, OutboxStoreHooks, StoredEntry, StoredMessage } from './types.js';

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
/**
 * Dead bytes that make a compaction worth it (and at least as many as the live ones). Each
 * compaction costs about a millisecond however little is live (creating, renaming and closing
 * files), so at 1 MiB it is a fraction of a microsecond per message; 64 KiB made it half of the
 * store's whole cost. The file grows to about this plus twice the live messages.
 */
export const COMPACT_AFTER = 1024 * 1024;
/** Compaction writes the new file in pieces of about this size. */
const COMPACT_CHUNK = 256 * 1024;
const BATCH_BUFFER = 16 * 1024;

/**
 * A durable outbox store in `directory` (created if missing), one file per client id. Throws a
 * ConfigurationError at once when the directory cannot be used (a file, not writable) or an option
 * is wrong; opening the store (the client does it) can throw a StoreError.
 */
export function fileStore(directory: string, options: FileStoreOptions = {}): FileStore {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object such as { fsync: "tick" }, or nothing');
  }
  const fsync = requireOneOf('fsync', options.fsync ?? 'never', FSYNC_MODES);
  const maxBytes =
    options.maxBytes === undefined
      ? undefined
      : requireIntegerIn('maxBytes', options.maxBytes, 1024, Number.MAX_SAFE_INTEGER, 'use a whole number of bytes, at least 1024, or leave it out for no cap');
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
  private flushScheduled = false;
  private failure: StoreError | undefined;
  /** After a failed compaction, the file size to reach before trying again. */
  private compactRetryAt = 0;
  /** After a failed write, the compacted size a compaction failed to write (see recoverByCompaction). */
  private recoveryFailedAt = Infinity;
  private compactions = 0;
  private tornBytes = 0;
  private damage: StoreDamage | undefined;
  private readonly flushBound = (): void => this.flush();
  private readonly scheduleFlush = (): void => void process.nextTick(this.flushBound);

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
      this.schedule();
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
    this.schedule();
  }

  acknowledged(key: number): void {
    if (this.fd === -1 || !this.forget(key)) return;
    this.batch.acknowledged(key);
    this.schedule();
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
    this.flushScheduled = false;
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

  /**
   * Node runs the nextTick queue before the promise jobs of a tick, and both until neither has
   * work left before it returns to the event loop. A nextTick queued from a promise job therefore
   * runs once the promise jobs queued so far have run: adds made in `await` continuations of the
   * same macrotask go into the same write, and the write still comes before the macrotask ends.
   */
  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.scheduleFlush);
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
    const fs = nodeFs();
    try {
      this.fd = fs.openSync(file, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.fd = fs.openSync(file, 'wx+', 0o644);
      // The new name must survive a power cut as well as what is written under it.
      if (this.fsync !== 'never') syncDirectory(this.directory);
    }
    const length = fs.fstatSync(this.fd).size;
    const bytes = Buffer.allocUnsafeSlow(length);
    for (let done = 0; done < length; ) {
      const read = fs.readSync(this.fd, bytes, done, length - done, done);
      if (read === 0) throw new StoreError('store-io', `${file} shrank while it was being read; is another program writing it?`, { path: file });
      done += read;
    }
    const header = readHeader(bytes, length);
    this.entries = new Map();
    this.compactions = 0;
    this.tornBytes = 0;
    this.damage = undefined;
    this.failure = undefined;
    this.compactRetryAt = 0;
    this.recoveryFailedAt = Infinity;
    this.batch.clear();
    if (header === 'short') {
      // A new file, or one whose creation was cut short: it holds nothing yet.
      this.nextKey = 1;
      this.fileBytes = 0;
      this.addBytes = this.liveBytes = 0;
      this.batch.header(1);
      const error = this.writeBatch();
      if (error !== undefined) throw error;
      fs.ftruncateSync(this.fd, HEADER_SIZE);
      return;
    }
    if (header === 'not-a-store') {
      throw new StoreError('store-corrupt', `${file} is not an aliot-mqtt store (its header does not check); move it away and the store starts empty, or point the store at another directory`, { path: file });
    }
    if (header !== 'damaged' && header.version !== VERSION) {
      throw new StoreError('store-version', `${file} is in store format ${header.version}, written by another version of aliot-mqtt; this one reads format ${VERSION}. Use that version, or move the file away (its messages are then not sent)`, { path: file });
    }
    const found = replay(bytes, length, header === 'damaged' ? 1 : header.nextKey);
    this.entries = found.entries;
    this.nextKey = found.nextKey;
    this.addBytes = found.addBytes;
    this.liveBytes = found.liveBytes;
    this.fileBytes = found.validEnd;
    if (found.validEnd < length) {
      this.tornBytes = length - found.validEnd;
      fs.ftruncateSync(this.fd, found.validEnd);
      if (this.fsync !== 'never') fs.fdatasyncSync(this.fd);
      debug('store: cut a torn record of %d bytes from the end of %s', this.tornBytes, file);
    }
    const { regions, bytes: skipped, strayRecords } = found.damage;
    if (header !== 'damaged' && regions === 0 && strayRecords === 0) {
      this.maybeCompact();
      return;
    }
    // A damaged header counts as one more damaged region (its next key is then taken from the records).
    this.damage = header === 'damaged' ? { regions: regions + 1, bytes: skipped + HEADER_SIZE, strayRecords } : found.damage;
    // Rewritten clean, so that the damage is reported once, not at every start.
    try {
      this.compactNow();
    } catch (error) {
      debug('store: could not rewrite the damaged %s: %s', file, (error as Error).message);
    }
  }

  private reportDamage(damage: StoreDamage, hooks: OutboxStoreHooks): void {
    const file = this.paths!.file;
    const error = new StoreError(
      'store-corrupt',
      `${file} was damaged: ${damage.regions} run(s) of ${damage.bytes} bytes did not read as records and were skipped, with ${damage.strayRecords} record(s) that belonged to nothing; ` +
        `the ${this.entries.size} intact messages are kept, and messages in the skipped bytes are lost. Check the disk (a failing card or drive is the usual cause)`,
      { path: file, damage },
    );
    if (hooks.damaged !== undefined) hooks.damaged(error);
    else process.emitWarning(error);
  }

  /** Before an `add` of `size` bytes that would pass `maxBytes`: compacts if that makes room, else throws. */
  private makeRoom(size: number): void {
    const maxBytes = this.maxBytes!;
    if (HEADER_SIZE + this.addBytes + size > maxBytes) {
      throw new StoreError(
        'store-full',
        `the store holds ${this.entries.size} messages in ${HEADER_SIZE + this.addBytes} bytes and a message of ${size} bytes would pass maxBytes (${maxBytes}); ` +
          'wait for acknowledgements (the client must be connected), or raise maxBytes',
        { path: this.paths?.file },
      );
    }
    this.compactNow();
  }

  /** Writes the pending batch at the end of the file; on failure cuts the file back and returns the error. */
  private writeBatch(): StoreError | undefined {
    const fs = nodeFs();
    const { bytes, length } = this.batch;
    try {
      for (let done = 0; done < length; ) {
        done += fs.writeSync(this.fd, bytes, done, length - done, this.fileBytes + done);
      }
      if (this.fsync !== 'never') fs.fdatasyncSync(this.fd);
    } catch (cause) {
      try {
        // A partial write must not stay: the next batch goes where this one began.
        fs.ftruncateSync(this.fd, this.fileBytes);
      } catch {
        // The next write overwrites it; a reader would take the rest for a torn record.
      }
      return ioError('writing to', this.paths!.file, cause);
    }
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
    const { bytes, length } = this.batch;
    const lost: number[] = [];
    for (let at = 0; at < length; ) {
      const record = readRecord(bytes, at, length)!;
      if (record.type === 'add') {
        lost.push(record.key);
        this.forget(record.key);
      }
      at += record.size;
    }
    const dropped = new Set(lost);
    let kept = 0;
    for (let at = 0; at < length; ) {
      const record = readRecord(bytes, at, length)!;
      if (record.type !== 'add' && !dropped.has(record.key)) {
        bytes.copy(bytes, kept, at, at + record.size);
        kept += record.size;
      }
      at += record.size;
    }
    this.batch.truncate(kept);
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
    const { bytes, length } = this.batch;
    let unwritten = 0;
    for (let at = 0; at < length; ) {
      const record = readRecord(bytes, at, length)!;
      if (record.type === 'add' && this.entries.has(record.key)) unwritten += 1;
      at += record.size;
    }
    if (unwritten !== this.entries.size || this.fileBytes <= HEADER_SIZE) return false;
    const fs = nodeFs();
    const header = new RecordWriter(HEADER_SIZE);
    header.header(this.nextKey);
    try {
      for (let done = 0; done < HEADER_SIZE; ) done += fs.writeSync(this.fd, header.bytes, done, HEADER_SIZE - done, done);
      fs.ftruncateSync(this.fd, HEADER_SIZE);
    } catch (error) {
      debug('store: cutting %s back to its header failed: %s', this.paths!.file, (error as Error).message);
      return false;
    }
    this.fileBytes = HEADER_SIZE;
    this.batch.clear();
    for (const entry of this.entries.values()) {
      this.batch.add(entry.key, entry.topic, entry.size - addRecordSize(0, entry.payload.length), entry.payload, entry.retain, entry.packetId);
      entry.sentBytes = 0;
    }
    this.liveBytes = this.addBytes;
    if (this.writeBatch() !== undefined) return false;
    this.failure = undefined;
    this.compactRetryAt = 0;
    return true;
  }

  private maybeCompact(): void {
    const dead = this.fileBytes - HEADER_SIZE - this.liveBytes;
    const worth = dead >= COMPACT_AFTER && dead >= this.liveBytes;
    // Over the cap after `sent` and `acknowledged` records: a compacted file is back under it.
    const overCap = this.maxBytes !== undefined && this.fileBytes > this.maxBytes && this.liveBytes + HEADER_SIZE < this.fileBytes;
    if ((!worth && !overCap) || this.fileBytes < this.compactRetryAt) return;
    try {
      this.compactNow();
    } catch (error) {
      // The old file is intact and appends may still work; try again once it has grown more.
      this.compactRetryAt = this.fileBytes + COMPACT_AFTER;
      debug('store: compaction failed: %s', (error as Error).message);
    }
  }

  /**
   * Writes the live messages (each as one `add` record with its packet id) to the temporary file,
   * syncs it (unless fsync is 'never'), renames it over the store file and syncs the directory.
   * A crash before the rename leaves the old file, after it the new one: each complete and valid.
   * What the tick has not written yet is in memory, so it is in the new file too.
   */
  private compactNow(): void {
    const fs = nodeFs();
    const { file, temporary } = this.paths!;
    const out = new RecordWriter(COMPACT_CHUNK + BATCH_BUFFER);
    let fd = -1;
    let written = 0;
    const flushOut = (): void => {
      for (let done = 0; done < out.length; ) done += fs.writeSync(fd, out.bytes, done, out.length - done, written + done);
      written += out.length;
      out.clear();
    };
    try {
      fd = fs.openSync(temporary, 'w+', 0o644);
      out.header(this.nextKey);
      for (const entry of this.entries.values()) {
        const topicBytes = entry.size - addRecordSize(0, entry.payload.length);
        out.add(entry.key, entry.topic, topicBytes, entry.payload, entry.retain, entry.packetId);
        if (out.length >= COMPACT_CHUNK) flushOut();
      }
      flushOut();
      if (this.fsync !== 'never') fs.fdatasyncSync(fd);
      fs.renameSync(temporary, file);
    } catch (cause) {
      try {
        if (fd !== -1) fs.closeSync(fd);
        fs.rmSync(temporary, { force: true });
      } catch {
        // Removed at the next open.
      }
      throw ioError('compacting into', temporary, cause);
    }
    if (this.fsync !== 'never') syncDirectory(this.directory);
    const old = this.fd;
    this.fd = fd;
    this.fileBytes = written;
    for (const entry of this.entries.values()) entry.sentBytes = 0;
    this.liveBytes = this.addBytes;
    this.batch.clear();
    this.failure = undefined;
    this.compactRetryAt = 0;
    this.recoveryFailedAt = Infinity;
    this.compactions += 1;
    try {
      fs.closeSync(old);
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

/** Makes a rename durable: the directory's own entry list is synced. Not every platform can. */
function syncDirectory(directory: string): void {
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
