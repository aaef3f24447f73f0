/**
 * The stand-in's HTTPS server: the platform's HTTP side on the loopback, with the same TLS
 * certificate as the MQTT listener. It serves what devices fetch or post over HTTPS rather than
 * MQTT: OTA firmware files today (with Range, as OSS serves them), dynamic registration's
 * `/auth/register/device` as one more route.
 *
 * A route is a method and an exact path with a handler; the handler gets the request with its
 * body read (and bounded) and returns a small answer, or a file that this module serves with
 * Range and If-Range. Paths are matched exactly and never mapped onto the file system, so no
 * request can name a file; a target with `..`, a backslash, an encoded slash or a control
 * character is refused before any route is looked up.
 *
 * Built on `node:https`: its HTTP/1.1 parser, and its timeouts for a request head and a whole
 * request, which bound slow peers (slowloris); see {@link HttpLimits}. Loopback only: it refuses
 * to listen anywhere else.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { isIP } from '../../shared/builtins.js';
import { ConfigurationError } from '../../shared/errors.js';
import { EmulatorError } from '../errors.js';
import { HTTP_LIMITS } from './limits.js';
import type { HttpLimits } from './limits.js';
import { chooseRange } from './range.js';

/** The methods a route may answer. A GET route answers HEAD too. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/** A request as a handler sees it: its body already read, within the route's bound. */
export interface HttpRequest {
  /** `GET`, `HEAD`, `POST`... as sent. */
  readonly method: string;
  /** The path as sent (percent-encoding left as it is), without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly remoteAddress: string;
}

/** A small answer: a status, headers, and a body sent whole. */
export interface HttpBodyAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly body?: string | Uint8Array | undefined;
}

/** A file served with Range and If-Range (200, 206 or 416). */
export interface HttpFileAnswer {
  readonly file: HttpFile;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

export type HttpAnswer = HttpBodyAnswer | HttpFileAnswer;

/** What the server needs of a file to serve it in parts. */
export interface HttpFile {
  readonly size: number;
  /** A strong validator, quoted: `"…"`. A resume's If-Range is compared with it. */
  readonly etag: string;
  /** An HTTP date, e.g. `new Date().toUTCString()`. */
  readonly lastModified?: string | undefined;
  /** Default `application/octet-stream`. */
  readonly contentType?: string | undefined;
  /**
   * The bytes `start`..`end` (inclusive), as a stream the server pipes to the peer and destroys
   * if the peer leaves. A stream that fails ends the connection once what it gave went out.
   */
  open(start: number, end: number): Readable;
}

/** Answers one request; a throw (or a rejection) answers 500. */
export type HttpHandler = (request: HttpRequest) => HttpAnswer | Promise<HttpAnswer>;

export interface HttpRouteOptions {
  /** Bytes of request body this route reads; default {@link HttpLimits.maxBodyBytes}. Beyond: 413. */
  readonly maxBody?: number | undefined;
}

/** One request as it ended, for a log. */
export interface HttpLogEntry {
  readonly method: string;
  /** The path, or `''` when the request could not be read. */
  readonly path: string;
  readonly status: number;
  /** Body bytes sent. */
  readonly bytes: number;
  /** The whole answer went out (`false`: the peer left, or the answer was cut on purpose). */
  readonly complete: boolean;
  readonly remoteAddress: string;
}

export interface HttpsServerOptions {
  /** A loopback address: `::1`, `127.0.0.1` (or another 127/8 address), `localhost`. */
  readonly host: string;
  /** 0 for a free port. */
  readonly port: number;
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** The PEM a client must trust, reported as {@link HttpsServer.ca}. */
  readonly ca: string;
  readonly limits?: Partial<HttpLimits> | undefined;
  /** Hears every request once it has ended, and every connection refused before a request could be read. */
  readonly onLog?: ((entry: HttpLogEntry) => void) | undefined;
}

interface Route {
  readonly handler: HttpHandler;
  readonly maxBody: number;
}

/** Whether `host` names the loopback: the only place a test fixture that serves files may listen. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

export class HttpsServer {
  readonly ca: string;
  readonly #server: Server;
  readonly #limits: HttpLimits;
  readonly #routes = new Map<string, Map<string, Route>>();
  readonly #onLog: ((entry: HttpLogEntry) => void) | undefined;
  #address: AddressInfo | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: HttpsServerOptions, limits: HttpLimits) {
    this.ca = options.ca;
    this.#limits = limits;
    this.#onLog = options.onLog;
    this.#server = createServer(
      {
        cert: options.cert,
        key: options.key,
        minVersion: 'TLSv1.2',
        handshakeTimeout: limits.handshakeTimeout,
        maxHeaderSize: limits.maxHeaderBytes,
        headersTimeout: limits.headersTimeout,
        requestTimeout: limits.requestTimeout,
        // How often Node checks the two timeouts above; its default (30 s) would let a slow
        // head live up to 30 s past its deadline.
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(limits.headersTimeout / 4))),
        keepAliveTimeout: 5_000,
      },
      (request, response) => void this.#handle(request, response),
    );
    this.#server.maxHeadersCount = limits.maxHeaders;
    this.#server.maxConnections = limits.maxConnections;
    this.#server.timeout = limits.idleTimeout;
    // A connection idle for `timeout` is ended by Node; one that cannot even finish TLS is not its concern.
    this.#server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
    this.#server.on('clientError', (error: Error & { code?: string }, socket: Socket) => this.#clientError(error, socket));
  }

  /**
   * Listens on `options.host` and `options.port`.
   *
   * @throws ConfigurationError (`host`) for an address that is not the loopback, (`limits`) for a bad bound.
   * @throws EmulatorError `listen-failed` when the address cannot be listened on.
   */
  static async open(options: HttpsServerOptions): Promise<HttpsServer> {
    if (!isLoopback(options.host)) {
      throw new ConfigurationError('host', `the stand-in's HTTPS server listens on the loopback only (::1 or 127.0.0.1), not ${options.host}: it serves files`);
    }
    const limits = { ...HTTP_LIMITS, ...options.limits };
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigurationError(`limits.${name}`, `got ${String(value)}; give a positive whole number`);
    }
    const server = new HttpsServer(options, limits);
    const host = options.host.startsWith('[') ? options.host.slice(1, -1) : options.host;
    server.#server.listen({ host, port: options.port });
    try {
      await once(server.#server, 'listening');
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      const hint = code === 'EADDRINUSE' ? '; another process listens there: give port 0 for a free one' : '';
      throw new EmulatorError('listen-failed', `the HTTPS server cannot listen on ${host}:${options.port} (${String(code ?? cause)})${hint}`, { cause });
    }
    server.#address = server.#server.address() as AddressInfo;
    server.#server.on('error', () => {}); // only the listening socket reports here, and it is listening
    return server;
  }

  get host(): string {
    return this.#address!.address;
  }

  get port(): number {
    return this.#address!.port;
  }

  /** `https://[::1]:port`, without a trailing slash. */
  get url(): string {
    const host = isIP(this.host) === 6 ? `[${this.host}]` : this.host;
    return `https://${host}:${this.port}`;
  }

  /**
   * Answers `method` requests for exactly `path` (a GET route answers HEAD too). Returns the
   * function that removes the route; a request in progress finishes.
   *
   * @throws ConfigurationError for a path that does not start with `/`, holds `?`, `#`, `..` or
   *   a character a request target cannot hold, or a method and path that have a route already.
   */
  route(method: HttpMethod, path: string, handler: HttpHandler, options: HttpRouteOptions = {}): () => void {
    if (typeof path !== 'string' || !path.startsWith('/') || targetProblem(path) !== undefined || /[?#]/.test(path)) {
      throw new ConfigurationError('path', `got ${JSON.stringify(path)}; give an absolute path such as /auth/register/device, without a query`);
    }
    if (typeof handler !== 'function') throw new ConfigurationError('handler', 'expected a function (request) => answer');
    const maxBody = options.maxBody ?? this.#limits.maxBodyBytes;
    if (!Number.isSafeInteger(maxBody) || maxBody < 0) throw new ConfigurationError('maxBody', `got ${String(maxBody)}; give bytes, 0 or more`);
    const methods = this.#routes.get(path) ?? new Map<string, Route>();
    if (methods.has(method)) throw new ConfigurationError('path', `${method} ${path} has a route already`);
    const route: Route = { handler, maxBody };
    methods.set(method, route);
    this.#routes.set(path, methods);
    return () => {
      const current = this.#routes.get(path);
      if (current?.get(method) !== route) return;
      current.delete(method);
      if (current.size === 0) this.#routes.delete(path);
    };
  }

  /** Stops listening and ends every connection, a transfer in progress too; resolves once all are closed. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const remoteAddress = request.socket.remoteAddress ?? '';
    const method = request.method ?? '';
    let path = '';
    let bytes = 0;
    response.once('close', () => {
      this.#onLog?.({ method, path, status: response.statusCode, bytes, complete: response.writableFinished, remoteAddress });
    });
    const target = request.url ?? '';
    if (target.length > this.#limits.maxTargetLength) {
      plain(response, 414, `the request target is over ${this.#limits.maxTargetLength} characters`);
      return;
    }
    const queryAt = target.indexOf('?');
    path = queryAt < 0 ? target : target.slice(0, queryAt);
    const problem = path.startsWith('/') ? targetProblem(path) : 'it does not start with /';
    if (problem !== undefined) {
      plain(response, 400, `bad request target: ${problem}`);
      return;
    }
    const methods = this.#routes.get(path);
    if (methods === undefined) {
      plain(response, 404, `nothing at ${path}`);
      return;
    }
    const route = methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined);
    if (route === undefined) {
      const allow = [...methods.keys(), ...(methods.has('GET') && !methods.has('HEAD') ? ['HEAD'] : [])].join(', ');
      plain(response, 405, `${method} is not allowed on ${path}; use ${allow}`, { allow });
      return;
    }
    const body = await readBody(request, route.maxBody);
    if (body === undefined) {
      plain(response, 413, `the request body is over ${route.maxBody} bytes`, { connection: 'close' });
      return;
    }
    if (response.destroyed) return;
    let answer: HttpAnswer;
    try {
      answer = await route.handler({
        method,
        path,
        query: new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1)),
        headers: request.headers,
        body,
        remoteAddress,
      });
    } catch {
      plain(response, 500, 'the stand-in failed to answer this request');
      return;
    }
    if (response.destroyed) return;
    if ('file' in answer) {
      this.#sendFile(request, response, answer, (count) => (bytes += count));
      return;
    }
    const content = answer.body === undefined ? Buffer.alloc(0) : typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : Buffer.from(answer.body);
    response.writeHead(answer.status, { 'content-length': String(content.byteLength), ...answer.headers });
    bytes = method === 'HEAD' ? 0 : content.byteLength;
    response.end(method === 'HEAD' ? undefined : content);
  }

  #sendFile(request: IncomingMessage, response: ServerResponse, answer: HttpFileAnswer, sent: (bytes: number) => void): void {
    const { file } = answer;
    const choice = chooseRange(file.size, header(request, 'range'), header(request, 'if-range'), file);
    const headers: Record<string, string> = {
      'content-type': file.contentType ?? 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag: file.etag,
      ...(file.lastModified === undefined ? {} : { 'last-modified': file.lastModified }),
      ...answer.headers,
    };
    if (choice.kind === 'unsatisfiable') {
      response.writeHead(416, { ...headers, 'content-range': `bytes */${file.size}`, 'content-length': '0' });
      response.end();
      return;
    }
    const start = choice.kind === 'part' ? choice.start : 0;
    const end = choice.kind === 'part' ? choice.end : file.size - 1;
    const length = file.size === 0 ? 0 : end - start + 1;
    if (choice.kind === 'part') headers['content-range'] = `bytes ${start}-${end}/${file.size}`;
    response.writeHead(choice.kind === 'part' ? 206 : 200, { ...headers, 'content-length': String(length) });
    if (request.method === 'HEAD' || length === 0) {
      response.end();
      return;
    }
    // The status goes out now, not with the first bytes of a source that may be slow; a source
    // that gives more bytes than the range fails the answer rather than send them.
    response.strictContentLength = true;
    response.flushHeaders();
    let source: Readable;
    try {
      source = file.open(start, end);
    } catch {
      response.destroy();
      return;
    }
    source.on('data', (chunk: Buffer) => sent(chunk.byteLength));
    // A source that fails (or is cut on purpose) ends the connection mid-body, after what it gave
    // went out: the client sees fewer bytes than Content-Length, then the end of the connection,
    // as from a server that stopped. (pipeline would destroy the response, and with it bytes
    // still on their way.)
    source.once('error', () => {
      source.unpipe(response);
      response.socket?.end();
    });
    source.once('end', () => response.end());
    response.once('close', () => source.destroy());
    source.pipe(response, { end: false });
  }

  /**
   * A connection whose request could not be read (a malformed or oversized head, a head or body
   * that came too slowly) is answered with the status that says so and closed; any other error
   * on it (the peer reset it, a file answer was cut) just closes it: its request, if it had one,
   * was logged when its answer ended.
   */
  #clientError(error: Error & { code?: string }, socket: Socket): void {
    const code = error.code ?? '';
    if (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      this.#onLog?.({ method: '', path: '', status, bytes: 0, complete: false, remoteAddress: socket.remoteAddress ?? '' });
      if (socket.writable && socket.bytesWritten === 0) {
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      }
    }
    socket.destroy();
  }
}

/** Why a path cannot be a route's, or `undefined`. Only printable ASCII, no dot segments, nothing that decodes to a separator. */
function targetProblem(path: string): string | undefined {
  if (!/^[\x21-\x7e]*$/.test(path)) return 'it holds a space, a control character or a non-ASCII character';
  if (path.includes('\\')) return 'it holds a backslash';
  if (/%(2f|5c|00)/i.test(path)) return 'it holds an encoded slash, backslash or NUL';
  if (path.split('/').some((segment) => segment === '..' || segment === '.' || /^(%2e|\.){1,2}$/i.test(segment))) return 'it holds a dot segment';
  return undefined;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The body, or `undefined` when it is (or announces itself) longer than `max`: reading then
 * stops, and the 413 goes out with `connection: close`, so the rest is never read.
 */
function readBody(request: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const announced = request.headers['content-length'];
  if (announced !== undefined && Number(announced) > max) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (body: Buffer | undefined): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onEnd);
      request.off('close', onEnd);
      resolve(body);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength;
      if (size > max) {
        request.pause();
        done(undefined);
        return;
      }
      chunks.push(chunk);
    };
    // An error (the peer left, or timed out mid-body) ends the body too: nobody reads the answer.
    const onEnd = (): void => done(Buffer.concat(chunks));
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onEnd);
    request.once('close', onEnd);
  });
}

function plain(response: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (response.headersSent || response.destroyed) return;
  const body = Buffer.from(`${message}\n`, 'utf8');
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.byteLength), ...headers });
  response.end(body);
}
