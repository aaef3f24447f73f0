/*
 * One connection of the OTA download, up to its body: the request's headers (a resume asks for
 * the missing range, `If-Range` guarding against a changed file), the watch that destroys a
 * stalled or trickling connection, the answer's head read off the socket, and the answer checked
 * (status, range, lengths, encoding) before a byte of the body is taken.
 */
import type { Socket } from 'node:net';
import type { Clock } from '../shared/clock.js';
import type { ResponseReader } from './http-response.js';
import { OtaDownloadError, retriable, sizeMismatch } from './ota-errors.js';
import type { SocketIntake, Taker } from './socket-intake.js';

/**
 * The request headers that fetch the file from byte `received` on; `validator` (a strong ETag or
 * Last-Modified of the file being fetched) keeps a resume from splicing a changed file.
 *
 * @internal
 */
export function requestHeaders(received: number, validator: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (received > 0) {
    headers['range'] = `bytes=${received}-`;
    if (validator !== undefined) headers['if-range'] = validator;
  }
  return headers;
}

/**
 * The stall check of one connection.
 *
 * @internal
 */
export interface StallWatch {
  /** `bytes` came (or, with 0, the wait is ours, not the server's): returns the time. */
  touch(bytes: number): number;
  /** While held, the socket is paused on purpose (the disk is behind): neither check counts that time. */
  hold(held: boolean): void;
  stop(): void;
}

/**
 * Destroys `socket` when no byte came for a whole idle timeout, or when over a whole idle
 * timeout fewer bytes came than the minimum rate asks; checked every half of one on the clock.
 *
 * @internal
 */
export function watchStall(socket: Socket, limits: { readonly clock: Clock; readonly idleTimeout: number; readonly minBytesPerSecond: number }): StallWatch {
  const { clock, idleTimeout, minBytesPerSecond } = limits;
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

/**
 * Reads the response head off `socket`; resolves, the socket paused, with (copies of) the body
 * bytes that came with it. Bytes that still arrive are held by the intake.
 *
 * @internal
 */
export function readHead(socket: Socket, intake: SocketIntake, reader: ResponseReader, watch: StallWatch, failure: () => unknown): Promise<Buffer[]> {
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

/**
 * Checks the answer's status and lengths for a file of `size` bytes asked for from byte
 * `received()` on (the bytes on disk, read when needed: `restart` sets them back to 0). When the
 * server sends the whole file, or resumes elsewhere, the file starts again from zero (`restart`).
 * Resolves with the validator for the next resume: a strong ETag or Last-Modified.
 *
 * @throws Retriable for what a new connection may cure, OtaDownloadError for what it cannot.
 *
 * @internal
 */
export async function acceptAnswer(reader: ResponseReader, size: number, received: () => number, restart: () => Promise<void>): Promise<string | undefined> {
  const { status, headers } = reader.head!;
  if (status === 200) {
    const length = reader.contentLength;
    if (length !== undefined && length !== size) throw sizeMismatch(`the server's file is ${length} bytes, the job says ${size}`);
    if (received() > 0) await restart();
  } else if (status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headers.get('content-range') ?? '');
    if (range === null) throw retriable(new Error('a 206 answer without a readable Content-Range'));
    const [, first, , total] = range;
    if (total !== '*' && Number(total) !== size) throw sizeMismatch(`the server's file is ${total} bytes, the job says ${size}`);
    const asked = received();
    if (Number(first) !== asked) {
      await restart();
      throw retriable(new Error(`the server resumed at byte ${first}, not ${asked}; starting over`));
    }
  } else if (status === 416) {
    await restart();
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
  const etag = headers.get('etag');
  // A weak ETag must not be used in If-Range (RFC 9110 §13.1.5); Last-Modified may.
  return etag !== undefined && !etag.startsWith('W/') ? etag : headers.get('last-modified');
}
