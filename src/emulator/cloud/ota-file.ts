/**
 * An OTA job's file as the stand-in serves it: from a path or from bytes, hashed once when the
 * job is made (the platform computes the digest of an uploaded package too), and served in parts
 * for resumed downloads. For tests and demos it can serve the file slowly (`bytesPerSecond`) or
 * cut the connection after some bytes (`dropAfter`), as a flaky network would.
 */
import { Readable } from 'node:stream';
import { basename } from 'node:path';
import type { Clock } from '../../shared/clock.js';
import { nodeCrypto, nodeFs } from '../../shared/builtins.js';
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue, requireIntegerIn } from '../../shared/validate.js';
import type { DigestMethod } from '../../aliyun/wire/digest.js';
import type { HttpFile } from '../http/server.js';
import type { OtaServeFaults } from './ota-types.js';

/** Where the bytes come from. */
type Content = { readonly kind: 'bytes'; readonly bytes: Buffer } | { readonly kind: 'path'; readonly path: string };

/** The file of one job: its true size and digest, and what the HTTPS server needs to serve it. */
export interface OtaFile {
  readonly size: number;
  /** Lower-case hex, by the job's method. */
  readonly digest: string;
  /** The last segment of its URL. */
  readonly name: string;
  /** The served file; each call to `open` counts as one download. */
  served(faults: OtaServeFaults, clock: Clock, onOpen: () => void): HttpFile;
}

const CHUNK = 256 * 1024;
/** The paced stream sends a slice every this many milliseconds. */
const PACE_MS = 100;

/**
 * Reads (and hashes) the file of a job once.
 *
 * @throws ConfigurationError (`file`) when the path cannot be read, is not a file, or is empty.
 */
export async function loadOtaFile(file: string | Uint8Array, method: DigestMethod, name: string | undefined): Promise<OtaFile> {
  let content: Content;
  let size: number;
  const hash = nodeCrypto().createHash(method);
  if (typeof file === 'string') {
    try {
      const stats = await nodeFs().promises.stat(file);
      if (!stats.isFile()) throw new Error('not a regular file');
      size = stats.size;
      for await (const chunk of nodeFs().createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) hash.update(chunk);
    } catch (cause) {
      throw new ConfigurationError('file', `cannot read the firmware file ${file} (${(cause as Error).message}); give the path of a file, or its bytes`);
    }
    content = { kind: 'path', path: file };
  } else if (file instanceof Uint8Array) {
    const bytes = Buffer.from(file); // a copy: the caller may reuse its buffer
    size = bytes.byteLength;
    hash.update(bytes);
    content = { kind: 'bytes', bytes };
  } else {
    throw new ConfigurationError('file', `got ${describeValue(file)}; give the path of the firmware file, or its bytes`);
  }
  if (size === 0) throw new ConfigurationError('file', 'the firmware file is empty; the platform refuses an empty package');
  const digest = hash.digest('hex');
  const fallback = content.kind === 'path' ? basename(content.path) : 'firmware.bin';
  const safe = (name ?? fallback).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 64);
  const lastModified = new Date().toUTCString();
  return {
    size,
    digest,
    name: safe === '' ? 'firmware.bin' : safe,
    served: (faults, clock, onOpen) => {
      const dropAfter = faults.dropAfter === undefined ? undefined : requireIntegerIn('serve.dropAfter', faults.dropAfter, 0, Number.MAX_SAFE_INTEGER, 'give bytes');
      let drops = requireIntegerIn('serve.drops', faults.drops ?? 1, 0, Number.MAX_SAFE_INTEGER, 'give a count');
      const rate = faults.bytesPerSecond === undefined ? undefined : requireIntegerIn('serve.bytesPerSecond', faults.bytesPerSecond, 1, Number.MAX_SAFE_INTEGER, 'give bytes per second');
      return {
        size,
        etag: `"${digest.slice(0, 32)}"`,
        lastModified,
        open: (start, end) => {
          onOpen();
          let cut: number | undefined;
          if (dropAfter !== undefined && drops > 0) {
            drops -= 1;
            cut = dropAfter;
          }
          return new FileSlice(content, start, end, { cut, rate, clock });
        },
      };
    },
  };
}

/** The bytes `start`..`end` of the content, paced and cut as asked. */
class FileSlice extends Readable {
  readonly #content: Content;
  #position: number;
  readonly #end: number;
  /** Bytes of this answer still allowed before the cut. */
  #untilCut: number | undefined;
  readonly #rate: number | undefined;
  readonly #clock: Clock;
  #fd: number | undefined;
  #busy = false;
  #timer: unknown;

  constructor(content: Content, start: number, end: number, options: { cut: number | undefined; rate: number | undefined; clock: Clock }) {
    super({ highWaterMark: CHUNK });
    this.#content = content;
    this.#position = start;
    this.#end = end;
    this.#untilCut = options.cut;
    this.#rate = options.rate;
    this.#clock = options.clock;
  }

  override _read(): void {
    if (this.#busy) return;
    this.#busy = true;
    if (this.#rate === undefined) {
      void this.#next(CHUNK);
    } else {
      // A slice every PACE_MS: at least one byte, so a low rate still moves.
      const slice = Math.max(1, Math.floor((this.#rate * PACE_MS) / 1000));
      this.#timer = this.#clock.setTimeout(() => void this.#next(slice), PACE_MS);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#clock.clearTimeout(this.#timer);
    if (this.#fd !== undefined) nodeFs().close(this.#fd, () => callback(error));
    else callback(error);
  }

  async #next(wanted: number): Promise<void> {
    if (this.destroyed) return;
    if (this.#untilCut === 0) {
      this.destroy(new Error('the stand-in cut the connection (serve.dropAfter)'));
      return;
    }
    const length = Math.min(wanted, this.#end - this.#position + 1, this.#untilCut ?? Number.MAX_SAFE_INTEGER);
    let chunk: Buffer;
    try {
      chunk = await this.#bytes(this.#position, length);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    if (this.destroyed) return;
    this.#position += chunk.byteLength;
    if (this.#untilCut !== undefined) this.#untilCut -= chunk.byteLength;
    this.#busy = false;
    this.push(chunk);
    if (this.#position > this.#end) this.push(null);
  }

  async #bytes(position: number, length: number): Promise<Buffer> {
    if (this.#content.kind === 'bytes') return this.#content.bytes.subarray(position, position + length);
    if (this.#fd === undefined) {
      const fd = await new Promise<number>((resolve, reject) =>
        nodeFs().open((this.#content as { path: string }).path, 'r', (error, opened) => (error ? reject(error) : resolve(opened))),
      );
      // Destroyed while it opened: _destroy found nothing to close.
      if (this.destroyed) {
        nodeFs().close(fd, () => {});
        throw new Error('destroyed');
      }
      this.#fd = fd;
    }
    const buffer = Buffer.allocUnsafe(length);
    const read = await new Promise<number>((resolve, reject) =>
      nodeFs().read(this.#fd!, buffer, 0, length, position, (error, bytes) => (error ? reject(error) : resolve(bytes))),
    );
    if (read === 0) throw new Error('the firmware file got shorter since the job was made');
    return buffer.subarray(0, read);
  }
}
