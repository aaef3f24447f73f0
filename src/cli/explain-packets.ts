/**
 * What each MQTT 3.1.1 packet type holds, field by field, for explain.ts: the fixed header and
 * the Remaining Length here, and the body of each packet type by family: explain-connect.ts
 * (CONNECT, CONNACK), explain-publish.ts (PUBLISH and its acknowledgements) and
 * explain-subscribe.ts (SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK).
 */
import { PACKET_TYPE_NAMES } from '../packet/types.js';
import type { PacketType } from '../packet/types.js';
import { CONNECT_BODIES } from './explain-connect.js';
import type { ExplainField, ExplainPart } from './explain-model.js';
import { PUBLISH_BODIES } from './explain-publish.js';
import { SUBSCRIBE_BODIES } from './explain-subscribe.js';
import { binary8, bitPattern, count, CUT_SHORT, EndOfBytes, Fields, QOS_NAMES } from './explain-walk.js';
import type { Body } from './explain-walk.js';

/** Where a packet type travels, its section, what it is for, and its fixed flags. */
export interface TypeInfo {
  readonly direction: string;
  readonly section: string;
  readonly purpose: string;
  /** The fixed flags of Table 2.2 and where the spec demands them; absent for PUBLISH. */
  readonly flags?: { readonly value: number; readonly spec: string };
}

const ZERO_FLAGS = { value: 0, spec: '2.2.2 [MQTT-2.2.2-1]' };

export const TYPES: Readonly<Record<PacketType, TypeInfo>> = {
  connect: { direction: 'client to server', section: '3.1', purpose: 'asks to open a session', flags: ZERO_FLAGS },
  connack: { direction: 'server to client', section: '3.2', purpose: 'answers CONNECT', flags: ZERO_FLAGS },
  publish: { direction: 'both directions', section: '3.3', purpose: 'carries an application message' },
  puback: { direction: 'both directions', section: '3.4', purpose: 'acknowledges a QoS 1 PUBLISH', flags: ZERO_FLAGS },
  pubrec: { direction: 'both directions', section: '3.5', purpose: 'QoS 2 step 1: publish received', flags: ZERO_FLAGS },
  pubrel: {
    direction: 'both directions',
    section: '3.6',
    purpose: 'QoS 2 step 2: publish release',
    flags: { value: 0b0010, spec: '3.6.1 [MQTT-3.6.1-1]' },
  },
  pubcomp: { direction: 'both directions', section: '3.7', purpose: 'QoS 2 step 3: publish complete', flags: ZERO_FLAGS },
  subscribe: {
    direction: 'client to server',
    section: '3.8',
    purpose: 'asks for the messages of some topic filters',
    flags: { value: 0b0010, spec: '3.8.1 [MQTT-3.8.1-1]' },
  },
  suback: { direction: 'server to client', section: '3.9', purpose: 'answers SUBSCRIBE', flags: ZERO_FLAGS },
  unsubscribe: {
    direction: 'client to server',
    section: '3.10',
    purpose: 'cancels subscriptions',
    flags: { value: 0b0010, spec: '3.10.1 [MQTT-3.10.1-1]' },
  },
  unsuback: { direction: 'server to client', section: '3.11', purpose: 'answers UNSUBSCRIBE', flags: ZERO_FLAGS },
  pingreq: { direction: 'client to server', section: '3.12', purpose: 'keepalive: are you there?', flags: ZERO_FLAGS },
  pingresp: { direction: 'server to client', section: '3.13', purpose: 'keepalive: yes', flags: ZERO_FLAGS },
  disconnect: {
    direction: 'client to server',
    section: '3.14',
    purpose: 'the client is leaving cleanly',
    flags: ZERO_FLAGS,
  },
};

/** Walks the frame at `start`; `end` is where the walk stopped. */
export function dissect(bytes: Uint8Array, start: number, showPassword: boolean): { fields: ExplainField[]; type: PacketType | undefined; end: number } {
  const header = new Fields(bytes, start, bytes.length);
  const firstByte = bytes[start]!;
  const type = PACKET_TYPE_NAMES[firstByte >> 4];
  try {
    fixedHeaderByte(header, firstByte, type);
    if (type === undefined) return { fields: header.list, type, end: header.pos };
    const remaining = remainingLength(header, type);
    const body = new Fields(bytes, header.pos, Math.min(bytes.length, header.pos + remaining));
    try {
      BODIES[type](body, firstByte, showPassword);
      body.rest();
    } catch (error) {
      if (!(error instanceof EndOfBytes)) throw error;
    }
    return { fields: [...header.list, ...body.list], type, end: body.pos };
  } catch (error) {
    if (!(error instanceof EndOfBytes)) throw error;
    return { fields: header.list, type, end: header.pos };
  }
}

function fixedHeaderByte(f: Fields, b: number, type: PacketType | undefined): void {
  const number = b >> 4;
  const typePart: ExplainPart = {
    bits: bitPattern(b, 0xf0),
    name: 'packet type',
    value: type === undefined ? `${number}: reserved, never sent` : `${number} = ${type.toUpperCase()} (${TYPES[type].direction})`,
    spec: '2.2.1',
  };
  if (type === undefined) {
    f.byte('packet type and flags', '2.2', () => ({
      value: `type ${number}: reserved`,
      meaning: 'types 0 and 15 are reserved: no valid packet starts with this byte',
      parts: [typePart],
    }));
    return;
  }
  const info = TYPES[type];
  if (info.flags === undefined) {
    const qos = (b >> 1) & 3;
    f.byte('packet type and flags', '2.2', () => ({
      value: `PUBLISH, DUP ${(b >> 3) & 1}, QoS ${qos}, RETAIN ${b & 1}`,
      meaning: 'the high four bits name the packet; in a PUBLISH the low four carry DUP, QoS and RETAIN',
      parts: [
        typePart,
        {
          bits: bitPattern(b, 0x08),
          name: 'DUP',
          value: b & 0x08 ? '1: a re-delivery of an earlier attempt' : '0: the first attempt to deliver it',
          spec: '3.3.1.1 [MQTT-3.3.1-1, MQTT-3.3.1-2]',
        },
        {
          bits: bitPattern(b, 0x06),
          name: 'QoS',
          value: QOS_NAMES[qos] ?? `${qos}: not allowed`,
          spec: '3.3.1.2 [MQTT-3.3.1-4]',
        },
        {
          bits: bitPattern(b, 0x01),
          name: 'RETAIN',
          value: b & 1 ? '1: the server keeps it for future subscribers' : '0: not retained',
          spec: '3.3.1.3',
        },
      ],
    }));
    return;
  }
  const flags = b & 0x0f;
  const expected = info.flags.value.toString(2).padStart(4, '0');
  f.byte('packet type and flags', '2.2', () => ({
    value: `${type.toUpperCase()}, flags ${binary8(b).slice(5)}`,
    meaning: `the high four bits name the packet; the low four are fixed for ${type.toUpperCase()}`,
    parts: [
      typePart,
      {
        bits: bitPattern(b, 0x0f),
        name: 'flags',
        value: flags === info.flags!.value ? `${expected}, as required` : `must be ${expected}`,
        spec: info.flags!.spec,
      },
    ],
  }));
}

/** The packets that are a fixed header and nothing else. */
const BODYLESS: ReadonlySet<PacketType> = new Set(['pingreq', 'pingresp', 'disconnect']);

/** Reads the Remaining Length varint, one part per byte, and returns its value. */
function remainingLength(f: Fields, type: PacketType): number {
  const start = f.pos;
  const parts: ExplainPart[] = [];
  const terms: string[] = [];
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    if (start + i >= f.end) {
      f.add(f.end - start, `Remaining Length${CUT_SHORT}`, '2.2.3', () => ({
        value: 'the input ends inside it',
        meaning: 'one to four bytes, the last one below 0x80',
      }));
      throw new EndOfBytes();
    }
    const b = f.buf[start + i]!;
    const digit = b & 0x7f;
    value += digit * multiplier;
    terms.push(multiplier === 1 ? String(digit) : `${digit}×${multiplier}`);
    const more = b >= 0x80;
    parts.push({
      bits: `${more ? 1 : 0} ${digit.toString(2).padStart(7, '0')}`,
      name: `byte ${i + 1}`,
      value: `${digit} × ${multiplier}${more ? ', more bytes follow' : ', the last byte'}`,
      spec: '',
    });
    if (!more) {
      const sum = terms.length > 1 ? `${terms.join(' + ')} = ${value}` : String(value);
      const meaning =
        value === 0
          ? BODYLESS.has(type)
            ? `nothing follows: ${type.toUpperCase()} has no variable header and no payload`
            : `nothing follows, but ${type.toUpperCase()} has fields that need bytes`
          : `${count(value, 'byte')} follow: the variable header and payload. Seven bits a byte, least significant first; a set top bit means another byte follows`;
      f.add(i + 1, 'Remaining Length', '2.2.3', () => ({ value: sum, meaning, parts }));
      return value;
    }
    multiplier *= 128;
  }
  f.add(4, 'Remaining Length', '2.2.3', () => ({
    value: 'does not end within 4 bytes',
    meaning: 'at most four bytes: the fourth must be below 0x80 (largest value 268,435,455)',
    parts,
  }));
  throw new EndOfBytes();
}

// ---------------------------------------------------------------------------------------------
// Bodies, one per packet type, from the modules of their families

const BODIES: Readonly<Record<PacketType, Body>> = {
  ...CONNECT_BODIES,
  ...PUBLISH_BODIES,
  ...SUBSCRIBE_BODIES,
  pingreq: () => undefined,
  pingresp: () => undefined,
  disconnect: () => undefined,
};
