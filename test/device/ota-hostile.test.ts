/**
 * downloadFirmware against servers that misbehave on purpose: more bytes than the job says, a
 * redirect to another host, and slowloris servers that trickle a byte now and then (the body, or
 * the head) to hold the device's download for ever.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadFirmware, OtaDownloadError } from '../../src/device/ota-download.js';
import type { DownloadFirmwareOptions } from '../../src/device/ota-download.js';
import { loopback } from '../transport/helpers.js';
import { startHttpsServer } from './https-server.js';
import type { TestHttpsServer } from './https-server.js';

const FILE = randomBytes(50_000);
const sha256 = createHash('sha256').update(FILE).digest('hex');
let dir: string;
let server: TestHttpsServer | undefined;
const timers: NodeJS.Timeout[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aliot-ota-hostile-'));
});
afterEach(async () => {
  for (const timer of timers.splice(0)) clearInterval(timer);
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function serve(answer: (response: ServerResponse) => void): Promise<DownloadFirmwareOptions> {
  server = await startHttpsServer((_request, _body, response) => answer(response));
  return {
    file: { url: `https://[::1]:${server.port}/fw.bin`, size: FILE.length, signMethod: 'sha256', sign: sha256 },
    destination: join(dir, 'fw.bin'),
    ca: loopback.ca,
    retryDelay: 1,
  };
}

async function failure(options: DownloadFirmwareOptions): Promise<OtaDownloadError> {
  const error = await downloadFirmware(options).then(() => new Error('expected a failure'), (e: unknown) => e);
  expect(error).toBeInstanceOf(OtaDownloadError);
  return error as OtaDownloadError;
}

/** Writes a byte of `bytes` every `ms` until the connection goes. */
function trickle(response: ServerResponse, bytes: Buffer, ms: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (response.destroyed || at >= bytes.length) return;
    response.socket?.write(bytes.subarray(at, at + 1));
    at += 1;
  }, ms);
  timers.push(timer);
}

describe('downloadFirmware against a hostile server', () => {
  it('more bytes than the job says, announced or not: size-mismatch (-3), nothing kept', async () => {
    const announced = await serve((response) => {
      response.writeHead(200, { 'content-length': String(FILE.length + 10) });
      response.end(Buffer.concat([FILE, Buffer.alloc(10)]));
    });
    expect(await failure(announced)).toMatchObject({ code: 'size-mismatch', step: -3 });
    await server!.close();
    const chunked = await serve((response) => {
      response.writeHead(200);
      response.write(FILE);
      response.end(Buffer.alloc(10));
    });
    const error = await failure(chunked);
    expect(error).toMatchObject({ code: 'size-mismatch', step: -3 });
    expect(error.message).toContain('sent more than the job');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a server that resumes at another byte than asked: started over, and the error names the byte asked for', async () => {
    let answers = 0;
    const options = await serve((response) => {
      answers += 1;
      if (answers === 1) {
        // Half the file, then the connection drops: the next request asks for the rest.
        response.writeHead(200, { 'content-length': String(FILE.length), etag: '"v1"' });
        response.write(FILE.subarray(0, 25_000), () => response.socket?.destroy());
        return;
      }
      // Every later answer resumes at byte 10, whatever was asked.
      response.writeHead(206, { 'content-range': `bytes 10-${FILE.length - 1}/${FILE.length}`, etag: '"v1"' });
      response.end(FILE.subarray(10));
    });
    const error = await failure({ ...options, retries: 1 });
    expect(error).toMatchObject({ code: 'network', step: -2 });
    const asked = Number(/^bytes=(\d+)-$/.exec(server!.requests[1]!.headers.range!)![1]);
    expect(asked).toBeGreaterThan(0);
    expect(error.message).toContain(`the server resumed at byte 10, not ${asked}; starting over`);
  });

  it('a redirect to another host is not followed: http-status (-2), said so, one request', async () => {
    const options = await serve((response) => {
      response.writeHead(302, { location: 'https://evil.example/fw.bin' });
      response.end();
    });
    const error = await failure(options);
    expect(error).toMatchObject({ code: 'http-status', status: 302, step: -2 });
    expect(error.message).toContain('redirects are not followed');
    expect(server!.requests).toHaveLength(1);
  });

  it('slowloris body (a byte every 20 ms): dropped for being under minBytesPerSecond, resumed, then network (-2)', async () => {
    const options = await serve((response) => {
      response.writeHead(200, { 'content-length': String(FILE.length) });
      response.flushHeaders();
      trickle(response, FILE, 20);
    });
    const started = Date.now();
    const error = await failure({ ...options, idleTimeout: 300, minBytesPerSecond: 1000, retries: 1 });
    expect(error).toMatchObject({ code: 'network', step: -2 });
    expect(error.message).toMatch(/under 1000 bytes a second \(minBytesPerSecond\)/);
    expect(server!.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('slowloris head (a byte of the status line every 20 ms): the same', async () => {
    const options = await serve((response) => trickle(response, Buffer.from(`HTTP/1.1 200 OK\r\nx-pad: ${'a'.repeat(5000)}\r\n`), 20));
    const error = await failure({ ...options, idleTimeout: 300, minBytesPerSecond: 1000, retries: 0 });
    expect(error).toMatchObject({ code: 'network' });
    expect(error.message).toMatch(/minBytesPerSecond/);
  });

  it('a slow but honest link above the floor is not dropped', async () => {
    const small = FILE.subarray(0, 400);
    const options = await serve((response) => {
      response.writeHead(200, { 'content-length': String(small.length) });
      response.flushHeaders();
      trickle(response, small, 2);
    });
    const result = await downloadFirmware({
      ...options,
      file: { ...options.file, size: small.length, sign: createHash('sha256').update(small).digest('hex') },
      idleTimeout: 300,
      minBytesPerSecond: 50,
    });
    expect(result.resumes).toBe(0);
  });

  it('a server that answers before the request, head and file in one write, is read as an answer', async () => {
    const answer = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${FILE.length}\r\n\r\n`), FILE]);
    // TLS 1.2: its last flight is the server's, so the answer can follow the handshake at once.
    const eager = createTlsServer({ cert: loopback.cert, key: loopback.key, maxVersion: 'TLSv1.2' }, (socket) => {
      socket.on('error', () => {});
      socket.end(answer);
    });
    eager.listen(0, '::1');
    await once(eager, 'listening');
    try {
      const result = await downloadFirmware({
        file: { url: `https://[::1]:${(eager.address() as AddressInfo).port}/fw.bin`, size: FILE.length, signMethod: 'sha256', sign: sha256 },
        destination: join(dir, 'fw.bin'),
        ca: loopback.ca,
        retries: 0,
      });
      expect(result).toMatchObject({ size: FILE.length, resumes: 0, transferred: FILE.length });
    } finally {
      eager.close();
    }
  });
});
