/**
 * One HTTPS request over a connection the transport opens: IPv6 first (family 6 unless told
 * otherwise), the platform's root CAs for platform hosts, SNI, a connect timeout and the
 * transport's readable errors. `node:https` then speaks HTTP/1.1 over that socket.
 *
 * Shared by dynamic registration and the OTA download.
 */
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import { isIP } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireText } from '../shared/validate.js';
import { aliyunRootCa } from '../aliyun/ca.js';
import type { CaOption } from '../aliyun/connection.js';
import { openTransport } from '../transport/open.js';

/** Where to send a request and how to trust the answer. */
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

/** The largest delay a timer takes. */
export const MAX_TIMER = 2_147_483_647;

/**
 * Checks the connection choices for `host` and `port` and fills in the defaults.
 *
 * @throws ConfigurationError naming the option.
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

/** The `Host` header for a target: brackets around an IPv6 literal, the port when not 443. */
export function hostHeader(target: HttpsTarget): string {
  const host = isIP(target.host) === 6 ? `[${target.host}]` : target.host;
  return target.port === 443 ? host : `${host}:${target.port}`;
}

/** A request in flight: its response, and the socket under it (destroy it to drop the request). */
export interface HttpsExchange {
  readonly response: IncomingMessage;
  readonly socket: Socket;
}

/**
 * Opens a connection (rejecting with the transport's TransportError when it cannot), sends the
 * request and resolves with the response head. The body is the caller's to read; destroying the
 * socket ends everything. An abort of `signal` destroys the socket and rejects with
 * `signal.reason`.
 */
export async function sendHttpsRequest(
  target: HttpsTarget,
  request: { readonly method: 'GET' | 'POST'; readonly path: string; readonly headers: OutgoingHttpHeaders; readonly body?: string | undefined },
  signal: AbortSignal | undefined,
): Promise<HttpsExchange> {
  const socket = await openTransport({
    host: target.host,
    port: target.port,
    transport: 'tls',
    family: target.family,
    ...(target.ca === undefined ? {} : { ca: target.ca }),
    ...(target.servername === undefined ? {} : { servername: target.servername }),
    connectTimeout: target.connectTimeout,
    ...(signal === undefined ? {} : { signal }),
    ...(target.lookup === undefined ? {} : { lookup: target.lookup }),
  });
  return new Promise<HttpsExchange>((resolve, reject) => {
    const headers = { host: hostHeader(target), ...request.headers };
    const outgoing = httpsRequest({ method: request.method, path: request.path, headers, createConnection: () => socket });
    const onAbort = (): void => {
      outgoing.destroy();
      socket.destroy();
      reject(signal?.reason);
    };
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.once('response', (response) => {
      signal?.removeEventListener('abort', onAbort);
      resolve({ response, socket });
    });
    outgoing.once('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(error);
    });
    outgoing.end(request.body);
  });
}
