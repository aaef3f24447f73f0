/**
 * CONNECT (section 3.1): client to server, always the first packet [MQTT-3.1.0-1].
 *
 *   10 RL | 00 04 'M' 'Q' 'T' 'T' | 04 | flags | keepalive(2) | clientId [willTopic willMessage]
 *   [userName] [password]
 *
 * flags: 7 user name, 6 password, 5 will retain, 4-3 will QoS, 2 will, 1 clean session, 0 reserved.
 */
import { MqttProtocolError } from './errors.js';
import {
  TEXT,
  TOPIC_NAME,
  binaryLength,
  checkQos,
  checkTopicShape,
  fieldLength,
  readUtf8,
  utf8Length,
  view,
  writeBinary,
  writeUint16,
  writeUtf8,
} from './primitives.js';
import type { ConnectPacket, QoS, Will } from './types.js';

const USERNAME = 0x80;
const PASSWORD = 0x40;
const WILL_RETAIN = 0x20;
const WILL_QOS = 0x18;
const WILL = 0x04;
const CLEAN = 0x02;
const RESERVED = 0x01;

/** Protocol name `MQTT` with its length prefix, then protocol level 4 (sections 3.1.2.1-2). */
const PROTOCOL = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04] as const;

/** Body length (Remaining Length) of a CONNECT, after checking every field. */
export function connectLength(p: ConnectPacket): number {
  let n = PROTOCOL.length + 1 + 2; // protocol name and level, connect flags, keep alive
  const ka = p.keepalive;
  if (typeof ka !== 'number' || !Number.isInteger(ka) || ka < 0 || ka > 65_535) {
    throw new MqttProtocolError(
      'value-out-of-range',
      `keepalive must be an integer 0..65535 seconds, got ${String(ka)}`,
      'connect',
    );
  }
  const clientIdLength = utf8Length(p.clientId, 'connect', 'clientId', TEXT);
  if (clientIdLength === 0 && !p.clean) {
    throw new MqttProtocolError(
      'invalid-client-id',
      'a zero-length clientId needs clean session (clean: true)',
      'connect',
      undefined,
      'MQTT-3.1.3-7',
    );
  }
  n += 2 + clientIdLength;
  const will = p.will;
  if (will !== undefined) {
    checkQos(will.qos, 'connect', 'will.qos', 'MQTT-3.1.2-14');
    n += 2 + utf8Length(will.topic, 'connect', 'will.topic', TOPIC_NAME);
    n += 2 + binaryLength(will.payload, 'connect', 'will.payload');
  }
  if (p.username !== undefined) n += 2 + utf8Length(p.username, 'connect', 'username', TEXT);
  if (p.password !== undefined) {
    if (p.username === undefined) {
      throw new MqttProtocolError('invalid-connect-flags', 'a password needs a username', 'connect', undefined, 'MQTT-3.1.2-22');
    }
    n += 2 + binaryLength(p.password, 'connect', 'password');
  }
  return n;
}

/** Writes the CONNECT body at `pos` (fields already checked by `connectLength`). */
export function writeConnect(p: ConnectPacket, target: Uint8Array, pos: number): number {
  // Protocol name "MQTT" and level 4, written out: a loop over a constant array costs more.
  target[pos] = 0x00;
  target[pos + 1] = 0x04;
  target[pos + 2] = 0x4d;
  target[pos + 3] = 0x51;
  target[pos + 4] = 0x54;
  target[pos + 5] = 0x54;
  target[pos + 6] = 0x04;
  pos += 7;
  const will = p.will;
  let flags = p.clean ? CLEAN : 0;
  if (will !== undefined) flags |= WILL | (will.qos << 3) | (will.retain ? WILL_RETAIN : 0);
  if (p.username !== undefined) flags |= USERNAME;
  if (p.password !== undefined) flags |= PASSWORD;
  target[pos++] = flags;
  pos = writeUint16(target, pos, p.keepalive);
  pos = writeUtf8(target, pos, p.clientId); // [MQTT-3.1.3-1] payload order
  if (will !== undefined) {
    pos = writeUtf8(target, pos, will.topic);
    pos = writeBinary(target, pos, will.payload);
  }
  if (p.username !== undefined) pos = writeUtf8(target, pos, p.username);
  if (p.password !== undefined) pos = writeBinary(target, pos, p.password);
  return pos;
}

/** The fixed-size fields of the variable header (section 3.1.2), with their offsets in it. */
const VARIABLE_HEADER = [
  ['protocol name', 0],
  ['protocol level', 6],
  ['connect flags', 7],
  ['keep alive', 8],
] as const;
const VARIABLE_HEADER_LENGTH = 10;

/** The error for a body of `length` bytes that ends inside the variable header: placed at the field cut off. */
function cutShort(start: number, length: number): MqttProtocolError {
  const [field, at] = [...VARIABLE_HEADER].reverse().find(([, offset]) => offset <= length)!;
  return new MqttProtocolError('truncated', `CONNECT ends inside its ${field}`, 'connect', start + at);
}

/** Decodes a CONNECT body occupying `start..end` of `buf`. */
export function readConnect(buf: Uint8Array, start: number, end: number): ConnectPacket {
  let pos = start;
  if (end - start < VARIABLE_HEADER_LENGTH) throw cutShort(start, end - start);
  for (let i = 0; i < 6; i++) {
    if (buf[pos + i] !== PROTOCOL[i]) {
      throw new MqttProtocolError(
        'invalid-protocol-name',
        'protocol name must be "MQTT" (00 04 4D 51 54 54)',
        'connect',
        pos,
        'MQTT-3.1.2-1',
      );
    }
  }
  pos += 6;
  if (buf[pos] !== 4) {
    throw new MqttProtocolError(
      'unsupported-protocol-level',
      `protocol level ${buf[pos]} is not 4 (MQTT 3.1.1); a server answers CONNACK 1`,
      'connect',
      pos,
      'MQTT-3.1.2-2',
    );
  }
  pos++;
  const flagsAt = pos;
  const flags = buf[pos++]!;
  if (flags & RESERVED) {
    throw new MqttProtocolError('invalid-connect-flags', 'reserved connect flag bit 0 must be 0', 'connect', flagsAt, 'MQTT-3.1.2-3');
  }
  const willQos = (flags & WILL_QOS) >> 3;
  if (flags & WILL) {
    if (willQos === 3) {
      throw new MqttProtocolError('invalid-connect-flags', 'will QoS 3 is not allowed', 'connect', flagsAt, 'MQTT-3.1.2-14');
    }
  } else if (willQos !== 0) {
    throw new MqttProtocolError('invalid-connect-flags', 'will QoS must be 0 without the will flag', 'connect', flagsAt, 'MQTT-3.1.2-13');
  } else if (flags & WILL_RETAIN) {
    throw new MqttProtocolError('invalid-connect-flags', 'will retain must be 0 without the will flag', 'connect', flagsAt, 'MQTT-3.1.2-15');
  }
  if (flags & PASSWORD && !(flags & USERNAME)) {
    throw new MqttProtocolError(
      'invalid-connect-flags',
      'password flag set without the user name flag',
      'connect',
      flagsAt,
      'MQTT-3.1.2-22',
    );
  }
  const keepalive = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;

  let length = fieldLength(buf, pos, end, 'connect', 'clientId');
  const clientId = readUtf8(buf, pos, length, 'connect', 'clientId');
  pos += 2 + length;

  let will: Will | undefined;
  if (flags & WILL) {
    length = fieldLength(buf, pos, end, 'connect', 'will topic');
    const topic = readUtf8(buf, pos, length, 'connect', 'will topic');
    checkTopicShape(topic, 'connect', 'will topic', TOPIC_NAME, pos);
    pos += 2 + length;
    length = fieldLength(buf, pos, end, 'connect', 'will message');
    const payload = view(buf, pos + 2, pos + 2 + length);
    pos += 2 + length;
    will = { topic, payload, qos: willQos as QoS, retain: (flags & WILL_RETAIN) !== 0 };
  }
  let username: string | undefined;
  if (flags & USERNAME) {
    length = fieldLength(buf, pos, end, 'connect', 'user name');
    username = readUtf8(buf, pos, length, 'connect', 'user name');
    pos += 2 + length;
  }
  let password: Uint8Array | undefined;
  if (flags & PASSWORD) {
    length = fieldLength(buf, pos, end, 'connect', 'password');
    password = view(buf, pos + 2, pos + 2 + length);
    pos += 2 + length;
  }
  if (pos !== end) {
    throw new MqttProtocolError('trailing-bytes', `${end - pos} bytes after the last CONNECT field`, 'connect', pos);
  }
  const packet: { -readonly [K in keyof ConnectPacket]: ConnectPacket[K] } = {
    type: 'connect',
    clientId,
    keepalive,
    clean: (flags & CLEAN) !== 0,
  };
  if (username !== undefined) packet.username = username;
  if (password !== undefined) packet.password = password;
  if (will !== undefined) packet.will = will;
  return packet;
}
