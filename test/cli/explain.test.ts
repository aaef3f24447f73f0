import { describe, expect, it } from 'vitest';
import { explain, renderExplanation } from '../../src/cli/explain.js';
import type { ExplainedPacket } from '../../src/cli/explain.js';
import { decodeFrame, encode, MqttProtocolError } from '../../src/packet/index.js';
import { normalise } from '../packet/helpers.js';
import { PLATFORM_EXAMPLE, VECTORS, vectorOf } from '../packet/vectors.js';
import { hex, toHex } from '../support/hex.js';
import { run } from './helpers.js';

/** Every byte of the packet's frame belongs to exactly one field, in order. */
function expectContiguous(p: ExplainedPacket, bytes: Uint8Array): void {
  let at = p.offset;
  for (const f of p.fields) {
    expect(f.offset).toBe(at);
    if (!f.hex.startsWith('[')) expect(f.hex.replaceAll(' ', '')).toBe(toHex(bytes.subarray(f.offset, f.offset + f.length)).replaceAll(' ', ''));
    at += f.length;
  }
  expect(at).toBe(p.offset + p.length);
}

const names = (p: ExplainedPacket): string[] => p.fields.map((f) => f.name);

/**
 * Every statement id the field holding byte `offset` cites: its row and its parts and, for a
 * string or binary field blamed at its length prefix, the row of its content too.
 */
function citedAt(p: ExplainedPacket, offset: number): string[] | undefined {
  const i = p.fields.findIndex((f) => offset >= f.offset && offset < f.offset + Math.max(f.length, 1));
  if (i < 0) return undefined;
  const rows = [p.fields[i]!];
  const next = p.fields[i + 1];
  if (next !== undefined && rows[0]!.name === `${next.name.replace(' (cut short)', '')} length`) rows.push(next);
  const specs = rows.flatMap((f) => [f.spec, ...f.parts.map((part) => part.spec)]);
  return specs.flatMap((spec) => spec.match(/MQTT-[\d.-]+\d/g) ?? []);
}
const field = (p: ExplainedPacket, name: string) => {
  const found = p.fields.find((f) => f.name === name);
  if (found === undefined) throw new Error(`no field ${name} in ${names(p).join(', ')}`);
  return found;
};

describe('explain: every packet type', () => {
  it.each(VECTORS.map((v) => [v.name, v] as const))('%s: one packet, every byte in one field, decoded as the codec decodes it', (_name, v) => {
    const e = explain(v.bytes);
    expect(e.problem).toBeUndefined();
    expect(e.packets).toHaveLength(1);
    const p = e.packets[0]!;
    expect(p.type).toBe(v.packet.type);
    expect(normalise(p.packet)).toEqual(normalise(v.packet));
    expectContiguous(p, v.bytes);
    expect(p.fields[0]!.name).toBe('packet type and flags');
    expect(p.fields[0]!.parts[0]!.spec).toBe('2.2.1');
    expect(p.fields[1]!.name).toBe('Remaining Length');
    expect(p.fields[1]!.spec).toBe('2.2.3');
    const text = renderExplanation(e);
    expect(text).toContain(`#1 ${v.packet.type.toUpperCase()}`);
    expect(text).toContain(`section ${p.section}`);
  });

  it('names the fields of each packet type as the specification does, with their sections', () => {
    const expected: Record<string, [string, string][]> = {
      connect: [
        ['Protocol Name length', '1.5.3 [MQTT-1.5.3-1, MQTT-1.5.3-2]'],
        ['Protocol Name', '3.1.2.1 [MQTT-3.1.2-1]'],
        ['Protocol Level', '3.1.2.2 [MQTT-3.1.2-2]'],
        ['Connect Flags', '3.1.2.3'],
        ['Keep Alive', '3.1.2.10 [MQTT-3.1.2-23]'],
        ['Client Identifier', '3.1.3.1 [MQTT-3.1.3-3, MQTT-3.1.3-4]'],
      ],
      connack: [['Connect Acknowledge Flags', '3.2.2.1'], ['Connect Return code', '3.2.2.3 [MQTT-3.2.2-5]']],
      publish: [['Topic Name', '3.3.2.1 [MQTT-3.3.2-1, MQTT-3.3.2-2, MQTT-4.7.1-1, MQTT-4.7.3-1]'], ['Payload', '3.3.3']],
      puback: [['Packet Identifier', '3.4.2 [MQTT-2.3.1-6]']],
      pubrec: [['Packet Identifier', '3.5.2 [MQTT-2.3.1-6]']],
      pubrel: [['Packet Identifier', '3.6.2 [MQTT-2.3.1-6]']],
      pubcomp: [['Packet Identifier', '3.7.2 [MQTT-2.3.1-6]']],
      subscribe: [['Packet Identifier', '3.8.2 [MQTT-2.3.1-1]'], ['Topic Filter', '3.8.3 [MQTT-3.8.3-1, MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1]'], ['Requested QoS', '3.8.3 [MQTT-3-8.3-4]']],
      suback: [['Packet Identifier', '3.9.2 [MQTT-2.3.1-7]'], ['Return Code', '3.9.3 [MQTT-3.9.3-1, MQTT-3.9.3-2]']],
      unsubscribe: [['Packet Identifier', '3.10.2 [MQTT-2.3.1-1]'], ['Topic Filter', '3.10.3 [MQTT-3.10.3-1, MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1]']],
      unsuback: [['Packet Identifier', '3.11.2 [MQTT-2.3.1-7]']],
      pingreq: [],
      pingresp: [],
      disconnect: [],
    };
    for (const [type, fields] of Object.entries(expected)) {
      const p = explain(vectorOf(type as never).bytes).packets[0]!;
      for (const [name, spec] of fields) expect(field(p, name).spec, `${type} ${name}`).toBe(spec);
      if (fields.length === 0) {
        expect(names(p)).toEqual(['packet type and flags', 'Remaining Length']);
        expect(field(p, 'Remaining Length').meaning).toContain('no variable header and no payload');
      }
    }
  });

  it('takes the fixed header byte apart: type nibble and the flags of Table 2.2, or DUP/QoS/RETAIN for PUBLISH', () => {
    const subscribe = explain(vectorOf('subscribe').bytes).packets[0]!.fields[0]!;
    expect(subscribe.parts.map((p) => [p.bits, p.name, p.spec])).toEqual([
      ['1000 ....', 'packet type', '2.2.1'],
      ['.... 0010', 'flags', '3.8.1 [MQTT-3.8.1-1]'],
    ]);
    const publish = explain(hex`3b 05 00 01 61 00 07`).packets[0]!;
    expect(publish.fields[0]!.value).toBe('PUBLISH, DUP 1, QoS 1, RETAIN 1');
    expect(publish.fields[0]!.parts.map((p) => [p.bits, p.name, p.value])).toEqual([
      ['0011 ....', 'packet type', '3 = PUBLISH (both directions)'],
      ['.... 1...', 'DUP', '1: a re-delivery of an earlier attempt'],
      ['.... .01.', 'QoS', '1: at least once'],
      ['.... ...1', 'RETAIN', '1: the server keeps it for future subscribers'],
    ]);
    expect(field(publish, 'Packet Identifier').value).toBe('7');
    expect(field(publish, 'Payload').value).toBe('0 bytes (empty)');
  });

  it('explains the Remaining Length varint byte by byte', () => {
    const payload = new Uint8Array(321 - 3); // topic field 3 bytes, QoS 0: no packet id
    const bytes = encode({ type: 'publish', topic: 'a', payload, qos: 0, retain: false, dup: false });
    const rl = explain(bytes).packets[0]!.fields[1]!;
    expect(rl.hex).toBe('c1 02');
    expect(rl.value).toBe('65 + 2×128 = 321');
    expect(rl.parts).toEqual([
      { bits: '1 1000001', name: 'byte 1', value: '65 × 1, more bytes follow', spec: '' },
      { bits: '0 0000010', name: 'byte 2', value: '2 × 128, the last byte', spec: '' },
    ]);
  });

  it("reads the platform's CONNECT: extension, user name, and a redacted password", () => {
    const v = VECTORS.find((x) => x.name.includes('worked example'))!;
    const p = explain(v.bytes).packets[0]!;
    expect(field(p, 'Client Identifier').value).toBe(JSON.stringify(PLATFORM_EXAMPLE.clientId));
    expect(field(p, 'Client Identifier').meaning).toBe(
      `the device id "12345", then the platform's extension: securemode=3 (plain TCP), signmethod=hmacsha1, timestamp=789`,
    );
    expect(field(p, 'User Name').meaning).toContain('device "device" of product "pk"');
    expect(field(p, 'Keep Alive').value).toBe('300 s');
    const flags = field(p, 'Connect Flags');
    expect(flags.value).toBe('0xc2 = 1100 0010');
    expect(flags.parts.map((x) => `${x.bits} ${x.name}`)).toEqual([
      '1... .... User Name Flag',
      '.1.. .... Password Flag',
      '..0. .... Will Retain',
      '...0 0... Will QoS',
      '.... .0.. Will Flag',
      '.... ..1. Clean Session',
      '.... ...0 Reserved',
    ]);
    const password = field(p, 'Password');
    expect(password.hex).toBe('[40 bytes redacted]');
    expect(password.value).toBe('[redacted]');
    const text = renderExplanation(explain(v.bytes));
    expect(text).not.toContain(PLATFORM_EXAMPLE.password);
    expect(text).not.toContain(toHex(Buffer.from(PLATFORM_EXAMPLE.password)).slice(0, 11));
    const shown = field(explain(v.bytes, { showPassword: true }).packets[0]!, 'Password');
    expect(shown.value).toBe(`'${PLATFORM_EXAMPLE.password}'`);
  });

  it('names Alink topics and payloads', () => {
    const post = encode({
      type: 'publish',
      topic: '/sys/a1B2/lamp/thing/event/property/post',
      payload: Buffer.from('{"id":"7","version":"1.0","params":{"On":1},"method":"thing.event.property.post"}'),
      qos: 1,
      packetId: 3,
      retain: false,
      dup: false,
    });
    const p = explain(post).packets[0]!;
    expect(field(p, 'Topic Name').meaning).toBe('Alink: the device reporting its properties, device "lamp" of product "a1B2"; answered on ..._reply');
    expect(field(p, 'Payload').meaning).toBe('an Alink request: method thing.event.property.post, id "7"');
    const reply = encode({
      type: 'publish',
      topic: '/sys/a1B2/lamp/thing/service/property/set_reply',
      payload: Buffer.from('{"id":"9","code":200,"data":{}}'),
      qos: 0,
      retain: false,
      dup: false,
    });
    const r = explain(reply).packets[0]!;
    expect(field(r, 'Topic Name').meaning).toBe(`Alink: the answer to the cloud setting properties, device "lamp" of product "a1B2"`);
    expect(field(r, 'Payload').meaning).toBe('an Alink reply: code 200 (success) for request id "9"');
  });

  it('shows a SUBACK return code per filter and its meaning', () => {
    const p = explain(vectorOf('suback').bytes).packets[0]!;
    expect(p.fields.filter((f) => f.name === 'Return Code').map((f) => f.value)).toEqual([
      '0x00 = Success, maximum QoS 0',
      '0x01 = Success, maximum QoS 1',
      '0x02 = Success, maximum QoS 2',
      '0x80 = Failure',
    ]);
  });

  it('explains several packets in a row, each at its offset', () => {
    const all = Buffer.concat(VECTORS.map((v) => v.bytes));
    const e = explain(all);
    expect(e.problem).toBeUndefined();
    expect(e.packets.map((p) => p.type)).toEqual(VECTORS.map((v) => v.packet.type));
    for (const p of e.packets) expectContiguous(p, all);
  });
});

describe('explain: bytes the decoder refuses', () => {
  const cases: [string, Uint8Array, string, number, string | undefined][] = [
    ['SUBSCRIBE with flags 0000', hex`80 02 00 01`, 'invalid-flags', 0, 'MQTT-3.8.1-1'],
    ['CONNACK with flags 0010', hex`22 02 00 00`, 'invalid-flags', 0, 'MQTT-2.2.2-1'],
    ['reserved packet type 0', hex`00 00`, 'reserved-packet-type', 0, undefined],
    ['Remaining Length not minimal', hex`c0 80 00`, 'remaining-length-not-minimal', 1, undefined],
    ['Remaining Length over 4 bytes', hex`30 ff ff ff ff 01`, 'remaining-length-overflow', 1, undefined],
    ['PUBLISH QoS 3', hex`36 05 00 01 61 00 01`, 'invalid-qos', 0, 'MQTT-3.3.1-4'],
    ['PUBLISH DUP on QoS 0', hex`38 03 00 01 61`, 'invalid-flags', 0, 'MQTT-3.3.1-2'],
    ['CONNACK reserved flag bits', hex`20 02 02 00`, 'invalid-connack-flags', 2, undefined],
    ['CONNACK session present with a refusal', hex`20 02 01 05`, 'invalid-connack-flags', 2, 'MQTT-3.2.2-4'],
    ['CONNACK return code 6', hex`20 02 00 06`, 'invalid-return-code', 3, undefined],
    ['PUBACK with 3 bytes of body', hex`40 03 00 01 00`, 'invalid-remaining-length', 1, undefined],
    ['PUBACK packet id 0', hex`40 02 00 00`, 'invalid-packet-id', 2, 'MQTT-2.3.1-6'],
    ['SUBSCRIBE packet id 0', hex`82 06 00 00 00 01 61 00`, 'invalid-packet-id', 2, 'MQTT-2.3.1-1'],
    ['SUBSCRIBE filter a#', hex`82 07 00 01 00 02 61 23 00`, 'invalid-topic-filter', 4, 'MQTT-4.7.1-2'],
    ['SUBSCRIBE requested QoS 3', hex`82 06 00 01 00 01 61 03`, 'invalid-requested-qos', 7, 'MQTT-3-8.3-4'],
    ['SUBACK return code 3', hex`90 03 00 01 03`, 'invalid-suback-code', 4, 'MQTT-3.9.3-2'],
    ['CONNECT protocol name MQIsdp', hex`10 0e 00 06 4d 51 49 73 64 70 03 02 00 3c 00 00`, 'invalid-protocol-name', 2, 'MQTT-3.1.2-1'],
    ['CONNECT protocol level 5', hex`10 0c 00 04 4d 51 54 54 05 02 00 3c 00 00`, 'unsupported-protocol-level', 8, 'MQTT-3.1.2-2'],
    ['CONNECT reserved flag', hex`10 0c 00 04 4d 51 54 54 04 03 00 3c 00 00`, 'invalid-connect-flags', 9, 'MQTT-3.1.2-3'],
    ['CONNECT will retain without the will flag', hex`10 0c 00 04 4d 51 54 54 04 22 00 3c 00 00`, 'invalid-connect-flags', 9, 'MQTT-3.1.2-15'],
    ['CONNECT client id holding U+0000', hex`10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 00`, 'invalid-utf8', 12, 'MQTT-1.5.3-2'],
    ['PUBLISH topic with a wildcard', hex`30 05 00 03 61 2b 62`, 'invalid-topic', 2, 'MQTT-4.7.1-1'],
    ['PUBLISH empty topic', hex`30 02 00 00`, 'invalid-topic', 2, 'MQTT-4.7.3-1'],
    ['PUBLISH topic holding U+0000', hex`30 05 00 03 61 00 62`, 'invalid-utf8', 2, 'MQTT-1.5.3-2'],
    ['PUBLISH topic that is not UTF-8', hex`30 05 00 03 61 ff 62`, 'invalid-utf8', 2, 'MQTT-1.5.3-1'],
    ['a frame cut short', hex`30 0a 00 03 61`, 'truncated', 5, undefined],
    ['a fixed header cut short', hex`30 80`, 'truncated', 2, undefined],
    ['a second packet that is bad', hex`c0 00 d0 01 00`, 'invalid-remaining-length', 3, undefined],
  ];

  it.each(cases)('%s: the code, offset and statement the decoder gives, fields up to the offending byte', (_name, bytes, code, offset, statement) => {
    const e = explain(bytes);
    expect(e.problem).toMatchObject({ code, offset, statement });
    // The field at the offset cites the statement the decoder gives.
    if (statement !== undefined) expect(citedAt(e.packets[e.packets.length - 1]!, offset)).toContain(statement);
    const last = e.packets[e.packets.length - 1]!;
    expect(last.problem).toBe(e.problem);
    expect(last.packet).toBeUndefined();
    // Fields up to the offending byte; a string whose length prefix is blamed keeps its text.
    const blamed = last.fields.filter((f) => f.offset > offset);
    expect(blamed.length).toBeLessThanOrEqual(1);
    if (blamed.length === 1) expect(last.fields[last.fields.length - 2]!.name).toBe(`${blamed[0]!.name} length`);
    expect(renderExplanation(e)).toContain(`error ${code} at byte ${offset}${statement === undefined ? '' : ` [${statement}]`}: `);
    // The oracle: the library's own decoder, from the start of the failing frame.
    let error: unknown;
    try {
      if (decodeFrame(bytes, last.offset) === null) error = 'need more';
    } catch (caught) {
      error = caught;
    }
    if (code === 'truncated') expect(error).toBe('need more');
    else expect(error).toMatchObject({ code, offset, statement, detail: e.problem!.detail });
  });

  it('shows the string a decoder error blames, not only its length prefix', () => {
    const e = explain(hex`30 05 00 03 61 2b 62`);
    const p = e.packets[0]!;
    expect(p.fields.map((f) => f.name).slice(-2)).toEqual(['Topic Name length', 'Topic Name']);
    expect(p.fields[p.fields.length - 1]!.value).toBe('"a+b"');
    expect(e.problem?.detail).toContain('"a+b"');
  });

  it('never throws, whatever the bytes, and agrees with decodeFrame on every frame: code, offset, statement (seeded fuzz)', () => {
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let i = 0; i < 3000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        bytes = Uint8Array.from({ length: Math.floor(random() * 24) }, () => Math.floor(random() * 256));
      } else {
        bytes = Uint8Array.from(VECTORS[Math.floor(random() * VECTORS.length)]!.bytes);
        const flips = 1 + Math.floor(random() * 3);
        for (let j = 0; j < flips && bytes.length > 0; j++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        if (random() < 0.3) bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
      }
      const e = explain(bytes);
      renderExplanation(e);
      for (const p of e.packets) {
        let at = p.offset;
        for (const f of p.fields) {
          expect(f.offset).toBe(at);
          at += f.length;
        }
        let expected: string;
        try {
          const frame = decodeFrame(bytes, p.offset);
          expected = frame === null ? 'truncated' : 'ok';
        } catch (error) {
          const { code, offset, statement } = error as MqttProtocolError;
          expected = code;
          expect(p.problem).toMatchObject({ offset, statement });
          // The field the offset falls in (when it lies within the bytes shown) cites the statement.
          const cited = citedAt(p, offset!);
          if (statement !== undefined && cited !== undefined) expect(cited, toHex(bytes)).toContain(statement);
        }
        expect(p.problem?.code ?? 'ok').toBe(expected);
      }
    }
  });
});

describe('aliot explain', () => {
  it('dissects hex given as arguments, in any of the usual spellings', async () => {
    for (const argv of [['20', '02', '00', '00'], ['20020000'], ['20:02:00:00'], ['0x20,0x02,0x00,0x00'], ['0x20 0x02', '0x00 0x00']]) {
      const result = await run(['explain', ...argv]);
      expect(result.code, argv.join(' ')).toBe(0);
      expect(result.stdout).toContain('#1 CONNACK');
      expect(result.stdout).toContain('0 = Connection Accepted');
      expect(result.stderr).toBe('');
    }
  });

  it('reads hex from stdin when there is no argument, or with -', async () => {
    for (const argv of [[], ['-']]) {
      const result = await run(['explain', ...argv], { stdin: 'c0 00\nd0 00\n' });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('#1 PINGREQ');
      expect(result.stdout).toContain('#2 PINGRESP');
    }
  });

  it('exits 1 with the decoder code and offset, and no stack trace, for bytes it refuses', async () => {
    const result = await run(['explain', '82 02 00 00']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('error invalid-packet-id at byte 2 [MQTT-2.3.1-1]: ');
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    [['zz'], 'is not hex'],
    [['1'], 'odd number of hex digits'],
    [['0x'], 'is not hex'],
  ])('exits 1 for input that is not hex: %j', async (argv, text) => {
    const result = await run(['explain', ...argv]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(text);
    expect(result.stderr).toContain('hint:');
  });

  it('exits 1 for no bytes at all, and for a terminal on stdin with no argument', async () => {
    expect((await run(['explain'], { stdin: '  \n' })).stderr).toContain('no bytes to explain');
    const tty = await run(['explain']);
    expect(tty.code).toBe(1);
    expect(tty.stderr).toContain('no hex given');
  });

  it('redacts the password in text and JSON unless --show-password', async () => {
    const v = VECTORS.find((x) => x.name.includes('worked example'))!;
    const text = await run(['explain', toHex(v.bytes)]);
    const json = await run(['explain', '--json', toHex(v.bytes)]);
    for (const out of [text.stdout, json.stdout]) {
      expect(out).not.toContain(PLATFORM_EXAMPLE.password);
      expect(out).not.toContain(Buffer.from(PLATFORM_EXAMPLE.password).toString('hex'));
    }
    const parsed = JSON.parse(json.stdout);
    expect(parsed.packets[0].packet.password).toBe('[redacted]');
    expect(parsed.packets[0].packet.clientId).toBe(PLATFORM_EXAMPLE.clientId);
    const shown = await run(['explain', '--show-password', toHex(v.bytes)]);
    expect(shown.stdout).toContain(PLATFORM_EXAMPLE.password);
    const shownJson = JSON.parse((await run(['explain', '--json', '--show-password', toHex(v.bytes)])).stdout);
    expect(shownJson.packets[0].packet.password).toBe(Buffer.from(PLATFORM_EXAMPLE.password).toString('hex'));
  });

  it('colours only a terminal without NO_COLOR', async () => {
    const escape = '\u001b[';
    expect((await run(['explain', 'c0 00'], { tty: true })).stdout).toContain(escape);
    expect((await run(['explain', 'c0 00'], { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain(escape);
    expect((await run(['explain', 'c0 00'], { tty: true, env: { NO_COLOR: '' } })).stdout).toContain(escape);
    expect((await run(['explain', 'c0 00'])).stdout).not.toContain(escape);
  });

  it('has --help and -h, exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const result = await run(['explain', flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('--show-password');
    }
  });
});
