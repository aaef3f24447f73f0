import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import tls, { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { openTransport } from '../../src/transport/index.js';
import type { TransportOptions } from '../../src/transport/index.js';
import { failureOf, fixtures, loopback, startTcpServer, startTlsServer, tableLookup } from './helpers.js';
import type { LookupCall, TestServer } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function server(options?: tls.TlsOptions, host?: string): Promise<TestServer<TLSSocket>> {
  const started = await startTlsServer(options, host);
  cleanups.push(() => started.close());
  return started;
}

async function open(options: TransportOptions): Promise<Socket> {
  const socket = await openTransport(options);
  cleanups.push(() => {
    socket.destroy();
  });
  return socket;
}

/** Proves the bytes really pass: the server echoes what the client sends. */
async function roundTrip(client: Socket, serverSide: Socket): Promise<void> {
  serverSide.pipe(serverSide);
  client.write('ping');
  const [data] = await once(client, 'data');
  expect(String(data)).toBe('ping');
}

describe('openTransport over TLS on [::1]', () => {
  it.each(['::1', '[::1]'])('connects to %s with family 6, verifies against the IP SAN and sends no SNI', async (host) => {
    const peer = await server();
    const accepted = peer.nextConnection();
    const socket = await open({ host, port: peer.port, family: 6, ca: loopback.ca });
    expect(socket).toBeInstanceOf(TLSSocket);
    const secure = socket as TLSSocket;
    expect(secure.authorized).toBe(true);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(secure.getProtocol());
    expect(secure.remoteAddress).toBe('::1');
    expect(secure.remoteFamily).toBe('IPv6');
    const serverSide = await accepted;
    // An IP literal must never travel as SNI (RFC 6066).
    expect(serverSide.servername).toBe(false);
    await roundTrip(socket, serverSide);
  });

  it('connects to a name through the resolver with family 6 and sends it as SNI', async () => {
    const peer = await server();
    const accepted = peer.nextConnection();
    const calls: LookupCall[] = [];
    const socket = await open({
      host: 'localhost',
      port: peer.port,
      ca: loopback.ca,
      lookup: tableLookup({ localhost: '::1' }, calls),
    });
    expect((socket as TLSSocket).authorized).toBe(true);
    expect(calls).toEqual([{ hostname: 'localhost', family: 6, all: false }]);
    expect((await accepted).servername).toBe('localhost');
  });

  it('passes family 4 to the resolver', async () => {
    const peer = await server({}, '127.0.0.1');
    const calls: LookupCall[] = [];
    const socket = await open({
      host: 'localhost',
      port: peer.port,
      family: 4,
      ca: loopback.ca,
      lookup: tableLookup({ localhost: '127.0.0.1' }, calls),
    });
    expect(socket.remoteAddress).toBe('127.0.0.1');
    expect(calls).toEqual([{ hostname: 'localhost', family: 4, all: false }]);
  });

  it('lets family 0 ask for every address', async () => {
    const peer = await server();
    const calls: LookupCall[] = [];
    await open({ host: 'localhost', port: peer.port, family: 0, ca: loopback.ca, lookup: tableLookup({ localhost: '::1' }, calls) });
    expect(calls).toEqual([{ hostname: 'localhost', family: 0, all: true }]);
  });

  it('sends an explicit servername and verifies against it, even when connecting by address', async () => {
    const peer = await server();
    const accepted = peer.nextConnection();
    await open({ host: '::1', port: peer.port, ca: loopback.ca, servername: 'localhost' });
    expect((await accepted).servername).toBe('localhost');
  });

  it('leaves no listener of its own on the socket it returns', async () => {
    const peer = await server();
    const socket = await open({ host: '::1', port: peer.port, ca: loopback.ca });
    // Compare with a socket Node opened by itself to the same server, once it is just as ready.
    const reference = tls.connect({ host: '::1', port: peer.port, ca: loopback.ca });
    cleanups.push(() => {
      reference.destroy();
    });
    await once(reference, 'secureConnect');
    const counts = (s: Socket): Record<string, number> =>
      Object.fromEntries(s.eventNames().map((name) => [String(name), s.listenerCount(name)]));
    expect(counts(socket)).toEqual(counts(reference));
    for (const event of ['error', 'close', 'connect', 'secureConnect', 'lookup', 'timeout']) {
      expect(socket.listenerCount(event), event).toBe(reference.listenerCount(event));
    }
  });
});

describe('openTransport refuses servers it must not trust', () => {
  it('refuses a certificate from a CA it was not given', async () => {
    const peer = await server();
    const error = await failureOf(openTransport({ host: '::1', port: peer.port, ca: fixtures.otherCa }));
    expect(error.code).toBe('tls-verification-failed');
    expect(error.phase).toBe('tls');
    expect(error.certificateProblem).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(error.message).toContain('ca option');
    expect((error.cause as { code?: string }).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it("refuses the loopback CA's certificate with Node's own roots (no ca)", async () => {
    const peer = await server();
    const error = await failureOf(openTransport({ host: '::1', port: peer.port }));
    expect(error.code).toBe('tls-verification-failed');
  });

  it('refuses a trusted certificate for another host, naming the mismatch (IP literal)', async () => {
    const peer = await server(fixtures.wrongHost);
    const error = await failureOf(openTransport({ host: '::1', port: peer.port, ca: loopback.ca }));
    expect(error.code).toBe('tls-verification-failed');
    expect(error.certificateProblem).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(error.message).toContain('host name mismatch');
  });

  it('refuses a trusted certificate for another host, naming the mismatch (host name)', async () => {
    const peer = await server(fixtures.wrongHost);
    const error = await failureOf(openTransport({
      host: 'localhost',
      port: peer.port,
      ca: loopback.ca,
      lookup: tableLookup({ localhost: '::1' }),
    }));
    expect(error.certificateProblem).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('refuses an expired certificate', async () => {
    const peer = await server(fixtures.expired);
    const error = await failureOf(openTransport({ host: '::1', port: peer.port, ca: loopback.ca }));
    expect(error.code).toBe('tls-verification-failed');
    expect(error.certificateProblem).toBe('CERT_HAS_EXPIRED');
    expect(error.message).toContain('expired');
  });

  it('connects to an untrusted server only when verification is switched off explicitly', async () => {
    const peer = await server(fixtures.wrongHost);
    const socket = await open({ host: '::1', port: peer.port, ca: fixtures.otherCa, rejectUnauthorized: false });
    expect((socket as TLSSocket).authorized).toBe(false);
  });

  it('refuses a server that speaks at most TLS 1.1, even where Node was told to allow it', async () => {
    const old = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
    const peer = await server(old);

    // Control: the server does complete a TLS 1.1 handshake with a client that allows it.
    const control = tls.connect({ host: '::1', port: peer.port, ca: loopback.ca, ...old });
    await once(control, 'secureConnect');
    expect(control.getProtocol()).toBe('TLSv1.1');
    control.destroy();

    // Node's own default minimum is TLS 1.2 already; lower it so only openTransport's floor is left.
    const defaultMin = tls.DEFAULT_MIN_VERSION;
    tls.DEFAULT_MIN_VERSION = 'TLSv1';
    try {
      const error = await failureOf(openTransport({ host: '::1', port: peer.port, ca: loopback.ca }));
      expect(error.code).toBe('tls-handshake-failed');
      expect(error.phase).toBe('tls');
      expect(error.message).toContain('1.2');
    } finally {
      tls.DEFAULT_MIN_VERSION = defaultMin;
    }
  });

  it('names a server that answers in something other than TLS', async () => {
    const peer = await startTcpServer();
    cleanups.push(() => peer.close());
    void peer.nextConnection().then((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const error = await failureOf(openTransport({ host: '::1', port: peer.port, ca: loopback.ca }));
    expect(error.code).toBe('tls-handshake-failed');
    expect(error.summary).toContain('did not answer in TLS');
    expect(error.advice.map((a) => a.code)).toEqual(['use-plain-tcp']);
  });

  it('reports a server that hangs up during the handshake as a reset in the TLS phase', async () => {
    const peer = await startTcpServer();
    cleanups.push(() => peer.close());
    void peer.nextConnection().then((socket) => socket.destroy());
    const error = await failureOf(openTransport({ host: '::1', port: peer.port, ca: loopback.ca }));
    expect(error.code).toBe('connection-reset');
    expect(error.phase).toBe('tls');
    expect(error.advice.map((a) => a.code)).toEqual(['check-tls-port', 'use-plain-tcp']);
  });
});
