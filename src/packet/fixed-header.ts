/**
 * The fixed header (section 2.2), read and written here and nowhere else:
 *
 *   type(4 bits) flags(4 bits) | Remaining Length: 1..4 bytes, 7 bits each, least significant first
 */
import { MqttProtocolError } from './errors.js';
import { PACKET_TYPE_NAMES } from './types.js';
import type { PacketType } from './types.js';

/** Largest Remaining Length a 4-byte varint can carry (section 2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;
/** The most bytes a fixed header takes: the first byte and four of Remaining Length. */
export const MAX_HEADER_LENGTH = 5;

/**
 * A fixed header as read from the wire. Readers fill one they own (`readFixedHeader`) rather
 * than get a new one per frame: the stream decoder reads one per packet on its hot path.
 */
export class FixedHeader {
  /** The first byte: packet type in the high four bits, flags in the low four. */
  firstByte = 0;
  /** Bytes of the fixed header itself: 2..5. */
  headerLength = 0;
  /** The Remaining Length: bytes of variable header and payload after the fixed header. */
  bodyLength = 0;

  /** The packet type (Table 2.1); a header that was read has a defined one. */
  get type(): PacketType {
    return PACKET_TYPE_NAMES[this.firstByte >> 4]!;
  }

  /** The low four bits of the first byte (for PUBLISH: DUP, QoS, RETAIN). */
  get flags(): number {
    return this.firstByte & 0x0f;
  }

  /** The whole frame: fixed header and body. */
  get frameLength(): number {
    return this.headerLength + this.bodyLength;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * The first byte of each fixed header, by packet type: type in the high nibble, and the flags of
 * Table 2.2 in the low nibble (0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE; 0000 otherwise)
 * [MQTT-2.2.2-1]. PUBLISH carries DUP/QoS/RETAIN instead and is computed per packet.
 */
export const FIRST_BYTE: Readonly<Record<Exclude<PacketType, 'publish'>, number>> = {
  connect: 0x10,
  connack: 0x20,
  puback: 0x40,
  pubrec: 0x50,
  pubrel: 0x62,
  pubcomp: 0x70,
  subscribe: 0x82,
  suback: 0x90,
  unsubscribe: 0xa2,
  unsuback: 0xb0,
  pingreq: 0xc0,
  pingresp: 0xd0,
  disconnect: 0xe0,
};

/** Bytes taken by the Remaining Length field for a body of `length` bytes. */
export function remainingLengthSize(length: number): number {
  return length < 128 ? 1 : length < 16_384 ? 2 : length < 2_097_152 ? 3 : 4;
}

/** Whole frame size for a body of `length` bytes, refusing what a 4-byte varint cannot carry. */
export function frameLength(type: PacketType, bodyLength: number): number {
  if (bodyLength > MAX_REMAINING_LENGTH) {
    throw new MqttProtocolError(
      'value-out-of-range',
      `packet body of ${bodyLength} bytes exceeds the 268,435,455 a Remaining Length can carry`,
      type,
    );
  }
  return 1 + remainingLengthSize(bodyLength) + bodyLength;
}

/** Writes the first byte and the Remaining Length; returns the position of the body. */
export function writeFixedHeader(target: Uint8Array, pos: number, firstByte: number, bodyLength: number): number {
  target[pos++] = firstByte;
  let x = bodyLength;
  while (x >= 128) {
    target[pos++] = (x & 0x7f) | 0x80; // high bit: another byte follows
    x >>>= 7;
  }
  target[pos++] = x;
  return pos;
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * The only valid first byte for each packet type number (Table 2.2), or -1 for PUBLISH (whose
 * flags are checked with its body) and -2 for the reserved types 0 and 15.
 */
const VALID_FIRST_BYTE = Int16Array.from({ length: 16 }, (_, n) => {
  const type = PACKET_TYPE_NAMES[n];
  return type === undefined ? -2 : type === 'publish' ? -1 : FIRST_BYTE[type];
});

/**
 * Reads the fixed header at `pos` into `header`. Returns false when the bytes end first (read
 * again with more). Throws `MqttProtocolError` for a reserved packet type, reserved flags not as
 * Table 2.2 says [MQTT-2.2.2-1], or a Remaining Length longer than 4 bytes or not minimal. The
 * first byte is checked as soon as it is there, before the Remaining Length.
 */
export function readFixedHeader(buf: Uint8Array, pos: number, end: number, header: FixedHeader): boolean {
  if (pos >= end) return false;
  const firstByte = buf[pos]!;
  checkFirstByte(firstByte, pos);
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    if (pos + i >= end) return false;
    const b = buf[pos + i]!;
    value += (b & 0x7f) * multiplier;
    if (b < 0x80) {
      if (b === 0 && i > 1) {
        throw new MqttProtocolError(
          'remaining-length-not-minimal',
          `Remaining Length ${value} is encoded in ${i} bytes, not in its shortest form`,
          PACKET_TYPE_NAMES[firstByte >> 4],
          pos + 1,
        );
      }
      header.firstByte = firstByte;
      header.headerLength = i + 1;
      header.bodyLength = value;
      return true;
    }
    multiplier *= 128;
  }
  throw new MqttProtocolError(
    'remaining-length-overflow',
    'Remaining Length continues past 4 bytes (section 2.2.3)',
    PACKET_TYPE_NAMES[firstByte >> 4],
    pos + 1,
  );
}

/** The statements that fix a packet type's flags where one more specific than [MQTT-2.2.2-1] exists. */
const FLAGS_STATEMENT: Partial<Record<PacketType, string>> = {
  pubrel: 'MQTT-3.6.1-1',
  subscribe: 'MQTT-3.8.1-1',
  unsubscribe: 'MQTT-3.10.1-1',
};

/**
 * Checks the first byte of a fixed header: a defined packet type, and reserved flags as Table 2.2
 * says [MQTT-2.2.2-1, MQTT-2.2.2-2]. PUBLISH flags are checked with its body.
 */
function checkFirstByte(firstByte: number, offset: number): void {
  const valid = VALID_FIRST_BYTE[firstByte >> 4]!;
  if (valid === firstByte || valid === -1) return;
  const typeNumber = firstByte >> 4;
  const type = PACKET_TYPE_NAMES[typeNumber];
  if (type === undefined) {
    throw new MqttProtocolError('reserved-packet-type', `packet type ${typeNumber} is reserved`, undefined, offset);
  }
  const bits = (b: number): string => (b & 0x0f).toString(2).padStart(4, '0');
  throw new MqttProtocolError(
    'invalid-flags',
    `${type.toUpperCase()} flags must be ${bits(valid)}, got ${bits(firstByte)}`,
    type,
    offset,
    FLAGS_STATEMENT[type] ?? 'MQTT-2.2.2-1',
  );
}
