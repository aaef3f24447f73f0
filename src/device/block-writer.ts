/*
 * Writes a stream of small chunks (a TLS connection hands over 16 KiB at a time) to a file in
 * large blocks, each at its own position.
 *
 * Why not `fs.createWriteStream`: it writes what it is given, one thread-pool round trip per
 * chunk, and its 16 KiB buffer pauses the socket after every chunk; measured on [::1], that kept
 * the OTA download at well under half of curl's rate. Copying into 1 MiB blocks costs a memcpy
 * and turns 64 writes of 16 KiB into one.
 *
 * Each block is first written synchronously, as curl does: a write into the page cache takes a
 * fraction of a millisecond, less than a round trip through the thread pool, and measured on
 * [::1] the download ran about a quarter faster that way. But when the disk is slower than the
 * network the kernel makes writers wait for it, and a gateway's event loop must not stop on a
 * slow SD card: once one write takes longer than {@link SLOW_WRITE_MS}, the writer hands every
 * later block to the thread pool, up to {@link MAX_IN_FLIGHT} at once.
 */
import { nodeFs } from '../shared/builtins.js';

/**
 * Bytes per write.
 *
 * @internal
 */
export const BLOCK_SIZE = 1 << 20;
/**
 * Blocks written at once in the thread pool before the writer asks the source to pause.
 *
 * @internal
 */
export const MAX_IN_FLIGHT = 4;
/**
 * A synchronous write that takes longer than this (ms) moves the writer to the thread pool for good.
 *
 * @internal
 */
export const SLOW_WRITE_MS = 10;

/**
 * How the writer writes now.
 *
 * @internal
 */
export type WriteMode = 'sync' | 'async';

/** @internal */
export class BlockWriter {
  readonly #fd: number;
  readonly #now: () => number;
  #mode: WriteMode;
  #position: number;
  #block: Buffer;
  #used = 0;
  #inFlight = 0;
  /** Blocks whose write finished, ready to be filled again. */
  readonly #spare: Buffer[] = [];
  #error: unknown;
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** Called when the writer can take more after {@link write} returned `false`. */
  onDrain: () => void = () => {};
  /** Called once, with the first write error. */
  onError: (error: unknown) => void = () => {};
  /**
   * Sees each block as it goes to the disk, in order: hashing 1 MiB at a time costs about half
   * of hashing the same bytes 16 KiB at a time (one call into OpenSSL instead of 64).
   */
  onBlock: (bytes: Buffer) => void = () => {};

  /**
   * Writes to the open descriptor `fd` from byte `position` on. The caller closes `fd`.
   * `mode` 'async' starts in the thread pool; `now` times the synchronous writes (ms).
   */
  constructor(fd: number, position: number, options: { readonly mode?: WriteMode; readonly now?: () => number } = {}) {
    this.#fd = fd;
    this.#position = position;
    this.#mode = options.mode ?? 'sync';
    this.#now = options.now ?? (() => performance.now());
    this.#block = Buffer.allocUnsafe(BLOCK_SIZE);
  }

  /** How the next block will be written. */
  get mode(): WriteMode {
    return this.#mode;
  }

  /**
   * Takes a copy of `chunk`. Returns `false` when {@link MAX_IN_FLIGHT} blocks are being written:
   * pause the source until {@link onDrain}.
   */
  write(chunk: Buffer): boolean {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const count = Math.min(chunk.byteLength - offset, BLOCK_SIZE - this.#used);
      chunk.copy(this.#block, this.#used, offset, offset + count);
      this.#used += count;
      offset += count;
      if (this.#used === BLOCK_SIZE) this.#issue();
    }
    return this.#inFlight < MAX_IN_FLIGHT;
  }

  /**
   * Writes what is buffered and resolves once every write has finished, or rejects with the
   * first write error.
   */
  flush(): Promise<void> {
    if (this.#used > 0 && this.#error === undefined) this.#issue();
    return this.settled();
  }

  /** Resolves once no write is in flight (buffered bytes stay buffered), or rejects with the first error. */
  settled(): Promise<void> {
    if (this.#inFlight === 0) return this.#error === undefined ? Promise.resolve() : Promise.reject(this.#error);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #issue(): void {
    const block = this.#block;
    const length = this.#used;
    const position = this.#position;
    this.#position += length;
    this.#used = 0;
    this.onBlock(block.subarray(0, length));
    if (this.#error !== undefined) return;
    if (this.#mode === 'sync') {
      this.#writeNow(block, length, position);
      return;
    }
    this.#block = this.#spare.pop() ?? Buffer.allocUnsafe(BLOCK_SIZE);
    this.#inFlight += 1;
    this.#writeLater(block, 0, length, position);
  }

  #writeNow(block: Buffer, length: number, position: number): void {
    const started = this.#now();
    let offset = 0;
    try {
      // `writeSync` may write less than asked (a full disk, a signal): write the rest.
      while (offset < length) {
        const written = nodeFs().writeSync(this.#fd, block, offset, length - offset, position + offset);
        if (written === 0) throw noRoom();
        offset += written;
      }
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#now() - started > SLOW_WRITE_MS) this.#mode = 'async';
  }

  #writeLater(block: Buffer, offset: number, length: number, position: number): void {
    nodeFs().write(this.#fd, block, offset, length, position, (error, written) => {
      if (error === null && written < length && written > 0) {
        this.#writeLater(block, offset + written, length - written, position + written);
        return;
      }
      this.#inFlight -= 1;
      this.#spare.push(block);
      if (error !== null || written === 0) this.#fail(error ?? noRoom());
      else if (this.#inFlight === MAX_IN_FLIGHT - 1) this.onDrain();
      if (this.#inFlight === 0) {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const waiter of waiters) {
          if (this.#error === undefined) waiter.resolve();
          else waiter.reject(this.#error);
        }
      }
    });
  }

  #fail(error: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.onError(error);
  }
}

function noRoom(): Error {
  return Object.assign(new Error('the disk took no bytes'), { code: 'ENOSPC', syscall: 'write' });
}
