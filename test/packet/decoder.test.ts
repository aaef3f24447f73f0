/** PacketDecoder: partial frames, the size limit from the header, stream offsets, recovery, views. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MAX_PACKET_SIZE, PacketDecoder } from '../../src/packet/index.js';
import type { Packet } from '../../src/packet/index.js';
import { hex } from '../support/hex.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { bytes, captureError, expectProtocolError, expectSamePackets, field, frame, remainingLength } from './helpers.js';
import { VECTORS } from './vectors.js';

const STREAM = bytes(...VECTORS.map((v) => v.bytes));
const PACKETS = VECTORS.map((v) => v.packet);

/** Pushes each chunk in turn and returns every packet returned. */
function pushAll(decoder: PacketDecoder, chunks: readonly Uint8Array[]): Packet[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

describe('PacketDecoder: partial frames', () => {
  it('keeps a partial frame across chunks, byte by byte', () => {
    const decoder = new PacketDecoder();
    const out: Packet[] = [];
    let frameStart = 0;
    for (let i = 0; i < STREAM.length; i++) {
      const got = decoder.push(STREAM.subarray(i, i + 1));
      out.push(...got);
      if (got.length > 0) frameStart = i + 1;
      expect(decoder.bufferedBytes).toBe(i + 1 - frameStart);
    }
    expectSamePackets(out, PACKETS);
  });

  it('returns nothing for an empty chunk, with or without a partial frame', () => {
    const decoder = new PacketDecoder();
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(hex`32`)).toEqual([]);
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(hex`09 00 03 61`)).toEqual([]);
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expectSamePackets(decoder.push(hex`2f 62 00 0a 68 69`), [VECTORS.find((v) => v.name === 'PUBLISH: QoS 1')!.packet]);
  });

  it('decoders interleaved: a frame completed later reads its own fixed header, whatever the others read meanwhile', () => {
    // Decoders share one scratch fixed header (an idle connection holds none of its own): the
    // partial frame's header must come from its own bytes when it completes.
    const qos1 = VECTORS.find((v) => v.name === 'PUBLISH: QoS 1')!;
    const others = VECTORS.filter((v) => v !== qos1);
    for (const cut of [1, 2, 3, qos1.bytes.length - 1]) {
      const a = new PacketDecoder();
      const b = new PacketDecoder();
      expect(a.push(qos1.bytes.subarray(0, cut))).toEqual([]);
      expectSamePackets(pushAll(b, others.map((v) => v.bytes)), others.map((v) => v.packet));
      expect(b.push(hex`30`)).toEqual([]); // b now holds a header of its own, unfinished
      expectSamePackets(a.push(qos1.bytes.subarray(cut)), [qos1.packet]);
      expectSamePackets(b.push(hex`03 00 01 74`), [{ type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 0, retain: false, dup: false }]);
    }
  });

  it('payloadView makes every PUBLISH payload, in a whole frame or one completed later, with no copy', () => {
    const views: Array<[ArrayBuffer, number, number]> = [];
    const decoder = new PacketDecoder({
      payloadView: (buffer, byteOffset, length) => {
        views.push([buffer, byteOffset, length]);
        return Buffer.from(buffer, byteOffset, length);
      },
    });
    const chunk = Buffer.from(hex`30 05 00 01 74 68 69 32 07 00 01 74 00 0a 68 69 30 05 00 01`);
    const whole = decoder.push(chunk);
    const split = decoder.push(hex`74 68 69`);
    const payloads = [...whole, ...split].map((p) => (p.type === 'publish' ? p.payload : undefined));
    expect(payloads.map((p) => Buffer.isBuffer(p) && p.toString())).toEqual(['hi', 'hi', 'hi']);
    expect(views).toHaveLength(3);
    // The whole frames' payloads are views into the caller's chunk: the same memory.
    expect(views[0]![0]).toBe(chunk.buffer);
    expect(views[0]![1]).toBe(chunk.byteOffset + 5);
    expect(views[1]![0]).toBe(chunk.buffer);
    expect(() => new PacketDecoder({ payloadView: 'buffer' as never })).toThrow(ConfigurationError);
  });

  it('reset() drops a partial frame', () => {
    const decoder = new PacketDecoder();
    decoder.push(hex`30 07 00 03`);
    decoder.reset();
    expect(decoder.bufferedBytes).toBe(0);
    expectSamePackets(decoder.push(hex`c0 00`), [{ type: 'pingreq' }]);
  });
});

describe('PacketDecoder: maxPacketSize is enforced from the fixed header', () => {
  const LIMIT = 1_000;

  it.each([
    ['2-byte header', hex`30 7f`, 129, 1],
    ['3-byte header', bytes(0x30, remainingLength(LIMIT)), LIMIT + 3, 2],
    ['4-byte header', bytes(0x30, remainingLength(20_000)), 20_004, 3],
    ['5-byte header', hex`30 ff ff ff 7f`, MAX_PACKET_SIZE, 4],
  ])('%s of a larger frame is refused before its body (packet-too-large)', (_, header, size, lengthBytes) => {
    const limit = Math.min(LIMIT, size - 1);
    // All at once.
    expectProtocolError(() => new PacketDecoder({ maxPacketSize: limit }).push(header), 'packet-too-large', 0);
    // Byte by byte: nothing but the header is ever held.
    const decoder = new PacketDecoder({ maxPacketSize: limit });
    for (let i = 0; i < lengthBytes; i++) {
      expect(decoder.push(header.subarray(i, i + 1))).toEqual([]);
      expect(decoder.bufferedBytes).toBe(i + 1);
    }
    expectProtocolError(() => decoder.push(header.subarray(lengthBytes)), 'packet-too-large', 0);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('a frame of exactly maxPacketSize bytes is accepted, one byte more is refused', () => {
    const packetOf = (payload: number): Uint8Array => frame(0x30, field('t'), new Uint8Array(payload));
    const exact = packetOf(LIMIT - 2 - 3 - 1 - 1); // 1 type byte, 2 length bytes, 3 topic bytes
    expect(exact.length).toBe(LIMIT - 1);
    expect(new PacketDecoder({ maxPacketSize: LIMIT - 1 }).push(exact)).toHaveLength(1);
    expectProtocolError(() => new PacketDecoder({ maxPacketSize: LIMIT - 2 }).push(exact), 'packet-too-large', 0);
  });

  it('the limit counts the stream offset of the oversize frame', () => {
    const decoder = new PacketDecoder({ maxPacketSize: 100 });
    expect(decoder.push(hex`c0 00 40 02 00 01 30`)).toHaveLength(2);
    expectProtocolError(() => decoder.push(hex`7f`), 'packet-too-large', 6);
  });

  it.each([1, 0, -5, 1.5, NaN, MAX_PACKET_SIZE + 1])("maxPacketSize %s is the caller's mistake: a ConfigurationError naming the option", (maxPacketSize) => {
    const error = captureError(() => new PacketDecoder({ maxPacketSize }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ field: 'maxPacketSize' });
  });

  it('maxPacketSize 2 and MAX_PACKET_SIZE (268,435,460) are accepted; the default is the latter', () => {
    expect(MAX_PACKET_SIZE).toBe(268_435_460);
    expect(new PacketDecoder().maxPacketSize).toBe(MAX_PACKET_SIZE);
    expect(new PacketDecoder({ maxPacketSize: MAX_PACKET_SIZE }).maxPacketSize).toBe(MAX_PACKET_SIZE);
    expect(new PacketDecoder({ maxPacketSize: 2 }).push(hex`c0 00`)).toHaveLength(1);
  });
});

describe('PacketDecoder: error offsets count from the start of the stream', () => {
  const GOOD = bytes(VECTORS[0]!.bytes, hex`40 02 00 01`); // a CONNECT (17 bytes) and a PUBACK (4)
  it.each([
    ['packet id 0 in a PUBACK', hex`40 02 00 00`, 2, 'invalid-packet-id'],
    ['U+0000 in a PUBLISH topic', hex`30 05 00 03 61 00 62`, 2, 'invalid-utf8'],
    ['reserved flags on SUBSCRIBE', hex`80 06 00 01 00 01 23 00`, 0, 'invalid-flags'],
    ['a 5-byte Remaining Length', hex`30 ff ff ff ff 7f`, 1, 'remaining-length-overflow'],
    ['a wildcard in a PUBLISH topic', hex`30 05 00 03 61 2f 2b`, 2, 'invalid-topic'],
  ] as const)('%s after two good frames, for every split into two and three chunks', (_, bad, within, code) => {
    const stream = bytes(GOOD, bad);
    const expected = GOOD.length + within;
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const decoder = new PacketDecoder();
        const chunks = [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)];
        expectProtocolError(() => pushAll(decoder, chunks), code, expected);
      }
    }
  });
});

describe('PacketDecoder: works again after an error', () => {
  it('the same instance decodes a fresh stream, and counts offsets from its start', () => {
    const decoder = new PacketDecoder();
    expect(decoder.push(hex`c0 00 c0 00`)).toHaveLength(2);
    expectProtocolError(() => decoder.push(hex`40 02 00 00`), 'invalid-packet-id', 6);
    expect(decoder.bufferedBytes).toBe(0);
    expectSamePackets(pushAll(decoder, [STREAM.subarray(0, 5), STREAM.subarray(5)]), PACKETS);
    // A new error is placed within the new stream.
    expectProtocolError(() => decoder.push(hex`40 02 00 00`), 'invalid-packet-id', STREAM.length + 2);
  });

  it('an error in the middle of a partial frame leaves nothing of it behind', () => {
    const decoder = new PacketDecoder();
    decoder.push(hex`10 0f 00 04 4d 51`);
    expectProtocolError(() => decoder.push(hex`49 73 04 02 00 3c 00 03 61 62 63`), 'invalid-protocol-name', 2);
    expectSamePackets(decoder.push(VECTORS[0]!.bytes), [VECTORS[0]!.packet]);
  });
});

describe('PacketDecoder: payloads are views, not copies', () => {
  it('a frame inside one chunk: payload, password and will message share the chunk buffer', () => {
    const connect = VECTORS[1]!.bytes; // will message "bye", password 01 02
    const publish = hex`32 09 00 03 61 2f 62 00 0a 68 69`;
    const chunk = bytes(0, connect, publish).subarray(1); // a view at byteOffset 1
    const [c, p] = new PacketDecoder().push(chunk);
    if (c?.type !== 'connect' || p?.type !== 'publish') throw new Error('expected CONNECT then PUBLISH');
    expect(p.payload.buffer).toBe(chunk.buffer);
    expect(p.payload.byteOffset).toBe(chunk.byteOffset + connect.length + 9);
    expect(c.password!.buffer).toBe(chunk.buffer);
    expect(c.will!.payload.buffer).toBe(chunk.buffer);
    expect(Array.from(p.payload)).toEqual([0x68, 0x69]);
  });

  it('a frame split across chunks is gathered: its payload holds the right bytes', () => {
    const publish = hex`32 09 00 03 61 2f 62 00 0a 68 69`;
    const first = publish.slice(0, 10);
    const second = publish.slice(10);
    const decoder = new PacketDecoder();
    expect(decoder.push(first)).toEqual([]);
    const [p] = decoder.push(second);
    if (p?.type !== 'publish') throw new Error('expected PUBLISH');
    expect(Array.from(p.payload)).toEqual([0x68, 0x69]);
    // Reusing the chunks' memory afterwards does not change the gathered packet.
    first.fill(0);
    second.fill(0);
    expect(Array.from(p.payload)).toEqual([0x68, 0x69]);
  });
});

describe('PacketDecoder: a frame that trickles in costs about its size, not a list of chunks', () => {
  /** A full garbage collection, from inside a test run without --expose-gc. */
  const gc = (): void => {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  };
  /** Heap and ArrayBuffer memory held by the process, after a full collection. */
  const held = (): number => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  /** A QoS 0 PUBLISH to "t" of exactly `size` bytes (for sizes with a 3-byte Remaining Length). */
  const publishOf = (size: number): Uint8Array => {
    const head = bytes(0x30, remainingLength(size - 4), field('t'));
    const whole = new Uint8Array(size).fill(0x61);
    whole.set(head);
    return whole;
  };

  it('keeps no socket chunk alive through the topic cache (Buffer#slice is a view, not a copy)', async () => {
    const decoder = new PacketDecoder();
    const chunks: Array<WeakRef<ArrayBuffer>> = [];
    const topics: string[] = [];
    for (let i = 0; i < 20; i++) {
      // Node hands a socket's data over as Buffers; each of these has memory of its own. The
      // topics differ in the bytes the cache's slot is chosen by, so each takes a slot.
      const chunk = Buffer.alloc(64 * 1024);
      chunk.set(bytes(0x30, remainingLength(2 + 7 + 1), field(`pin/${String.fromCharCode(0x61 + i)}/x${i % 10}`), [0x21]));
      for (const packet of decoder.push(chunk.subarray(0, 2 + 2 + 7 + 1))) if (packet.type === 'publish') topics.push(packet.topic);
      chunks.push(new WeakRef(chunk.buffer));
    }
    expect(topics).toHaveLength(20);
    await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target until the job ends
    gc();
    gc();
    // The last chunk may stay: the cache keeps a DataView of the memory it compared last.
    expect(chunks.filter((ref) => ref.deref() !== undefined).length).toBeLessThanOrEqual(1);
  });

  it('copies the bytes of an incomplete frame: the caller may reuse a chunk once push returns', () => {
    const bytesOf = hex`32 09 00 03 61 2f 62 00 0a 68 69`;
    // Split inside the fixed header, inside the body, and at every point in between.
    for (let cut = 1; cut < bytesOf.length; cut++) {
      const decoder = new PacketDecoder();
      const chunk = bytesOf.slice(0, cut);
      expect(decoder.push(chunk)).toEqual([]);
      chunk.fill(0xee); // the caller's read buffer, reused
      expectSamePackets(decoder.push(bytesOf.slice(cut)), [VECTORS.find((v) => v.name === 'PUBLISH: QoS 1')!.packet]);
    }
  });

  it('a 512 KiB frame pushed one fresh byte at a time holds under twice its size while incomplete', () => {
    const size = 512 * 1024;
    const whole = publishOf(size);
    expect(whole.length).toBe(size);
    const decoder = new PacketDecoder({ maxPacketSize: size });
    const before = held();
    // A new one-byte Uint8Array each time, as a socket hands over a new Buffer per read.
    let early = 0;
    for (let i = 0; i < size - 1; i++) early += decoder.push(whole.slice(i, i + 1)).length;
    expect(early).toBe(0);
    const kept = held() - before;
    expect(decoder.bufferedBytes).toBe(size - 1);
    // Kept as views of the chunks, this was over 100 times the frame's size.
    expect(kept).toBeLessThan(2 * size);
    const [packet] = decoder.push(whole.slice(size - 1));
    expect(packet?.type === 'publish' && packet.payload.length).toBe(size - 7);
  });

  it('a header announcing a huge frame holds memory for what arrived, not for what it announces', () => {
    const decoder = new PacketDecoder();
    const before = held();
    const headers = Array.from({ length: 64 }, () => new PacketDecoder());
    for (const d of [decoder, ...headers]) expect(d.push(hex`30 ff ff ff 7f 00`)).toEqual([]); // 268,435,460 bytes announced
    const kept = held() - before;
    expect(decoder.bufferedBytes).toBe(6);
    // 65 decoders, each holding a small buffer: well under one megabyte in all.
    expect(kept).toBeLessThan(1 << 20);
  });
});

describe('frames for observers', () => {
  it('push(chunk, frames) hands over each packet\'s whole frame, however the stream is cut', () => {
    const stream = hexBytes('30 03 00 01 61 40 02 00 07 d0 00');
    for (const size of [1, 2, 3, 5, stream.length]) {
      const decoder = new PacketDecoder();
      const frames: Uint8Array[] = [];
      const packets = [];
      for (let i = 0; i < stream.length; i += size) packets.push(...decoder.push(stream.subarray(i, i + size), frames));
      expect(packets.map((p) => p.type)).toEqual(['publish', 'puback', 'pingresp']);
      expect(frames.map((f) => Buffer.from(f).toString('hex')), `chunks of ${size}`).toEqual(['3003000161', '40020007', 'd000']);
    }
  });
});

function hexBytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(' ').map((b) => parseInt(b, 16)));
}
