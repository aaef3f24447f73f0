/**
 * A disk slower than the network: the socket is read through `onread`, which has no stream
 * buffer to pause into, so the download must stop reading while the writer is behind. Bytes taken
 * off the network but not yet on the disk stay bounded (a few blocks), whatever the file's size.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BLOCK_SIZE, MAX_IN_FLIGHT, SLOW_WRITE_MS } from '../../src/device/block-writer.js';
import { downloadFirmware } from '../../src/device/ota-download.js';
import { loopback } from '../transport/helpers.js';
import { startFirmwareServer } from './firmware-server.js';
import type { FirmwareServer } from './firmware-server.js';

// The same module object the library loads lazily with require.
const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const FILE = randomBytes(24 * BLOCK_SIZE + 4321);
let server: FirmwareServer;
let dir: string;

beforeEach(async () => {
  server = await startFirmwareServer(FILE);
  dir = mkdtempSync(join(tmpdir(), 'aliot-ota-slow-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('downloadFirmware: a disk slower than the network', () => {
  it(`stops reading while ${MAX_IN_FLIGHT} blocks are being written: what is held in memory stays bounded`, async () => {
    let onDisk = 0;
    const realWriteSync = fs.writeSync.bind(fs);
    const realWrite = fs.write.bind(fs) as (...args: unknown[]) => void;
    // The first block is written synchronously and takes too long: the writer moves to the thread pool.
    vi.spyOn(fs, 'writeSync').mockImplementation(((...args: Parameters<typeof fs.writeSync>) => {
      const written = realWriteSync(...args);
      const until = performance.now() + SLOW_WRITE_MS + 5;
      while (performance.now() < until);
      onDisk += written;
      return written;
    }) as typeof fs.writeSync);
    // Then every write takes 20 ms: 50 MB/s, far below loopback TLS.
    vi.spyOn(fs, 'write').mockImplementation(((fd: number, buffer: Buffer, offset: number, length: number, position: number, callback: (error: Error | null, written: number) => void) => {
      setTimeout(
        () =>
          realWrite(fd, buffer, offset, length, position, (error: Error | null, written: number) => {
            if (error === null) onDisk += written;
            callback(error, written);
          }),
        20,
      );
    }) as unknown as typeof fs.write);
    let ahead = 0;
    const destination = join(dir, 'fw.bin');
    await downloadFirmware({
      file: { url: server.url, size: FILE.length, signMethod: 'sha256', sign: server.sha256 },
      destination,
      ca: loopback.ca,
      retryDelay: 0,
      onProgress: ({ received }) => {
        ahead = Math.max(ahead, received - onDisk);
      },
    });
    expect(readFileSync(destination).equals(FILE)).toBe(true);
    // Blocks in flight, the one being filled, and the records Node had decrypted when it was told to stop.
    // Reading on regardless would take in the whole file (24 MiB) long before the disk.
    expect(ahead).toBeGreaterThan(BLOCK_SIZE);
    expect(ahead).toBeLessThanOrEqual((MAX_IN_FLIGHT + 2) * BLOCK_SIZE);
  });
});
