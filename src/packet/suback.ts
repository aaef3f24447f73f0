/**
 * SUBACK (section 3.9): server to client, one return code per filter, in order [MQTT-3.9.3-1].
 *
 *   90 RL | packet id | return code+   (0, 1, 2 = granted QoS; 0x80 = failure) [MQTT-3.9.3-2]
 */
import { MqttProtocolError } from './errors.js';
import { checkPacketId, readPacketId, writeUint16 } from './primitives.js';
import type { SubackPacket, SubackReturnCode } from './types.js';

function isSubackCode(c: unknown): c is SubackReturnCode {
  return c === 0 || c === 1 || c === 2 || c === 0x80;
}

export function subackLength(p: SubackPacket): number {
  checkPacketId(p.packetId, 'suback');
  const codes = p.returnCodes;
  if (!Array.isArray(codes) || codes.length === 0) {
    throw new MqttProtocolError('invalid-remaining-length', 'SUBACK needs at least one return code', 'suback');
  }
  for (let i = 0; i < codes.length; i++) {
    if (!isSubackCode(codes[i])) {
      throw new MqttProtocolError(
        'invalid-suback-code',
        `returnCodes[${i}] must be 0, 1, 2 or 0x80, got ${String(codes[i])}`,
        'suback',
        undefined,
        'MQTT-3.9.3-2',
      );
    }
  }
  return 2 + codes.length;
}

export function writeSuback(p: SubackPacket, target: Uint8Array, pos: number): number {
  pos = writeUint16(target, pos, p.packetId);
  for (const c of p.returnCodes) target[pos++] = c;
  return pos;
}

/** Decodes a SUBACK body at `start..end`; `lengthAt` is where its Remaining Length is. */
export function readSuback(buf: Uint8Array, start: number, end: number, lengthAt: number): SubackPacket {
  if (end - start < 2) {
    throw new MqttProtocolError('truncated', 'SUBACK ends before its packet identifier', 'suback', start);
  }
  if (end - start === 2) {
    throw new MqttProtocolError(
      'invalid-remaining-length',
      'SUBACK needs at least one return code after its packet identifier',
      'suback',
      lengthAt,
    );
  }
  const packetId = readPacketId(buf, start, 'suback');
  const returnCodes: SubackReturnCode[] = [];
  for (let pos = start + 2; pos < end; pos++) {
    const c = buf[pos]!;
    if (!isSubackCode(c)) {
      throw new MqttProtocolError(
        'invalid-suback-code',
        `SUBACK return code 0x${c.toString(16).padStart(2, '0')} is not 0, 1, 2 or 0x80`,
        'suback',
        pos,
        'MQTT-3.9.3-2',
      );
    }
    returnCodes.push(c);
  }
  return { type: 'suback', packetId, returnCodes };
}
