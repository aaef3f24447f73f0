/**
 * The frame writer: one socket write per tick, and nothing lost when a socket hands bytes on
 * synchronously and the answer makes more packets inside that write (an in-memory pipe does).
 */
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FrameWriter } from '../../src/client/writer.js';
import { decode } from '../../src/packet/codec.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { settle } from './harness.js';

function fakeSocket(onWrite: (chunk: Uint8Array) => void): Duplex {
  return { write: (chunk: Uint8Array) => (onWrite(Uint8Array.from(chunk)), true) } as unknown as Duplex;
}

const hooks = { flushed: () => {}, saturated: () => {} };

describe('FrameWriter', () => {
  it('coalesces the packets of one tick into one write', async () => {
    const writes: Uint8Array[] = [];
    const writer = new FrameWriter(fakeSocket((c) => writes.push(c)), hooks, new VirtualClock());
    for (let id = 1; id <= 3; id++) writer.write({ type: 'puback', packetId: id });
    await settle(1);
    expect(writes).toHaveLength(1);
    expect(Buffer.from(writes[0]!).toString('hex')).toBe('400200014002000240020003');
  });

  it('keeps packets written during its own flush (a re-entrant write) and sends them next', async () => {
    const writes: Uint8Array[] = [];
    let writer: FrameWriter | undefined;
    let answered = false;
    writer = new FrameWriter(
      fakeSocket((chunk) => {
        writes.push(chunk);
        if (!answered) {
          answered = true;
          writer!.write({ type: 'puback', packetId: 9 }); // made inside socket.write
        }
      }),
      hooks,
      new VirtualClock(),
    );
    writer.write({ type: 'puback', packetId: 1 });
    await settle(3);
    expect(writes.map((w) => decode(w))).toEqual([
      { type: 'puback', packetId: 1 },
      { type: 'puback', packetId: 9 },
    ]);
  });
});
