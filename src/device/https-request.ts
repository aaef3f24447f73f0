/*
 * One HTTPS request over a connection the transport opens: IPv6 first (family 6 unless told
 * otherwise), the platform's root CAs for platform hosts, SNI, a connect timeout and the
 * transport's readable errors. The request head is written here and the answer read with the
 * ResponseReader (http-response.ts): one request per connection, `connection: close`.
 *
 * Shared by dynamic registration and the OTA download.
 */
import type { LookupFunction, OnReadOpts, Socket } from 'node:net';
import { isIP } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireText } from '../shared/validate.js';
import { aliyunRootCa } from '../aliyun/ca.js';
import type { CaOption } from '../aliyun/connection.js';
import { openTransport, openTransportReading } from '../transport/open.js';
import type { TransportOptions } from '../transport/options.js';
import { HttpResponseError, ResponseReader } from './http-response.js';

/**
 * Where to send a request and how to trust the answer.
 *
 * @internal
 */
export interface HttpsTarget {
  /** Without brackets. */
  readonly host: string;
  readonly port: number;
  readonly ca: CaOption | undefined;
  readonly servername: string | undefined;
  readonly family: 0 | 4 | 6;
  readonly lookup: LookupFunction | undefined;
  readonly connectTimeout: number;
}

/** The options a caller may give about the connection, checked by {@link resolveTarget}. */
export interface ConnectionChoices {
  /** Trusted roots in PEM. Default: the platform's bundle for hosts under `.aliyuncs.com`, Node's roots otherwise. */
  readonly ca?: CaOption | undefined;
  /** Name for SNI and the certificate check; default the host when it is a name. */
  readonly servername?: string | undefined;
  /** 6 (default: IPv6 only, the point of this library), 4, or 0 for either. */
  readonly family?: 0 | 4 | 6 | undefined;
  /** A resolver with the contract of `dns.lookup`, instead of it. */
  readonly lookup?: LookupFunction | undefined;
  /** Milliseconds for name lookup, TCP connect and TLS handshake together; default 10000. */
  readonly connectTimeout?: number | undefined;
}

/**
 * The largest delay a timer takes.
 *
 * @internal
 */
export const MAX_TIMER = 2_147_483_647;

/**
 * Checks the connection choices for `host` and `port` and fills in the defaults.
 *
 * @throws ConfigurationError naming the option.
 *
 * @internal
 */
export function resolveTarget(host: string, port: number, choices: ConnectionChoices): HttpsTarget {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = choices.family ?? 6;
  if (family !== 0 && family !== 4 && family !== 6) throw new ConfigurationError('family', `got ${describeValue(family)}; use 6 (IPv6), 4 or 0 (either)`);
  if (choices.lookup !== undefined && typeof choices.lookup !== 'function') throw new ConfigurationError('lookup', 'expected a function with the signature of dns.lookup');
  const servername = choices.servername === undefined ? undefined : requireText('servername', choices.servername, 'give the name the certificate is for');
  const platform = bare.toLowerCase().endsWith('.aliyuncs.com');
  return {
    host: bare,
    port: requireIntegerIn('port', port, 1, 65535, 'use a TCP port such as 443'),
    ca: choices.ca ?? (platform ? aliyunRootCa() : undefined),
    servername,
    family,
    lookup: choices.lookup,
    connectTimeout: requireIntegerIn('connectTimeout', choices.connectTimeout ?? 10_000, 1, MAX_TIMER, 'give milliseconds, e.g. 10000'),
  };
}

/**
 * The `Host` header for a target: brackets around an IPv6 literal, the port when not 443.
 *
 * @internal
 */
export function hostHeader(target: HttpsTarget): string {
  const host = isIP(target.host) === 6 ? `[${target.host}]` : target.host;
  return target.port === 443 ? host : `${host}:${target.port}`;
}

/**
 * Opens the TLS connection to `target` through the transport, rejecting with its
 * TransportError when it cannot. The socket is the caller's from then on. With `onread`, the
 * socket is read through it (see `openTransportReading`) and emits no `'data'`.
 *
 * @internal
 */
export function openHttpsConnection(target: HttpsTarget, signal: AbortSignal | undefined, onread?: OnReadOpts): Promise<Socket> {
  const options: TransportOptions = {
    host: target.host,
    port: target.port,
    transport: 'tls',
    family: target.family,
    ...(target.ca === undefined ? {} : { ca: target.ca }),
    ...(target.servername === undefined ? {} : { servername: target.servername }),
    connectTimeout: target.connectTimeout,
    ...(signal === undefined ? {} : { signal }),
    ...(target.lookup === undefined ? {} : { lookup: target.lookup }),
  };
  return onread === undefined ? openTransport(options) : openTransportReading(options, onread);
}

/**
 * The bytes of an HTTP/1.1 request head, `Host` first. The connection closes after the answer:
 * every request here is the only one on its connection.
 *
 * @internal
 */
export function requestHead(target: HttpsTarget, method: 'GET' | 'POST', path: string, headers: Readonly<Record<string, string>>): string {
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${hostHeader(target)}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    // The values come from this library or from a server's ETag; a line break would split the request.
    if (/[\r\n]/.test(value)) throw new Error(`the header ${name} holds a line break`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * A whole answer to a small request.
 *
 * @internal
 */
export interface HttpsAnswer {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/**
 * Sends one request on a new connection and reads the whole answer, at most `maxBody` bytes of
 * body. Rejects with the transport's TransportError when the connection cannot be made, an
 * HttpResponseError when the answer is not HTTP or too long, an Error when the connection
 * breaks, and `signal.reason` when `signal` aborts (the socket is destroyed).
 *
 * @internal
 */
export async function fetchAnswer(
  target: HttpsTarget,
  request: { readonly method: 'GET' | 'POST'; readonly path: string; readonly headers: Readonly<Record<string, string>>; readonly body?: string | undefined },
  maxBody: number,
  signal: AbortSignal | undefined,
): Promise<HttpsAnswer> {
  const headers = request.body === undefined ? request.headers : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) };
  const bytes = requestHead(target, request.method, request.path, headers) + (request.body ?? '');
  const socket = await openHttpsConnection(target, signal);
  return new Promise<HttpsAnswer>((resolve, reject) => {
    const reader = new ResponseReader();
    const chunks: Buffer[] = [];
    let size = 0;
    let failure: unknown;
    const settle = (error: unknown, answer?: HttpsAnswer): void => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.destroy();
      if (answer !== undefined) resolve(answer);
      else reject(error);
    };
    const onAbort = (): void => settle(signal?.reason);
    const take = (bytes: Buffer): void => {
      size += bytes.byteLength;
      if (size > maxBody) throw new HttpResponseError(`the answer is over ${maxBody} bytes`);
      chunks.push(bytes);
    };
    const complete = (): void => settle(undefined, { status: reader.head!.status, headers: reader.head!.headers, body: Buffer.concat(chunks) });
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk, take);
      } catch (error) {
        settle(error);
        return;
      }
      if (reader.done) complete();
    };
    const onClose = (): void => {
      if (reader.end()) complete();
      else settle(failure ?? new Error('the connection closed before the whole answer arrived'));
    };
    socket.on('error', (error: Error) => {
      failure ??= error;
    });
    socket.on('data', onData);
    socket.once('close', onClose);
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.write(bytes);
  });
}
