/**
 * An HTTPS file server on [::1] for the OTA download tests, with the faults a real one has:
 * dropping the connection half way, stalling, ignoring ranges, lying about the length, changing
 * the file between requests, answering errors.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHttpsServer } from './https-server.js';
import type { TestHttpsServer } from './https-server.js';

/** What the server does with one request. */
export interface Behaviour {
  /** HTTP status to answer instead of the file. */
  status?: number;
  /** Close the connection after this many body bytes. */
  dropAfter?: number;
  /** Stop sending (but keep the connection) after this many body bytes. */
  stallAfter?: number;
  /** Never answer (but keep the connection). */
  silent?: boolean;
  /** Bytes to send on the connection instead of an HTTP answer. */
  raw?: string;
  /** Answer 200 with the whole file whatever the Range says. */
  ignoreRange?: boolean;
  /** Content-Length to announce instead of the true one (`null`: none, chunked). */
  contentLength?: number | null;
  /** Bytes to send instead of the file. */
  body?: Buffer;
  /** ETag to send (default a strong one from the content). */
  etag?: string | null;
}

export interface FirmwareServer extends TestHttpsServer {
  readonly url: string;
  readonly file: Buffer;
  readonly md5: string;
  readonly sha256: string;
  /** Behaviour of the next requests, first to last; afterwards the default (serve it right). */
  readonly plan: Behaviour[];
  /** Resolves when a response has stalled (or a silent request came). */
  stalled(): Promise<void>;
}

export async function startFirmwareServer(file: Buffer): Promise<FirmwareServer> {
  const plan: Behaviour[] = [];
  const stallWaiters: (() => void)[] = [];
  const etag = `"${createHash('md5').update(file).digest('hex')}"`;
  const server = await startHttpsServer((request, _body, response) => serve(request, response, plan.shift() ?? {}));

  function serve(request: IncomingMessage, response: ServerResponse, behaviour: Behaviour): void {
    if (behaviour.silent === true) {
      for (const resolve of stallWaiters.splice(0)) resolve();
      return;
    }
    if (behaviour.raw !== undefined) {
      response.socket!.end(behaviour.raw);
      return;
    }
    if (behaviour.status !== undefined) {
      response.statusCode = behaviour.status;
      response.end('no');
      return;
    }
    const content = behaviour.body ?? file;
    const tag = behaviour.etag === undefined ? etag : behaviour.etag;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const ifRange = request.headers['if-range'];
    if (range !== null && !behaviour.ignoreRange && (ifRange === undefined || ifRange === tag)) {
      start = Number(range[1]);
      if (start >= content.length) {
        response.statusCode = 416;
        response.end();
        return;
      }
      response.statusCode = 206;
      response.setHeader('content-range', `bytes ${start}-${content.length - 1}/${content.length}`);
    }
    if (tag !== null) response.setHeader('etag', tag);
    response.setHeader('accept-ranges', 'bytes');
    const part = content.subarray(start);
    if (behaviour.contentLength !== null) response.setHeader('content-length', behaviour.contentLength ?? part.length);
    const cut = behaviour.dropAfter ?? behaviour.stallAfter;
    if (cut === undefined) {
      response.end(part);
      return;
    }
    response.write(part.subarray(0, cut), () => {
      if (behaviour.dropAfter !== undefined) {
        response.socket?.destroy();
      } else {
        for (const resolve of stallWaiters.splice(0)) resolve();
      }
    });
  }

  return {
    ...server,
    close: () => server.close(),
    url: `https://[::1]:${server.port}/firmware/v2.bin?Expires=1&Signature=x`,
    file,
    md5: createHash('md5').update(file).digest('hex'),
    sha256: createHash('sha256').update(file).digest('hex'),
    plan,
    stalled: () => new Promise((resolve) => stallWaiters.push(resolve)),
  };
}
