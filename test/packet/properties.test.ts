/** Properties over every valid packet: round trips, exact lengths, and any chunking of a stream. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PacketDecoder, decode, decodeFrame, encode, encodeInto, encodedLength } from '../../src/packet/index.js';
import type { Packet } from '../../src/packet/index.js';
import { toHex } from '../support/hex.js';
import { packetArb } from './arbitraries.js';
import { bytes, expectSamePackets, expectUntouched, sentinelTarget } from './helpers.js';
import { VECTORS } from './vectors.js';

const RUNS = { numRuns: 400 };

/** All frames of `packets`, end to end, in one buffer. */
function streamOf(packets: readonly Packet[]): Uint8Array {
  return bytes(...packets.map((p) => encode(p)));
}

/**
 * How chunks reach the decoder: views into one buffer, fresh copies, or Buffers (as a socket
 * gives them: often slices of a shared pool, at a non-zero byteOffset).
 */
type ChunkMemory = 'view' | 'copy' | 'buffer';
const MEMORY: Record<ChunkMemory, (chunk: Uint8Array) => Uint8Array> = {
  view: (chunk) => chunk,
  copy: (chunk) => chunk.slice(),
  buffer: (chunk) => Buffer.from(chunk),
};

/** Feeds `stream` to a fresh decoder cut at `cuts` (sorted positions) and returns all packets. */
function decodeInChunks(stream: Uint8Array, cuts: readonly number[], memory: ChunkMemory = 'view'): Packet[] {
  const decoder = new PacketDecoder();
  const out: Packet[] = [];
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    const chunk = stream.subarray(from, to);
    out.push(...decoder.push(MEMORY[memory](chunk)));
    from = to;
  }
  expect(decoder.bufferedBytes).toBe(0);
  return out;
}

describe('round trip properties', () => {
  it('decode(encode(p)) equals p, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(packetArb, (packet) => {
        const frame = encode(packet);
        const decoded = decode(frame);
        expectSamePackets(decoded, packet);
        expect(toHex(encode(decoded))).toBe(toHex(frame));
      }),
      RUNS,
    );
  });

  it('encodedLength(p) === encode(p).length', () => {
    fc.assert(
      fc.property(packetArb, (packet) => {
        expect(encodedLength(packet)).toBe(encode(packet).length);
      }),
      RUNS,
    );
  });

  it('encodeInto at any offset writes encode(p) there and nothing else', () => {
    fc.assert(
      fc.property(packetArb, fc.nat(40), fc.nat(40), (packet, before, after) => {
        const frame = encode(packet);
        const target = sentinelTarget(before + frame.length + after);
        expect(encodeInto(packet, target, before)).toBe(frame.length);
        expect(toHex(target.subarray(before, before + frame.length))).toBe(toHex(frame));
        expectUntouched(target.subarray(0, before));
        expectUntouched(target.subarray(before + frame.length));
      }),
      RUNS,
    );
  });

  it('encodeInto a view at an odd byteOffset, or into a Buffer, writes the same bytes', () => {
    fc.assert(
      fc.property(packetArb, fc.nat(7), fc.nat(7), (packet, byteOffset, offset) => {
        const frame = encode(packet);
        const memory = new ArrayBuffer(byteOffset + offset + frame.length + 3);
        const view = new Uint8Array(memory, byteOffset, offset + frame.length);
        encodeInto(packet, view, offset);
        expect(toHex(view.subarray(offset))).toBe(toHex(frame));
        expect(new Uint8Array(memory, 0, byteOffset + offset).every((b) => b === 0)).toBe(true);
        const buffer = Buffer.alloc(offset + frame.length);
        encodeInto(packet, buffer, offset);
        expect(toHex(buffer.subarray(offset))).toBe(toHex(frame));
      }),
      RUNS,
    );
  });

  it('frames returned by encode stay intact while later ones are encoded (shared slab)', () => {
    fc.assert(
      fc.property(fc.array(packetArb, { minLength: 50, maxLength: 200 }), (packets) => {
        const frames = packets.map((p) => encode(p));
        const copies = frames.map((f) => f.slice());
        for (let i = 0; i < 300; i++) encode({ type: 'puback', packetId: i + 1 }); // more traffic on the slab
        frames.forEach((frame, i) => expect(toHex(frame)).toBe(toHex(copies[i]!)));
        expectSamePackets(frames.map((f) => decode(f)), packets);
      }),
      { numRuns: 20 },
    );
  });

  it('decodeFrame walks a stream of frames one at a time', () => {
    fc.assert(
      fc.property(fc.array(packetArb, { minLength: 1, maxLength: 8 }), (packets) => {
        const stream = streamOf(packets);
        const out: Packet[] = [];
        for (let at = 0; at < stream.length; ) {
          const frame = decodeFrame(stream, at);
          if (frame === null) throw new Error(`need-more at ${at} inside a whole stream`);
          out.push(frame.packet);
          at += frame.length;
        }
        expectSamePackets(out, packets);
      }),
      RUNS,
    );
  });
});

describe('PacketDecoder: every way of splitting a stream gives the same packets', () => {
  it('random cuts, including 1-byte chunks and cuts inside the Remaining Length', () => {
    const cutsArb = fc.oneof(
      fc.constant('every byte' as const),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
    );
    const memoryArb = fc.constantFrom<ChunkMemory>('view', 'copy', 'buffer');
    fc.assert(
      fc.property(fc.array(packetArb, { minLength: 1, maxLength: 8 }), cutsArb, memoryArb, (packets, spec, memory) => {
        const stream = streamOf(packets);
        const cuts =
          spec === 'every byte'
            ? Array.from({ length: stream.length - 1 }, (_, i) => i + 1)
            : [...new Set(spec.map((f) => Math.floor(f * stream.length)))].sort((a, b) => a - b);
        expectSamePackets(decodeInChunks(stream, cuts, memory), packets);
      }),
      RUNS,
    );
  });

  it('every single cut of the stream of all vectors', () => {
    const packets = VECTORS.map((v) => v.packet);
    const stream = bytes(...VECTORS.map((v) => v.bytes));
    for (let cut = 0; cut <= stream.length; cut++) expectSamePackets(decodeInChunks(stream, [cut]), packets);
  });

  it('every pair of cuts of a stream with 1-, 2- and 3-byte Remaining Lengths', () => {
    const big = (n: number): Packet => ({ type: 'publish', topic: 't', payload: new Uint8Array(n).fill(7), qos: 1, retain: false, dup: false, packetId: n });
    const packets: Packet[] = [{ type: 'puback', packetId: 1 }, big(130), { type: 'pingreq' }, big(16_400)];
    const stream = streamOf(packets);
    // Cut positions near the headers and the frame ends: inside each length field and around it.
    const frameStarts = [0, 4, 4 + 3 + 135, 4 + 3 + 135 + 2];
    const interesting = [...new Set(frameStarts.flatMap((s) => [s, s + 1, s + 2, s + 3, s + 4, s + 5]))].filter(
      (p) => p > 0 && p < stream.length,
    );
    interesting.push(stream.length - 1, 20, 100);
    for (const a of interesting) {
      for (const b of interesting) {
        // Compared through the encoder (round trips are proven above): cheaper than 16 KiB arrays.
        if (a < b) expect(Buffer.from(streamOf(decodeInChunks(stream, [a, b]))).equals(stream)).toBe(true);
      }
    }
    expectSamePackets(decodeInChunks(stream, interesting.slice(0, 2)), packets);
  });
});
