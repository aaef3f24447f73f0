/**
 * The PUBLISH topic caches (src/packet/topics.ts): a hit must never return another topic's
 * string, and nothing invalid may ever be remembered.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { decode, decodeFrame, encode } from '../../src/packet/index.js';
import { clearTopicCaches } from '../../src/packet/topics.js';
import { bytes, expectProtocolError, field, frame } from './helpers.js';

/** A QoS 0 PUBLISH frame to `topic` (a string, or raw topic bytes) with payload "p". */
function publishFrame(topic: string | Uint8Array): Uint8Array {
  return frame(0x30, field(topic), 0x70);
}

/** The topic decoded from `input`. */
function topicOf(input: Uint8Array, offset = 0): string {
  const packet = decodeFrame(input, offset)?.packet;
  if (packet?.type !== 'publish') throw new Error('expected a PUBLISH');
  return packet.topic;
}

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

beforeEach(() => {
  clearTopicCaches();
});

describe('topic decode cache', () => {
  it('clearTopicCaches() exists for tests, and decoding works before and after it', () => {
    expect(typeof clearTopicCaches).toBe('function');
    expect(topicOf(publishFrame('a/b'))).toBe('a/b');
    clearTopicCaches();
    expect(topicOf(publishFrame('a/b'))).toBe('a/b');
  });

  it('two topics sharing length, middle and last byte (one slot) decode to their own strings', () => {
    // Same length, same middle byte, same last byte: the same slot for a table indexed by them.
    const pairs = [
      ['a/m/z', 'b/m/z'],
      ['dev1/x/temp', 'dev2/x/temp'],
      ['/sys/pk/device-0001/thing/event/property/post', '/sys/pk/device-0002/thing/event/property/post'],
      ['abcdefgh', 'zbcdefgh'], // the first 4-byte word differs
      ['abcdefghXj', 'abcdefghYj'], // a byte after the last whole word differs
    ];
    for (const [one, two] of pairs) {
      for (const topic of [one!, two!, one!, two!, two!, one!]) expect(topicOf(publishFrame(topic))).toBe(topic);
    }
  });

  it('thousands of distinct same-length topics, decoded interleaved, each come back as themselves', () => {
    const topics = Array.from({ length: 3_000 }, (_, i) => `d/${i.toString(36).padStart(4, '0')}/t`);
    const frames = topics.map(publishFrame);
    for (const order of [topics.keys(), [...topics.keys()].reverse(), topics.keys()]) {
      for (const i of order) expect(topicOf(frames[i]!)).toBe(topics[i]);
    }
  });

  it('a cached topic followed by the same bytes with any one byte changed decodes to the changed string', () => {
    for (let length = 1; length <= 13; length++) {
      const base = 'abcdefghijklm'.slice(0, length);
      for (let i = 0; i < length; i++) {
        const changed = base.slice(0, i) + 'Z' + base.slice(i + 1);
        // In place: the same memory (the same ArrayBuffer) as the cached decode.
        const input = publishFrame(base);
        expect(topicOf(input)).toBe(base);
        input[4 + i] = 0x5a;
        expect(topicOf(input)).toBe(changed);
        // And in fresh memory.
        expect(topicOf(publishFrame(base))).toBe(base);
        expect(topicOf(publishFrame(changed))).toBe(changed);
      }
    }
  });

  it('the cache keeps copies: changing the memory a topic was decoded from does not change later hits', () => {
    const first = publishFrame('a/b');
    expect(topicOf(first)).toBe('a/b');
    first[4] = 0x71; // the chunk is reused: it now reads "q/b"
    expect(topicOf(publishFrame('q/b'))).toBe('q/b');
    expect(topicOf(publishFrame('a/b'))).toBe('a/b');
  });

  it('topics at every alignment in a larger buffer decode the same', () => {
    const topic = '/sys/pk/dn/thing/event/property/post';
    for (let offset = 0; offset < 8; offset++) {
      const input = bytes(new Uint8Array(offset).fill(0xee), publishFrame(topic));
      expect(topicOf(input, offset)).toBe(topic);
      expect(topicOf(input.subarray(offset))).toBe(topic);
    }
  });

  it('topics longer than the cached size decode correctly, twice', () => {
    for (const topic of ['t'.repeat(257), `${'é'.repeat(200)}/x`, 'x'.repeat(5_000)]) {
      expect(topicOf(publishFrame(topic))).toBe(topic);
      expect(topicOf(publishFrame(topic))).toBe(topic);
    }
  });
});

describe('invalid topics are never cached [MQTT-1.5.3-1, MQTT-1.5.3-2, MQTT-3.3.2-2]', () => {
  it.each([
    ['a wildcard', ascii('a/+'), 'invalid-topic'],
    ['ill-formed UTF-8', Uint8Array.of(0x61, 0xff, 0x62), 'invalid-utf8'],
    ['U+0000', Uint8Array.of(0x61, 0x00, 0x62), 'invalid-utf8'],
  ] as const)('%s: decoding it twice throws twice', (_, topic, code) => {
    expectProtocolError(() => decode(publishFrame(topic)), code);
    expectProtocolError(() => decode(publishFrame(topic)), code);
  });

  it('an invalid topic in the slot of a cached valid one still throws', () => {
    expect(topicOf(publishFrame('a/m/z'))).toBe('a/m/z');
    // Same length, middle and last byte as "a/m/z".
    expectProtocolError(() => decode(publishFrame(Uint8Array.of(0x61, 0xff, 0x6d, 0x2f, 0x7a))), 'invalid-utf8');
    expectProtocolError(() => decode(publishFrame(Uint8Array.of(0x00, 0x2f, 0x6d, 0x2f, 0x7a))), 'invalid-utf8');
    expectProtocolError(() => decode(publishFrame('+/m/z')), 'invalid-topic');
    expect(topicOf(publishFrame('a/m/z'))).toBe('a/m/z');
  });
});

describe('topic encode cache', () => {
  const publish = (topic: string) => ({ type: 'publish', topic, payload: Uint8Array.of(0x70), qos: 0, retain: false, dup: false }) as const;

  it.each([
    ['a/+', 'invalid-topic'],
    ['#', 'invalid-topic'],
    ['', 'invalid-topic'],
    ['a\u0000b', 'invalid-utf8'],
    ['a\uD800', 'invalid-utf8'],
  ] as const)('an invalid topic %j is refused every time (%s)', (topic, code) => {
    expectProtocolError(() => encode(publish(topic)), code);
    expectProtocolError(() => encode(publish(topic)), code);
  });

  it('many distinct topics, encoded twice in turn, give their own bytes', () => {
    const topics = Array.from({ length: 2_500 }, (_, i) => `t/${i}/é`);
    for (let round = 0; round < 2; round++) {
      for (const topic of topics) expect(Array.from(encode(publish(topic)))).toEqual(Array.from(publishFrame(topic)));
    }
  });

  it('a topic longer than the cached size encodes correctly, twice', () => {
    const topic = 'x/'.repeat(200);
    expect(Array.from(encode(publish(topic)))).toEqual(Array.from(publishFrame(topic)));
    expect(Array.from(encode(publish(topic)))).toEqual(Array.from(publishFrame(topic)));
  });
});
