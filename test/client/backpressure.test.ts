/**
 * Memory stays bounded when the network does not keep up: a publisher awaiting each QoS 0
 * publish against a server that has stopped reading is held back by the socket's backpressure,
 * instead of the client buffering a million messages.
 */
import { describe, expect, it } from 'vitest';
import { connectedSession, failOnUnhandledRejections, settle, settled, track } from './harness.js';

failOnUnhandledRejections();

const gc = (globalThis as { gc?: () => void }).gc;

describe('a publish loop against a stalled socket', () => {
  it('blocks waiting for drain with bounded buffers, then progresses once the server reads again', async () => {
    const s = await connectedSession({ server: { highWaterMark: 1_024, keepPackets: false } });
    const clientEnd = s.connection.clientEnd;
    s.connection.stall();
    await settle();
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;

    let resolved = 0;
    let limit = 1_000_000;
    const payload = Buffer.from('{"t":21.5,"h":40}');
    const loop = track(
      (async () => {
        while (resolved < limit) {
          await s.client.publish('dev/telemetry', payload);
          resolved++;
        }
      })(),
    );

    // The loop runs until the socket pushes back, then waits for 'drain'.
    await settle(20);
    const blockedAt = resolved;
    await settle(20);
    expect(resolved, 'the loop should be blocked').toBe(blockedAt);
    expect(loop.status).toBe('pending');
    expect(blockedAt).toBeGreaterThan(0);
    expect(blockedAt).toBeLessThan(10_000);
    // What the client holds: the awaited message in its queue, and at most one writer batch
    // (32 KiB) plus the pipe's buffer in the socket.
    expect(s.client.queuedCount).toBe(1);
    expect(clientEnd.writableLength).toBeLessThanOrEqual(64 * 1024);
    gc?.();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(heapGrowth).toBeLessThan(gc === undefined ? 64 * 1024 * 1024 : 8 * 1024 * 1024);

    // The server reads again: the loop goes on (told to stop after 50,000 more).
    limit = blockedAt + 50_000;
    s.connection.resume();
    await settled(loop, 1_000);
    expect(resolved).toBe(limit);
    await settle();
    // Every message that resolved reached the server (after the CONNECT), none twice.
    expect(s.connection.count).toBe(1 + resolved);
  });
});
