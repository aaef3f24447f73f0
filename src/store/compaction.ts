/**
 * Compaction: when the store file is worth rewriting, and the rewrite itself. The live messages
 * (each as one `add` record with its packet id) go to a temporary file, which is synced (unless
 * fsync is 'never') and renamed over the store file, and the directory is synced. A crash before
 * the rename leaves the old file, after it the new one: each complete and valid.
 */
import { nodeFs } from '../shared/builtins.js';
import { syncDirectory, type StorePaths } from './directory.js';
import { ioError } from './errors.js';
import type { FsyncMode } from './file-store-options.js';
import { addRecordSize, HEADER_SIZE, RecordWriter } from './format.js';
import type { LiveEntry } from './replay.js';

/**
 * Dead bytes that make a compaction worth it (and at least as many as the live ones). Each
 * compaction costs about a millisecond however little is live (creating, renaming and closing
 * files), so at 1 MiB it is a fraction of a microsecond per message; 64 KiB made it half of the
 * store's whole cost. The file grows to about this plus twice the live messages.
 */
export const COMPACT_AFTER = 1024 * 1024;
/** Compaction writes the new file in pieces of about this size. */
const COMPACT_CHUNK = 256 * 1024;
/** Room for a piece and the record that takes it past COMPACT_CHUNK (a tick's batch starts at 16 KiB too). */
const COMPACT_BUFFER = COMPACT_CHUNK + 16 * 1024;

/**
 * Whether a file of `fileBytes` whose live records take `liveBytes` should be compacted: the dead
 * records outweigh the live ones (and COMPACT_AFTER), or the file is over `maxBytes` and a
 * compacted one would be back under it (after `sent` and `acknowledged` records passed the cap).
 */
export function compactionDue(fileBytes: number, liveBytes: number, maxBytes: number | undefined): boolean {
  const dead = fileBytes - HEADER_SIZE - liveBytes;
  const worth = dead >= COMPACT_AFTER && dead >= liveBytes;
  const overCap = maxBytes !== undefined && fileBytes > maxBytes && liveBytes + HEADER_SIZE < fileBytes;
  return worth || overCap;
}

/** Encodes a live message as one `add` record with its packet id: how a compacted file holds it. */
export function writeEntry(out: RecordWriter, entry: LiveEntry): void {
  out.add(entry.key, entry.topic, entry.size - addRecordSize(0, entry.payload.length), entry.payload, entry.retain, entry.packetId);
}

/**
 * Writes `entries` under a header giving `nextKey` into `paths.temporary` and renames it over
 * `paths.file`. Returns the new file's descriptor (open for appending) and size; the caller closes
 * the old one. Throws a StoreError when it fails, the temporary file removed and the old file intact.
 */
export function writeCompacted(paths: StorePaths, directory: string, fsync: FsyncMode, nextKey: number, entries: Iterable<LiveEntry>): { fd: number; size: number } {
  const fs = nodeFs();
  const { file, temporary } = paths;
  const out = new RecordWriter(COMPACT_BUFFER);
  let fd = -1;
  let written = 0;
  const flushOut = (): void => {
    for (let done = 0; done < out.length; ) done += fs.writeSync(fd, out.bytes, done, out.length - done, written + done);
    written += out.length;
    out.clear();
  };
  try {
    fd = fs.openSync(temporary, 'w+', 0o644);
    out.header(nextKey);
    for (const entry of entries) {
      writeEntry(out, entry);
      if (out.length >= COMPACT_CHUNK) flushOut();
    }
    flushOut();
    if (fsync !== 'never') fs.fdatasyncSync(fd);
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
  if (fsync !== 'never') syncDirectory(directory);
  return { fd, size: written };
}
