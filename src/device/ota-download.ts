/*
 * The OTA download: fetch an upgrade job's file over HTTPS, stream it to disk, resume after a
 * dropped connection, and check its size and digest before anything calls it done.
 *
 * The file is written to a partial file beside the destination,
 * `${destination}.${first 16 hex digits of the digest}.part`, and renamed onto the destination
 * only once its size and digest match the job (after an fsync, so a power cut cannot leave a
 * renamed file with missing bytes). The partial is named by the digest, so it can only ever be
 * resumed by a download of the same file.
 *
 * What is left behind:
 * - success: the destination, nothing else;
 * - the file is wrong (size or digest), the disk is full, the caller aborted, or any other
 *   failure: nothing, the partial is removed;
 * - with `keepPartial: true`, a download that failed on the network (after its resumes), or was
 *   aborted, keeps its partial, so that a later call for the same job resumes where it stopped
 *   (a program shutting down aborts and resumes on its next start); delete it with
 *   {@link discardPartial} when the job is over.
 *
 * Resuming sends `Range: bytes=N-` with `If-Range` (the strong ETag, or Last-Modified) so that a
 * changed file restarts from zero instead of being spliced; a server that ignores ranges (200)
 * restarts it from zero too. The platform serves OTA files from OSS over HTTPS; Python linkkit
 * (`download_ota_firmware`) trusts the platform's root CAs for them, as this module does for hosts
 * under `.aliyuncs.com`.
 *
 * This module runs the download: the attempts and their resumes, and the body from the socket
 * through the 1 MiB blocks, the digest and the writes into the partial file. Its parts live
 * beside it: the options checked (`ota-download-plan.ts`), one connection up to its body
 * (`ota-connection.ts`), the disk side (`ota-disk.ts`), the errors (`ota-errors.ts`) and the
 * public types (`ota-types.ts`).
 */
import type { Hash } from 'node:crypto';
import type { Socket } from 'node:net';
import { nodeCrypto } from '../shared/builtins.js';
import { openHttpsConnection, requestHead } from './https-request.js';
import { BlockWriter } from './block-writer.js';
import { ResponseReader } from './http-response.js';
import { SocketIntake } from './socket-intake.js';
import type { Taker } from './socket-intake.js';
import { checkOptions } from './ota-download-plan.js';
import type { Plan } from './ota-download-plan.js';
import { acceptAnswer, readHead, requestHeaders, watchStall } from './ota-connection.js';
import type { StallWatch } from './ota-connection.js';
import { BackgroundSync, checkSpace, closeFile, install, openFile, partialSize, readBack, truncatePartial } from './ota-disk.js';
import { OtaDownloadError, Retriable, fileError, retriable, sizeMismatch } from './ota-errors.js';
import { rmQuietly } from './ota-files.js';
import type { DownloadFirmwareOptions, DownloadResult } from './ota-types.js';

export { partialPath, discardPartial } from './ota-disk.js';
export { OtaDownloadError, type OtaDownloadErrorCode } from './ota-errors.js';
export type { FirmwareFile, DownloadProgress, DownloadFirmwareOptions, DownloadResult } from './ota-types.js';

/**
 * Downloads an OTA job's file to `destination`, resuming dropped connections, and resolves only
 * once the file on disk has the job's size and digest. Every option is checked before any I/O.
 *
 * @example
 * const job = parseOtaJob(payload).job;
 * const result = await downloadFirmware({ file: job, destination: '/var/lib/fw/next.bin',
 *   onProgress: ({ percent }) => report(percent) });
 * @throws ConfigurationError for a bad option.
 * @throws OtaDownloadError with its `code` and the `step` to report.
 */
export async function downloadFirmware(options: DownloadFirmwareOptions): Promise<DownloadResult> {
  const plan = checkOptions(options);
  const download = new Download(plan);
  return download.run();
}

const MAX_RETRY_DELAY = 30_000;

class Download {
  readonly #plan: Plan;
  #hash: Hash;
  #received = 0;
  #transferred = 0;
  #resumes = 0;
  /** `If-Range` value for resumes: a strong ETag or Last-Modified of the file being fetched. */
  #validator: string | undefined;
  readonly #started: number;
  readonly #rate = new ProgressRate();
  #socket: Socket | undefined;

  constructor(plan: Plan) {
    this.#plan = plan;
    this.#hash = nodeCrypto().createHash(plan.method);
    this.#started = plan.clock.now();
  }

  async run(): Promise<DownloadResult> {
    const plan = this.#plan;
    const onAbort = (): void => {
      this.#socket?.destroy();
    };
    plan.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.#checkAborted();
      await this.#resumeFromDisk();
      await checkSpace(plan.destination, plan.size - this.#received);
      let failures = 0;
      while (this.#received < plan.size) {
        this.#checkAborted();
        try {
          await this.#attempt();
        } catch (error) {
          this.#checkAborted();
          if (!(error instanceof Retriable)) throw error;
          failures += 1;
          if (failures > plan.retries) {
            throw new OtaDownloadError('network', `the download failed ${failures} times in a row: ${error.message}`, { cause: error.cause });
          }
          await this.#syncFromDisk();
          await this.#wait(Math.min(MAX_RETRY_DELAY, plan.retryDelay * 2 ** (failures - 1)));
          this.#resumes += 1;
          continue;
        }
        failures = 0;
      }
      return await this.#finish();
    } catch (error) {
      const failure = this.#asDownloadError(error);
      if (!(plan.keepPartial && (failure.code === 'network' || failure.code === 'aborted'))) await rmQuietly(plan.partial);
      throw failure;
    } finally {
      plan.signal?.removeEventListener('abort', onAbort);
      this.#socket?.destroy();
    }
  }

  /** A partial left by an earlier `keepPartial` call for the same file: resume from its bytes. */
  async #resumeFromDisk(): Promise<void> {
    const size = await partialSize(this.#plan.partial);
    if (size > 0 && size <= this.#plan.size) {
      await this.#syncFromDisk();
    } else if (size > this.#plan.size) {
      await rmQuietly(this.#plan.partial);
    }
  }

  /** After a broken attempt, what counts is what reached the disk: hash it again from there. */
  async #syncFromDisk(): Promise<void> {
    const { hash, received } = await readBack(this.#plan.partial, this.#plan.method);
    this.#hash = hash;
    this.#received = received;
  }

  /** One connection: ask for what is missing and stream it to the partial file. */
  async #attempt(): Promise<void> {
    const plan = this.#plan;
    // The socket is read through onread: the bytes come to the intake, not as 'data' events.
    const intake = new SocketIntake();
    let socket: Socket;
    try {
      socket = await openHttpsConnection(plan.target, plan.signal, intake.onread);
    } catch (error) {
      this.#checkAborted();
      throw retriable(error);
    }
    this.#socket = socket;
    // Every socket error ends the attempt through 'close'. This listener keeps the error for
    // that moment, and keeps it from being thrown while nothing reads (the partial file opens,
    // a restart truncates it).
    let failure: unknown;
    socket.on('error', (error) => {
      failure ??= error;
    });
    intake.onError = (error) => socket.destroy(error as Error);
    const reader = new ResponseReader();
    const watch = watchStall(socket, plan);
    try {
      socket.write(requestHead(plan.target, 'GET', plan.path, requestHeaders(this.#received, this.#validator)));
      const early = await readHead(socket, intake, reader, watch, () => failure);
      this.#validator = await acceptAnswer(reader, plan.size, () => this.#received, () => this.#restart());
      await this.#stream(socket, intake, reader, early, watch, () => failure);
    } finally {
      intake.stop();
      watch.stop();
      socket.destroy();
      this.#socket = undefined;
    }
  }

  /** The file starts again from zero. */
  async #restart(): Promise<void> {
    this.#hash = nodeCrypto().createHash(this.#plan.method);
    this.#received = 0;
    await truncatePartial(this.#plan.partial);
  }

  /**
   * Streams the body (`early`: the bytes that came with the head; then what the intake held
   * while the answer was checked; then the paused socket's) through the size, digest and
   * progress checks into the partial file.
   */
  async #stream(socket: Socket, intake: SocketIntake, reader: ResponseReader, early: readonly Buffer[], watch: StallWatch, failure: () => unknown): Promise<void> {
    const plan = this.#plan;
    let fd: number;
    try {
      fd = await openFile(plan.partial, this.#received === 0 ? 'w' : 'r+');
    } catch (error) {
      throw fileError(error, `cannot open ${plan.partial}`);
    }
    const writer = new BlockWriter(fd, this.#received);
    const sync = new BackgroundSync(fd);
    let outcome: unknown;
    try {
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        let full = false;
        const settle = (error?: unknown): void => {
          if (settled) return;
          settled = true;
          intake.stop();
          socket.off('close', onClose);
          if (error === undefined) {
            resolve();
          } else {
            socket.destroy();
            reject(error);
          }
        };
        // `bytes` may be a view of the socket's reused read buffer: the writer copies it at once.
        const take = (bytes: Buffer): void => {
          this.#transferred += bytes.byteLength;
          if (this.#received + bytes.byteLength > plan.size) throw sizeMismatch(`the server sent more than the job's ${plan.size} bytes`);
          this.#received += bytes.byteLength;
          if (!writer.write(bytes)) full = true;
        };
        // Returns whether to go on reading. After `false` Node may still hand over the rest of
        // the read it was decrypting (a few records): they are taken too, the writer holds them.
        const onBytes: Taker = (chunk) => {
          if (settled) return false;
          try {
            reader.push(chunk, take);
            this.#report(watch.touch(chunk.byteLength));
          } catch (error) {
            settle(error instanceof OtaDownloadError ? error : retriable(error));
            return false;
          }
          if (reader.done) {
            settle();
            return false;
          }
          if (!full) return true;
          // The disk is behind: no more reads until the writer drains.
          watch.hold(true);
          return false;
        };
        const onClose = (): void => {
          if (reader.end()) settle();
          else settle(retriable(failure() ?? new Error('the connection closed before the end of the file')));
        };
        writer.onDrain = () => {
          full = false;
          if (settled) return;
          watch.hold(false);
          socket.resume();
        };
        writer.onBlock = (bytes) => {
          this.#hash.update(bytes);
          sync.wrote(bytes.byteLength);
          // A write-back that failed ends the download now, not at the end of the file.
          if (sync.error !== undefined) throw fileError(sync.error, `cannot write ${plan.partial}`);
        };
        writer.onError = (error) => settle(fileError(error, `cannot write ${plan.partial}`));
        try {
          for (const bytes of early) take(bytes);
          // Counted as they came, with the head.
          this.#report(watch.touch(0));
        } catch (error) {
          settle(error);
          return;
        }
        if (reader.done) {
          settle();
          return;
        }
        // What came while the answer was checked first, then the socket's bytes.
        intake.give(onBytes);
        if (settled) return;
        if (socket.closed) onClose();
        else socket.once('close', onClose);
        if (!full) socket.resume();
      });
    } catch (error) {
      outcome = error;
    }
    // What arrived is written out before anything else happens: a resume reads it back.
    const writeError = await writer
      .flush()
      .then(() => sync.settled())
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    await closeFile(fd);
    if (outcome instanceof OtaDownloadError) throw outcome;
    if (writeError !== undefined) throw fileError(writeError, `cannot write ${plan.partial}`);
    if (outcome !== undefined) throw outcome;
    if (this.#received < plan.size) {
      if (reader.done && reader.framing !== 'length') {
        throw sizeMismatch(`the server ended the file after ${this.#received} bytes; the job says ${plan.size}`);
      }
      throw retriable(new Error(`the connection ended after ${this.#received} of ${plan.size} bytes`));
    }
  }

  #report(now: number): void {
    const onProgress = this.#plan.onProgress;
    if (onProgress === undefined) return;
    const total = this.#plan.size;
    const percent = Math.floor((100 * this.#received) / total);
    if (!this.#rate.due(now, percent)) return;
    const seconds = Math.max(now - this.#started, 1) / 1000;
    try {
      onProgress({ received: this.#received, total, percent, bytesPerSecond: Math.round(this.#transferred / seconds), resumes: this.#resumes });
    } catch (error) {
      throw new OtaDownloadError('handler-failed', `onProgress threw: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
  }

  /** Size and digest checked, the partial synced to disk and renamed onto the destination. */
  async #finish(): Promise<DownloadResult> {
    const plan = this.#plan;
    const digest = this.#hash.digest('hex');
    if (digest !== plan.digest) {
      throw new OtaDownloadError('digest-mismatch', `the file's ${plan.method} is ${digest}, the job says ${plan.digest}: the file is corrupt or not the job's; it was deleted`);
    }
    await install(plan.partial, plan.destination);
    return { path: plan.destination, size: plan.size, signMethod: plan.method, digest, resumes: this.#resumes, transferred: this.#transferred };
  }

  #wait(ms: number): Promise<void> {
    const { clock, signal } = this.#plan;
    if (ms === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clock.clearTimeout(handle);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const handle = clock.setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #checkAborted(): void {
    const signal = this.#plan.signal;
    if (signal?.aborted === true) throw this.#aborted();
  }

  #aborted(): OtaDownloadError {
    const left = this.#plan.keepPartial ? `what had arrived is kept in ${this.#plan.partial} for a later call to resume` : 'the partial file was removed';
    return new OtaDownloadError('aborted', `the download was aborted; ${left}`, { cause: this.#plan.signal?.reason });
  }

  #asDownloadError(error: unknown): OtaDownloadError {
    if (this.#plan.signal?.aborted === true) return this.#aborted();
    if (error instanceof OtaDownloadError) return error;
    if (error instanceof Retriable) return new OtaDownloadError('network', error.message, { cause: error.cause });
    return new OtaDownloadError('file-error', `the download failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

/**
 * When progress is worth telling: at each new percent, and once a second while the percent
 * stands still (a slow link on a big file), never more often.
 *
 * @internal
 */
export class ProgressRate {
  #at = Number.NEGATIVE_INFINITY;
  #percent = -1;

  /** Whether to report `percent` at time `now` (ms); if so, remembers it. */
  due(now: number, percent: number): boolean {
    if (percent === this.#percent && now - this.#at < 1000) return false;
    this.#at = now;
    this.#percent = percent;
    return true;
  }
}
