/**
 * The partial file is put on the disk while the download goes on (an fdatasync every 8 MiB in
 * the thread pool), and a write-back error found that way fails the download as a write error
 * would: it reaches the descriptor that wrote, which a later open would not.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { downloadFirmware, OtaDownloadError } from '../../src/device/ota-download.js';
import { SYNC_EVERY } from '../../src/device/ota-disk.js';
import { loopback } from '../transport/helpers.js';
import { startFirmwareServer } from './firmware-server.js';
import type { FirmwareServer } from './firmware-server.js';

// The same module object the library loads lazily with require.
const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const FILE = randomBytes(SYNC_EVERY * 2 + 12345);
let server: FirmwareServer;
let dir: string;

beforeEach(async () => {
  server = await startFirmwareServer(FILE);
  dir = mkdtempSync(join(tmpdir(), 'aliot-ota-sync-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = () => ({ file: { url: server.url, size: FILE.length, signMethod: 'sha256' as const, sign: server.sha256 }, destination: join(dir, 'fw.bin'), ca: loopback.ca, retryDelay: 0 });

describe('downloadFirmware: syncing as it goes', () => {
  it('syncs the partial file in the background every 8 MiB', async () => {
    const spy = vi.spyOn(fs, 'fdatasync');
    await downloadFirmware(options());
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(spy.mock.calls.length).toBeLessThanOrEqual(2);
  });

  it('a write-back error found by the sync fails the download: disk-full for ENOSPC, file-error otherwise; no partial left', async () => {
    for (const [code, expected] of [['ENOSPC', 'disk-full'], ['EIO', 'file-error']] as const) {
      const failing = (_fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
        setImmediate(() => callback(Object.assign(new Error(`${code}: write-back failed`), { code })));
      };
      vi.spyOn(fs, 'fdatasync').mockImplementation(failing as unknown as typeof fs.fdatasync);
      const error = await downloadFirmware(options()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OtaDownloadError);
      expect((error as OtaDownloadError).code).toBe(expected);
      expect(readdirSync(dir)).toEqual([]);
      vi.restoreAllMocks();
    }
  });
});
