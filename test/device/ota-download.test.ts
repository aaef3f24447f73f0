import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '../../src/shared/errors.js';
import { discardPartial, downloadFirmware, OtaDownloadError, partialPath, ProgressRate } from '../../src/device/ota-download.js';
import type { DownloadFirmwareOptions, DownloadProgress } from '../../src/device/ota-download.js';
import { loopback } from '../transport/helpers.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { startFirmwareServer } from './firmware-server.js';
import type { FirmwareServer } from './firmware-server.js';

const FILE = randomBytes(1 << 20);
let server: FirmwareServer;
let dir: string;

beforeEach(async () => {
  server = await startFirmwareServer(FILE);
  dir = mkdtempSync(join(tmpdir(), 'aliot-ota-'));
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const destination = (): string => join(dir, 'firmware.bin');
const job = (change: Partial<DownloadFirmwareOptions['file']> = {}) => ({ url: server.url, size: FILE.length, signMethod: 'sha256' as const, sign: server.sha256, ...change });
const options = (change: Partial<DownloadFirmwareOptions> = {}): DownloadFirmwareOptions => ({
  file: job(),
  destination: destination(),
  ca: loopback.ca,
  retryDelay: 0,
  ...change,
});

async function failure(promise: Promise<unknown>): Promise<OtaDownloadError> {
  const error = await promise.then(
    () => new Error('expected the download to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OtaDownloadError);
  return error as OtaDownloadError;
}

/** The directory holds exactly `names`: no partial or stray file left behind. */
const left = (): string[] => readdirSync(dir).sort();

describe('downloadFirmware: the happy path', () => {
  it('streams the file, checks size and sha256, and renames it into place', async () => {
    const result = await downloadFirmware(options());
    expect(result).toEqual({ path: destination(), size: FILE.length, signMethod: 'sha256', digest: server.sha256, resumes: 0, transferred: FILE.length });
    expect(readFileSync(destination()).equals(FILE)).toBe(true);
    expect(left()).toEqual(['firmware.bin']);
    expect(server.requests[0]).toMatchObject({ method: 'GET', url: '/firmware/v2.bin?Expires=1&Signature=x' });
    expect(server.requests[0]!.headers.range).toBeUndefined();
  });

  it('checks md5 when the job says MD5, the digest in any case', async () => {
    const result = await downloadFirmware(options({ file: job({ signMethod: 'md5', sign: server.md5.toUpperCase() }) }));
    expect(result.digest).toBe(server.md5);
  });

  it('reports progress at most once per percent, rising, ending at 100', async () => {
    const events: DownloadProgress[] = [];
    await downloadFirmware(options({ onProgress: (p) => events.push(p) }));
    expect(events.length).toBeGreaterThan(1);
    expect(events.length).toBeLessThanOrEqual(101 + 2);
    const percents = events.map((e) => e.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(new Set(percents).size).toBe(percents.length);
    expect(events.at(-1)).toMatchObject({ received: FILE.length, total: FILE.length, percent: 100, resumes: 0 });
  });

  it('reports at least once a second while the percent stands still, and never more often', () => {
    const rate = new ProgressRate();
    expect(rate.due(0, 0)).toBe(true);
    expect(rate.due(500, 0)).toBe(false);
    expect(rate.due(999, 0)).toBe(false);
    expect(rate.due(1000, 0)).toBe(true);
    expect(rate.due(1001, 1)).toBe(true);
    expect(rate.due(1002, 1)).toBe(false);
    expect(rate.due(1003, 2)).toBe(true);
  });
});

describe('downloadFirmware: resuming', () => {
  it('resumes a dropped connection with Range and If-Range, and the file is whole', async () => {
    server.plan.push({ dropAfter: 300_000 });
    const events: DownloadProgress[] = [];
    const result = await downloadFirmware(options({ onProgress: (p) => events.push(p) }));
    expect(result.resumes).toBe(1);
    expect(readFileSync(destination()).equals(FILE)).toBe(true);
    expect(server.requests).toHaveLength(2);
    const resumed = server.requests[1]!.headers;
    expect(resumed.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(resumed.range!)![0])).toBeGreaterThan(0);
    expect(resumed['if-range']).toMatch(/^"[0-9a-f]{32}"$/);
    expect(result.transferred).toBeLessThan(FILE.length + 300_000);
    expect(events.at(-1)).toMatchObject({ percent: 100, resumes: 1 });
    expect(left()).toEqual(['firmware.bin']);
  });

  it('starts over when the server ignores the range (200), or the file changed (If-Range fails)', async () => {
    server.plan.push({ dropAfter: 400_000 }, { ignoreRange: true });
    expect((await downloadFirmware(options())).transferred).toBeGreaterThanOrEqual(FILE.length + 1);
    expect(readFileSync(destination()).equals(FILE)).toBe(true);
    rmSync(destination());
    server.plan.push({ dropAfter: 400_000, etag: '"old-version"' });
    await downloadFirmware(options());
    expect(server.requests.at(-1)!.headers['if-range']).toBe('"old-version"');
    expect(readFileSync(destination()).equals(FILE)).toBe(true);
  });

  it('retries a 5xx answer, then succeeds', async () => {
    server.plan.push({ status: 503 }, { status: 502 });
    expect((await downloadFirmware(options())).resumes).toBe(2);
  });

  it('resumes a stalled connection after idleTimeout (virtual time)', async () => {
    const clock = new VirtualClock();
    server.plan.push({ stallAfter: 500_000 });
    let received = 0;
    const pending = downloadFirmware(options({ clock, idleTimeout: 30_000, onProgress: (p) => (received = p.received) }));
    await server.stalled();
    await vi.waitFor(() => expect(received).toBeGreaterThanOrEqual(400_000));
    clock.advance(29_999);
    expect(server.requests).toHaveLength(1);
    clock.advance(1);
    await vi.waitFor(() => expect(server.requests).toHaveLength(2), { timeout: 5000 });
    const result = await pending;
    expect(result.resumes).toBe(1);
    expect(server.requests[1]!.headers.range).toMatch(/^bytes=\d+-$/);
  });

  it('gives up on a server that never answers after idleTimeout, and resumes on the next connection', async () => {
    const clock = new VirtualClock();
    server.plan.push({ silent: true });
    const pending = downloadFirmware(options({ clock, idleTimeout: 30_000 }));
    await server.stalled();
    clock.advance(29_999);
    expect(server.requests).toHaveLength(1);
    clock.advance(1);
    const result = await pending;
    expect(result.resumes).toBe(1);
    expect(server.requests).toHaveLength(2);
    expect(readFileSync(destination()).equals(FILE)).toBe(true);
  });

  it('gives up after `retries` failures in a row: network, step -2, nothing left', async () => {
    server.plan.push({ dropAfter: 10 }, { dropAfter: 10 }, { dropAfter: 10 });
    const error = await failure(downloadFirmware(options({ retries: 2 })));
    expect(error).toMatchObject({ code: 'network', step: -2 });
    expect(server.requests).toHaveLength(3);
    expect(left()).toEqual([]);
  });

  it('keepPartial: a failed download keeps its digest-named partial, and a later call resumes it', async () => {
    server.plan.push({ dropAfter: 600_000 });
    await failure(downloadFirmware(options({ retries: 0, keepPartial: true })));
    const partial = partialPath(destination(), { sign: server.sha256 });
    expect(left()).toEqual([`firmware.bin.${server.sha256.slice(0, 16)}.part`]);
    const kept = readFileSync(partial);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.equals(FILE.subarray(0, kept.length))).toBe(true);
    const result = await downloadFirmware(options({ keepPartial: true }));
    expect(server.requests.at(-1)!.headers.range).toBe(`bytes=${kept.length}-`);
    expect(result.transferred).toBe(FILE.length - kept.length);
    expect(readFileSync(destination()).equals(FILE)).toBe(true);
    expect(left()).toEqual(['firmware.bin']);
    await discardPartial(destination(), { sign: server.sha256 });
  });
});

describe('downloadFirmware: the file is not the job’s', () => {
  it('the wrong digest: digest-mismatch, step -3, no file left', async () => {
    const wrong = Buffer.from(FILE);
    wrong[12345] = (wrong[12345] ?? 0) ^ 0xff;
    server.plan.push({ body: wrong });
    const error = await failure(downloadFirmware(options()));
    expect(error).toMatchObject({ code: 'digest-mismatch', step: -3 });
    expect(error.message).toContain(server.sha256);
    expect(left()).toEqual([]);
  });

  it('the wrong size announced, more bytes than the job’s, or a clean end short of it: size-mismatch', async () => {
    server.plan.push({ contentLength: FILE.length + 1, body: Buffer.concat([FILE, Buffer.from([1])]) });
    expect(await failure(downloadFirmware(options()))).toMatchObject({ code: 'size-mismatch', step: -3 });
    server.plan.push({ contentLength: null, body: Buffer.concat([FILE, Buffer.alloc(100)]) });
    expect((await failure(downloadFirmware(options()))).code).toBe('size-mismatch');
    server.plan.push({ contentLength: null, body: FILE.subarray(0, 1000) });
    expect((await failure(downloadFirmware(options()))).code).toBe('size-mismatch');
    expect(left()).toEqual([]);
  });

  it('a chunked answer (no Content-Length) is read, and resumed when it drops', async () => {
    server.plan.push({ contentLength: null }, { contentLength: null, dropAfter: 300_000 }, { contentLength: null });
    expect((await downloadFirmware(options())).resumes).toBe(0);
    rmSync(destination());
    expect((await downloadFirmware(options())).resumes).toBe(1);
    expect(server.requests.at(-1)!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(readFileSync(destination()).equals(FILE)).toBe(true);
  });

  it('an answer that is not HTTP counts as a network failure and is retried', async () => {
    server.plan.push({ raw: 'SSH-2.0-OpenSSH_9.2\r\n\r\n' });
    expect((await downloadFirmware(options())).resumes).toBe(1);
    server.plan.push({ raw: 'SSH-2.0-OpenSSH_9.2\r\n\r\n' }, { raw: 'garbage\r\n\r\n' });
    const error = await failure(downloadFirmware(options({ retries: 1, destination: join(dir, 'other.bin') })));
    expect(error).toMatchObject({ code: 'network', step: -2 });
    expect(error.message).toContain('status line');
    expect(left()).toEqual(['firmware.bin']);
  });

  it('a 4xx answer (an expired URL): http-status, no retry', async () => {
    server.plan.push({ status: 403 });
    expect(await failure(downloadFirmware(options()))).toMatchObject({ code: 'http-status', status: 403, step: -2 });
    expect(server.requests).toHaveLength(1);
  });
});

describe('downloadFirmware: the disk, the caller, the options', () => {
  it('a disk without room for the file: disk-full before any request', async () => {
    const error = await failure(downloadFirmware(options({ file: job({ size: 2 ** 52 }) })));
    expect(error.code).toBe('disk-full');
    expect(server.requests).toHaveLength(0);
  });

  it('a disk that fills up while writing: disk-full, the partial removed', async () => {
    symlinkSync('/dev/full', partialPath(destination(), { sign: server.sha256 }));
    const error = await failure(downloadFirmware(options()));
    expect(error.code).toBe('disk-full');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(left()).toEqual([]);
  });

  it('a directory that does not exist: file-error before any request', async () => {
    const error = await failure(downloadFirmware(options({ destination: join(dir, 'missing', 'fw.bin') })));
    expect(error.code).toBe('file-error');
    expect(server.requests).toHaveLength(0);
  });

  it('abort mid-way: aborted, no half file; abort before: no request', async () => {
    server.plan.push({ stallAfter: 200_000 });
    const controller = new AbortController();
    const pending = downloadFirmware(options({ signal: controller.signal }));
    await server.stalled();
    controller.abort(new Error('user cancelled'));
    const error = await failure(pending);
    expect(error).toMatchObject({ code: 'aborted', step: -1 });
    expect(left()).toEqual([]);
    const before = await failure(downloadFirmware(options({ signal: AbortSignal.abort() })));
    expect(before.code).toBe('aborted');
    expect(server.requests).toHaveLength(1);
  });

  it('keepPartial: an aborted download keeps its partial (a program shutting down), and the next call resumes it', async () => {
    server.plan.push({ stallAfter: 300_000 });
    const controller = new AbortController();
    // Aborted once bytes have come (they are on disk by the time the abort is reported).
    const onProgress = ({ received }: DownloadProgress): void => {
      if (received > 0) controller.abort(new Error('shutting down'));
    };
    const pending = downloadFirmware(options({ signal: controller.signal, keepPartial: true, onProgress }));
    const error = await failure(pending);
    expect(error).toMatchObject({ code: 'aborted', step: -1 });
    expect(error.message).toContain('is kept in');
    const kept = readFileSync(partialPath(destination(), { sign: server.sha256 }));
    expect(kept.length).toBeGreaterThan(0);
    await downloadFirmware(options({ keepPartial: true }));
    expect(server.requests.at(-1)!.headers.range).toBe(`bytes=${kept.length}-`);
    expect(readFileSync(destination()).equals(FILE)).toBe(true);
    expect(left()).toEqual(['firmware.bin']);
  });

  it('a throwing progress handler ends the download: handler-failed', async () => {
    const error = await failure(downloadFirmware(options({ onProgress: () => {
      throw new Error('screen broke');
    } })));
    expect(error.code).toBe('handler-failed');
    expect(left()).toEqual([]);
  });

  it('keeps an earlier file at the destination until the new one is verified', async () => {
    writeFileSync(destination(), 'previous firmware');
    server.plan.push({ body: Buffer.alloc(FILE.length) });
    await failure(downloadFirmware(options()));
    expect(readFileSync(destination(), 'utf8')).toBe('previous firmware');
  });

  it('checks every option before any I/O', async () => {
    const cases: [string, Partial<DownloadFirmwareOptions>][] = [
      ['file.url', { file: job({ url: 'http://[::1]/fw.bin' }) }],
      ['file.url', { file: job({ url: undefined }) }],
      ['file.size', { file: job({ size: 0 }) }],
      ['file.signMethod', { file: job({ signMethod: 'crc32' as never }) }],
      ['file.sign', { file: job({ sign: 'abc' }) }],
      ['destination', { destination: '' }],
      ['retries', { retries: -1 }],
      ['idleTimeout', { idleTimeout: 0 }],
      ['keepPartial', { keepPartial: 'yes' as never }],
      ['onProgress', { onProgress: 5 as never }],
      ['family', { family: 7 as never }],
    ];
    for (const [field, change] of cases) {
      const error = await downloadFirmware(options(change)).then(() => undefined, (e: unknown) => e);
      expect(error, field).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe(field);
    }
    expect(server.requests).toHaveLength(0);
    expect(existsSync(destination())).toBe(false);
  });
});
