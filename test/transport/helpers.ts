import { expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, LookupFunction, Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TlsOptions, TLSSocket } from 'node:tls';
import { TransportError } from '../../src/transport/index.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

export const loopback = {
  ca: read('certs/loopback/ca.pem'),
  cert: read('certs/loopback/server.pem'),
  key: read('certs/loopback/server.key'),
};

export const fixtures = {
  otherCa: read('test/fixtures/tls/other-ca.pem'),
  wrongHost: { cert: read('test/fixtures/tls/wrong-host.pem'), key: read('test/fixtures/tls/wrong-host.key') },
  expired: { cert: read('test/fixtures/tls/expired.pem'), key: read('test/fixtures/tls/expired.key') },
};

/** A server on [::1] that remembers its connections and destroys them on close. */
export interface TestServer<S extends Socket> {
  readonly port: number;
  /** Server-side sockets, in the order they became ready (TLS: after the handshake). */
  readonly accepted: S[];
  /** Resolves with the next server-side socket to become ready. */
  nextConnection(): Promise<S>;
  close(): Promise<void>;
}

async function listen<S extends Socket>(server: Server, readyEvent: string, host: string): Promise<TestServer<S>> {
  const accepted: S[] = [];
  const raw = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    raw.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => raw.delete(socket));
  });
  server.on(readyEvent, (socket: S) => accepted.push(socket));
  // Handshake failures are expected in these tests; they surface on the client side.
  server.on('tlsClientError', () => {});
  server.listen({ host, port: 0 });
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    nextConnection: async () => (await once(server, readyEvent))[0] as S,
    close: async () => {
      for (const socket of raw) {
        socket.destroy();
      }
      server.close();
      await once(server, 'close');
    },
  };
}

/** A TLS server on [::1] presenting the loopback certificate unless told otherwise. */
export function startTlsServer(options: TlsOptions = {}, host = '::1'): Promise<TestServer<TLSSocket>> {
  const server = createTlsServer({ cert: loopback.cert, key: loopback.key, ...options }, (socket) => {
    socket.on('error', () => {});
  });
  return listen<TLSSocket>(server, 'secureConnection', host);
}

/** A plain TCP server on [::1]; it accepts and then stays silent, which is also a TLS server that never answers. */
export function startTcpServer(host = '::1'): Promise<TestServer<Socket>> {
  return listen<Socket>(createNetServer(), 'connection', host);
}

/** A port on [::1] that nothing listens on: bound, noted, released. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  server.listen({ host: '::1', port: 0 });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Records what a lookup function was asked. */
export interface LookupCall {
  readonly hostname: string;
  readonly family: number | undefined;
  readonly all: boolean;
}

/** A resolver that answers from a table (never the network), as dns.lookup would. */
export function tableLookup(table: Record<string, string>, calls: LookupCall[] = []): LookupFunction {
  return (hostname, options, callback) => {
    calls.push({ hostname, family: options.family as number | undefined, all: options.all === true });
    const address = table[hostname];
    if (address === undefined) {
      callback(lookupError('ENOTFOUND', hostname), '', 0);
      return;
    }
    const family = address.includes(':') ? 6 : 4;
    if (options.all === true) {
      callback(null, [{ address, family }]);
    } else {
      callback(null, address, family);
    }
  };
}

/**
 * A resolver that answers per address family from a table, as dns.lookup does for a name with
 * only some records: a family the name has no address in is ENOTFOUND, like an unknown name.
 */
export function familyLookup(table: Record<string, { 4?: string; 6?: string }>, calls: LookupCall[] = []): LookupFunction {
  return (hostname, options, callback) => {
    const family = (options.family as 0 | 4 | 6 | undefined) ?? 0;
    calls.push({ hostname, family, all: options.all === true });
    const entry = table[hostname] ?? {};
    const address = family === 0 ? (entry[6] ?? entry[4]) : entry[family];
    setImmediate(() => {
      if (address === undefined) {
        callback(lookupError('ENOTFOUND', hostname), '', 0);
      } else if (options.all === true) {
        callback(null, [{ address, family: address.includes(':') ? 6 : 4 }]);
      } else {
        callback(null, address, address.includes(':') ? 6 : 4);
      }
    });
  };
}

/** A resolver that fails the way dns.lookup does, with the given errno code. */
export function failingLookup(code: string): LookupFunction {
  return (hostname, _options, callback) => {
    setImmediate(() => callback(lookupError(code, hostname), '', 0));
  };
}

/** A resolver that never answers, like a DNS server that drops the query. */
export const silentLookup: LookupFunction = () => {};

function lookupError(code: string, hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), {
    code,
    errno: code === 'ENOTFOUND' ? -3008 : -3007,
    syscall: 'getaddrinfo',
    hostname,
  });
}

/** How many of Node's active resources are of the given kind (e.g. 'Timeout', 'TCPSocketWrap'). */
export function activeResources(kind: string): number {
  return process.getActiveResourcesInfo().filter((name) => name === kind).length;
}

/** Resolves with the TransportError an attempt rejects with; fails the test if it connects. */
export async function failureOf(attempt: Promise<Socket>): Promise<TransportError> {
  const error: unknown = await attempt.then(
    (socket) => {
      socket.destroy();
      throw new Error('expected the attempt to fail, but it connected');
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}
