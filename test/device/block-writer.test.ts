import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLOCK_SIZE, BlockWriter, MAX_IN_FLIGHT, SLOW_WRITE_MS } from '../../src/device/block-writer.js';
import type { WriteMode } from '../../src/device/block-writer.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aliot-blocks-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `data` in 16 KiB chunks as a TLS socket hands them over, after `prefix` bytes already in the file. */
async function writeThrough(data: Buffer, options: { mode?: WriteMode; now?: () => number; prefix?: Buffer } = {}) {
  const path = join(dir, 'file.bin');
  const prefix = options.prefix ?? Buffer.alloc(0);
  writeFileSync(path, prefix);
  const fd = openSync(path, 'r+');
  const writer = new BlockWriter(fd, prefix.length, { ...(options.mode ? { mode: options.mode } : {}), ...(options.now ? { now: options.now } : {}) });
  const blocks: number[] = [];
  const modes: WriteMode[] = [];
  let refusals = 0;
  let drains = 0;
  writer.onBlock = (bytes) => blocks.push(bytes.byteLength);
  writer.onDrain = () => (drains += 1);
  try {
    for (let offset = 0; offset < data.length; offset += 16384) {
      if (!writer.write(data.subarray(offset, offset + 16384))) {
        refusals += 1;
        await new Promise<void>((resolve) => (writer.onDrain = () => ((drains += 1), resolve())));
        writer.onDrain = () => (drains += 1);
      }
      modes.push(writer.mode);
    }
    await writer.flush();
  } finally {
    closeSync(fd);
  }
  return { content: readFileSync(path), blocks, modes, refusals, drains };
}

describe('BlockWriter', () => {
  it('writes 16 KiB chunks as 1 MiB blocks, synchronously by default, from the given position', async () => {
    const data = randomBytes(3 * BLOCK_SIZE + 12345);
    const prefix = randomBytes(777);
    // A clock that stands still: on a loaded machine a real write can take over SLOW_WRITE_MS,
    // which is the other test's subject, not this one's.
    const { content, blocks, modes } = await writeThrough(data, { prefix, now: () => 0 });
    expect(content.equals(Buffer.concat([prefix, data]))).toBe(true);
    expect(blocks).toEqual([BLOCK_SIZE, BLOCK_SIZE, BLOCK_SIZE, 12345]);
    expect(new Set(modes)).toEqual(new Set(['sync']));
  });

  it(`moves to the thread pool for good after one write slower than ${SLOW_WRITE_MS} ms`, async () => {
    const data = randomBytes(6 * BLOCK_SIZE);
    // The clock is read before and after each synchronous write: the second write takes 11 ms.
    const times = [0, 1, 1, 12];
    const { content, modes } = await writeThrough(data, { now: () => times.shift() ?? 100 });
    expect(content.equals(data)).toBe(true);
    const perBlock = BLOCK_SIZE / 16384;
    expect(modes[perBlock - 1]).toBe('sync');
    expect(modes[2 * perBlock - 2]).toBe('sync');
    expect(modes[2 * perBlock - 1]).toBe('async');
    expect(modes.at(-1)).toBe('async');
  });

  it(`in the thread pool: at most ${MAX_IN_FLIGHT} blocks at once, then asks the source to wait for onDrain`, async () => {
    const data = randomBytes(12 * BLOCK_SIZE + 1);
    const { content, refusals, drains } = await writeThrough(data, { mode: 'async' });
    expect(content.equals(data)).toBe(true);
    // Whether the disk keeps up decides how often; every refusal is followed by its drain.
    expect(drains).toBeGreaterThanOrEqual(refusals);
  });

  it.each(['sync', 'async'] as const)('a full disk (%s): onError once with ENOSPC, flush rejects, nothing thrown at the source', async (mode) => {
    const fd = openSync('/dev/full', 'w');
    const writer = new BlockWriter(fd, 0, { mode });
    const errors: unknown[] = [];
    writer.onError = (error) => errors.push(error);
    try {
      for (let offset = 0; offset < 3 * BLOCK_SIZE; offset += 16384) writer.write(Buffer.alloc(16384));
      await expect(writer.flush()).rejects.toMatchObject({ code: 'ENOSPC' });
    } finally {
      closeSync(fd);
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'ENOSPC' });
  });
});
