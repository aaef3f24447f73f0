/**
 * Strict decoding: one failing input per rule, asserting on the error `code`, on `offset` (the
 * first byte of the offending field, a length-prefixed field from its prefix; see
 * MqttProtocolError) and on `statement` where the specification numbers the rule. Each input is
 * tried with `decode`, with `decodeFrame` at a non-zero offset and with a `PacketDecoder` after a
 * good frame, so the offset is checked in all three frames of reference.
 */
import { describe, expect, it } from 'vitest';
import { MqttProtocolError, PacketDecoder, decode, decodeFrame } from '../../src/packet/index.js';
import type { MqttProtocolErrorCode, PacketType } from '../../src/packet/index.js';
import { hex } from '../support/hex.js';
import {
  BAD_FILTERS,
  GOOD_FILTERS,
  STRING_FIELDS,
  bytes,
  connectHeader,
  expectProtocolError,
  expectSamePackets,
  field,
  frame,
  remainingLength,
  u16,
} from './helpers.js';
import type { Part } from './helpers.js';
import { vectorOf } from './vectors.js';

const PREFIX = hex`ff ff ff`; // never read: decodeFrame starts after it
const PINGREQ = hex`c0 00`;

/** Packet type names by number (Table 2.1); 0 and 15 are reserved. */
const TYPE_NAMES = [undefined, 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', undefined];

/**
 * Asserts that `input` (one frame) is refused with `code` by decode, decodeFrame and
 * PacketDecoder, at `offset` within the frame when given, citing `statement` when given (`null`:
 * none), and that the three agree on the offset and the statement.
 */
function expectRefused(input: Uint8Array, code: MqttProtocolErrorCode, offset?: number, statement?: string | null): MqttProtocolError {
  const error = expectProtocolError(() => decode(input), code, offset);
  expect(error.offset, 'a decode error names its byte').toBeTypeOf('number');
  expect(error.packetType, 'a decode error names the packet type of the first byte').toBe(TYPE_NAMES[input[0]! >> 4]);
  if (statement !== undefined) expect(error.statement).toBe(statement ?? undefined);
  const at = error.offset!;
  const framed = expectProtocolError(() => decodeFrame(bytes(PREFIX, input), PREFIX.length), code, at + PREFIX.length);
  const decoder = new PacketDecoder();
  const streamed = expectProtocolError(() => decoder.push(bytes(PINGREQ, input)), code, at + PINGREQ.length);
  expect(framed.statement).toBe(error.statement);
  expect(streamed.statement).toBe(error.statement);
  return error;
}

describe('reserved packet types 0 and 15 (section 2.2.1)', () => {
  it.each([hex`00 00`, hex`0f 00`, hex`f0 00`, hex`ff 00`, hex`f0 02 00 01`])('%s', (input) => {
    expectRefused(input, 'reserved-packet-type', 0);
  });

  it('is refused from the first byte, before the length arrives', () => {
    expectProtocolError(() => decodeFrame(hex`f0`), 'reserved-packet-type', 0);
  });
});

describe('fixed header flags per Table 2.2 [MQTT-2.2.2-1, MQTT-2.2.2-2]', () => {
  const types: [PacketType, number][] = [
    ['connect', 0b0000],
    ['connack', 0b0000],
    ['puback', 0b0000],
    ['pubrec', 0b0000],
    ['pubrel', 0b0010], // [MQTT-3.6.1-1]
    ['pubcomp', 0b0000],
    ['subscribe', 0b0010], // [MQTT-3.8.1-1]
    ['suback', 0b0000],
    ['unsubscribe', 0b0010], // [MQTT-3.10.1-1]
    ['unsuback', 0b0000],
    ['pingreq', 0b0000],
    ['pingresp', 0b0000],
    ['disconnect', 0b0000],
  ];

  /** The statement that fixes each type's flags: its own where it has one, else [MQTT-2.2.2-1]. */
  const statements: Partial<Record<PacketType, string>> = { pubrel: 'MQTT-3.6.1-1', subscribe: 'MQTT-3.8.1-1', unsubscribe: 'MQTT-3.10.1-1' };

  it.each(types)('%s: only flags %i are accepted; the other 15 values are invalid-flags', (type, valid) => {
    const { bytes: good } = vectorOf(type);
    for (let flags = 0; flags < 16; flags++) {
      const input = good.slice();
      input[0] = (good[0]! & 0xf0) | flags;
      if (flags === valid) expect(decode(input).type).toBe(type);
      else expectRefused(input, 'invalid-flags', 0, statements[type] ?? 'MQTT-2.2.2-1');
    }
  });
});

describe('PUBLISH fixed header', () => {
  it.each([hex`36 07 00 03 61 2f 62 00 01`, hex`37 07 00 03 61 2f 62 00 01`, hex`3e 07 00 03 61 2f 62 00 01`])(
    'QoS bits 11 are invalid-qos [MQTT-3.3.1-4]: %s',
    (input) => {
      expectRefused(input, 'invalid-qos', 0, 'MQTT-3.3.1-4');
    },
  );

  it.each([hex`38 05 00 03 61 2f 62`, hex`39 05 00 03 61 2f 62`])('DUP on QoS 0 is invalid-flags [MQTT-3.3.1-2]: %s', (input) => {
    expectRefused(input, 'invalid-flags', 0, 'MQTT-3.3.1-2');
  });
});

describe('packet identifier 0 is invalid-packet-id [MQTT-2.3.1-1, MQTT-2.3.1-6, MQTT-2.3.1-7]', () => {
  it.each([
    ['PUBLISH QoS 1', hex`32 07 00 03 61 2f 62 00 00`, 7, 'MQTT-2.3.1-1'],
    ['PUBLISH QoS 2', hex`34 07 00 03 61 2f 62 00 00`, 7, 'MQTT-2.3.1-1'],
    ['PUBACK', hex`40 02 00 00`, 2, 'MQTT-2.3.1-6'],
    ['PUBREC', hex`50 02 00 00`, 2, 'MQTT-2.3.1-6'],
    ['PUBREL', hex`62 02 00 00`, 2, 'MQTT-2.3.1-6'],
    ['PUBCOMP', hex`70 02 00 00`, 2, 'MQTT-2.3.1-6'],
    ['SUBSCRIBE', hex`82 06 00 00 00 01 23 00`, 2, 'MQTT-2.3.1-1'],
    ['SUBACK', hex`90 03 00 00 00`, 2, 'MQTT-2.3.1-7'],
    ['UNSUBSCRIBE', hex`a2 05 00 00 00 01 23`, 2, 'MQTT-2.3.1-1'],
    ['UNSUBACK', hex`b0 02 00 00`, 2, 'MQTT-2.3.1-7'],
  ])('%s', (_, input, offset, statement) => {
    expectRefused(input, 'invalid-packet-id', offset, statement);
  });
});

describe('CONNECT variable header', () => {
  it.each([
    ['"MQIsdp" level 3 (MQTT 3.1)', bytes(field('MQIsdp'), 3)],
    ['"mqtt" in lower case', bytes(field('mqtt'), 4)],
    ['"MQTX"', bytes(field('MQTX'), 4)],
    ['"MQTT" with length prefix 5', bytes(u16(5), 0x4d, 0x51, 0x54, 0x54, 4)],
  ])('protocol name %s is invalid-protocol-name at the field (section 3.1.2.1) [MQTT-3.1.2-1]', (_, header) => {
    expectRefused(frame(0x10, header, 0x02, u16(60), field('a')), 'invalid-protocol-name', 2, 'MQTT-3.1.2-1');
  });

  it.each([3, 5, 0, 0xff])('protocol level %i is unsupported-protocol-level (section 3.1.2.2) [MQTT-3.1.2-2]', (level) => {
    expectRefused(frame(0x10, field('MQTT'), level, 0x02, u16(60), field('a')), 'unsupported-protocol-level', 8, 'MQTT-3.1.2-2');
  });

  it('reserved connect flag bit 0 set is invalid-connect-flags (section 3.1.2.3) [MQTT-3.1.2-3]', () => {
    expectRefused(frame(0x10, connectHeader(0x03), field('a')), 'invalid-connect-flags', 9, 'MQTT-3.1.2-3');
  });

  it.each([
    ['will QoS 1 without the will flag', 0x0a, 'MQTT-3.1.2-13'],
    ['will QoS 2 without the will flag', 0x12, 'MQTT-3.1.2-13'],
    ['will retain without the will flag', 0x22, 'MQTT-3.1.2-15'],
    ['will QoS 3 with the will flag', 0x1e, 'MQTT-3.1.2-14'],
    ['password without user name', 0x42, 'MQTT-3.1.2-22'],
  ])('%s is invalid-connect-flags [%s]', (_, flags, statement) => {
    const will = flags & 0x04 ? [field('w'), field('m')] : [];
    const password = flags & 0x40 ? [field('p')] : [];
    expectRefused(frame(0x10, connectHeader(flags), field('a'), ...will, ...password), 'invalid-connect-flags', 9, statement);
  });

  it('will fields present without the will flag are trailing-bytes [MQTT-3.1.2-11]', () => {
    expectRefused(frame(0x10, connectHeader(0x02), field('a'), field('w'), field('m')), 'trailing-bytes', 15);
  });

  it.each([
    ['will flag without will topic [MQTT-3.1.2-9]', 0x06, [], 15],
    ['will topic without will message [MQTT-3.1.2-9]', 0x06, [field('w')], 18],
    ['user name flag without user name [MQTT-3.1.2-19]', 0x82, [], 15],
    ['password flag without password [MQTT-3.1.2-21]', 0xc2, [field('u')], 18],
    ['will message length running past the frame', 0x06, [field('w'), u16(5), 0x6d], 18],
  ] as [string, number, Part[], number][])('%s is truncated', (_, flags, rest, offset) => {
    expectRefused(frame(0x10, connectHeader(flags), field('a'), ...rest), 'truncated', offset);
  });

  it.each([
    ['inside the protocol name', hex`10 04 00 04 4d 51`, 2],
    ['before the protocol level', hex`10 06 00 04 4d 51 54 54`, 8],
    ['before the connect flags', hex`10 07 00 04 4d 51 54 54 04`, 9],
    ['inside the keep alive', hex`10 09 00 04 4d 51 54 54 04 02 00`, 10],
  ])('a body that ends %s is truncated where the field cut off starts', (_, input, offset) => {
    expectRefused(input, 'truncated', offset, null);
  });

  it('a client id length running past the frame is truncated', () => {
    expectRefused(frame(0x10, connectHeader(0x02), u16(3), 0x61), 'truncated', 12);
  });

  it('a lone byte where a client id length belongs is truncated', () => {
    expectRefused(frame(0x10, connectHeader(0x02), 0x00), 'truncated', 12);
  });

  it('an extra byte after the password is trailing-bytes', () => {
    expectRefused(frame(0x10, connectHeader(0xc2), field('a'), field('u'), field('p'), 0x00), 'trailing-bytes', 21);
  });

  it.each([
    ['a/+', 'MQTT-4.7.1-1'],
    ['#', 'MQTT-4.7.1-1'],
    ['', 'MQTT-4.7.3-1'],
  ] as const)('will topic %j is invalid-topic at its length prefix [%s]', (topic, statement) => {
    expectRefused(frame(0x10, connectHeader(0x06), field('a'), field(topic), field('m')), 'invalid-topic', 15, statement);
  });
});

describe('CONNACK', () => {
  it.each([hex`20 02 02 00`, hex`20 02 80 00`, hex`20 02 fe 00`, hex`20 02 03 00`])(
    'reserved acknowledge flag bits 7-1 set are invalid-connack-flags (section 3.2.2.1): %s',
    (input) => {
      expectRefused(input, 'invalid-connack-flags', 2);
    },
  );

  it.each([hex`20 02 00 06`, hex`20 02 00 80`, hex`20 02 00 ff`])(
    'return code 6 and above are invalid-return-code (section 3.2.2.3): %s',
    (input) => {
      expectRefused(input, 'invalid-return-code', 3);
    },
  );

  it.each([1, 2, 3, 4, 5])('session present with refusal %i is invalid-connack-flags [MQTT-3.2.2-4]', (code) => {
    expectRefused(Uint8Array.of(0x20, 0x02, 0x01, code), 'invalid-connack-flags', 2, 'MQTT-3.2.2-4');
  });
});

describe('fixed-size packets with another Remaining Length: invalid-remaining-length, at the Remaining Length', () => {
  it.each([
    ['CONNACK with 3', hex`20 03 00 00 00`],
    ['CONNACK with 1', hex`20 01 00`],
    ['CONNACK with 0', hex`20 00`],
    ['PUBACK with 3', hex`40 03 00 01 00`],
    ['PUBACK with 1', hex`40 01 00`],
    ['PUBACK with 0', hex`40 00`],
    ['PUBREC with 3', hex`50 03 00 01 00`],
    ['PUBREL with 4', hex`62 04 00 01 00 00`],
    ['PUBCOMP with 1', hex`70 01 01`],
    ['UNSUBACK with extra bytes', hex`b0 04 00 01 00 00`],
    ['PINGREQ with 1', hex`c0 01 00`],
    ['PINGRESP with 1', hex`d0 01 00`],
    ['DISCONNECT with 2', hex`e0 02 00 00`],
    ['SUBACK without a return code', hex`90 02 00 01`],
  ])('%s', (_, input) => {
    expectRefused(input, 'invalid-remaining-length', 1, null);
  });
});

describe('PUBLISH variable header', () => {
  it.each(['a/+', '+', '#', 'a/#', 'a+b', 'x#'])('wildcard in topic %j is invalid-topic [MQTT-3.3.2-2, MQTT-4.7.1-1]', (topic) => {
    expectRefused(frame(0x30, field(topic), 0x68), 'invalid-topic', 2, 'MQTT-4.7.1-1');
    expectRefused(frame(0x32, field(topic), u16(1)), 'invalid-topic', 2, 'MQTT-4.7.1-1');
  });

  it('empty topic is invalid-topic [MQTT-4.7.3-1]', () => {
    expectRefused(hex`30 02 00 00`, 'invalid-topic', 2, 'MQTT-4.7.3-1');
    expectRefused(hex`30 04 00 00 68 69`, 'invalid-topic', 2, 'MQTT-4.7.3-1');
  });

  it.each([
    ['topic length running past the frame', hex`30 03 00 05 61`, 2],
    ['a lone byte where the topic length belongs', hex`30 01 00`, 2],
    ['no body at all', hex`30 00`, 2],
    ['QoS 1 without packet id', hex`32 05 00 03 61 2f 62`, 7],
    ['QoS 2 with one byte of packet id', hex`34 06 00 03 61 2f 62 00`, 7],
  ])('%s is truncated', (_, input, offset) => {
    expectRefused(input, 'truncated', offset);
  });
});

describe('SUBSCRIBE payload', () => {
  it('no topic filter is empty-topic-filter-list [MQTT-3.8.3-3]', () => {
    expectRefused(hex`82 02 00 01`, 'empty-topic-filter-list', 4, 'MQTT-3.8.3-3');
  });

  it.each([0x03, 0x04, 0x80, 0x41, 0xfc, 0xff])(
    'requested QoS byte 0x%s is invalid-requested-qos [MQTT-3-8.3-4]',
    (qos) => {
      expectRefused(frame(0x82, u16(1), field('#'), qos), 'invalid-requested-qos', 7, 'MQTT-3-8.3-4');
      // The second pair's byte, after a good first pair.
      expectRefused(frame(0x82, u16(1), field('a'), 0, field('b'), qos), 'invalid-requested-qos', 11, 'MQTT-3-8.3-4');
    },
  );

  it.each([
    ['filter without its requested QoS byte', hex`82 05 00 01 00 01 23`, 7],
    ['filter length running past the frame', hex`82 06 00 01 00 05 23 00`, 4],
    ['one byte where the filter length belongs', hex`82 03 00 01 00`, 4],
    ['one byte where the packet id belongs', hex`82 01 00`, 2],
    ['no body at all', hex`82 00`, 2],
  ])('%s is truncated', (_, input, offset) => {
    expectRefused(input, 'truncated', offset);
  });
});

describe('UNSUBSCRIBE payload', () => {
  it('no topic filter is empty-topic-filter-list [MQTT-3.10.3-2]', () => {
    expectRefused(hex`a2 02 00 01`, 'empty-topic-filter-list', 4, 'MQTT-3.10.3-2');
  });

  it.each([
    ['filter length running past the frame', hex`a2 05 00 01 00 05 23`, 4],
    ['one byte where the second filter length belongs', hex`a2 06 00 01 00 01 23 00`, 7],
    ['one byte where the packet id belongs', hex`a2 01 00`, 2],
  ])('%s is truncated', (_, input, offset) => {
    expectRefused(input, 'truncated', offset);
  });
});

describe('topic filter shapes [MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1]', () => {
  it.each([...BAD_FILTERS, ''])('%j is invalid-topic-filter in SUBSCRIBE and UNSUBSCRIBE', (filter) => {
    // In each of these filters the first wildcard is a misplaced one.
    const statement = filter === '' ? 'MQTT-4.7.3-1' : /[#+]/.exec(filter)![0] === '#' ? 'MQTT-4.7.1-2' : 'MQTT-4.7.1-3';
    expectRefused(frame(0x82, u16(1), field(filter), 0), 'invalid-topic-filter', 4, statement);
    expectRefused(frame(0xa2, u16(1), field(filter)), 'invalid-topic-filter', 4, statement);
    // After a good filter the offset moves to the bad one.
    expectRefused(frame(0xa2, u16(1), field('a'), field(filter)), 'invalid-topic-filter', 7, statement);
  });

  it.each(GOOD_FILTERS)('%j is accepted', (filter) => {
    expectSamePackets(decode(frame(0x82, u16(1), field(filter), 2)), {
      type: 'subscribe',
      packetId: 1,
      subscriptions: [{ topicFilter: filter, qos: 2 }],
    });
    expectSamePackets(decode(frame(0xa2, u16(1), field(filter))), { type: 'unsubscribe', packetId: 1, topicFilters: [filter] });
  });
});

describe('SUBACK payload', () => {
  it.each([
    ['3', hex`90 03 00 01 03`, 4],
    ['0x81', hex`90 03 00 01 81`, 4],
    ['0x40', hex`90 03 00 01 40`, 4],
    ['0xff after good codes', hex`90 05 00 01 00 80 ff`, 6],
  ])('return code %s is invalid-suback-code [MQTT-3.9.3-2]', (_, input, offset) => {
    expectRefused(input, 'invalid-suback-code', offset, 'MQTT-3.9.3-2');
  });

  it('one byte where the packet id belongs is truncated', () => {
    expectRefused(hex`90 01 00`, 'truncated', 2);
  });
});

// ---------------------------------------------------------------------------------------------
// UTF-8 in every string field [MQTT-1.5.3-1, MQTT-1.5.3-2]

/** How each string field is laid out in a frame built by hand: first byte, parts before and after it. */
const DECODE_FIELDS: Readonly<Record<keyof typeof STRING_FIELDS & string, [number, Part[], Part[]]>> = {
  'PUBLISH topic [MQTT-3.3.2-1]': [0x32, [], [u16(1)]],
  'CONNECT client id [MQTT-3.1.3-4]': [0x10, [connectHeader(0x02)], []],
  'CONNECT will topic [MQTT-3.1.3-10]': [0x10, [connectHeader(0x06), field('id')], [field('m')]],
  'CONNECT user name [MQTT-3.1.3-11]': [0x10, [connectHeader(0x82), field('id')], []],
  'SUBSCRIBE topic filter [MQTT-3.8.3-1]': [0x82, [u16(1), field('a'), 0], [1]],
  'UNSUBSCRIBE topic filter [MQTT-3.10.3-1]': [0xa2, [u16(1), field('a')], []],
};

/** The frame carrying `content` in `fieldName`, and the offset of that field's length prefix. */
function withField(fieldName: string, content: Uint8Array): { input: Uint8Array; at: number } {
  const [first, before, after] = DECODE_FIELDS[fieldName]!;
  const input = frame(first, ...before, field(content), ...after);
  const at = 1 + remainingLength(input.length).length + bytes(...before).length;
  return { input, at };
}

const MALFORMED: [string, Uint8Array][] = [
  ['overlong "/" C0 AF', hex`61 c0 af`],
  ['overlong 2-byte C1 BF', hex`c1 bf`],
  ['overlong 3-byte E0 80 AF', hex`e0 80 af 61`],
  ['overlong 4-byte F0 80 80 AF', hex`f0 80 80 af`],
  ['overlong U+0000 C0 80', hex`61 c0 80`],
  ['encoded high surrogate ED A0 80', hex`ed a0 80`],
  ['encoded low surrogate ED BF BF', hex`61 ed bf bf`],
  ['encoded surrogate pair ED A0 BD ED B8 80', hex`ed a0 bd ed b8 80`],
  ['truncated 2-byte sequence at the end', hex`61 c3`],
  ['truncated 3-byte sequence before ASCII', hex`e2 82 61`],
  ['truncated 4-byte sequence', hex`f0 9f 98`],
  ['lone continuation byte', hex`61 80 62`],
  ['F8: 5-byte form', hex`f8 88 80 80 80`],
  ['FC: 6-byte form', hex`fc 84 80 80 80 80`],
  ['FE', hex`fe`],
  ['FF', hex`61 ff`],
  ['above U+10FFFF: F4 90 80 80', hex`f4 90 80 80`],
  ['F5 lead byte', hex`f5 80 80 80`],
];

describe.each(Object.keys(DECODE_FIELDS))('UTF-8 in %s', (fieldName) => {
  it.each(MALFORMED)('%s is invalid-utf8 at the field\'s length prefix [MQTT-1.5.3-1]', (_, content) => {
    const { input, at } = withField(fieldName, content);
    expectRefused(input, 'invalid-utf8', at, 'MQTT-1.5.3-1');
  });

  it.each([
    ['alone', hex`00`],
    ['between letters', hex`61 00 62`],
    ['after a multi-byte character', hex`c3 a9 00`],
  ])('U+0000 %s is invalid-utf8 at the field\'s length prefix [MQTT-1.5.3-2, MQTT-4.7.3-2]', (_, content) => {
    const { input, at } = withField(fieldName, content);
    expectRefused(input, 'invalid-utf8', at, 'MQTT-1.5.3-2');
  });

  it('well-formed edge characters decode as themselves (U+0001, U+007F, U+0080, U+07FF, U+0800, U+FEFF, U+FFFF, U+10000, U+10FFFF)', () => {
    const text = '\u0001\u007f\u0080\u07ff\u0800\ufeff\uffff\u{10000}\u{10ffff}';
    const { input } = withField(fieldName, new Uint8Array(Buffer.from(text, 'utf8')));
    expect(JSON.stringify(decode(input))).toContain(JSON.stringify(text).slice(1, -1));
  });
});
