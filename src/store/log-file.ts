/**
 * The store file's system calls, each as the store makes it: opening (or creating) the file and
 * reading it whole at open, appending a tick's batch with one positioned write (and an fdatasync
 * unless fsync is 'never'), cutting the file back, and cutting it back to a fresh header. It knows
 * records only as bytes; which messages they hold, and when to write, is `file-store.ts`'s
 * business. Writing a compacted file in its place is `compaction.ts`'s.
 */
import { debug, nodeFs } from '../shared/builtins.js';
import { syncDirectory } from './directory.js';
import { ioError, StoreError } from './errors.js';
import type { FsyncMode } from './file-store-options.js';
import { HEADER_SIZE, RecordWriter } from './format.js';

/** Opens the store file for reading and writing, creating it when there is none; returns its descriptor. */
export function openLogFile(file: string, directory: string, fsync: FsyncMode): number {
  const fs = nodeFs();
  try {
    return fs.openSync(file, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const fd = fs.openSync(file, 'wx+', 0o644);
  // The new name must survive a power cut as well as what is written under it.
  if (fsync !== 'never') syncDirectory(directory);
  return fd;
}

/** The whole file, read into one buffer of exactly its length. */
export function readLogFile(fd: number, file: string): Buffer {
  const fs = nodeFs();
  const length = fs.fstatSync(fd).size;
  const bytes = Buffer.allocUnsafeSlow(length);
  for (let done = 0; done < length; ) {
    const read = fs.readSync(fd, bytes, done, length - done, done);
    if (read === 0) throw new StoreError('store-io', `${file} shrank while it was being read; is another program writing it?`, { path: file });
    done += read;
  }
  return bytes;
}

/**
 * Writes `bytes[0..length)` at `at` (the end of the file), synced unless fsync is 'never'. On
 * failure the file is cut back to `at` and the error returned: nothing is thrown.
 */
export function appendToLog(fd: number, file: string, bytes: Buffer, length: number, at: number, fsync: FsyncMode): StoreError | undefined {
  const fs = nodeFs();
  try {
    for (let done = 0; done < length; ) {
      done += fs.writeSync(fd, bytes, done, length - done, at + done);
    }
    if (fsync !== 'never') fs.fdatasyncSync(fd);
  } catch (cause) {
    try {
      // A partial write must not stay: the next batch goes where this one began.
      fs.ftruncateSync(fd, at);
    } catch {
      // The next write overwrites it; a reader would take the rest for a torn record.
    }
    return ioError('writing to', file, cause);
  }
  return undefined;
}

/** Cuts the file to `length` bytes (a torn last record), synced unless fsync is 'never'. Throws. */
export function truncateLog(fd: number, length: number, fsync: FsyncMode): void {
  const fs = nodeFs();
  fs.ftruncateSync(fd, length);
  if (fsync !== 'never') fs.fdatasyncSync(fd);
}

/**
 * Writes a fresh header giving `nextKey` over the file's own and cuts the file after it, in place:
 * no new block is needed. False (and nothing thrown) when either step fails.
 */
export function restartLogFile(fd: number, file: string, nextKey: number): boolean {
  const fs = nodeFs();
  const header = new RecordWriter(HEADER_SIZE);
  header.header(nextKey);
  try {
    for (let done = 0; done < HEADER_SIZE; ) done += fs.writeSync(fd, header.bytes, done, HEADER_SIZE - done, done);
    fs.ftruncateSync(fd, HEADER_SIZE);
  } catch (error) {
    debug('store: cutting %s back to its header failed: %s', file, (error as Error).message);
    return false;
  }
  return true;
}
