/**
 * openTransportReading: the same connection as openTransport, read through Node's `onread`
 * (bytes decrypted into one reused buffer, no 'data' events), for the OTA download.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { openTransport } from '../../src/transport/index.js';
import { openTransportReading } from '../../src/transport/open.js';
import type { TransportOptions } from '../../src/transport/index.js';
import { closedPort, failureOf, fixtures, loopback, startTcpServer, startTlsServer, tableLookup } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tlsServer(options?: Parameters<typeof startTlsServer>[0]) {
  const started = await startTlsServer(options);
  cleanups.push(() => started.close());
  return started;
}

/** Collects what the callback hands over, copied out of the reused buffer. */
function collector(size = 16 * 1024) {
  const buffer = Buffer.alloc(size);
  const seen = { bytes: 0, calls: 0, otherBuffer: false, chunks: [] as Buffer[] };
  const onread = {
    buffer,
    callback: (count: number, given: Uint8Array): boolean => {
      seen.calls += 1;
      seen.bytes += count;
      if (given !== buffer) seen.otherBuffer = true;
      seen.chunks.push(Buffer.from(buffer.subarray(0, count)));
      return true;
    },
  };
  return { buffer, seen, onread };
}

async function open(options: TransportOptions, onread: Parameters<typeof openTransportReading>[1]): Promise<Socket> {
  const socket = await openTransportReading(options, onread);
  cleanups.push(() => {
    socket.destroy();
  });
  return socket;
}

describe('openTransportReading over TLS on [::1]', () => {
  it('hands the decrypted bytes to the callback in the one buffer it was given, and emits no data events', async () => {
    const peer = await tlsServer();
    const accepted = peer.nextConnection();
    const { seen, onread } = collector();
    const socket = await open({ host: '::1', port: peer.port, ca: loopback.ca }, onread);
    expect((socket as TLSSocket).authorized).toBe(true);
    expect(socket.remoteFamily).toBe('IPv6');
    let dataEvents = 0;
    socket.on('data', () => {
      dataEvents += 1;
    });
    const payload = Buffer.alloc(200_000, 0x5a);
    payload.write('first', 0);
    payload.write('last', payload.length - 4);
    const serverSide = await accepted;
    serverSide.end(payload);
    await once(socket, 'close');
    expect(seen.bytes).toBe(payload.length);
    expect(Buffer.concat(seen.chunks).equals(payload)).toBe(true);
    // More than one record, all in the same buffer: a socket that ignored onread would emit data instead.
    expect(seen.calls).toBeGreaterThan(1);
    expect(seen.otherBuffer).toBe(false);
    expect(dataEvents).toBe(0);
  });

  it('sends SNI for a name, as openTransport does', async () => {
    const peer = await tlsServer();
    const accepted = peer.nextConnection();
    const socket = await open(
      { host: 'device.test', port: peer.port, ca: loopback.ca, servername: 'localhost', lookup: tableLookup({ 'device.test': '::1' }) },
      collector().onread,
    );
    expect(socket.remoteAddress).toBe('::1');
    expect((await accepted).servername).toBe('localhost');
  });

  it('stops reading while the callback has said false, until resume(); what arrives meanwhile is bounded', async () => {
    const peer = await tlsServer();
    const accepted = peer.nextConnection();
    let received = 0;
    let receivedAtPause = -1;
    const onread = {
      buffer: Buffer.alloc(16 * 1024),
      callback: (count: number): boolean => {
        received += count;
        if (receivedAtPause >= 0) return true;
        receivedAtPause = received;
        return false;
      },
    };
    const socket = await open({ host: '::1', port: peer.port, ca: loopback.ca }, onread);
    const serverSide = await accepted;
    // More than the kernel's buffers both ways hold (a few MiB on loopback).
    const written = 32 << 20;
    serverSide.end(Buffer.alloc(written));
    // Wait until the server cannot hand the kernel any more: its queue stops shrinking.
    await settles(() => serverSide.writableLength);
    expect(serverSide.writableLength).toBeGreaterThan(0);
    // Node still delivers the records it had decrypted from the read that was under way, no more.
    expect(received - receivedAtPause).toBeLessThanOrEqual(256 * 1024);
    socket.resume();
    await once(socket, 'close');
    expect(received).toBe(written);
  });
});

describe('openTransportReading fails as openTransport does', () => {
  const compare = async (options: TransportOptions): Promise<void> => {
    const plain = await failureOf(openTransport(options));
    const reading = await failureOf(openTransportReading(options, collector().onread));
    expect({ code: reading.code, phase: reading.phase, message: reading.message }).toEqual({ code: plain.code, phase: plain.phase, message: plain.message });
  };

  it('a closed port', async () => {
    await compare({ host: '::1', port: await closedPort(), ca: loopback.ca });
  });

  it('a certificate from another CA', async () => {
    const peer = await tlsServer();
    await compare({ host: '::1', port: peer.port, ca: fixtures.otherCa });
  });

  it('a handshake that never ends: the connect timeout', async () => {
    const silent = await startTcpServer();
    cleanups.push(() => silent.close());
    await compare({ host: '::1', port: silent.port, ca: loopback.ca, connectTimeout: 50 });
  });

  it('an aborted signal, with its reason', async () => {
    const silent = await startTcpServer();
    cleanups.push(() => silent.close());
    const controller = new AbortController();
    const attempt = failureOf(openTransportReading({ host: '::1', port: silent.port, ca: loopback.ca, signal: controller.signal }, collector().onread));
    await silent.nextConnection();
    controller.abort(new Error('shutting down'));
    const error = await attempt;
    expect(error.code).toBe('aborted');
    expect((error.cause as Error).message).toBe('shutting down');
  });
});

/** Resolves once `value()` has stayed the same over five checks 20 ms apart. */
async function settles(value: () => number): Promise<void> {
  let last = value();
  let same = 0;
  for (let round = 0; round < 500 && same < 5; round += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = value();
    same = now === last ? same + 1 : 0;
    last = now;
  }
}
