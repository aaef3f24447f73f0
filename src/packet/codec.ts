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
import { BufferTooSmallError, MqttProtocolError } from './errors.js';
import { FIRST_BYTE, FixedHeader, frameLength, readFixedHeader, writeFixedHeader } from './fixed-header.js';
import { publishFirstByte, publishLength, publishTopic, readPublish, writePublish } from './publish.js';
import { readSuback, subackLength, writeSuback } from './suback.js';
import { readSubscribe, subscribeLength, writeSubscribe } from './subscribe.js';
import { readUnsubscribe, unsubscribeLength, writeUnsubscribe } from './unsubscribe.js';
import type { DisconnectPacket, Packet, PingreqPacket, PingrespPacket, PublishPacket, PayloadView } from './types.js';
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

// ---------------------------------------------------------------------------------------------
// Encoding

/** Remaining Length of `p`, after checking every field; throws `MqttProtocolError`. */
function bodyLength(p: Packet): number {
  switch (p.type) {
    case 'publish':
      return publishLength(p, publishTopic(p));
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

/** Writes a PUBLISH frame whose topic wire form and body length the caller has from sizing it. */
function writePublishFrame(p: PublishPacket, topic: Uint8Array, body: number, target: Uint8Array, offset: number): void {
  writePublish(p, topic, target, writeFixedHeader(target, offset, publishFirstByte(p), body));
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
 * invalid packet throws `MqttProtocolError`, a target without room at `offset` throws
 * `BufferTooSmallError`, and either leaves `target` untouched.
 */
export function encodeInto(packet: Packet, target: Uint8Array, offset: number): number {
  if (packet.type === 'publish') {
    const topic = publishTopic(packet);
    const body = publishLength(packet, topic);
    const total = frameLength('publish', body);
    checkRoom(packet, total, target, offset);
    writePublishFrame(packet, topic, body, target, offset);
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
    const body = publishLength(packet, topic);
    const total = frameLength('publish', body);
    if (offset + total > target.length) return -total;
    writePublishFrame(packet, topic, body, target, offset);
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
    throw new BufferTooSmallError(packet.type, total, offset, target.length);
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
      const body = publishLength(packet, topic);
      const target = allocate(frameLength('publish', body));
      writePublishFrame(packet, topic, body, target, 0);
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

/**
 * Frames up to this size are carved from a shared slab; larger ones get memory of their own.
 * @internal
 */
export const POOLED_MAX = 2048;
const SLAB_SIZE = 16 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

/**
 * Memory for one frame of `size` bytes (the encoder's output, the decoder's gathered frames).
 * @internal
 */
export function allocate(size: number): Uint8Array {
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
 * Decodes the body of the frame at `at`, whose fixed header is `header`. `memory` and `base` are
 * `buf.buffer` and `buf.byteOffset`, passed in so that a caller decoding many frames from one
 * chunk reads them once.
 * @internal
 */
export function decodeBody(
  buf: Uint8Array,
  at: number,
  header: FixedHeader,
  memory: ArrayBufferLike,
  base: number,
  view?: PayloadView,
): Packet {
  const start = at + header.headerLength;
  const end = start + header.bodyLength;
  // By type number (Table 2.1) rather than by name: a switch over small integers is one jump,
  // one over strings a comparison per case, which a PINGREQ would pay eleven times.
  switch (header.firstByte >> 4) {
    case 3:
      return readPublish(buf, header.flags, start, end, at, memory, base, view);
    case 4:
      return readAck('puback', buf, start, end, at + 1);
    case 1:
      return readConnect(buf, start, end);
    case 2:
      return readConnack(buf, start, end, at + 1);
    case 5:
      return readAck('pubrec', buf, start, end, at + 1);
    case 6:
      return readAck('pubrel', buf, start, end, at + 1);
    case 7:
      return readAck('pubcomp', buf, start, end, at + 1);
    case 8:
      return readSubscribe(buf, start, end);
    case 9:
      return readSuback(buf, start, end, at + 1);
    case 10:
      return readUnsubscribe(buf, start, end);
    case 11:
      return readAck('unsuback', buf, start, end, at + 1);
  }
  // 12..14: PINGREQ, PINGRESP, DISCONNECT have no body.
  if (end !== start) {
    throw new MqttProtocolError(
      'invalid-remaining-length',
      `${header.type.toUpperCase()} has no body, but Remaining Length is ${end - start}`,
      header.type,
      at + 1,
    );
  }
  const type = header.firstByte >> 4;
  return type === 12 ? PINGREQ : type === 13 ? PINGRESP : DISCONNECT;
}

/** One decoded frame and the number of bytes it took. */
export interface DecodedFrame {
  readonly packet: Packet;
  /** Bytes the frame occupied, fixed header included. */
  readonly length: number;
}

/** The fixed header `decode` and `decodeFrame` read into: they finish with it before returning. */
const scratch = new FixedHeader();

/**
 * Decodes the one frame that starts at `offset` and ignores whatever follows it. Returns `null`
 * when the bytes end before the frame does ("need more"); throws `MqttProtocolError` for a
 * violation. Offsets in errors are positions in `bytes`.
 */
export function decodeFrame(buf: Uint8Array, offset = 0): DecodedFrame | null {
  const header = scratch;
  if (!readFixedHeader(buf, offset, buf.length, header)) return null;
  const length = header.frameLength;
  if (offset + length > buf.length) return null;
  return { packet: decodeBody(buf, offset, header, buf.buffer, buf.byteOffset), length };
}

/**
 * Decodes `bytes` as exactly one whole packet. Throws `MqttProtocolError`: code `truncated` when
 * the bytes end inside the frame, `trailing-bytes` when bytes follow it, or the violation found.
 */
export function decode(buf: Uint8Array): Packet {
  const header = scratch;
  if (!readFixedHeader(buf, 0, buf.length, header) || header.frameLength > buf.length) {
    throw new MqttProtocolError(
      'truncated',
      `${buf.length} bytes end before the packet does`,
      buf.length > 0 ? PACKET_TYPE_NAMES[buf[0]! >> 4] : undefined,
      buf.length,
    );
  }
  const length = header.frameLength;
  const packet = decodeBody(buf, 0, header, buf.buffer, buf.byteOffset);
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
