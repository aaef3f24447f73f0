/**
 * The Remaining Length field (section 2.2.3): a varint of 1 to 4 bytes, seven bits each, least
 * significant group first, carrying 0..268,435,455.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PacketDecoder, decode, decodeFrame, encodeInto, encodedLength } from '../../src/packet/index.js';
import type { Packet } from '../../src/packet/index.js';
import { hex, toHex } from '../support/hex.js';
import { bytes, expectEncodeRefused, expectProtocolError, remainingLength } from './helpers.js';

const MAX_BODY = 268_435_455;
const TOPIC_FIELD = 3; // 00 01 61: topic "a"

// One zero-filled allocation serves every payload (as views), one more every target.
let source: Uint8Array | undefined;
let target: Uint8Array | undefined;
const payloadSource = (): Uint8Array => (source ??= new Uint8Array(MAX_BODY));
const bigTarget = (): Uint8Array => (target ??= new Uint8Array(1 + 4 + MAX_BODY));

/** A packet whose body is exactly `body` bytes: DISCONNECT for 0, else QoS 0 PUBLISH to "a". */
function packetWithBody(body: number): Packet {
  if (body === 0) return { type: 'disconnect' };
  return {
    type: 'publish',
    topic: 'a',
    payload: payloadSource().subarray(0, body - TOPIC_FIELD),
    qos: 0,
    retain: false,
    dup: false,
  };
}

describe('Remaining Length boundaries (section 2.2.3)', () => {
  const cases = [
    [0, '00'],
    [127, '7f'],
    [128, '80 01'],
    [16_383, 'ff 7f'],
    [16_384, '80 80 01'],
    [2_097_151, 'ff ff 7f'],
    [2_097_152, '80 80 80 01'],
    [MAX_BODY, 'ff ff ff 7f'],
  ] as const;

  it.each(cases)('body of %i bytes: length field %s, encoded, decoded and framed', (body, field) => {
    const fieldLength = field.split(' ').length;
    const packet = packetWithBody(body);
    const size = 1 + fieldLength + body;
    expect(encodedLength(packet)).toBe(size);
    expect(toHex(Uint8Array.from(remainingLength(body)))).toBe(field);

    const frame = bigTarget().subarray(0, size);
    expect(encodeInto(packet, frame, 0)).toBe(size);
    expect(toHex(frame.subarray(1, 1 + fieldLength))).toBe(field);

    // The header alone (and the frame one byte short) is need-more, not an error.
    expect(decodeFrame(frame.subarray(0, 1 + fieldLength + (body === 0 ? 0 : 1)))?.length ?? null).toBe(
      body === 0 ? size : null,
    );
    expect(decodeFrame(frame.subarray(0, size - 1))).toBeNull();

    const decoded = decode(frame);
    expect(decoded.type).toBe(packet.type);
    if (decoded.type === 'publish') {
      expect(decoded.topic).toBe('a');
      expect(decoded.payload.length).toBe(body - TOPIC_FIELD);
      expect(decoded.payload.buffer).toBe(frame.buffer); // a view, even at 256 MiB
    }
    expect(new PacketDecoder().push(frame)).toHaveLength(1);
  });

  it('a body over 268,435,455 bytes is refused by the encoder (value-out-of-range)', () => {
    expectEncodeRefused(
      { ...packetWithBody(MAX_BODY), payload: payloadSource().subarray(0, MAX_BODY - TOPIC_FIELD + 1) },
      'value-out-of-range',
    );
  });

  it('encodedLength counts 1 + field + body for any body size', () => {
    fc.assert(
      fc.property(fc.integer({ min: TOPIC_FIELD, max: MAX_BODY }), (body) => {
        expect(encodedLength(packetWithBody(body))).toBe(1 + remainingLength(body).length + body);
      }),
    );
  });

  it('the decoder reads the exact value of any 1..4 byte field', () => {
    // The size the decoder infers from a header shows up in its maxPacketSize check.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_BODY }), (body) => {
        const header = bytes(0x30, remainingLength(body));
        const size = header.length + body;
        expect(new PacketDecoder({ maxPacketSize: Math.max(2, size) }).push(header)).toEqual([]);
        if (size > 2) {
          expectProtocolError(() => new PacketDecoder({ maxPacketSize: size - 1 }).push(header), 'packet-too-large', 0);
        }
      }),
    );
  });
});

describe('Remaining Length longer than 4 bytes: remaining-length-overflow (section 2.2.3)', () => {
  it.each([
    ['ff ff ff ff 7f', hex`30 ff ff ff ff 7f`],
    ['80 80 80 80 01', hex`30 80 80 80 80 01`],
    ['the fifth byte not yet received', hex`30 ff ff ff ff`],
  ])('%s', (_, input) => {
    // The offset is the length field's first byte, as for every error in a field.
    expectProtocolError(() => decode(input), 'remaining-length-overflow', 1);
    expectProtocolError(() => decodeFrame(bytes(0, input), 1), 'remaining-length-overflow', 2);
    expectProtocolError(() => new PacketDecoder().push(input), 'remaining-length-overflow', 1);
  });

  it('the streaming decoder refuses it on the fourth length byte, fed byte by byte', () => {
    const decoder = new PacketDecoder();
    for (const b of [0x30, 0xff, 0xff, 0xff]) expect(decoder.push(Uint8Array.of(b))).toEqual([]);
    expectProtocolError(() => decoder.push(Uint8Array.of(0xff)), 'remaining-length-overflow', 1);
  });
});

describe('Remaining Length not in its shortest form: remaining-length-not-minimal', () => {
  it.each([
    ['80 00 (0 in 2 bytes)', hex`c0 80 00`],
    ['81 00 (1 in 2 bytes)', hex`30 81 00`],
    ['ff 80 00 (127 in 3 bytes)', hex`30 ff 80 00`],
    ['80 80 00 (0 in 3 bytes)', hex`e0 80 80 00`],
    ['ff ff 80 00 (16383 in 4 bytes)', hex`30 ff ff 80 00`],
    ['80 80 80 00 (0 in 4 bytes)', hex`40 80 80 80 00`],
  ])('%s', (_, input) => {
    // Refused from the header alone, before any body: the offset is the length field's first byte.
    expectProtocolError(() => decode(input), 'remaining-length-not-minimal', 1);
    expectProtocolError(() => decodeFrame(bytes(0, 0, input), 2), 'remaining-length-not-minimal', 3);
    expectProtocolError(() => new PacketDecoder().push(input), 'remaining-length-not-minimal', 1);
  });
});
