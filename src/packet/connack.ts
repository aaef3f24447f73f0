/**
 * CONNACK (section 3.2): server to client, the first packet the server sends [MQTT-3.2.0-1].
 *
 *   20 02 | acknowledge flags (bit 0 = session present, 7-1 reserved) | return code
 */
import { MqttProtocolError } from './errors.js';
import type { ConnackPacket, ConnectReturnCode } from './types.js';

export function connackLength(p: ConnackPacket): number {
  const rc = p.returnCode;
  if (typeof rc !== 'number' || !Number.isInteger(rc) || rc < 0 || rc > 5) {
    throw new MqttProtocolError('invalid-return-code', `CONNACK return code must be 0..5, got ${String(rc)}`, 'connack');
  }
  if (p.sessionPresent && rc !== 0) {
    // A refusal always carries Session Present 0.
    throw new MqttProtocolError(
      'invalid-connack-flags',
      'session present must be false when the connection is refused',
      'connack',
      undefined,
      'MQTT-3.2.2-4',
    );
  }
  return 2;
}

export function writeConnack(p: ConnackPacket, target: Uint8Array, pos: number): number {
  target[pos] = p.sessionPresent ? 1 : 0;
  target[pos + 1] = p.returnCode;
  return pos + 2;
}

/** Decodes a CONNACK body at `start..end`; `lengthAt` is where its Remaining Length is. */
export function readConnack(buf: Uint8Array, start: number, end: number, lengthAt: number): ConnackPacket {
  if (end - start !== 2) {
    throw new MqttProtocolError('invalid-remaining-length', `CONNACK has 2 bytes of body, not ${end - start}`, 'connack', lengthAt);
  }
  const flags = buf[start]!;
  const returnCode = buf[start + 1]!;
  if (flags > 1) {
    // Section 3.2.2.1: bits 7-1 are reserved and must be 0.
    throw new MqttProtocolError('invalid-connack-flags', 'CONNACK flag bits 7-1 are reserved and must be 0', 'connack', start);
  }
  if (returnCode > 5) {
    throw new MqttProtocolError('invalid-return-code', `CONNACK return code ${returnCode} is reserved`, 'connack', start + 1);
  }
  if (flags === 1 && returnCode !== 0) {
    throw new MqttProtocolError('invalid-connack-flags', 'session present with a refusal', 'connack', start, 'MQTT-3.2.2-4');
  }
  return { type: 'connack', sessionPresent: flags === 1, returnCode: returnCode as ConnectReturnCode };
}
