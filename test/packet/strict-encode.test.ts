/**
 * Strict encoding: every packet value the encoder must refuse, by `code`. `expectEncodeRefused`
 * tries encodedLength, encode and encodeInto, and checks encodeInto leaves its target untouched.
 */
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/packet/index.js';
import type { Packet } from '../../src/packet/index.js';
import { BAD_FILTERS, GOOD_FILTERS, STRING_FIELDS, expectEncodeRefused, expectSamePackets } from './helpers.js';
import { vectorOf } from './vectors.js';

const publish1 = { type: 'publish', topic: 'a/b', payload: new Uint8Array(2), qos: 1, retain: false, dup: false, packetId: 1 } as const;
const connect = { type: 'connect', clientId: 'id', keepalive: 60, clean: true } as const;

/** Encodes `packet`, decodes the bytes and expects the same packet back. */
function expectRoundTrip(packet: Packet): void {
  expectSamePackets(decode(encode(packet)), packet);
}

describe('packet identifiers must be integers 1..65535 [MQTT-2.3.1-1]', () => {
  const carriers: [string, (id: unknown) => unknown][] = [
    ['PUBLISH QoS 1', (packetId) => ({ ...publish1, packetId })],
    ['PUBLISH QoS 2', (packetId) => ({ ...publish1, qos: 2, packetId })],
    ...(['puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback', 'subscribe', 'suback', 'unsubscribe'] as const).map(
      (type): [string, (id: unknown) => unknown] => [type.toUpperCase(), (packetId) => ({ ...vectorOf(type).packet, packetId })],
    ),
  ];

  it.each(carriers)('%s: 0, 65536, 1.5, -1, NaN, "1" and a missing id are invalid-packet-id', (name, withId) => {
    // Acks carry the identifier of what they answer [MQTT-2.3.1-6, MQTT-2.3.1-7].
    const statement = /^PUB(ACK|REC|REL|COMP)$/.test(name) ? 'MQTT-2.3.1-6' : /^(SUB|UNSUB)ACK$/.test(name) ? 'MQTT-2.3.1-7' : 'MQTT-2.3.1-1';
    for (const id of [0, 65_536, 1.5, -1, NaN, Infinity, '1', undefined, null]) {
      expectEncodeRefused(withId(id), 'invalid-packet-id', statement);
    }
    for (const id of [1, 65_535]) expectRoundTrip(withId(id) as Packet);
  });
});

describe('CONNECT', () => {
  it.each([-1, 65_536, 1.5, NaN, '60', undefined])('keep alive %s is value-out-of-range (section 3.1.2.10)', (keepalive) => {
    expectEncodeRefused({ ...connect, keepalive }, 'value-out-of-range');
  });

  it('keep alive 0 and 65535 are accepted', () => {
    expectRoundTrip({ ...connect, keepalive: 0 });
    expectRoundTrip({ ...connect, keepalive: 65_535 });
  });

  it.each([3, -1, 1.5, '1', undefined])('will QoS %s is invalid-qos [MQTT-3.1.2-14]', (qos) => {
    expectEncodeRefused({ ...connect, will: { topic: 'w', payload: new Uint8Array(0), qos, retain: false } }, 'invalid-qos', 'MQTT-3.1.2-14');
  });

  it('a password without a user name is invalid-connect-flags [MQTT-3.1.2-22]', () => {
    expectEncodeRefused({ ...connect, password: new Uint8Array(1) }, 'invalid-connect-flags', 'MQTT-3.1.2-22');
  });

  it('a zero-length client id without clean session is invalid-client-id [MQTT-3.1.3-7]', () => {
    expectEncodeRefused({ ...connect, clientId: '', clean: false }, 'invalid-client-id', 'MQTT-3.1.3-7');
  });

  it.each([
    ['a/+', 'MQTT-4.7.1-1'],
    ['#', 'MQTT-4.7.1-1'],
    ['', 'MQTT-4.7.3-1'],
  ])('will topic %j is invalid-topic [%s]', (topic, statement) => {
    expectEncodeRefused({ ...connect, will: { topic, payload: new Uint8Array(0), qos: 0, retain: false } }, 'invalid-topic', statement);
  });

  it.each([['a string', 'secret'], ['an array', [1, 2]], ['an ArrayBuffer', new ArrayBuffer(2)]])(
    'password as %s is value-out-of-range',
    (_, password) => {
      expectEncodeRefused({ ...connect, username: 'u', password }, 'value-out-of-range');
    },
  );

  it('will message as a string is value-out-of-range', () => {
    expectEncodeRefused({ ...connect, will: { topic: 'w', payload: 'bye', qos: 0, retain: false } }, 'value-out-of-range');
  });

  it('password and will message over 65,535 bytes are field-too-long (section 1.5.3)', () => {
    const big = new Uint8Array(65_536);
    expectEncodeRefused({ ...connect, username: 'u', password: big }, 'field-too-long');
    expectEncodeRefused({ ...connect, will: { topic: 'w', payload: big, qos: 0, retain: false } }, 'field-too-long');
    expectRoundTrip({ ...connect, username: 'u', password: big.subarray(1) });
    expectRoundTrip({ ...connect, will: { topic: 'w', payload: big.subarray(1), qos: 0, retain: false } });
  });
});

describe('CONNACK', () => {
  it.each([6, -1, 1.5, 0x80, '0', undefined])('return code %s is invalid-return-code (section 3.2.2.3)', (returnCode) => {
    expectEncodeRefused({ type: 'connack', sessionPresent: false, returnCode }, 'invalid-return-code');
  });

  it.each([1, 2, 3, 4, 5])('session present with refusal %i is invalid-connack-flags [MQTT-3.2.2-4]', (returnCode) => {
    expectEncodeRefused({ type: 'connack', sessionPresent: true, returnCode }, 'invalid-connack-flags', 'MQTT-3.2.2-4');
  });
});

describe('PUBLISH', () => {
  it.each([3, -1, 1.5, '1', undefined])('QoS %s is invalid-qos [MQTT-3.3.1-4]', (qos) => {
    expectEncodeRefused({ ...publish1, qos }, 'invalid-qos', 'MQTT-3.3.1-4');
  });

  it('DUP on QoS 0 is invalid-flags [MQTT-3.3.1-2]', () => {
    expectEncodeRefused({ ...publish1, qos: 0, dup: true, packetId: undefined }, 'invalid-flags', 'MQTT-3.3.1-2');
  });

  it.each(['a/+', '+', '#', 'a/#', 'a+b', 'x#'])('wildcard in topic %j is invalid-topic [MQTT-3.3.2-2, MQTT-4.7.1-1]', (topic) => {
    expectEncodeRefused({ ...publish1, topic }, 'invalid-topic', 'MQTT-4.7.1-1');
    expectEncodeRefused({ ...publish1, qos: 0, packetId: undefined, topic }, 'invalid-topic', 'MQTT-4.7.1-1');
  });

  it('empty topic is invalid-topic [MQTT-4.7.3-1]', () => {
    expectEncodeRefused({ ...publish1, topic: '' }, 'invalid-topic', 'MQTT-4.7.3-1');
  });

  it.each([
    ['a string', 'hi'],
    ['an array', [1, 2]],
    ['an ArrayBuffer', new ArrayBuffer(2)],
    ['a DataView', new DataView(new ArrayBuffer(2))],
    ['undefined', undefined],
  ])('payload as %s is value-out-of-range', (_, payload) => {
    expectEncodeRefused({ ...publish1, payload }, 'value-out-of-range');
  });

  it('a Buffer payload is a Uint8Array and encodes like one', () => {
    const bytes = Uint8Array.of(1, 2, 3);
    expect(Array.from(encode({ ...publish1, payload: Buffer.from(bytes) }))).toEqual(
      Array.from(encode({ ...publish1, payload: bytes })),
    );
  });
});

describe('SUBSCRIBE, SUBACK, UNSUBSCRIBE', () => {
  it.each([3, -1, 1.5, 0x80, '1', undefined])('requested QoS %s is invalid-qos [MQTT-3-8.3-4]', (qos) => {
    expectEncodeRefused({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a', qos }] }, 'invalid-qos', 'MQTT-3-8.3-4');
  });

  it('no subscription is empty-topic-filter-list [MQTT-3.8.3-3]', () => {
    expectEncodeRefused({ type: 'subscribe', packetId: 1, subscriptions: [] }, 'empty-topic-filter-list', 'MQTT-3.8.3-3');
  });

  it('no topic filter is empty-topic-filter-list [MQTT-3.10.3-2]', () => {
    expectEncodeRefused({ type: 'unsubscribe', packetId: 1, topicFilters: [] }, 'empty-topic-filter-list', 'MQTT-3.10.3-2');
  });

  it.each([...BAD_FILTERS, ''])('filter %j is invalid-topic-filter [MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1]', (topicFilter) => {
    expectEncodeRefused({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter, qos: 0 }] }, 'invalid-topic-filter');
    expectEncodeRefused({ type: 'unsubscribe', packetId: 1, topicFilters: ['a', topicFilter] }, 'invalid-topic-filter');
  });

  it.each(GOOD_FILTERS)('filter %j is accepted', (topicFilter) => {
    expectRoundTrip({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter, qos: 1 }] });
    expectRoundTrip({ type: 'unsubscribe', packetId: 1, topicFilters: [topicFilter] });
  });

  it.each([3, 0x81, -1, 1.5, '0', undefined])('SUBACK return code %s is invalid-suback-code [MQTT-3.9.3-2]', (code) => {
    expectEncodeRefused({ type: 'suback', packetId: 1, returnCodes: [0, code] }, 'invalid-suback-code', 'MQTT-3.9.3-2');
  });

  it('SUBACK without a return code is invalid-remaining-length', () => {
    expectEncodeRefused({ type: 'suback', packetId: 1, returnCodes: [] }, 'invalid-remaining-length');
  });
});

describe('unknown packet type', () => {
  it.each(['bogus', undefined, 3])('type %s is reserved-packet-type', (type) => {
    expectEncodeRefused({ type }, 'reserved-packet-type');
  });
});

describe.each(Object.entries(STRING_FIELDS))('strings in %s', (_, carry) => {
  it.each([
    ['a lone high surrogate', '\uD800'],
    ['a lone low surrogate between letters', 'a\uDFFFb'],
    ['a high surrogate at the end', 'x\uDBFF'],
    ['a reversed pair', '\uDC00\uD800'],
    ['a lone surrogate after non-ASCII text', 'é\uD83D'],
  ])('%s is invalid-utf8 [MQTT-1.5.3-1]', (_, value) => {
    expectEncodeRefused(carry(value), 'invalid-utf8', 'MQTT-1.5.3-1');
  });

  it.each([
    ['alone', '\u0000'],
    ['between letters', 'a\u0000b'],
    ['after non-ASCII text', 'é\u0000'],
  ])('U+0000 %s is invalid-utf8 [MQTT-1.5.3-2, MQTT-4.7.3-2]', (_, value) => {
    expectEncodeRefused(carry(value), 'invalid-utf8', 'MQTT-1.5.3-2');
  });

  it('a value that is not a string is invalid-utf8', () => {
    expectEncodeRefused(carry(42 as unknown as string), 'invalid-utf8');
  });

  it.each([
    ['65,536 ASCII characters', 'a'.repeat(65_536)],
    ['32,768 × "é": 32,768 UTF-16 units but 65,536 UTF-8 bytes', 'é'.repeat(32_768)],
    ['21,846 × "€": 21,846 UTF-16 units but 65,538 UTF-8 bytes', '€'.repeat(21_846)],
    ['16,384 × "😀": 32,768 UTF-16 units but 65,536 UTF-8 bytes', '😀'.repeat(16_384)],
  ])('%s is field-too-long [MQTT-4.7.3-3]', (_, value) => {
    expectEncodeRefused(carry(value), 'field-too-long');
  });

  it('exactly 65,535 UTF-8 bytes is accepted', () => {
    expectRoundTrip(carry('é'.repeat(32_767) + 'a'));
    expectRoundTrip(carry('a'.repeat(65_535)));
  });
});

describe('encode memory', () => {
  it('survives a caller transferring one frame\'s memory: other frames intact, later encodes work', () => {
    const f = encode({ type: 'puback', packetId: 1 });
    const g = Uint8Array.from(encode({ type: 'puback', packetId: 2 }));
    const memory = f.buffer as ArrayBuffer;
    structuredClone(memory, { transfer: [memory] });
    expect(Array.from(encode({ type: 'puback', packetId: 3 }))).toEqual([0x40, 0x02, 0x00, 0x03]);
    expect(Array.from(g)).toEqual([0x40, 0x02, 0x00, 0x02]);
  });

  it('refuses a packet id on a QoS 0 PUBLISH instead of dropping it [MQTT-2.3.1-5]', () => {
    expect(() => encode({ type: 'publish', topic: 'a', payload: new Uint8Array(0), qos: 0, retain: false, dup: false, packetId: 5 })).toThrow(
      expect.objectContaining({ code: 'invalid-packet-id', statement: 'MQTT-2.3.1-5' }),
    );
  });
});
