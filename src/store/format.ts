/**
 * The store file: a header, then an append-only log of records.
 *
 *   header (24 bytes)
 *     0  8  magic "aliotobx"
 *     8  2  format version (1), big-endian like everything below
 *    10  2  header length (24), so that a later version can grow it
 *    12  8  the next key to give out (keys are never reused, even across compactions)
 *    20  4  CRC-32 of bytes 0..20
 *
 *   record (11 bytes + body)
 *     0  2  marker FE A1: where a reader looks for the next record after damage (FE never occurs
 *           in UTF-8, so a text payload cannot hold a false marker)
 *     2  4  CRC-32 of bytes 6..end (type, length and body)
 *     6  1  type: 1 add, 2 sent, 3 acknowledged
 *     7  4  body length
 *    11     body
 *       add           key (8), flags (1: bit 0 retain, bit 1 has a packet id), packet id (2, or 0),
 *                     topic length (2), topic (UTF-8), payload (the rest)
 *       sent          key (8), packet id (2)
 *       acknowledged  key (8)
 *
 * A record is valid when its marker, length, CRC and body all check. A writer only ever appends
 * whole records, so a crash leaves at worst one torn record at the end; anything else that does not
 * check is damage. Compaction writes the live messages as `add` records carrying their packet ids.
 */
import { crc32 } from './crc32.js';

export const MAGIC = 'aliotobx';
export const VERSION = 1;
export const HEADER_SIZE = 24;
export const RECORD_HEADER_SIZE = 11;
const MARKER_0 = 0xfe;
const MARKER_1 = 0xa1;

const ADD = 1;
const SENT = 2;
const ACKNOWLEDGED = 3;
const ADD_FIXED = 13;
const SENT_BODY = 10;
const ACKNOWLEDGED_BODY = 8;
const RETAIN = 1;
const HAS_PACKET_ID = 2;
/** The longest MQTT payload (268,435,455 bytes less the least PUBLISH overhead) plus the add fields. */
const MAX_BODY = ADD_FIXED + 0xffff + 268_435_455;
const KEY_HIGH_MAX = 0x1fffff; // keys stay below 2^53, exact in a JavaScript number

/** Bytes an `add` record takes for a topic of `topicBytes` UTF-8 bytes and a payload. */
export const addRecordSize = (topicBytes: number, payloadBytes: number): number =>
  RECORD_HEADER_SIZE + ADD_FIXED + topicBytes + payloadBytes;
export const SENT_RECORD_SIZE = RECORD_HEADER_SIZE + SENT_BODY;
export const ACKNOWLEDGED_RECORD_SIZE = RECORD_HEADER_SIZE + ACKNOWLEDGED_BODY;

export type LogRecord =
  | {
      readonly type: 'add';
      readonly key: number;
      readonly topic: string;
      /** A view into the bytes read. */
      readonly payload: Uint8Array;
      readonly retain: boolean;
      readonly packetId: number | undefined;
      readonly size: number;
    }
  | { readonly type: 'sent'; readonly key: number; readonly packetId: number; readonly size: number }
  | { readonly type: 'acknowledged'; readonly key: number; readonly size: number };

const putU16 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = v >>> 8;
  b[at + 1] = v;
};
const putU32 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
};
const putKey = (b: Uint8Array, at: number, key: number): void => {
  putU32(b, at, Math.floor(key / 0x1_0000_0000));
  putU32(b, at + 4, key >>> 0);
};
const getU16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const getU32 = (b: Uint8Array, at: number): number =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
/** The key at `at`, or -1 when it is out of range (0, or beyond 2^53). */
const getKey = (b: Uint8Array, at: number): number => {
  const high = getU32(b, at);
  const key = high * 0x1_0000_0000 + getU32(b, at + 4);
  return high > KEY_HIGH_MAX || key === 0 ? -1 : key;
};

/**
 * Topics are nearly always ASCII, and a plain loop writes a short one in less time than
 * Buffer#write takes to check its arguments. A UTF-8 length equal to the string's length means
 * every character is ASCII.
 */
function writeTopic(b: Buffer, at: number, topic: string, topicBytes: number): void {
  if (topicBytes !== topic.length) {
    b.write(topic, at, topicBytes, 'utf8');
    return;
  }
  for (let i = 0; i < topicBytes; i++) b[at + i] = topic.charCodeAt(i);
}

/**
 * A growable buffer of encoded records (and, for a new file, the header), written out by the
 * caller. One per store for the records of a tick; compaction uses another.
 */
export class RecordWriter {
  bytes: Buffer;
  length = 0;
  private readonly initial: number;

  constructor(initial: number) {
    this.initial = initial;
    this.bytes = Buffer.allocUnsafeSlow(initial);
  }

  header(nextKey: number): void {
    const at = this.reserve(HEADER_SIZE);
    const b = this.bytes;
    b.write(MAGIC, at, 'latin1');
    putU16(b, at + 8, VERSION);
    putU16(b, at + 10, HEADER_SIZE);
    putKey(b, at + 12, nextKey);
    putU32(b, at + 20, crc32(b, at, at + 20));
  }

  /** `topicBytes` is the topic's UTF-8 length, which the caller has already counted. */
  add(key: number, topic: string, topicBytes: number, payload: Uint8Array, retain: boolean, packetId: number | undefined): void {
    const size = addRecordSize(topicBytes, payload.length);
    const at = this.reserve(size);
    const b = this.bytes;
    const body = at + RECORD_HEADER_SIZE;
    putKey(b, body, key);
    b[body + 8] = (retain ? RETAIN : 0) | (packetId === undefined ? 0 : HAS_PACKET_ID);
    putU16(b, body + 9, packetId ?? 0);
    putU16(b, body + 11, topicBytes);
    writeTopic(b, body + ADD_FIXED, topic, topicBytes);
    b.set(payload, body + ADD_FIXED + topicBytes);
    this.seal(at, ADD, size);
  }

  sent(key: number, packetId: number): void {
    const at = this.reserve(SENT_RECORD_SIZE);
    putKey(this.bytes, at + RECORD_HEADER_SIZE, key);
    putU16(this.bytes, at + RECORD_HEADER_SIZE + 8, packetId);
    this.seal(at, SENT, SENT_RECORD_SIZE);
  }

  acknowledged(key: number): void {
    const at = this.reserve(ACKNOWLEDGED_RECORD_SIZE);
    putKey(this.bytes, at + RECORD_HEADER_SIZE, key);
    this.seal(at, ACKNOWLEDGED, ACKNOWLEDGED_RECORD_SIZE);
  }

  /**
   * Empties the buffer. One that grew past 1 MiB (for a large message) goes back to its first
   * size; below that it is kept, so that busy ticks do not allocate and grow it every time.
   */
  clear(): void {
    this.length = 0;
    if (this.bytes.length > Math.max(4 * this.initial, 1 << 20)) this.bytes = Buffer.allocUnsafeSlow(this.initial);
  }

  /** Drops everything from `length` on (an `add` that was refused after encoding). */
  truncate(length: number): void {
    this.length = length;
  }

  private reserve(size: number): number {
    const at = this.length;
    const needed = at + size;
    if (needed > this.bytes.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(needed, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, at);
      this.bytes = grown;
    }
    this.length = needed;
    return at;
  }

  private seal(at: number, type: number, size: number): void {
    const b = this.bytes;
    b[at] = MARKER_0;
    b[at + 1] = MARKER_1;
    b[at + 6] = type;
    putU32(b, at + 7, size - RECORD_HEADER_SIZE);
    putU32(b, at + 2, crc32(b, at + 6, at + size));
  }
}

export type Header = { readonly version: number; readonly nextKey: number } | 'short' | 'damaged' | 'not-a-store';

/**
 * The header at the start of `bytes`:
 * - 'short': fewer bytes than a header, agreeing with one as far as they go (a file whose
 *   creation was cut short);
 * - 'damaged': the magic is there but the rest does not check, or the magic is damaged but a
 *   valid record follows where the first one goes; either way the records can still be read;
 * - 'not-a-store': anything else.
 * A header of a later version is returned as read, for the caller to refuse.
 */
export function readHeader(bytes: Buffer, length: number): Header {
  const magic = Buffer.from(MAGIC, 'latin1');
  const magicOk = bytes.subarray(0, Math.min(length, magic.length)).equals(magic.subarray(0, Math.min(length, magic.length)));
  if (length < HEADER_SIZE) return magicOk ? 'short' : 'not-a-store';
  const version = getU16(bytes, 8);
  const nextKey = getKey(bytes, 12);
  if (magicOk && getU32(bytes, 20) === crc32(bytes, 0, 20)) {
    if (version !== VERSION) return { version, nextKey: 0 };
    if (getU16(bytes, 10) === HEADER_SIZE && nextKey > 0) return { version, nextKey };
  }
  return magicOk || readRecord(bytes, HEADER_SIZE, length) !== undefined ? 'damaged' : 'not-a-store';
}

/** The valid record that starts at `at` in `bytes[..end)`, or undefined when there is none. */
export function readRecord(bytes: Buffer, at: number, end: number): LogRecord | undefined {
  if (end - at < RECORD_HEADER_SIZE || bytes[at] !== MARKER_0 || bytes[at + 1] !== MARKER_1) return undefined;
  const type = bytes[at + 6];
  const bodyLength = getU32(bytes, at + 7);
  if (bodyLength > MAX_BODY || bodyLength > end - at - RECORD_HEADER_SIZE) return undefined;
  const fits =
    type === ADD ? bodyLength >= ADD_FIXED : type === SENT ? bodyLength === SENT_BODY : type === ACKNOWLEDGED && bodyLength === ACKNOWLEDGED_BODY;
  if (!fits) return undefined;
  const size = RECORD_HEADER_SIZE + bodyLength;
  if (getU32(bytes, at + 2) !== crc32(bytes, at + 6, at + size)) return undefined;
  const body = at + RECORD_HEADER_SIZE;
  const key = getKey(bytes, body);
  if (key < 0) return undefined;
  if (type === ACKNOWLEDGED) return { type: 'acknowledged', key, size };
  if (type === SENT) {
    const packetId = getU16(bytes, body + 8);
    return packetId === 0 ? undefined : { type: 'sent', key, packetId, size };
  }
  const flags = bytes[body + 8]!;
  const packetId = getU16(bytes, body + 9);
  const topicBytes = getU16(bytes, body + 11);
  const hasPacketId = (flags & HAS_PACKET_ID) !== 0;
  if ((flags & ~(RETAIN | HAS_PACKET_ID)) !== 0 || hasPacketId !== (packetId !== 0) || ADD_FIXED + topicBytes > bodyLength) return undefined;
  const topicAt = body + ADD_FIXED;
  return {
    type: 'add',
    key,
    topic: bytes.toString('utf8', topicAt, topicAt + topicBytes),
    payload: bytes.subarray(topicAt + topicBytes, at + size),
    retain: (flags & RETAIN) !== 0,
    packetId: hasPacketId ? packetId : undefined,
    size,
  };
}

/** Where the next valid record after `from` starts, or -1 when none does. */
export function findNextRecord(bytes: Buffer, from: number, end: number): number {
  for (let at = bytes.indexOf(MARKER_0, from); at !== -1 && at < end; at = bytes.indexOf(MARKER_0, at + 1)) {
    if (readRecord(bytes, at, end) !== undefined) return at;
  }
  return -1;
}
