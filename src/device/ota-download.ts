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
 */
import type { Hash } from 'node:crypto';
import type { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { nodeCrypto, nodeFs } from '../shared/builtins.js';
import { systemClock } from '../shared/clock.js';
import type { Clock } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireText } from '../shared/validate.js';
import { OTA_FAILURE } from '../aliyun/ota/ota.js';
import type { DigestMethod } from '../aliyun/wire/digest.js';
import { DIGEST_HEX_LENGTH } from '../aliyun/wire/digest.js';
import { TransportError } from '../transport/errors.js';
import type { ConnectionChoices, HttpsTarget } from './https-request.js';
import { MAX_TIMER, openHttpsConnection, requestHead, resolveTarget } from './https-request.js';
import { BlockWriter } from './block-writer.js';
import { ResponseReader } from './http-response.js';
import { SocketIntake } from './socket-intake.js';
import type { Taker } from './socket-intake.js';

/** The file to fetch: what an OTA job says (an `OtaJob` over HTTPS works as it is). */
export interface FirmwareFile {
  readonly url: string | undefined;
  /** Bytes. */
  readonly size: number;
  readonly signMethod: DigestMethod;
  /** Hex digest of the whole file. */
  readonly sign: string;
}

/** Where the download stands, as {@link DownloadFirmwareOptions.onProgress} hears it. */
export interface DownloadProgress {
  /** Bytes of the file on disk so far. */
  readonly received: number;
  readonly total: number;
  /** `floor(100 * received / total)`. */
  readonly percent: number;
  /** Bytes over the network per second since the download started (restarts included). */
  readonly bytesPerSecond: number;
  /** Connections resumed so far. */
  readonly resumes: number;
}

/** What {@link downloadFirmware} needs. */
export interface DownloadFirmwareOptions extends ConnectionChoices {
  readonly file: FirmwareFile;
  /** The path the verified file is renamed to. Its directory must exist. */
  readonly destination: string;
  /** Cancels the download; the partial file is removed (kept with `keepPartial`). */
  readonly signal?: AbortSignal | undefined;
  /** Resumes after a dropped or stalled connection (or a 5xx answer) before giving up; default 5. */
  readonly retries?: number | undefined;
  /** Milliseconds without a byte before a connection counts as stalled; default 30000. */
  readonly idleTimeout?: number | undefined;
  /**
   * The slowest a connection may be: one that brings fewer bytes than this per second, over a
   * whole `idleTimeout`, counts as stalled too and is resumed on a new connection (a server that
   * trickles a byte now and then would otherwise hold the download for ever). Default 256; 0
   * turns the check off.
   */
  readonly minBytesPerSecond?: number | undefined;
  /** Milliseconds before the first resume, doubling each time up to 30 s; default 1000. */
  readonly retryDelay?: number | undefined;
  /** Keep the partial file when the download fails on the network or is aborted, for a later call to resume; default false. */
  readonly keepPartial?: boolean | undefined;
  /**
   * Hears the progress at most once per percent and at least once a second while bytes arrive,
   * and once at 100 %. A throw from it ends the download (`handler-failed`).
   */
  readonly onProgress?: ((progress: DownloadProgress) => void) | undefined;
  /** Time for the stall check, the progress rate and the resume delays; default the system clock. */
  readonly clock?: Clock | undefined;
}

/** A verified download. */
export interface DownloadResult {
  /** The destination. */
  readonly path: string;
  readonly size: number;
  readonly signMethod: DigestMethod;
  /** Lower-case hex digest, equal to the job's. */
  readonly digest: string;
  /** Connections resumed. */
  readonly resumes: number;
  /** Bytes that came over the network, restarts included. */
  readonly transferred: number;
}

/** Why a download failed. */
export type OtaDownloadErrorCode =
  /** The server answered with a status that will not change on retry (4xx); `status` holds it. */
  | 'http-status'
  /** The server's length differs from the job's size, or it sent more, or ended short. */
  | 'size-mismatch'
  /** All bytes arrived but their digest is not the job's. */
  | 'digest-mismatch'
  /** The connection failed, dropped or stalled, and kept doing so through every resume (`cause` is the last error). */
  | 'network'
  /** The disk has no room for the file (checked before starting, and on every write). */
  | 'disk-full'
  /** The partial file or the destination could not be written or renamed (`cause` says why). */
  | 'file-error'
  /** `signal` aborted. */
  | 'aborted'
  /** `onProgress` threw (`cause`). */
  | 'handler-failed';

/** A failed download. `step` is what to report to the platform as progress. */
export class OtaDownloadError extends Error {
  override readonly name = 'OtaDownloadError';
  readonly code: OtaDownloadErrorCode;
  /** The platform's failure step for this failure: -2 download failed, -3 verification failed, -1 otherwise. */
  readonly step: number;
  /** For `http-status`: the HTTP status. */
  readonly status: number | undefined;

  constructor(code: OtaDownloadErrorCode, message: string, details: { cause?: unknown; status?: number } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.step = STEP_OF[code];
  }
}

const STEP_OF: Readonly<Record<OtaDownloadErrorCode, number>> = {
  'http-status': OTA_FAILURE.downloadFailed,
  'size-mismatch': OTA_FAILURE.verifyFailed,
  'digest-mismatch': OTA_FAILURE.verifyFailed,
  network: OTA_FAILURE.downloadFailed,
  'disk-full': OTA_FAILURE.downloadFailed,
  'file-error': OTA_FAILURE.downloadFailed,
  aborted: OTA_FAILURE.upgradeFailed,
  'handler-failed': OTA_FAILURE.upgradeFailed,
};

/** The partial file a download of `file` to `destination` writes. */
export function partialPath(destination: string, file: Pick<FirmwareFile, 'sign'>): string {
  return join(dirname(destination), `${basename(destination)}.${file.sign.slice(0, 16).toLowerCase()}.part`);
}

/** Removes the partial file a `keepPartial` download left, if any. */
export async function discardPartial(destination: string, file: Pick<FirmwareFile, 'sign'>): Promise<void> {
  await nodeFs().promises.rm(partialPath(destination, file), { force: true });
}

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

interface Plan {
  readonly target: HttpsTarget;
  readonly path: string;
  readonly size: number;
  readonly method: DigestMethod;
  readonly digest: string;
  readonly destination: string;
  readonly partial: string;
  readonly signal: AbortSignal | undefined;
  readonly retries: number;
  readonly idleTimeout: number;
  readonly minBytesPerSecond: number;
  readonly retryDelay: number;
  readonly keepPartial: boolean;
  readonly onProgress: ((progress: DownloadProgress) => void) | undefined;
  readonly clock: Clock;
}

function checkOptions(options: DownloadFirmwareOptions): Plan {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', 'expected an object with file and destination');
  const file = options.file;
  if (typeof file !== 'object' || file === null) throw new ConfigurationError('file', 'expected the job: { url, size, signMethod, sign }');
  if (file.url === undefined) throw new ConfigurationError('file.url', 'this job has no URL (its file comes over MQTT); only HTTPS downloads are supported');
  const urlText = requireText('file.url', file.url, 'give the https URL from the job');
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new ConfigurationError('file.url', 'is not an absolute URL');
  }
  if (url.protocol !== 'https:') throw new ConfigurationError('file.url', `uses ${url.protocol}; only https: is accepted (the digest alone cannot stop a swapped file from wasting the download)`);
  const size = requireIntegerIn('file.size', file.size, 1, Number.MAX_SAFE_INTEGER, 'give the size in bytes from the job');
  const method = file.signMethod;
  if (method !== 'md5' && method !== 'sha256') throw new ConfigurationError('file.signMethod', `got ${describeValue(method)}; use 'md5' or 'sha256' as the job says`);
  const digest = requireText('file.sign', file.sign, 'give the digest from the job').toLowerCase();
  if (digest.length !== DIGEST_HEX_LENGTH[method] || !/^[0-9a-f]+$/.test(digest)) {
    throw new ConfigurationError('file.sign', `must be the ${DIGEST_HEX_LENGTH[method]}-digit hex ${method} digest from the job`);
  }
  const destination = requireText('destination', options.destination, 'give the path for the verified file');
  const keepPartial = options.keepPartial ?? false;
  if (typeof keepPartial !== 'boolean') throw new ConfigurationError('keepPartial', 'use true or false');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new ConfigurationError('onProgress', 'expected a function');
  const signal = options.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')) {
    throw new ConfigurationError('signal', 'expected an AbortSignal');
  }
  return {
    target: resolveTarget(url.hostname, url.port === '' ? 443 : Number(url.port), options),
    path: `${url.pathname}${url.search}`,
    size,
    method,
    digest,
    destination,
    partial: partialPath(destination, { sign: digest }),
    signal,
    retries: requireIntegerIn('retries', options.retries ?? 5, 0, 1000, 'give a count, e.g. 5'),
    idleTimeout: requireIntegerIn('idleTimeout', options.idleTimeout ?? 30_000, 1, MAX_TIMER, 'give milliseconds, e.g. 30000'),
    minBytesPerSecond: requireIntegerIn('minBytesPerSecond', options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND, 0, Number.MAX_SAFE_INTEGER, 'give bytes a second, e.g. 256, or 0 for no floor'),
    retryDelay: requireIntegerIn('retryDelay', options.retryDelay ?? 1000, 0, MAX_TIMER, 'give milliseconds, e.g. 1000'),
    keepPartial,
    onProgress: options.onProgress,
    clock: options.clock ?? systemClock,
  };
}

/** The stall check of one connection. */
interface StallWatch {
  /** `bytes` came (or, with 0, the wait is ours, not the server's): returns the time. */
  touch(bytes: number): number;
  /** While held, the socket is paused on purpose (the disk is behind): neither check counts that time. */
  hold(held: boolean): void;
  stop(): void;
}

/** The slowest a connection may bring bytes, by default: see {@link DownloadFirmwareOptions.minBytesPerSecond}. */
const DEFAULT_MIN_BYTES_PER_SECOND = 256;

/** A failure that a resume may cure. */
class Retriable extends Error {}

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
      await this.#checkSpace();
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
      if (!(plan.keepPartial && (failure.code === 'network' || failure.code === 'aborted'))) await this.#removePartial();
      throw failure;
    } finally {
      plan.signal?.removeEventListener('abort', onAbort);
      this.#socket?.destroy();
    }
  }

  /** A partial left by an earlier `keepPartial` call for the same file: resume from its bytes. */
  async #resumeFromDisk(): Promise<void> {
    const size = await this.#partialSize();
    if (size > 0 && size <= this.#plan.size) {
      await this.#syncFromDisk();
    } else if (size > this.#plan.size) {
      await this.#removePartial();
    }
  }

  async #partialSize(): Promise<number> {
    try {
      const stats = await nodeFs().promises.stat(this.#plan.partial);
      return stats.isFile() ? stats.size : 0;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw fileError(error, `cannot read ${this.#plan.partial}`);
    }
  }

  /** After a broken attempt, what counts is what reached the disk: hash it again from there. */
  async #syncFromDisk(): Promise<void> {
    const hash = nodeCrypto().createHash(this.#plan.method);
    let received = 0;
    if ((await this.#partialSize()) > 0) {
      const stream = nodeFs().createReadStream(this.#plan.partial, { highWaterMark: 1 << 20 });
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          hash.update(chunk);
          received += chunk.byteLength;
        }
      } catch (error) {
        throw fileError(error, `cannot read back ${this.#plan.partial}`);
      }
    }
    this.#hash = hash;
    this.#received = received;
  }

  async #checkSpace(): Promise<void> {
    const directory = dirname(this.#plan.destination);
    let stats;
    try {
      stats = await nodeFs().promises.statfs(directory);
    } catch (error) {
      throw fileError(error, `cannot use the directory ${directory}`);
    }
    const free = stats.bavail * stats.bsize;
    const needed = this.#plan.size - this.#received;
    if (free < needed) {
      throw new OtaDownloadError('disk-full', `the file needs ${needed} more bytes but ${directory} has ${free} free; make room and retry`);
    }
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
    const watch = this.#watchStall(socket);
    try {
      socket.write(requestHead(plan.target, 'GET', plan.path, this.#requestHeaders()));
      const early = await readHead(socket, intake, reader, watch, () => failure);
      await this.#accept(reader);
      await this.#stream(socket, intake, reader, early, watch, () => failure);
    } finally {
      intake.stop();
      watch.stop();
      socket.destroy();
      this.#socket = undefined;
    }
  }

  #requestHeaders(): Record<string, string> {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (this.#received > 0) {
      headers['range'] = `bytes=${this.#received}-`;
      if (this.#validator !== undefined) headers['if-range'] = this.#validator;
    }
    return headers;
  }

  /** Checks the answer's status and lengths; restarts from zero when the server sends the whole file. */
  async #accept(reader: ResponseReader): Promise<void> {
    const plan = this.#plan;
    const { status, headers } = reader.head!;
    if (status === 200) {
      const length = reader.contentLength;
      if (length !== undefined && length !== plan.size) throw sizeMismatch(`the server's file is ${length} bytes, the job says ${plan.size}`);
      if (this.#received > 0) await this.#restart();
    } else if (status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headers.get('content-range') ?? '');
      if (range === null) throw retriable(new Error('a 206 answer without a readable Content-Range'));
      const [, first, , total] = range;
      if (total !== '*' && Number(total) !== plan.size) throw sizeMismatch(`the server's file is ${total} bytes, the job says ${plan.size}`);
      if (Number(first) !== this.#received) {
        await this.#restart();
        throw retriable(new Error(`the server resumed at byte ${first}, not ${this.#received}`));
      }
    } else if (status === 416) {
      await this.#restart();
      throw retriable(new Error('the server refused the range (416); starting over'));
    } else if (status >= 500) {
      throw retriable(new Error(`the server answered HTTP ${status}`));
    } else if (status >= 300 && status < 400) {
      // The job names the file; a redirect would hand the choice of server to whoever answers.
      throw new OtaDownloadError('http-status', `the server answered HTTP ${status}, a redirect: redirects are not followed, the job's URL must serve the file itself`, { status });
    } else {
      throw new OtaDownloadError('http-status', `the server answered HTTP ${status} for the firmware file; the job's URL may have expired: ask for the job again`, { status });
    }
    const coding = headers.get('content-encoding');
    if (coding !== undefined && coding.toLowerCase() !== 'identity') {
      throw retriable(new Error(`the server sent the file with Content-Encoding ${JSON.stringify(coding)} though asked for identity`));
    }
    this.#remember(headers);
  }

  #remember(headers: ReadonlyMap<string, string>): void {
    const etag = headers.get('etag');
    // A weak ETag must not be used in If-Range (RFC 9110 §13.1.5); Last-Modified may.
    if (etag !== undefined && !etag.startsWith('W/')) this.#validator = etag;
    else this.#validator = headers.get('last-modified');
  }

  async #restart(): Promise<void> {
    this.#hash = nodeCrypto().createHash(this.#plan.method);
    this.#received = 0;
    try {
      await nodeFs().promises.truncate(this.#plan.partial, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(error, `cannot truncate ${this.#plan.partial}`);
    }
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

  /**
   * Destroys `socket` when no byte came for a whole idle timeout, or when over a whole idle
   * timeout fewer bytes came than the minimum rate asks; checked every half of one on the clock.
   */
  #watchStall(socket: Socket): StallWatch {
    const { clock, idleTimeout, minBytesPerSecond } = this.#plan;
    const period = Math.max(1, Math.ceil(idleTimeout / 2));
    let last = clock.now();
    let windowStart = last;
    let windowBytes = 0;
    let held = false;
    let stopped = false;
    const check = (): void => {
      if (stopped) return;
      const now = clock.now();
      if (held) {
        last = windowStart = now;
        windowBytes = 0;
      } else if (now - last >= idleTimeout) {
        socket.destroy(new Error(`no byte for ${idleTimeout} ms`));
        return;
      } else if (minBytesPerSecond > 0 && now - windowStart >= idleTimeout) {
        const span = now - windowStart;
        if (windowBytes < (minBytesPerSecond * span) / 1000) {
          socket.destroy(new Error(`only ${windowBytes} bytes in ${span} ms, under ${minBytesPerSecond} bytes a second (minBytesPerSecond)`));
          return;
        }
        windowStart = now;
        windowBytes = 0;
      }
      handle = clock.setTimeout(check, period);
    };
    let handle = clock.setTimeout(check, period);
    return {
      touch: (bytes) => {
        windowBytes += bytes;
        last = clock.now();
        return last;
      },
      hold: (value) => {
        held = value;
        last = windowStart = clock.now();
        windowBytes = 0;
      },
      stop: () => {
        stopped = true;
        clock.clearTimeout(handle);
      },
    };
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
    const fs = nodeFs().promises;
    try {
      const handle = await fs.open(plan.partial, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(plan.partial, plan.destination);
    } catch (error) {
      throw fileError(error, `cannot put the verified file at ${plan.destination}`);
    }
    await syncDirectory(dirname(plan.destination));
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

  async #removePartial(): Promise<void> {
    try {
      await nodeFs().promises.rm(this.#plan.partial, { force: true });
    } catch {
      // Nothing more can be done about a partial that cannot be removed; the failure reported is the one that matters.
    }
  }
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
 */
class BackgroundSync {
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

function openFile(path: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => nodeFs().open(path, flags, (error, fd) => (error ? reject(error) : resolve(fd))));
}

function closeFile(fd: number): Promise<void> {
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

/**
 * Reads the response head off `socket`; resolves, the socket paused, with (copies of) the body
 * bytes that came with it. Bytes that still arrive are held by the intake.
 */
function readHead(socket: Socket, intake: SocketIntake, reader: ResponseReader, watch: StallWatch, failure: () => unknown): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const early: Buffer[] = [];
    const settle = (error?: unknown): void => {
      socket.off('close', onClose);
      if (error === undefined) {
        intake.hold();
        resolve(early);
      } else {
        intake.stop();
        reject(error);
      }
    };
    const onBytes: Taker = (chunk) => {
      watch.touch(chunk.byteLength);
      try {
        // The chunk is the socket's read buffer, used again for the next record: copy what stays.
        reader.push(chunk, (bytes) => early.push(Buffer.from(bytes)));
      } catch (error) {
        settle(retriable(error));
        return false;
      }
      if (reader.head === undefined) return true;
      settle();
      return false;
    };
    const onClose = (): void => settle(retriable(failure() ?? new Error('the connection closed before the answer came')));
    socket.once('close', onClose);
    // Bytes that came before this point (a server that spoke first) were held: they come first.
    if (!intake.give(onBytes)) return;
    if (socket.closed) onClose();
    // The intake paused the socket while it held bytes.
    else socket.resume();
  });
}

function sizeMismatch(message: string): OtaDownloadError {
  return new OtaDownloadError('size-mismatch', `${message}: the file is not the job's; it was deleted`);
}

function retriable(error: unknown): Retriable {
  const message = error instanceof TransportError ? error.message : (error as Error)?.message ?? String(error);
  return new Retriable(message, { cause: error });
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

function fileError(error: unknown, what: string): OtaDownloadError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code !== undefined && DISK_FULL.has(code)) {
    return new OtaDownloadError('disk-full', `${what}: the disk is full (${code}); make room and retry`, { cause: error });
  }
  return new OtaDownloadError('file-error', `${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}
