/**
 * CONNECT and CONNACK field by field, for explain-packets.ts: the Connect Flags bit by bit, what
 * the platform reads in the Client Identifier's extension and in the User Name, and what a
 * refusing Connect Return code usually means on the platform.
 */
import { platformConnackHint } from '../aliyun/connack.js';
import type { PacketType } from '../packet/types.js';
import { parseClientId } from '../sign/extension.js';
import type { ExplainPart } from './explain-model.js';
import { binary8, bitPattern, QOS_NAMES } from './explain-walk.js';
import type { Body, Fields } from './explain-walk.js';

/** Connect Return code meanings (section 3.2.2.3, Table 3.1). */
const RETURN_CODES = [
  'Connection Accepted',
  'Connection Refused, unacceptable protocol version',
  'Connection Refused, identifier rejected',
  'Connection Refused, Server unavailable',
  'Connection Refused, bad user name or password',
  'Connection Refused, not authorized',
] as const;

export const CONNECT_BODIES = { connect: connectBody, connack: connackBody } as const satisfies Partial<Record<PacketType, Body>>;

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
