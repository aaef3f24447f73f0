/**
 * What each MQTT 3.1.1 packet type holds, field by field, for explain.ts: the fixed header, the
 * Remaining Length, and one body walker per packet type with the meaning of every field.
 */
import { platformConnackHint } from '../aliyun/connack.js';
import { AlinkTopics } from '../aliyun/alink/topics.js';
import type { AlinkRequestTopic } from '../aliyun/alink/topics.js';
import { PACKET_TYPE_NAMES } from '../packet/types.js';
import type { PacketType } from '../packet/types.js';
import { parseClientId } from '../sign/extension.js';
import type { ExplainField, ExplainPart } from './explain-model.js';
import { binary8, bitPattern, count, CUT_SHORT, EndOfBytes, Fields, preview, strictUtf8 } from './explain-walk.js';

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

/** Connect Return code meanings (section 3.2.2.3, Table 3.1). */
const RETURN_CODES = [
  'Connection Accepted',
  'Connection Refused, unacceptable protocol version',
  'Connection Refused, identifier rejected',
  'Connection Refused, Server unavailable',
  'Connection Refused, bad user name or password',
  'Connection Refused, not authorized',
] as const;

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

const QOS_NAMES = ['0: at most once', '1: at least once', '2: exactly once'] as const;

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
// Bodies, one per packet type

type Body = (f: Fields, firstByte: number, showPassword: boolean) => void;

const packetId = (f: Fields, spec: string, meaning: string): number =>
  f.uint16('Packet Identifier', spec, (v) => ({ value: v === 0 ? '0 (not allowed)' : String(v), meaning }));

const ack =
  (section: string, meaning: string, statement: string): Body =>
  (f) => {
    packetId(f, `${section} [${statement}]`, meaning);
  };

const BODIES: Readonly<Record<PacketType, Body>> = {
  connect: connectBody,
  connack: connackBody,
  publish: publishBody,
  puback: ack('3.4.2', 'the id of the QoS 1 PUBLISH this acknowledges', 'MQTT-2.3.1-6'),
  pubrec: ack('3.5.2', 'the id of the QoS 2 PUBLISH that was received', 'MQTT-2.3.1-6'),
  pubrel: ack('3.6.2', 'the id of the QoS 2 message to release', 'MQTT-2.3.1-6'),
  pubcomp: ack('3.7.2', 'the id of the QoS 2 exchange now complete', 'MQTT-2.3.1-6'),
  subscribe: subscribeBody,
  suback: subackBody,
  unsubscribe: unsubscribeBody,
  unsuback: ack('3.11.2', 'the id of the UNSUBSCRIBE this answers', 'MQTT-2.3.1-7'),
  pingreq: () => undefined,
  pingresp: () => undefined,
  disconnect: () => undefined,
};

function connectBody(f: Fields, _firstByte: number, showPassword: boolean): void {
  f.string('Protocol Name', '3.1.2.1 [MQTT-3.1.2-1]', (name) =>
    name === 'MQTT' ? 'always "MQTT" for MQTT 3.1.1' : 'must be "MQTT" (MQTT 3.1 sent "MQIsdp")',
  );
  f.byte('Protocol Level', '3.1.2.2 [MQTT-3.1.2-2]', (level) => ({
    value: level === 4 ? '4 = MQTT 3.1.1' : `${level}: not 4 (MQTT 3.1.1)`,
    meaning: 'the protocol revision: 4 for 3.1.1 (3 was MQTT 3.1, 5 is MQTT 5); a server answers any other with CONNACK 1',
  }));
  const flags = f.byte('Connect Flags', '3.1.2.3', (b) => ({
    value: `0x${b.toString(16).padStart(2, '0')} = ${binary8(b)}`,
    meaning: 'which optional fields the payload holds, and how the session starts',
    parts: connectFlagParts(b),
  }));
  f.uint16('Keep Alive', '3.1.2.10 [MQTT-3.1.2-23]', (seconds) => ({
    value: seconds === 0 ? '0 (keepalive off)' : `${seconds} s`,
    meaning:
      'the longest the client stays silent: when idle it sends PINGREQ, and the server may close the connection after 1.5 times this. The platform accepts 30..1200 s',
  }));
  f.string('Client Identifier', '3.1.3.1 [MQTT-3.1.3-3, MQTT-3.1.3-4]', clientIdMeaning);
  if (flags & 0x04) {
    f.string('Will Topic', '3.1.3.2 [MQTT-3.1.2-9, MQTT-3.1.3-10, MQTT-4.7.1-1, MQTT-4.7.3-1]', () => 'where the server publishes the will message if the connection is lost');
    f.binary('Will Message', '3.1.3.3 [MQTT-3.1.2-9]', 'the message the server publishes if the connection is lost', false);
  }
  if (flags & 0x80) {
    f.string('User Name', '3.1.3.4 [MQTT-3.1.2-19, MQTT-3.1.3-11]', usernameMeaning);
  }
  if (flags & 0x40) {
    f.binary(
      'Password',
      '3.1.3.5 [MQTT-3.1.2-21]',
      'on the platform: the hex HMAC of clientId, deviceName, productKey and timestamp, keyed with the device secret',
      !showPassword,
    );
  }
}

function connectFlagParts(b: number): ExplainPart[] {
  const bit = (mask: number): number => (b & mask ? 1 : 0);
  const willQos = (b >> 3) & 3;
  return [
    {
      bits: bitPattern(b, 0x80),
      name: 'User Name Flag',
      value: bit(0x80) ? '1: a user name follows' : '0: no user name',
      spec: '3.1.2.8 [MQTT-3.1.2-18, MQTT-3.1.2-19]',
    },
    {
      bits: bitPattern(b, 0x40),
      name: 'Password Flag',
      value: bit(0x40) ? '1: a password follows' : '0: no password',
      spec: '3.1.2.9 [MQTT-3.1.2-20, MQTT-3.1.2-21, MQTT-3.1.2-22]',
    },
    {
      bits: bitPattern(b, 0x20),
      name: 'Will Retain',
      value: bit(0x20) ? '1: retain the will message' : '0: do not retain the will message',
      spec: '3.1.2.7 [MQTT-3.1.2-15]',
    },
    {
      bits: bitPattern(b, 0x18),
      name: 'Will QoS',
      value: bit(0x04) ? (QOS_NAMES[willQos] ?? `${willQos}: not allowed`) : `${willQos}${willQos === 0 ? '' : ': must be 0'} (no will)`,
      spec: '3.1.2.6 [MQTT-3.1.2-13, MQTT-3.1.2-14]',
    },
    {
      bits: bitPattern(b, 0x04),
      name: 'Will Flag',
      value: bit(0x04) ? '1: a will topic and message follow' : '0: no will message',
      spec: '3.1.2.5 [MQTT-3.1.2-9, MQTT-3.1.2-11]',
    },
    {
      bits: bitPattern(b, 0x02),
      name: 'Clean Session',
      value: bit(0x02) ? '1: start afresh, discard any earlier session' : '0: resume the earlier session, if any',
      spec: '3.1.2.4 [MQTT-3.1.2-4, MQTT-3.1.2-6]',
    },
    {
      bits: bitPattern(b, 0x01),
      name: 'Reserved',
      value: bit(0x01) ? '1: must be 0' : '0, as required',
      spec: '3.1.2.3 [MQTT-3.1.2-3]',
    },
  ];
}

function clientIdMeaning(clientId: string): string {
  const parsed = parseClientId(clientId);
  if (!parsed.ok) return 'names the session on the server; always first in the payload';
  const extension = [
    `securemode=${parsed.secureMode} (${parsed.secureMode === 2 ? 'TLS' : 'plain TCP'})`,
    `signmethod=${parsed.signMethod}`,
    parsed.timestamp === undefined ? 'no timestamp' : `timestamp=${parsed.timestamp}`,
  ];
  return `the device id ${JSON.stringify(parsed.clientId)}, then the platform's extension: ${extension.join(', ')}`;
}

function usernameMeaning(username: string): string {
  const amp = username.indexOf('&');
  if (amp <= 0 || amp === username.length - 1) return 'who is connecting';
  return `the platform reads it as deviceName&productKey: device ${JSON.stringify(username.slice(0, amp))} of product ${JSON.stringify(username.slice(amp + 1))}`;
}

function connackBody(f: Fields): void {
  f.byte('Connect Acknowledge Flags', '3.2.2.1', (b) => ({
    value: `0x${b.toString(16).padStart(2, '0')}`,
    meaning: 'bit 0 is Session Present; bits 7-1 are reserved and must be 0',
    parts: [
      { bits: bitPattern(b, 0xfe), name: 'Reserved', value: b & 0xfe ? 'must be 0' : '0, as required', spec: '3.2.2.1' },
      {
        bits: bitPattern(b, 0x01),
        name: 'Session Present',
        value: b & 1 ? '1: the server kept a session for this client' : '0: no earlier session',
        spec: '3.2.2.2 [MQTT-3.2.2-1, MQTT-3.2.2-2, MQTT-3.2.2-3, MQTT-3.2.2-4]',
      },
    ],
  }));
  f.byte('Connect Return code', '3.2.2.3 [MQTT-3.2.2-5]', (code) => {
    const hint = platformConnackHint(code);
    return {
      value: `${code} = ${RETURN_CODES[code] ?? 'reserved, not allowed'}`,
      meaning:
        code === 0
          ? 'the session is open: the client may now publish and subscribe'
          : hint === undefined
            ? 'codes above 5 are reserved'
            : `on the platform this usually means ${hint.cause}; the server closes the connection`,
    };
  });
}

function publishBody(f: Fields, firstByte: number): void {
  f.string('Topic Name', '3.3.2.1 [MQTT-3.3.2-1, MQTT-3.3.2-2, MQTT-4.7.1-1, MQTT-4.7.3-1]', (topic) => alinkMeaning(topic) ?? 'where the message goes; a topic name holds no wildcards');
  if (((firstByte >> 1) & 3) !== 0) {
    packetId(f, '3.3.2.2 [MQTT-2.3.1-1]', 'QoS 1 and 2 only: the receiver acknowledges with this id');
  }
  f.add(f.left, 'Payload', '3.3.3', (bytes) => ({ value: preview(bytes), meaning: payloadMeaning(bytes) }));
}

function payloadMeaning(bytes: Uint8Array): string {
  const fallback = 'the application message: any bytes, as many as the Remaining Length leaves';
  let object: unknown;
  try {
    object = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    return fallback;
  }
  if (typeof object !== 'object' || object === null) return fallback;
  const { id, method, code } = object as { id?: unknown; method?: unknown; code?: unknown };
  if (typeof method === 'string') return `an Alink request: method ${method}, id ${JSON.stringify(id)}`;
  if (typeof code === 'number') return `an Alink reply: code ${code}${code === 200 ? ' (success)' : ''} for request id ${JSON.stringify(id)}`;
  return 'the application message, here JSON';
}

/** What an Alink topic is for, or undefined for any other topic. */
function alinkMeaning(topic: string): string | undefined {
  const match = /^\/sys\/([^/]+)\/([^/]+)\//.exec(topic) ?? /^\/([^/]+)\/([^/]+)\/user\//.exec(topic);
  if (match === null) return undefined;
  let topics: AlinkTopics;
  try {
    topics = new AlinkTopics({ productKey: match[1]!, deviceName: match[2]! });
  } catch {
    return undefined;
  }
  const kind = topics.parse(topic);
  if (kind === undefined) return undefined;
  const device = `device ${JSON.stringify(topics.deviceName)} of product ${JSON.stringify(topics.productKey)}`;
  switch (kind.kind) {
    case 'reply':
      return `Alink: the answer to ${requestMeaning(kind.to)}, ${device}`;
    case 'rrpc-request':
      return `Alink RRPC: a synchronous call from the cloud to ${device}, answered on .../rrpc/response/${kind.messageId}`;
    case 'rrpc-response':
      return `Alink RRPC: ${device} answers call ${kind.messageId}`;
    case 'user':
      return `a custom topic of ${device}`;
    default:
      return `Alink: ${requestMeaning(kind)}, ${device}; answered on ..._reply`;
  }
}

function requestMeaning(topic: AlinkRequestTopic): string {
  switch (topic.kind) {
    case 'property-post':
      return 'the device reporting its properties';
    case 'event-post':
      return `the device reporting event ${topic.identifier}`;
    case 'property-set':
      return 'the cloud setting properties';
    case 'service-call':
      return `the cloud calling service ${topic.identifier}`;
  }
}

function filterMeaning(filter: string): string {
  const wild = filter.includes('+') || filter.includes('#');
  if (wild) return "a filter: '+' matches one topic level, '#' every level below";
  return alinkMeaning(filter) ?? 'a filter without wildcards matches exactly this topic';
}

/** The rules of a topic filter's shape (section 4.7). */
const FILTER_STATEMENTS = 'MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1';

function subscribeBody(f: Fields): void {
  packetId(f, '3.8.2 [MQTT-2.3.1-1]', 'SUBACK answers with the same id');
  while (f.left > 0) {
    f.string('Topic Filter', `3.8.3 [MQTT-3.8.3-1, ${FILTER_STATEMENTS}]`, filterMeaning);
    f.byte('Requested QoS', '3.8.3 [MQTT-3-8.3-4]', (b) => ({
      value: `0x${b.toString(16).padStart(2, '0')}`,
      meaning: 'the highest QoS wanted for messages on this filter (the server may grant less)',
      parts: [
        { bits: bitPattern(b, 0xfc), name: 'Reserved', value: b & 0xfc ? 'must be 0' : '0, as required', spec: '3.8.3 [MQTT-3-8.3-4]' },
        { bits: bitPattern(b, 0x03), name: 'QoS', value: QOS_NAMES[b & 3] ?? '3: not allowed', spec: '3.8.3' },
      ],
    }));
  }
}

function subackBody(f: Fields): void {
  packetId(f, '3.9.2 [MQTT-2.3.1-7]', 'the id of the SUBSCRIBE this answers');
  let n = 1;
  while (f.left > 0) {
    const index = n++;
    f.byte('Return Code', '3.9.3 [MQTT-3.9.3-1, MQTT-3.9.3-2]', (code) => ({
      value:
        code === 0x80
          ? '0x80 = Failure'
          : code <= 2
            ? `0x0${code} = Success, maximum QoS ${code}`
            : `0x${code.toString(16).padStart(2, '0')}: not allowed`,
      meaning: `the answer for topic filter ${index} of the SUBSCRIBE, in order`,
    }));
  }
}

function unsubscribeBody(f: Fields): void {
  packetId(f, '3.10.2 [MQTT-2.3.1-1]', 'UNSUBACK answers with the same id');
  while (f.left > 0) {
    f.string('Topic Filter', `3.10.3 [MQTT-3.10.3-1, ${FILTER_STATEMENTS}]`, () => 'a filter to cancel, exactly as it was subscribed');
  }
}
