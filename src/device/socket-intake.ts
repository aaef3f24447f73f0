/*
 * Where one connection's bytes go when the socket is read through Node's `onread`: Node
 * decrypts each TLS record (16 KiB at most) into one buffer, reused for the whole connection,
 * and calls back with how many bytes it holds. Measured on [::1], reading a download that way
 * instead of through 'data' events (a new Buffer and a stream push per record) took about a
 * fifth of the CPU off the client (docs/ota.md, Throughput).
 *
 * The bytes are only valid during the call: whoever takes them copies what it keeps. Between two
 * takers (the head has been read, the answer is being checked) the socket is paused, but Node
 * still delivers the records it had already decrypted from the same read; those are kept, copied,
 * in a backlog for the next taker.
 */
import type { OnReadOpts } from 'node:net';

/**
 * Bytes of the reused read buffer. Node's TLS socket hands over at most one record's plaintext
 * (16 KiB) per call, so a larger buffer would only be partly used.
 *
 * @internal
 */
export const READ_BUFFER_BYTES = 16 * 1024;

/**
 * Takes `bytes` (a view of the read buffer, valid during the call only); returns `false` to
 * pause the socket. Must not throw.
 *
 * @internal
 */
export type Taker = (bytes: Buffer) => boolean;

/** @internal */
export class SocketIntake {
  readonly #buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  #take: Taker;
  #backlog: Buffer[] = [];
  #backlogBytes = 0;
  /** What the socket is opened with. */
  readonly onread: OnReadOpts;
  /** Called if a taker throws after all (the callback must not: nothing above it would catch). */
  onError: (error: unknown) => void = () => {};

  constructor() {
    this.#take = this.#keep;
    this.onread = { buffer: this.#buffer, callback: (count) => this.#received(count) };
  }

  /**
   * From now on the bytes go to `take`, the held ones first, in order. Should `take` hand over
   * while it reads them ({@link hold}, {@link stop}), the rest stay held (or are dropped).
   * Returns what `take` last answered (`true` when nothing was held): whether to resume reading.
   */
  give(take: Taker): boolean {
    const backlog = this.#takeBacklog();
    this.#take = take;
    let more = true;
    for (let index = 0; index < backlog.length; index += 1) {
      if (this.#take !== take) {
        if (this.#take === this.#keep) this.#putBack(backlog.slice(index));
        break;
      }
      more = take(backlog[index]!);
    }
    return more;
  }

  /** From now on the bytes are copied into the backlog (and the socket asked to pause), until {@link give}. */
  hold(): void {
    this.#take = this.#keep;
  }

  /** From now on the bytes are dropped (the answer is complete or failed; the socket is about to be destroyed). */
  stop(): void {
    this.#take = drop;
  }

  /** The bytes held, in order; the backlog is empty afterwards. */
  #takeBacklog(): Buffer[] {
    const backlog = this.#backlog;
    this.#backlog = [];
    this.#backlogBytes = 0;
    return backlog;
  }

  /** Bytes in the backlog. */
  get backlogBytes(): number {
    return this.#backlogBytes;
  }

  /** Puts `chunks` (copies) back at the front of the backlog. */
  #putBack(chunks: readonly Buffer[]): void {
    this.#backlog.unshift(...chunks);
    for (const chunk of chunks) this.#backlogBytes += chunk.byteLength;
  }

  readonly #keep: Taker = (bytes) => {
    this.#backlog.push(Buffer.from(bytes));
    this.#backlogBytes += bytes.byteLength;
    return false;
  };

  #received(count: number): boolean {
    const buffer = this.#buffer;
    try {
      return this.#take(count === buffer.byteLength ? buffer : buffer.subarray(0, count));
    } catch (error) {
      this.#take = drop;
      this.onError(error);
      return false;
    }
  }
}

const drop: Taker = () => false;
