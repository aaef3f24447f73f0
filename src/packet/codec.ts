/**
 * Whole-packet encoding and decoding: the fixed header (section 2.2) and dispatch to the
 * per-packet modules.
 *
 * Encoding validates and sizes first, then writes in one forward pass, so a refused packet or a
 * too-small target leaves the target untouched. Decoding reads one frame in place: strings are
 * decoded, byte fields (payload, password, will message) are views into the input.
 */
import { ackLength, readAck, writeAck } from './ack.js';
import { connackLength, readConnack, writeConnack } from './connack.js';
import { connectLength, readConnect, writeConnect } from './connect.js';
import { MqttProtocolError } from './errors.js';
import { frameLength, writeFixedHeader } from './primitives.js';
import { publishFirstByte, publishTopic, readPublish, writePublish } from './publish.js';
import { readSuback, subackLength, writeSuback } from './suback.js';
import { readSubscribe, subscribeLength, writeSubscribe } from './subscribe.js';
import { readUnsubscribe, unsubscribeLength, writeUnsubscribe } from './unsubscribe.js';
import type { DisconnectPacket, Packet, PacketType, PingreqPacket, PingrespPacket, PublishPacket } from './types.js';
import { PACKET_TYPE_NAMES } from './types.js';

// ---------------------------------------------------------------------------------------------
// Constant packets: built once, shared. Treat the frames as read-only.

/** PINGREQ as it goes on the wire: `C0 00`. */
export const PINGREQ_FRAME: Uint8Array = Uint8Array.of(0xc0, 0x00);
/** PINGRESP as it goes on the wire: `D0 00`. */
export const PINGRESP_FRAME: Uint8Array = Uint8Array.of(0xd0, 0x00);
/** DISCONNECT as it goes on the wire: `E0 00`. */
export const DISCONNECT_FRAME: Uint8Array = Uint8Array.of(0xe0, 0x00);

const PINGREQ: PingreqPacket = Object.freeze({ type: 'pingreq' });
const PINGRESP: PingrespPacket = Object.freeze({ type: 'pingresp' });
const DISCONNECT: DisconnectPacket = Object.freeze({ type: 'disconnect' });

/**
 * The first byte of each fixed header, by packet type: type in the high nibble, and the flags of
 * Table 2.2 in the low nibble (0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE; 0000 otherwise)
 * [MQTT-2.2.2-1]. PUBLISH carries DUP/QoS/RETAIN instead and is computed per packet.
 */
const FIRST_BYTE: Readonly<Record<Exclude<PacketType, 'publish'>, number>> = {
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

// ---------------------------------------------------------------------------------------------
// Encoding

/** Remaining Length of `p`, after checking every field; throws `MqttProtocolError`. */
function bodyLength(p: Packet): number {
  switch (p.type) {
    case 'publish':
      return publishTopic(p).length + (p.qos === 0 ? 0 : 2) + p.payload.length;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return ackLength(p);
    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      return 0;
    case 'connect':
      return connectLength(p);
    case 'connack':
      return connackLength(p);
    case 'subscribe':
      return subscribeLength(p);
    case 'suback':
      return subackLength(p);
    case 'unsubscribe':
      return unsubscribeLength(p);
    default:
      throw new MqttProtocolError(
        'reserved-packet-type',
        `unknown packet type ${JSON.stringify((p as { type?: unknown } | null)?.type)}`,
      );
  }
}

function writeFrame(p: Exclude<Packet, PublishPacket>, body: number, target: Uint8Array, offset: number): number {
  const pos = writeFixedHeader(target, offset, FIRST_BYTE[p.type], body);
  switch (p.type) {
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return writeAck(p, target, pos);
    case 'connect':
      return writeConnect(p, target, pos);
    case 'connack':
      return writeConnack(p, target, pos);
    case 'subscribe':
      return writeSubscribe(p, target, pos);
    case 'suback':
      return writeSuback(p, target, pos);
    case 'unsubscribe':
      return writeUnsubscribe(p, target, pos);
    default:
      return pos; // PINGREQ, PINGRESP, DISCONNECT: the fixed header is the whole packet
  }
}

/** Exact number of bytes `encode(packet)` produces. Throws `MqttProtocolError` for an invalid packet. */
export function encodedLength(packet: Packet): number {
  return frameLength(packet.type, bodyLength(packet));
}

/**
 * Encodes `packet` into `target` at `offset` and returns the number of bytes written.
 *
 * Every field is checked and the whole size computed before the first byte is written: an
 * invalid packet or a target without room throws `MqttProtocolError` (code `buffer-too-small` for
 * the latter) and leaves `target` untouched.
 */
export function encodeInto(packet: Packet, target: Uint8Array, offset: number): number {
  if (packet.type === 'publish') {
    const topic = publishTopic(packet);
    const body = topic.length + (packet.qos === 0 ? 0 : 2) + packet.payload.length;
    const total = frameLength('publish', body);
    checkRoom(packet, total, target, offset);
    writePublish(packet, topic, target, writeFixedHeader(target, offset, publishFirstByte(packet), body));
    return total;
  }
  const body = bodyLength(packet);
  const total = frameLength(packet.type, body);
  checkRoom(packet, total, target, offset);
  writeFrame(packet, body, target, offset);
  return total;
}

/**
 * `encodeInto` for a writer that keeps a slab: the bytes written, or, when the packet does not fit
 * before the end of `target`, minus its size (nothing written). Invalid packets still throw.
 * One validation per packet, and no exception on the common "slab is full" path.
 * @internal
 */
export function encodeIntoIfRoom(packet: Packet, target: Uint8Array, offset: number): number {
  if (packet.type === 'publish') {
    const topic = publishTopic(packet);
    const body = topic.length + (packet.qos === 0 ? 0 : 2) + packet.payload.length;
    const total = frameLength('publish', body);
    if (offset + total > target.length) return -total;
    writePublish(packet, topic, target, writeFixedHeader(target, offset, publishFirstByte(packet), body));
    return total;
  }
  const body = bodyLength(packet);
  const total = frameLength(packet.type, body);
  if (offset + total > target.length) return -total;
  writeFrame(packet, body, target, offset);
  return total;
}

function checkRoom(packet: Packet, total: number, target: Uint8Array, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + total > target.length) {
    throw new MqttProtocolError(
      'buffer-too-small',
      `${packet.type.toUpperCase()} needs ${total} bytes at offset ${offset}; the target holds ${target.length}`,
      packet.type,
      offset,
    );
  }
}

/**
 * Encodes `packet` into new memory of exactly its size (one allocation) and returns it.
 *
 * The result is a Uint8Array (small frames are carved from a shared slab, as Node's own
 * `Buffer.allocUnsafe` does; do not count on it being a Buffer, and copy a frame before
 * transferring its memory elsewhere). PINGREQ, PINGRESP and DISCONNECT return shared prebuilt
 * frames: do not modify them.
 */
export function encode(packet: Packet): Uint8Array {
  switch (packet.type) {
    case 'publish': {
      const topic = publishTopic(packet);
      const body = topic.length + (packet.qos === 0 ? 0 : 2) + packet.payload.length;
      const target = allocate(frameLength('publish', body));
      writePublish(packet, topic, target, writeFixedHeader(target, 0, publishFirstByte(packet), body));
      return target;
    }
    case 'pingreq':
      return PINGREQ_FRAME;
    case 'pingresp':
      return PINGRESP_FRAME;
    case 'disconnect':
      return DISCONNECT_FRAME;
  }
  const body = bodyLength(packet);
  const target = allocate(frameLength(packet.type, body));
  writeFrame(packet, body, target, 0);
  return target;
}

/** Frames up to this size are carved from a shared slab; larger ones get memory of their own. */
const POOLED_MAX = 2048;
const SLAB_SIZE = 16 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

function allocate(size: number): Uint8Array {
  if (size > POOLED_MAX) return Buffer.allocUnsafe(size);
  // A caller may transfer a frame's memory (to a worker, say), which detaches the whole slab:
  // start a new one rather than fail every later encode.
  if (slabUsed + size > SLAB_SIZE || slab.byteLength === 0) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const memory = new Uint8Array(slab, slabUsed, size);
  slabUsed = (slabUsed + size + 7) & ~7; // keep each frame 8-byte aligned
  return memory;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * The only valid first byte for each packet type number (Table 2.2), or -1 for PUBLISH (whose
 * flags are checked with its body) and -2 for the reserved types 0 and 15.
 */
const VALID_FIRST_BYTE = Int16Array.from({ length: 16 }, (_, n) => {
  const type = PACKET_TYPE_NAMES[n];
  return type === undefined ? -2 : type === 'publish' ? -1 : FIRST_BYTE[type];
});

/**
 * Checks the first byte of a fixed header: a defined packet type, and reserved flags as Table 2.2
 * says [MQTT-2.2.2-1, MQTT-2.2.2-2]. PUBLISH flags are checked with its body.
 */
export function checkFirstByte(firstByte: number, offset: number): void {
  const valid = VALID_FIRST_BYTE[firstByte >> 4]!;
  if (valid === firstByte || valid === -1) return;
  const typeNumber = firstByte >> 4;
  const type = PACKET_TYPE_NAMES[typeNumber];
  if (type === undefined) {
    throw new MqttProtocolError('reserved-packet-type', `packet type ${typeNumber} is reserved`, undefined, offset);
  }
  throw new MqttProtocolError(
    'invalid-flags',
    `${type.toUpperCase()} flags must be ${(valid & 0x0f).toString(2).padStart(4, '0')}, got ${(firstByte & 0x0f)
      .toString(2)
      .padStart(4, '0')} [MQTT-2.2.2-1]`,
    type,
    offset,
  );
}

/**
 * Parses the fixed header at `pos`. Returns -1 when more bytes are needed, otherwise
 * `bodyLength * 8 + headerLength` (headerLength is 2..5, so one number carries both without an
 * allocation on this hot path). Throws for a reserved type, bad flags, or a Remaining Length that
 * is longer than 4 bytes or not minimal.
 */
export function parseFixedHeader(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  checkFirstByte(buf[pos]!, pos);
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    if (pos + i >= end) return -1;
    const b = buf[pos + i]!;
    value += (b & 0x7f) * multiplier;
    if (b < 0x80) {
      if (b === 0 && i > 1) {
        const type = PACKET_TYPE_NAMES[buf[pos]! >> 4];
        throw new MqttProtocolError(
          'remaining-length-not-minimal',
          `Remaining Length ${value} is encoded in ${i} bytes, not in its shortest form`,
          type,
          pos + 1,
        );
      }
      return value * 8 + i + 1;
    }
    multiplier *= 128;
  }
  throw new MqttProtocolError(
    'remaining-length-overflow',
    'Remaining Length continues past 4 bytes (section 2.2.3)',
    PACKET_TYPE_NAMES[buf[pos]! >> 4],
    pos + 4,
  );
}

/**
 * Decodes the body of a frame whose first byte is at `headerAt` and whose body is `start..end`.
 * `memory` and `base` are `buf.buffer` and `buf.byteOffset`, passed in so that a caller decoding
 * many frames from one chunk reads them once.
 */
export function decodeBody(
  buf: Uint8Array,
  headerAt: number,
  start: number,
  end: number,
  memory: ArrayBufferLike,
  base: number,
): Packet {
  const firstByte = buf[headerAt]!;
  switch (firstByte >> 4) {
    case 3:
      return readPublish(buf, firstByte & 0x0f, start, end, headerAt, memory, base);
    case 4:
      return readAck('puback', buf, start, end);
    case 1:
      return readConnect(buf, start, end);
    case 2:
      return readConnack(buf, start, end);
    case 5:
      return readAck('pubrec', buf, start, end);
    case 6:
      return readAck('pubrel', buf, start, end);
    case 7:
      return readAck('pubcomp', buf, start, end);
    case 8:
      return readSubscribe(buf, start, end);
    case 9:
      return readSuback(buf, start, end);
    case 10:
      return readUnsubscribe(buf, start, end);
    case 11:
      return readAck('unsuback', buf, start, end);
  }
  // 12..14: PINGREQ, PINGRESP, DISCONNECT have no body.
  if (end !== start) {
    const type = PACKET_TYPE_NAMES[firstByte >> 4]!;
    throw new MqttProtocolError(
      'invalid-remaining-length',
      `${type.toUpperCase()} has no body, but Remaining Length is ${end - start}`,
      type,
      headerAt + 1,
    );
  }
  return firstByte === 0xc0 ? PINGREQ : firstByte === 0xd0 ? PINGRESP : DISCONNECT;
}

/** One decoded frame and the number of bytes it took. */
export interface DecodedFrame {
  readonly packet: Packet;
  /** Bytes the frame occupied, fixed header included. */
  readonly length: number;
}

/**
 * Decodes the one frame that starts at `offset` and ignores whatever follows it. Returns `null`
 * when the bytes end before the frame does ("need more"); throws `MqttProtocolError` for a
 * violation. Offsets in errors are positions in `bytes`.
 */
export function decodeFrame(buf: Uint8Array, offset = 0): DecodedFrame | null {
  const header = parseFixedHeader(buf, offset, buf.length);
  if (header < 0) return null;
  const headerLength = header & 7;
  const length = (header - headerLength) / 8 + headerLength;
  if (offset + length > buf.length) return null;
  return {
    packet: decodeBody(buf, offset, offset + headerLength, offset + length, buf.buffer, buf.byteOffset),
    length,
  };
}

/**
 * Decodes `bytes` as exactly one whole packet. Throws `MqttProtocolError`: code `truncated` when
 * the bytes end inside the frame, `trailing-bytes` when bytes follow it, or the violation found.
 */
export function decode(buf: Uint8Array): Packet {
  const header = parseFixedHeader(buf, 0, buf.length);
  const headerLength = header & 7;
  const length = (header - headerLength) / 8 + headerLength;
  if (header < 0 || length > buf.length) {
    throw new MqttProtocolError(
      'truncated',
      `${buf.length} bytes end before the packet does`,
      buf.length > 0 ? PACKET_TYPE_NAMES[buf[0]! >> 4] : undefined,
      buf.length,
    );
  }
  const packet = decodeBody(buf, 0, headerLength, length, buf.buffer, buf.byteOffset);
  if (length !== buf.length) {
    throw new MqttProtocolError(
      'trailing-bytes',
      `${buf.length - length} bytes follow the ${packet.type.toUpperCase()} frame`,
      packet.type,
      length,
    );
  }
  return packet;
}
