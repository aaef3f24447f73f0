import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameTap } from '../../src/emulator/frames.js';
import { encode, PacketDecoder } from '../../src/packet/index.js';
import type { Packet } from '../../src/packet/index.js';

const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.constant<Packet>({ type: 'pingreq' }),
  fc.integer({ min: 1, max: 65_535 }).map((packetId): Packet => ({ type: 'puback', packetId })),
  fc
    .record({ level: fc.stringMatching(/^[a-z]{1,8}$/), size: fc.integer({ min: 0, max: 3_000 }) })
    .map(({ level, size }): Packet => ({ type: 'publish', topic: `t/${level}`, payload: new Uint8Array(size).fill(7), qos: 0, retain: false, dup: false })),
);

describe('FrameTap', () => {
  it('gives the exact frame of every packet completed while tracing, however the stream is cut and whenever tracing starts', () => {
    fc.assert(
      fc.property(
        fc.array(packetArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        (packets, cuts, tracingAt) => {
          const frames = packets.map((packet) => Buffer.from(encode(packet)));
          const stream = Buffer.concat(frames);
          const decoder = new PacketDecoder();
          const tap = new FrameTap();
          let pos = 0;
          let index = 0;
          for (let i = 0; pos < stream.length; i++) {
            const chunk = stream.subarray(pos, pos + cuts[i % cuts.length]!);
            pos += chunk.length;
            const tracing = tracingAt[i % tracingAt.length]!;
            const decoded = decoder.push(chunk);
            const traced = tap.frames(chunk, decoded, decoder.bufferedBytes, tracing);
            if (tracing && decoded.length > 0) {
              expect(traced!.map((frame) => Buffer.from(frame).toString('hex'))).toEqual(
                frames.slice(index, index + decoded.length).map((frame) => frame.toString('hex')),
              );
            } else {
              expect(traced).toBeUndefined();
            }
            index += decoded.length;
          }
          expect(index).toBe(packets.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
