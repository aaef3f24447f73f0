/*
 * The OTA download's disk side: the partial file beside the destination (its name, its size, its
 * bytes hashed again after a broken connection, cutting it back to zero), opening and closing it
 * for the body, putting what was written on the disk while the download goes on, the free space
 * checked before starting, and the verified file synced and renamed onto the destination.
 */
import type { Hash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { nodeCrypto, nodeFs } from '../shared/builtins.js';
import type { DigestMethod } from '../aliyun/wire/digest.js';
import { fileError, OtaDownloadError } from './ota-errors.js';
import type { FirmwareFile } from './ota-types.js';

/** The partial file a download of `file` to `destination` writes. */
export function partialPath(destination: string, file: Pick<FirmwareFile, 'sign'>): string {
  return join(dirname(destination), `${basename(destination)}.${file.sign.slice(0, 16).toLowerCase()}.part`);
}

/** Removes the partial file a `keepPartial` download left, if any. */
export async function discardPartial(destination: string, file: Pick<FirmwareFile, 'sign'>): Promise<void> {
  await nodeFs().promises.rm(partialPath(destination, file), { force: true });
}

/**
 * The size of the partial file at `partial`, 0 when there is none.
 *
 * @internal
 */
export async function partialSize(partial: string): Promise<number> {
  try {
    const stats = await nodeFs().promises.stat(partial);
    return stats.isFile() ? stats.size : 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw fileError(error, `cannot read ${partial}`);
  }
}

/**
 * What reached the disk: the partial file's bytes, hashed again from the start, and their count.
 *
 * @internal
 */
export async function readBack(partial: string, method: DigestMethod): Promise<{ readonly hash: Hash; readonly received: number }> {
  const hash = nodeCrypto().createHash(method);
  let received = 0;
  if ((await partialSize(partial)) > 0) {
    const stream = nodeFs().createReadStream(partial, { highWaterMark: 1 << 20 });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        received += chunk.byteLength;
      }
    } catch (error) {
      throw fileError(error, `cannot read back ${partial}`);
    }
  }
  return { hash, received };
}

/**
 * Cuts the partial file back to nothing (the file starts again from zero).
 *
 * @internal
 */
export async function truncatePartial(partial: string): Promise<void> {
  try {
    await nodeFs().promises.truncate(partial, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(error, `cannot truncate ${partial}`);
  }
}

/**
 * Refuses to start when the destination's directory has fewer than `needed` bytes free.
 *
 * @internal
 */
export async function checkSpace(destination: string, needed: number): Promise<void> {
  const directory = dirname(destination);
  let stats;
  try {
    stats = await nodeFs().promises.statfs(directory);
  } catch (error) {
    throw fileError(error, `cannot use the directory ${directory}`);
  }
  const free = stats.bavail * stats.bsize;
  if (free < needed) {
    throw new OtaDownloadError('disk-full', `the file needs ${needed} more bytes but ${directory} has ${free} free; make room and retry`);
  }
}

/**
 * The verified partial file synced to disk and renamed onto `destination`, the rename made durable.
 *
 * @internal
 */
export async function install(partial: string, destination: string): Promise<void> {
  const fs = nodeFs().promises;
  try {
    const handle = await fs.open(partial, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(partial, destination);
  } catch (error) {
    throw fileError(error, `cannot put the verified file at ${destination}`);
  }
  await syncDirectory(dirname(destination));
}

/**
 * Bytes written between two background syncs of the partial file.
 *
 * @internal
 */
export const SYNC_EVERY = 8 << 20;

/**
 * Puts what was written on the disk while the download goes on: an fdatasync in the thread pool
 * after every {@link SYNC_EVERY} bytes, one at a time. The fsync before the rename then has
 * little left to do (a whole 128 MiB file took about 70 ms of it at the end on the reference
 * machine's disk, which curl does not spend), a small device does not pile up dirty pages for
 * the whole file, and a write-back error (a full disk found late) reaches the descriptor that
 * wrote: a descriptor opened after it would not see it.
 *
 * @internal
 */
export class BackgroundSync {
  readonly #fd: number;
  #unsynced = 0;
  #inFlight: Promise<void> | undefined;
  #error: unknown;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** `bytes` more are going to the file. */
  wrote(bytes: number): void {
    this.#unsynced += bytes;
    if (this.#unsynced < SYNC_EVERY || this.#inFlight !== undefined || this.#error !== undefined) return;
    this.#unsynced = 0;
    this.#inFlight = new Promise((resolve) =>
      nodeFs().fdatasync(this.#fd, (error) => {
        if (error !== null) this.#error ??= error;
        this.#inFlight = undefined;
        resolve();
      }),
    );
  }

  /** The first error a sync met. */
  get error(): unknown {
    return this.#error;
  }

  /** Resolves once no sync is in flight (the descriptor may be closed); rejects with the first error. */
  async settled(): Promise<void> {
    await this.#inFlight;
    if (this.#error !== undefined) throw this.#error;
  }
}

/** @internal */
export function openFile(path: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => nodeFs().open(path, flags, (error, fd) => (error ? reject(error) : resolve(fd))));
}

/** @internal */
export function closeFile(fd: number): Promise<void> {
  return new Promise((resolve) => nodeFs().close(fd, () => resolve()));
}

/**
 * Makes the rename itself durable, where the system allows syncing a directory (Linux, macOS);
 * elsewhere the rename stands as the file system keeps it.
 */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await nodeFs().promises.open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform opens or syncs a directory; the file itself is already synced.
  }
}
