/**
 * describePacket: one line per packet for the NODE_DEBUG trace and the CLI's traces. What it must
 * never do (show a password, let a peer's bytes drive the terminal, run over several lines) is
 * checked over arbitrary packets; the wording over a few known ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describePacket, decode } from '../../src/packet/index.js';
import type { Packet } from '../../src/packet/index.js';
import { hex } from '../support/hex.js';
import { packetArb } from './arbitraries.js';
import { PLATFORM_EXAMPLE, VECTORS, vectorOf } from './vectors.js';

/**
 * What a terminal could act on or misread: C0/C1 controls and DEL, bidirectional and zero-width
 * formatting, line and paragraph separators.
 */
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]/;

const publish = (topic: string, payload: Uint8Array | string): Packet => ({
  type: 'publish',
  topic,
  payload: typeof payload === 'string' ? new TextEncoder().encode(payload) : payload,
  qos: 0,
  retain: false,
  dup: false,
});

describe('describePacket', () => {
  it('says what each packet type holds in one line, its type name first', () => {
    const connect = VECTORS.find((v) => v.name.includes('worked example'))!;
    expect(describePacket(connect.packet)).toBe(
      `CONNECT clientId=${PLATFORM_EXAMPLE.clientId} keepalive=300 clean=1 username=device&pk password=[40 bytes]`,
    );
    expect(describePacket(decode(hex`20 02 00 05`))).toBe('CONNACK session present 0, return code 5 (not authorized)');
    expect(describePacket(vectorOf('suback').packet)).toBe('SUBACK id=1 granted qos 0, granted qos 1, granted qos 2, refused');
    expect(describePacket(decode(hex`32 08 00 01 61 00 07 01 02 03`))).toBe('PUBLISH a qos=1 id=7 [3 bytes]');
    expect(describePacket(decode(hex`3b 08 00 01 61 00 07 68 69 21`))).toBe('PUBLISH a qos=1 id=7 dup retain hi!');
    expect(describePacket(decode(hex`30 03 00 01 61`))).toBe('PUBLISH a qos=0 [0 bytes]');
    expect(describePacket({ type: 'puback', packetId: 9 })).toBe('PUBACK id=9');
    expect(describePacket(vectorOf('pingreq').packet)).toBe('PINGREQ');
    const will = VECTORS.find((v) => v.name.startsWith('CONNECT: will (QoS 1'))!.packet;
    expect(describePacket(will)).toMatch(/ will=\S+ \(qos 1, retain, \d+ bytes?\)/);
  });

  it('shows a password as its length only, never its bytes [MQTT-3.1.2-21]', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 64 }), (password) => {
        const secret = Array.from(password, (b) => String.fromCharCode(b)).join('');
        const packet: Packet = { type: 'connect', clientId: 'c', keepalive: 60, clean: true, username: 'u', password };
        const line = describePacket(packet);
        expect(line).toContain(`password=[${password.length} bytes]`);
        expect(line).not.toContain(secret);
        expect(line).not.toContain(Buffer.from(password).toString('hex').slice(0, 8));
        expect(line).not.toContain(Buffer.from(password).toString('base64').slice(0, 6));
      }),
    );
    const text = new TextEncoder().encode(PLATFORM_EXAMPLE.password);
    const line = describePacket({ type: 'connect', clientId: 'c', keepalive: 60, clean: true, username: 'u', password: text });
    expect(line).not.toContain(PLATFORM_EXAMPLE.password.slice(0, 6));
  });

  it('quotes and escapes what a terminal could misread: escape sequences, controls, bidi overrides, spaces', () => {
    expect(describePacket(publish('a b', 'x'))).toBe('PUBLISH "a b" qos=0 x');
    expect(describePacket(publish('\u001b[2J', 'x'))).toBe('PUBLISH "\\u001b[2J" qos=0 x');
    expect(describePacket(publish('say "hi"', 'x'))).toBe('PUBLISH "say \\"hi\\"" qos=0 x');
    expect(describePacket(publish('abc\u202edef', 'x'))).toBe('PUBLISH "abc\\u202edef" qos=0 x');
    expect(describePacket(publish('\u009b31m', 'x'))).toBe('PUBLISH "\\u009b31m" qos=0 x');
    expect(describePacket(publish('温度/€/😀', 'x'))).toBe('PUBLISH 温度/€/😀 qos=0 x');
    // A payload that is text shows as text, line breaks escaped; anything else as its size.
    expect(describePacket(publish('t', '{"on": true}'))).toBe('PUBLISH t qos=0 {"on": true}');
    expect(describePacket(publish('t', 'a\nb'))).toBe('PUBLISH t qos=0 a\\nb');
    expect(describePacket(publish('t', '\u001b[31mred'))).toBe('PUBLISH t qos=0 [8 bytes]');
    expect(describePacket(publish('t', Uint8Array.of(0xff, 0xfe)))).toBe('PUBLISH t qos=0 [2 bytes]');
  });

  it('cuts long text and long lists', () => {
    const line = describePacket(publish('t'.repeat(1000), 'p'.repeat(1000)));
    expect(line.length).toBeLessThan(250);
    expect(line).toContain('…');
    const many: Packet = { type: 'unsubscribe', packetId: 1, topicFilters: Array.from({ length: 100 }, (_, i) => `f${i}`) };
    expect(describePacket(many)).toMatch(/^UNSUBSCRIBE id=1 f0, f1, .*f7, … 92 more$/);
    // A payload cut inside a multi-byte character is still text.
    expect(describePacket(publish('t', 'é'.repeat(200)))).toMatch(/^PUBLISH t qos=0 é+…$/);
  });

  it('gives one terminal-safe line for any packet, any strings and any payload bytes', () => {
    const strings = fc.string({ unit: 'binary', maxLength: 40 });
    const hostile = fc.oneof(
      packetArb,
      fc.record({ topic: strings, payload: fc.uint8Array({ maxLength: 300 }) }).map(({ topic, payload }) => publish(topic, payload)),
      fc.record({ clientId: strings, username: strings }).map(({ clientId, username }): Packet => ({ type: 'connect', clientId, username, keepalive: 1, clean: true })),
      fc.array(strings, { minLength: 1, maxLength: 12 }).map((topicFilters): Packet => ({ type: 'unsubscribe', packetId: 1, topicFilters })),
    );
    fc.assert(
      fc.property(hostile, (packet) => {
        const line = describePacket(packet);
        expect(line.startsWith(packet.type.toUpperCase())).toBe(true);
        expect(line).not.toMatch(TERMINAL_UNSAFE);
      }),
      { numRuns: 2000 },
    );
  });
});
