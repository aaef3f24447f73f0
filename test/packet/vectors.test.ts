import { describe, expect, it } from 'vitest';
import {
  BufferTooSmallError,
  DISCONNECT_FRAME,
  MqttProtocolError,
  PINGREQ_FRAME,
  PINGRESP_FRAME,
  PacketDecoder,
  decode,
  decodeFrame,
  encode,
  encodeInto,
  encodedLength,
} from '../../src/index.js';
import { signCredentials } from '../../src/sign/index.js';
import { hex, toHex } from '../support/hex.js';
import {
  SENTINEL,
  captureError,
  expectEncodeRefused,
  expectProtocolError,
  expectSamePackets,
  expectUntouched,
  sentinelTarget,
} from './helpers.js';
import { PLATFORM_EXAMPLE, VECTORS } from './vectors.js';

const JUNK = hex`ff 00 30 7f 12`; // a reserved type, a truncated header: anything but a frame

/** Asserts `action` throws BufferTooSmallError, code `buffer-too-small`, with these fields. */
function expectTooSmall(action: () => unknown, fields: { needed: number; offset: number; available: number }): void {
  const error = captureError(action);
  expect(error).toBeInstanceOf(BufferTooSmallError);
  expect(error).not.toBeInstanceOf(MqttProtocolError);
  expect(error).toMatchObject({ code: 'buffer-too-small', ...fields });
}

describe.each(VECTORS)('vector: $name', ({ packet, bytes }) => {
  it('decodes to the packet', () => {
    expectSamePackets(decode(bytes), packet);
  });

  it('encodes to the bytes, and encodedLength is their length', () => {
    expect(toHex(encode(packet))).toBe(toHex(bytes));
    expect(encodedLength(packet)).toBe(bytes.length);
  });

  it('round trips both ways', () => {
    expectSamePackets(decode(encode(packet)), packet);
    expect(toHex(encode(decode(bytes)))).toBe(toHex(bytes));
  });

  it('decodeFrame reads exactly one frame and ignores junk after it', () => {
    const stream = Uint8Array.of(...bytes, ...JUNK);
    const frame = decodeFrame(stream);
    expect(frame?.length).toBe(bytes.length);
    expectSamePackets(frame?.packet, packet);
  });

  it('decodeFrame reads the frame at a non-zero offset', () => {
    const stream = Uint8Array.of(...JUNK, ...bytes, ...JUNK);
    const frame = decodeFrame(stream, JUNK.length);
    expect(frame?.length).toBe(bytes.length);
    expectSamePackets(frame?.packet, packet);
  });

  it('every proper prefix is need-more for decodeFrame and truncated for decode', () => {
    for (let n = 0; n < bytes.length; n++) {
      const prefix = bytes.subarray(0, n);
      expect(decodeFrame(prefix)).toBeNull();
      expectProtocolError(() => decode(prefix), 'truncated', n);
    }
  });

  it('decode refuses a byte after the frame (trailing-bytes at the frame end)', () => {
    expectProtocolError(() => decode(Uint8Array.of(...bytes, 0)), 'trailing-bytes', bytes.length);
  });

  it('encodeInto at a non-zero offset writes the frame and nothing before or after it', () => {
    const before = 7;
    const after = 9;
    const target = sentinelTarget(before + bytes.length + after);
    expect(encodeInto(packet, target, before)).toBe(bytes.length);
    expect(toHex(target.subarray(before, before + bytes.length))).toBe(toHex(bytes));
    expectUntouched(target.subarray(0, before));
    expectUntouched(target.subarray(before + bytes.length));
  });

  it("encodeInto refuses a target one byte too small with BufferTooSmallError (the caller's mistake, not a protocol error) and writes nothing", () => {
    const atStart = sentinelTarget(bytes.length - 1);
    expectTooSmall(() => encodeInto(packet, atStart, 0), { needed: bytes.length, offset: 0, available: bytes.length - 1 });
    expectUntouched(atStart);
    const atOffset = sentinelTarget(4 + bytes.length - 1);
    expectTooSmall(() => encodeInto(packet, atOffset, 4), { needed: bytes.length, offset: 4, available: 4 + bytes.length - 1 });
    expectUntouched(atOffset);
  });

  it('encodeInto refuses a negative or fractional offset with BufferTooSmallError and writes nothing', () => {
    for (const offset of [-1, 0.5, NaN]) {
      const target = sentinelTarget(bytes.length + 4);
      expectTooSmall(() => encodeInto(packet, target, offset), { needed: bytes.length, offset, available: bytes.length + 4 });
      expectUntouched(target);
    }
  });

  it('PacketDecoder gives the packet whether fed whole or byte by byte', () => {
    expectSamePackets(new PacketDecoder().push(bytes), [packet]);
    const decoder = new PacketDecoder();
    const out = [];
    for (const b of bytes) out.push(...decoder.push(Uint8Array.of(b)));
    expectSamePackets(out, [packet]);
    expect(decoder.bufferedBytes).toBe(0);
  });
});

describe('vector coverage', () => {
  it('holds every one of the 14 packet types', () => {
    const types = new Set(VECTORS.map((v) => v.packet.type));
    // Section 2.2.1, Table 2.1: types 1..14.
    const all = ['connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback'];
    all.push('unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect');
    expect([...types].sort()).toEqual(all.sort());
  });

  it('holds every CONNACK return code, every PUBLISH QoS/retain/DUP shape and every SUBACK code', () => {
    const connack = VECTORS.flatMap((v) => (v.packet.type === 'connack' ? [v.packet] : []));
    expect(new Set(connack.map((p) => p.returnCode))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    expect(new Set(connack.map((p) => p.sessionPresent))).toEqual(new Set([true, false]));
    const publish = VECTORS.flatMap((v) => (v.packet.type === 'publish' ? [v.packet] : []));
    const shapes = new Set(publish.map((p) => `${p.qos}${Number(p.retain)}${Number(p.dup)}`));
    for (const shape of ['000', '010', '100', '111', '200', '201', '210']) expect(shapes).toContain(shape);
  });
});

describe('CONNECT: the platform page worked example', () => {
  it('signCredentials produces exactly the strings of the vector', () => {
    const credentials = signCredentials({
      clientId: '12345',
      deviceName: 'device',
      productKey: 'pk',
      deviceSecret: 'secret',
      timestamp: 789,
      signMethod: 'hmacsha1',
      secureMode: 3,
    });
    expect({ ...credentials }).toEqual({ ...PLATFORM_EXAMPLE });
    const packet = decode(VECTORS.find((v) => v.name.includes('worked example'))!.bytes);
    expect(packet).toMatchObject({ clientId: credentials.clientId, username: credentials.username });
    expect(Buffer.from((packet as { password: Uint8Array }).password).toString('ascii')).toBe(credentials.password);
  });
});

describe('CONNECT: zero-length client id with clean session 0 [MQTT-3.1.3-7]', () => {
  const bytes = hex`10 0c              # CONNECT, remaining length 12
                    00 04 4d 51 54 54  # protocol name "MQTT"
                    04                 # protocol level 4
                    00                 # flags: clean session 0
                    00 3c              # keep alive 60 s
                    00 00              # client id ""`;

  it('is decoded (the server answers CONNACK 2, identifier rejected)', () => {
    expectSamePackets(decode(bytes), { type: 'connect', clientId: '', keepalive: 60, clean: false });
  });

  it('is refused by the encoder (invalid-client-id)', () => {
    expectEncodeRefused({ type: 'connect', clientId: '', keepalive: 60, clean: false }, 'invalid-client-id');
  });
});

describe('decoded shapes', () => {
  it('QoS 0 PUBLISH has no packetId key [MQTT-2.3.1-5]', () => {
    expect(Object.keys(decode(hex`30 05 00 03 61 2f 62`))).not.toContain('packetId');
  });

  it('CONNECT omits absent username, password and will keys', () => {
    expect(Object.keys(decode(VECTORS[0]!.bytes)).sort()).toEqual(['clean', 'clientId', 'keepalive', 'type']);
  });

  it('payload, password and will message are plain Uint8Array views into the input, not copies', () => {
    const input = VECTORS[1]!.bytes.slice();
    const packet = decode(input);
    if (packet.type !== 'connect') throw new Error('expected CONNECT');
    for (const [field, view] of [
      ['password', packet.password],
      ['will payload', packet.will?.payload],
    ] as const) {
      expect(view, field).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(view), field).toBe(false);
      expect(view!.buffer, field).toBe(input.buffer);
    }
    const publish = decode(Uint8Array.of(0x30, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x68, 0x69));
    if (publish.type !== 'publish') throw new Error('expected PUBLISH');
    expect(Buffer.isBuffer(publish.payload)).toBe(false);
    expect(publish.payload.byteOffset).toBe(7);
  });
});

describe('prebuilt frames', () => {
  it('PINGREQ_FRAME, PINGRESP_FRAME and DISCONNECT_FRAME are the vectors, and encode returns them', () => {
    expect(toHex(PINGREQ_FRAME)).toBe('c0 00');
    expect(toHex(PINGRESP_FRAME)).toBe('d0 00');
    expect(toHex(DISCONNECT_FRAME)).toBe('e0 00');
    expect(toHex(encode({ type: 'pingreq' }))).toBe('c0 00');
    expect(toHex(encode({ type: 'pingresp' }))).toBe('d0 00');
    expect(toHex(encode({ type: 'disconnect' }))).toBe('e0 00');
  });

  it('encodeInto a sentinel target writes exactly the two bytes', () => {
    const target = sentinelTarget(6);
    expect(encodeInto({ type: 'pingreq' }, target, 2)).toBe(2);
    expect(toHex(target)).toBe(toHex(Uint8Array.of(SENTINEL, SENTINEL, 0xc0, 0x00, SENTINEL, SENTINEL)));
  });
});
