/**
 * PUBACK (4), PUBREC (5), PUBREL (6), PUBCOMP (7) and UNSUBACK (11) share one shape:
 *
 *   t0 02 | packet id           (PUBREL: 62 02 | packet id, flags 0010 [MQTT-3.6.1-1])
 */
import { MqttProtocolError } from './errors.js';
import { checkPacketId, readPacketId, writeUint16 } from './primitives.js';
import type { PubackPacket, PubcompPacket, PubrecPacket, PubrelPacket, UnsubackPacket } from './types.js';

export type AckPacket = PubackPacket | PubrecPacket | PubrelPacket | PubcompPacket | UnsubackPacket;

export function ackLength(p: AckPacket): number {
  checkPacketId(p.packetId, p.type);
  return 2;
}

export function writeAck(p: AckPacket, target: Uint8Array, pos: number): number {
  return writeUint16(target, pos, p.packetId);
}

/** Decodes an ack body at `start..end`; `lengthAt` is where its Remaining Length is. */
export function readAck<T extends AckPacket['type']>(
  type: T,
  buf: Uint8Array,
  start: number,
  end: number,
  lengthAt: number,
): Extract<AckPacket, { type: T }> {
  if (end - start !== 2) {
    throw new MqttProtocolError(
      'invalid-remaining-length',
      `${type.toUpperCase()} has 2 bytes of body, not ${end - start}`,
      type,
      lengthAt,
    );
  }
  return { type, packetId: readPacketId(buf, start, type) } as Extract<AckPacket, { type: T }>;
}
