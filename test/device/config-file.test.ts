/** fetchConfigFile against an HTTPS server on [::1]: the file once its size and digest check out, and each way it can fail. */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConfigFile } from '../../src/aliyun/index.js';
import { ConfigFileError, fetchConfigFile } from '../../src/device/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { loopback } from '../transport/helpers.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { startHttpsServer } from './https-server.js';
import type { TestHttpsServer } from './https-server.js';
import { rejection, tick } from './service-support.js';

const CONTENT = Buffer.from('{"sampleRate": 10, "unit": "°C"}\n', 'utf8');

let server: TestHttpsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function fileAt(port: number, overrides: Partial<ConfigFile> = {}): ConfigFile {
  return {
    configId: 'cfg-7',
    configSize: CONTENT.length,
    sign: createHash('sha256').update(CONTENT).digest('hex'),
    signMethod: 'sha256',
    url: `https://[::1]:${port}/config/cfg-7?Expires=1&Signature=abc`,
    getType: 'file',
    ...overrides,
  };
}

async function serve(body: Buffer | string, status = 200): Promise<number> {
  server = await startHttpsServer((_request, _body, response) => {
    response.statusCode = status;
    response.end(body);
  });
  return server.port;
}

describe('fetchConfigFile', () => {
  it('fetches the file with its query, and checks its size and digest (sha256 and md5, any case)', async () => {
    const port = await serve(CONTENT);
    expect(await fetchConfigFile(fileAt(port), { ca: loopback.ca })).toEqual(CONTENT);
    expect(server!.requests[0]).toMatchObject({ method: 'GET', url: '/config/cfg-7?Expires=1&Signature=abc' });
    const md5 = createHash('md5').update(CONTENT).digest('hex').toUpperCase();
    expect(await fetchConfigFile(fileAt(port, { signMethod: 'md5', sign: md5 }), { ca: loopback.ca })).toEqual(CONTENT);
  });

  it('a file of another size or digest, or another status: typed errors', async () => {
    const port = await serve(Buffer.concat([CONTENT, Buffer.from('x')]));
    expect(await rejection(fetchConfigFile(fileAt(port), { ca: loopback.ca }))).toMatchObject({ code: 'size-mismatch' });
    await server!.close();
    const longer = await serve(Buffer.alloc(10_000, 1));
    expect(await rejection(fetchConfigFile(fileAt(longer), { ca: loopback.ca }))).toMatchObject({ code: 'size-mismatch' });
    await server!.close();
    const tampered = await serve(Buffer.from(CONTENT).fill(0x20, 0, 1));
    const error = await rejection(fetchConfigFile(fileAt(tampered), { ca: loopback.ca }));
    expect(error).toBeInstanceOf(ConfigFileError);
    expect(error).toMatchObject({ code: 'digest-mismatch' });
    await server!.close();
    const missing = await serve('gone', 403);
    expect(await rejection(fetchConfigFile(fileAt(missing), { ca: loopback.ca }))).toMatchObject({ code: 'http-status', status: 403 });
  });

  it('times out in virtual time; network failures carry the transport’s error', async () => {
    server = await startHttpsServer(() => {});
    const clock = new VirtualClock();
    const pending = rejection(fetchConfigFile(fileAt(server.port), { ca: loopback.ca, clock, timeout: 2000 }));
    await vi.waitFor(() => expect(server!.requests).toHaveLength(1));
    clock.advance(1999);
    await tick();
    clock.advance(1);
    expect(await pending).toMatchObject({ code: 'timeout' });
    const untrusted = await rejection(fetchConfigFile(fileAt(server.port)));
    expect(untrusted).toMatchObject({ code: 'network' });
  });

  it('refuses a description it cannot use before any I/O', async () => {
    const port = await serve(CONTENT);
    const cases: [string, Partial<ConfigFile>][] = [
      ['config.url', { url: `http://[::1]:${port}/cfg` }],
      ['config.url', { url: 'cfg' }],
      ['config.sign', { sign: 'abc' }],
      ['config.signMethod', { signMethod: 'sha1' as never }],
      ['config.configSize', { configSize: -1 }],
    ];
    for (const [field, change] of cases) {
      const error = await rejection(fetchConfigFile(fileAt(port, change), { ca: loopback.ca }));
      expect(error, field).toBeInstanceOf(ConfigurationError);
      expect(error, field).toMatchObject({ field });
    }
    expect(server!.requests).toHaveLength(0);
  });
});
