/**
 * The stand-in's HTTPS server: routes, files with Range and If-Range, and the bounds a hostile
 * peer meets (bad targets, large heads and bodies, slow heads, silent TLS).
 */
import { once } from 'node:events';
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpsServer, isLoopback } from '../../src/emulator/http/server.js';
import type { HttpFile, HttpLogEntry, HttpsServerOptions } from '../../src/emulator/http/server.js';
import { chooseRange } from '../../src/emulator/http/range.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { loopback } from '../transport/helpers.js';

const servers: HttpsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: Partial<HttpsServerOptions> = {}): Promise<HttpsServer> {
  const server = await HttpsServer.open({ host: '::1', port: 0, cert: loopback.cert, key: loopback.key, ca: loopback.ca, ...options });
  servers.push(server);
  return server;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function get(server: HttpsServer, path: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      { host: '::1', port: server.port, path, method: options.method ?? 'GET', headers: options.headers, ca: loopback.ca, servername: 'localhost', agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** Writes `text` on a raw TLS connection and resolves with everything the server sent until it closed. */
function raw(server: HttpsServer, text: string | ((socket: import('node:tls').TLSSocket) => void)): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '::1', port: server.port, ca: loopback.ca, servername: 'localhost' });
    const chunks: Buffer[] = [];
    socket.on('secureConnect', () => (typeof text === 'string' ? socket.write(text) : text(socket)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

const FILE = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const file = (change: Partial<HttpFile> = {}): HttpFile => ({
  size: FILE.length,
  etag: '"v1"',
  lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
  open: (start, end) => Readable.from([FILE.subarray(start, end + 1)]),
  ...change,
});

describe('chooseRange (RFC 9110 ranges for one file)', () => {
  const v = { etag: '"v1"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' };
  it('reads first-last, first- and -suffix; clamps the end; refuses a start past the end', () => {
    expect(chooseRange(100, 'bytes=10-19', undefined, v)).toEqual({ kind: 'part', start: 10, end: 19 });
    expect(chooseRange(100, 'bytes=10-', undefined, v)).toEqual({ kind: 'part', start: 10, end: 99 });
    expect(chooseRange(100, 'bytes=-30', undefined, v)).toEqual({ kind: 'part', start: 70, end: 99 });
    expect(chooseRange(100, 'bytes=-300', undefined, v)).toEqual({ kind: 'part', start: 0, end: 99 });
    expect(chooseRange(100, 'bytes=90-500', undefined, v)).toEqual({ kind: 'part', start: 90, end: 99 });
    expect(chooseRange(100, 'bytes=100-', undefined, v)).toEqual({ kind: 'unsatisfiable' });
    expect(chooseRange(100, 'bytes=-0', undefined, v)).toEqual({ kind: 'unsatisfiable' });
  });

  it('serves the whole file for several ranges, another unit, a malformed header, or a reversed range', () => {
    for (const header of ['bytes=0-1,5-9', 'items=0-1', 'bytes=a-b', 'bytes=-', 'bytes=9-1', 'bytes 0-1']) {
      expect(chooseRange(100, header, undefined, v), header).toEqual({ kind: 'whole' });
    }
  });

  it('If-Range: the same strong ETag or exact date keeps the range; anything else (a weak tag, another file) gets the whole file', () => {
    expect(chooseRange(100, 'bytes=10-', '"v1"', v).kind).toBe('part');
    expect(chooseRange(100, 'bytes=10-', v.lastModified, v).kind).toBe('part');
    expect(chooseRange(100, 'bytes=10-', '"v0"', v).kind).toBe('whole');
    expect(chooseRange(100, 'bytes=10-', 'W/"v1"', v).kind).toBe('whole');
    expect(chooseRange(100, 'bytes=10-', 'Tue, 02 Jan 2024 00:00:00 GMT', v).kind).toBe('whole');
  });

  it('a part always lies within the file, and is never empty', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.option(fc.nat(2e9)), fc.option(fc.nat(2e9)), (size, first, last) => {
        const header = `bytes=${first ?? ''}-${last ?? ''}`;
        const choice = chooseRange(size, header, undefined, v);
        if (choice.kind === 'part') {
          expect(choice.start).toBeGreaterThanOrEqual(0);
          expect(choice.end).toBeLessThan(size);
          expect(choice.start).toBeLessThanOrEqual(choice.end);
        }
      }),
    );
  });
});

describe('HttpsServer: routes', () => {
  it('answers a route with its handler, the body read, the query parsed', async () => {
    const server = await start();
    server.route('POST', '/auth/register/device', (request) => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ body: request.body.toString(), q: request.query.get('x'), method: request.method }),
    }));
    const answer = await get(server, '/auth/register/device?x=1', { method: 'POST', body: 'productKey=pk&deviceName=dn' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toEqual({ body: 'productKey=pk&deviceName=dn', q: '1', method: 'POST' });
    expect(server.url).toBe(`https://[::1]:${server.port}`);
  });

  it('404 for an unknown path, 405 with Allow for a wrong method, HEAD on a GET route, 500 when a handler throws', async () => {
    const server = await start();
    server.route('GET', '/a', () => ({ status: 200, body: 'hello' }));
    server.route('GET', '/broken', () => {
      throw new Error('bug');
    });
    expect((await get(server, '/b')).status).toBe(404);
    const wrong = await get(server, '/a', { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD');
    const head = await get(server, '/a', { method: 'HEAD' });
    expect(head).toMatchObject({ status: 200, body: Buffer.alloc(0) });
    expect(head.headers['content-length']).toBe('5');
    expect((await get(server, '/broken')).status).toBe(500);
  });

  it('a route can be removed; a path or method taken twice, or a path with a query or dot segment, is refused', async () => {
    const server = await start();
    const remove = server.route('GET', '/a', () => ({ status: 204 }));
    expect(() => server.route('GET', '/a', () => ({ status: 204 }))).toThrow(ConfigurationError);
    for (const path of ['a', '/a?b', '/x/../a', '/a b', '']) expect(() => server.route('GET', path, () => ({ status: 204 })), path).toThrow(ConfigurationError);
    expect((await get(server, '/a')).status).toBe(204);
    remove();
    expect((await get(server, '/a')).status).toBe(404);
  });

  it('listens on the loopback only', async () => {
    for (const host of ['::', '0.0.0.0', '192.168.1.1', 'example.com']) {
      await expect(start({ host }), host).rejects.toThrow(ConfigurationError);
    }
    expect(['::1', '[::1]', '127.0.0.1', '127.8.9.1', 'localhost'].every(isLoopback)).toBe(true);
  });

  it('logs each request as it ends', async () => {
    const log: HttpLogEntry[] = [];
    const server = await start({ onLog: (entry) => log.push(entry) });
    server.route('GET', '/a', () => ({ status: 200, body: 'hello' }));
    await get(server, '/a');
    await get(server, '/nope');
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual([
      { method: 'GET', path: '/a', status: 200, bytes: 5, complete: true, remoteAddress: '::1' },
      { method: 'GET', path: '/nope', status: 404, bytes: 0, complete: true, remoteAddress: '::1' },
    ]);
  });
});

describe('HttpsServer: files', () => {
  it('serves the whole file with its validators, a range with 206, an unsatisfiable one with 416', async () => {
    const server = await start();
    server.route('GET', '/fw.bin', () => ({ file: file() }));
    const whole = await get(server, '/fw.bin');
    expect(whole.status).toBe(200);
    expect(whole.body.equals(FILE)).toBe(true);
    expect(whole.headers).toMatchObject({ etag: '"v1"', 'accept-ranges': 'bytes', 'content-length': '1000', 'content-type': 'application/octet-stream' });
    const part = await get(server, '/fw.bin', { headers: { range: 'bytes=600-', 'if-range': '"v1"' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 600-999/1000');
    expect(part.body.equals(FILE.subarray(600))).toBe(true);
    const changed = await get(server, '/fw.bin', { headers: { range: 'bytes=600-', 'if-range': '"v0"' } });
    expect(changed.status).toBe(200);
    expect(changed.body.length).toBe(1000);
    const past = await get(server, '/fw.bin', { headers: { range: 'bytes=1000-' } });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe('bytes */1000');
    const head = await get(server, '/fw.bin', { method: 'HEAD', headers: { range: 'bytes=-10' } });
    expect(head).toMatchObject({ status: 206, body: Buffer.alloc(0) });
    expect(head.headers['content-length']).toBe('10');
  });

  it('a source that fails mid-way cuts the connection: the client sees fewer bytes than announced', async () => {
    const server = await start();
    server.route('GET', '/cut', () => ({
      file: file({
        open: () => {
          let sent = false;
          return new Readable({
            read() {
              if (sent) return;
              sent = true;
              this.push(FILE.subarray(0, 100));
              setTimeout(() => this.destroy(new Error('cut')), 50);
            },
          });
        },
      }),
    }));
    const text = await raw(server, 'GET /cut HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1.1 200/);
    expect(text).toContain('content-length: 1000');
    expect(text.length - text.indexOf('\r\n\r\n') - 4).toBeLessThan(1000);
  });

  it('close() ends a transfer in progress', async () => {
    const server = await start();
    let opened: () => void = () => {};
    const transferring = new Promise<void>((resolve) => (opened = resolve));
    server.route('GET', '/slow', () => ({
      file: file({
        open: () => {
          opened();
          return new Readable({ read() {} });
        },
      }),
    }));
    const answer = raw(server, 'GET /slow HTTP/1.1\r\nhost: x\r\n\r\n');
    await transferring; // the file is open: the transfer is under way
    await server.close();
    expect(await answer).toMatch(/^HTTP\/1.1 200/);
  });
});

describe('HttpsServer: a hostile peer', () => {
  it('refuses targets with dot segments, encoded slashes, backslashes or control characters, before any route', async () => {
    const server = await start();
    let called = 0;
    server.route('GET', '/ota/1/a.bin', () => {
      called += 1;
      return { status: 200 };
    });
    for (const target of ['/ota/1/../1/a.bin', '/ota/1/%2e%2e/1/a.bin', '/ota%2f1/a.bin', '/ota/1\\a.bin', '/ota/1/a.bin%00', 'ota/1/a.bin']) {
      const text = await raw(server, `GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
      expect(text, target).toMatch(/^HTTP\/1.1 400/);
    }
    expect(called).toBe(0);
    const long = await get(server, `/${'a'.repeat(3000)}`);
    expect(long.status).toBe(414);
  });

  it('a body over the route’s bound: 413 (announced or chunked), the handler never called', async () => {
    const server = await start();
    let called = 0;
    server.route(
      'POST',
      '/p',
      () => {
        called += 1;
        return { status: 200 };
      },
      { maxBody: 100 },
    );
    expect((await get(server, '/p', { method: 'POST', body: 'x'.repeat(101) })).status).toBe(413);
    const chunked = await raw(server, (socket) => {
      socket.write('POST /p HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
      socket.write(`c8\r\n${'y'.repeat(200)}\r\n`);
    });
    expect(chunked).toMatch(/^HTTP\/1.1 413/);
    expect(called).toBe(0);
    expect((await get(server, '/p', { method: 'POST', body: 'x'.repeat(100) })).status).toBe(200);
  });

  it('a head over 8 KiB: 431, closed', async () => {
    const server = await start();
    const text = await raw(server, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(9000)}\r\n\r\n`);
    expect(text).toMatch(/^HTTP\/1.1 431/);
  });

  it('slowloris: a head that trickles in is answered 408 and closed at the headers timeout', async () => {
    const log: HttpLogEntry[] = [];
    const server = await start({ limits: { headersTimeout: 300, requestTimeout: 300 }, onLog: (entry) => log.push(entry) });
    const started = Date.now();
    const text = await raw(server, (socket) => {
      socket.write('GET / HTTP/1.1\r\n');
      const timer = setInterval(() => socket.write('x-a: b\r\n'), 50);
      socket.on('close', () => clearInterval(timer));
    });
    expect(text).toMatch(/^HTTP\/1.1 408/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(log.at(-1)).toMatchObject({ status: 408 });
  });

  it('a TCP connection that never starts TLS is closed at the handshake timeout', async () => {
    const server = await start({ limits: { handshakeTimeout: 200 } });
    const socket = netConnect({ host: '::1', port: server.port });
    socket.on('error', () => {});
    const started = Date.now();
    await once(socket, 'close');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('bad limits are refused before listening', async () => {
    await expect(start({ limits: { maxBodyBytes: -1 } })).rejects.toThrow(ConfigurationError);
  });
});
