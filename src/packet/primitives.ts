/**
 * The building blocks every packet body shares: two-byte integers, length-prefixed UTF-8 strings
 * and binary fields (section 1.5), and the topic name/filter rules (section 4.7). The fixed header
 * has its own module, fixed-header.ts.
 *
 * Encoding follows one rule throughout: validate and size first (the `*Length` functions throw),
 * then write in one forward pass (the `write*` functions never throw and never patch earlier
 * bytes). Decoding works on a byte range of a Buffer and reads every field in place.
 */
import { MqttProtocolError } from './errors.js';
import type { PacketType } from './types.js';

/** Largest string or binary field: a two-byte length prefix (section 1.5.3). */
export const MAX_FIELD_LENGTH = 65_535;

// ---------------------------------------------------------------------------------------------
// Two-byte integers and packet identifiers

/**
 * The statement that asks for a non-zero packet identifier, by packet type: [MQTT-2.3.1-1] for the
 * packets that start an exchange, and for the acks the one that makes them carry the identifier
 * of what they answer (which is never 0).
 */
const PACKET_ID_STATEMENT: Partial<Record<PacketType, string>> = {
  puback: 'MQTT-2.3.1-6',
  pubrec: 'MQTT-2.3.1-6',
  pubrel: 'MQTT-2.3.1-6',
  pubcomp: 'MQTT-2.3.1-6',
  suback: 'MQTT-2.3.1-7',
  unsuback: 'MQTT-2.3.1-7',
};

function packetIdStatement(type: PacketType): string {
  return PACKET_ID_STATEMENT[type] ?? 'MQTT-2.3.1-1';
}

export function checkPacketId(id: unknown, type: PacketType): void {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 65_535) {
    throw new MqttProtocolError(
      'invalid-packet-id',
      `packet identifier must be an integer 1..65535, got ${String(id)}`,
      type,
      undefined,
      packetIdStatement(type),
    );
  }
}

export function writeUint16(target: Uint8Array, pos: number, value: number): number {
  target[pos] = value >>> 8;
  target[pos + 1] = value & 0xff;
  return pos + 2;
}

export function readPacketId(buf: Uint8Array, pos: number, type: PacketType): number {
  const id = (buf[pos]! << 8) | buf[pos + 1]!;
  if (id === 0) {
    throw new MqttProtocolError('invalid-packet-id', 'packet identifier 0 is not allowed', type, pos, packetIdStatement(type));
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// UTF-8 strings: measuring with validation, writing, reading with validation

/**
 * How a string field is checked beyond well-formed UTF-8: `TEXT` any string without U+0000
 * [MQTT-1.5.3-1, MQTT-1.5.3-2]; `TOPIC_NAME` a PUBLISH topic, non-empty and without `+` or `#`
 * [MQTT-3.3.2-2, MQTT-4.7.3-1]; `TOPIC_FILTER` a filter with wildcards placed as section 4.7.1 says.
 */
export type StringRule = typeof TEXT | typeof TOPIC_NAME | typeof TOPIC_FILTER;
export const TEXT = 0;
export const TOPIC_NAME = 1;
export const TOPIC_FILTER = 2;

/** Strings up to this many code units are checked and copied by loops; longer ones natively. */
const SHORT_STRING = 24;

/**
 * UTF-8 byte length of `value`, after checking it is a string MQTT may carry: no U+0000, no lone
 * surrogate (a JavaScript string can hold one; UTF-8 cannot), at most 65,535 bytes, and the
 * topic rules when asked. Throws `MqttProtocolError` naming `field`.
 */
export function utf8Length(value: unknown, type: PacketType, field: string, rule: StringRule): number {
  if (typeof value !== 'string') {
    throw new MqttProtocolError('invalid-utf8', `${field} must be a string, got ${typeof value}`, type, undefined, 'MQTT-1.5.3-1');
  }
  // Native counting is cheaper than a loop even for short strings. Equal counts mean ASCII
  // only, where the one thing left to look for is U+0000; anything else gets the full check.
  let bytes = Buffer.byteLength(value, 'utf8');
  if (bytes !== value.length) {
    bytes = checkedUtf8Length(value, type, field);
  } else if (value.includes('\0')) {
    throw new MqttProtocolError('invalid-utf8', `${field} contains U+0000 at index ${value.indexOf('\0')}`, type, undefined, 'MQTT-1.5.3-2');
  }
  if (bytes > MAX_FIELD_LENGTH) {
    throw new MqttProtocolError(
      'field-too-long',
      `${field} is ${bytes} bytes of UTF-8; the limit is 65,535`,
      type,
    );
  }
  if (rule !== TEXT) checkTopicShape(value, type, field, rule, undefined);
  return bytes;
}

/** UTF-8 length counted code unit by code unit, refusing U+0000 and lone surrogates. */
function checkedUtf8Length(value: string, type: PacketType, field: string): number {
  const n = value.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) {
        throw new MqttProtocolError('invalid-utf8', `${field} contains U+0000 at index ${i}`, type, undefined, 'MQTT-1.5.3-2');
      }
    } else if (c < 0x800) {
      bytes += 1;
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes += 2;
    } else if (c <= 0xdbff && i + 1 < n && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A well-formed surrogate pair: one code point above U+FFFF, four UTF-8 bytes.
      bytes += 2;
      i++;
    } else {
      throw new MqttProtocolError(
        'invalid-utf8',
        `${field} contains a lone surrogate U+${c.toString(16).toUpperCase()} at index ${i}, which UTF-8 cannot encode`,
        type,
        undefined,
        'MQTT-1.5.3-1',
      );
    }
  }
  return bytes;
}

/**
 * Native UTF-8 writer that takes a target offset (Buffer's own `utf8Write`, which also works on
 * a plain Uint8Array), so no subarray view is created per string. Checked once at load; where a
 * runtime lacks it, TextEncoder does the same job.
 */
const nativeUtf8Write = detectUtf8Write();
function detectUtf8Write(): (target: Uint8Array, value: string, offset: number) => number {
  const write = (Buffer.prototype as unknown as { utf8Write?: (this: Uint8Array, s: string, o: number) => number })
    .utf8Write;
  const encoder = new TextEncoder();
  const fallback = (target: Uint8Array, value: string, offset: number): number =>
    encoder.encodeInto(value, target.subarray(offset)).written;
  if (typeof write !== 'function') return fallback;
  try {
    const probe = new Uint8Array(4);
    if (write.call(probe, '\u00e9', 1) === 2 && probe[1] === 0xc3 && probe[2] === 0xa9) {
      return (target, value, offset) => write.call(target, value, offset);
    }
  } catch {
    // fall through
  }
  return fallback;
}


/**
 * Writes a two-byte length and the UTF-8 bytes of a string already checked by `utf8Length`
 * (so the output length is known to fit). Returns the position after it.
 */
export function writeUtf8(target: Uint8Array, pos: number, value: string): number {
  const start = pos + 2;
  const n = value.length;
  let length: number;
  if (n <= SHORT_STRING) {
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      target[start + i] = c;
    }
    length = i === n ? n : i + nativeUtf8Write(target, value.slice(i), start + i);
  } else {
    length = nativeUtf8Write(target, value, start);
  }
  target[pos] = length >>> 8;
  target[pos + 1] = length & 0xff;
  return start + length;
}

/** Checks a binary field (password, will message) fits its two-byte length prefix. */
export function binaryLength(value: unknown, type: PacketType, field: string): number {
  if (!(value instanceof Uint8Array)) {
    throw new MqttProtocolError('value-out-of-range', `${field} must be a Uint8Array`, type);
  }
  if (value.length > MAX_FIELD_LENGTH) {
    throw new MqttProtocolError(
      'field-too-long',
      `${field} is ${value.length} bytes; the limit is 65,535`,
      type,
    );
  }
  return value.length;
}

/**
 * A view of `start..end` of `buf` without copying. A plain Uint8Array: constructing one is much
 * cheaper than a Buffer (`subarray` on a Buffer builds a Buffer), and it is what the types promise.
 */
export function view(buf: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

export function writeBinary(target: Uint8Array, pos: number, value: Uint8Array): number {
  target[pos] = value.length >>> 8;
  target[pos + 1] = value.length & 0xff;
  target.set(value, pos + 2);
  return pos + 2 + value.length;
}

/**
 * Buffer's direct Latin-1 decoder (`latin1Slice`, what `toString('latin1')` calls after its
 * argument handling; it works on any Uint8Array), checked once at load, with `toString` as the
 * fallback.
 */
const latin1Slice: (buf: Uint8Array, start: number, end: number) => string = (() => {
  const slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, s: number, e: number) => string })
    .latin1Slice;
  try {
    if (typeof slice === 'function' && slice.call(Uint8Array.of(0x78, 0x41, 0x79), 1, 2) === 'A') {
      return (buf, start, end) => slice.call(buf, start, end);
    }
  } catch {
    // fall through to the portable path
  }
  return (buf, start, end) => Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
})();

// The WHATWG decoder in fatal mode refuses every ill-formed sequence MQTT forbids: overlong forms,
// encoded surrogates (ED A0..BF ..), code points above U+10FFFF, truncated sequences.
// ignoreBOM keeps a leading U+FEFF in the string [MQTT-1.5.3-3].
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes the string field at `at` (its two-byte length prefix, already read as `length`) as an
 * MQTT UTF-8 string [MQTT-1.5.3-1, MQTT-1.5.3-2]. The caller has checked that the bytes lie inside
 * the frame. Errors are placed at `at`, the field's first byte.
 */
export function readUtf8(buf: Uint8Array, at: number, length: number, type: PacketType, field: string): string {
  const pos = at + 2;
  const end = pos + length;
  let ascii = true;
  for (let i = pos; i < end; i++) {
    const b = buf[i]!;
    if (b === 0) {
      throw new MqttProtocolError('invalid-utf8', `${field} contains U+0000 (its byte ${i - pos})`, type, at, 'MQTT-1.5.3-2');
    }
    if (b >= 0x80) ascii = false;
  }
  // Bytes below 0x80 read the same in Latin-1 and UTF-8, and Latin-1 is the cheaper decoder.
  if (ascii) return latin1Slice(buf, pos, end);
  try {
    return utf8Decoder.decode(buf.subarray(pos, end));
  } catch {
    throw new MqttProtocolError('invalid-utf8', `${field} is not well-formed UTF-8`, type, at, 'MQTT-1.5.3-1');
  }
}

/** Reads the two-byte length at `pos` and checks the field fits before `end`. */
export function fieldLength(buf: Uint8Array, pos: number, end: number, type: PacketType, field: string): number {
  if (pos + 2 > end) {
    throw new MqttProtocolError('truncated', `${field} length runs past the end of the packet`, type, pos);
  }
  const length = (buf[pos]! << 8) | buf[pos + 1]!;
  if (pos + 2 + length > end) {
    throw new MqttProtocolError(
      'truncated',
      `${field} says ${length} bytes but the packet ends ${end - pos - 2} bytes later`,
      type,
      pos,
    );
  }
  return length;
}

// ---------------------------------------------------------------------------------------------
// Topic names and filters (section 4.7)

/**
 * Checks what section 4.7 asks beyond UTF-8: at least one character [MQTT-4.7.3-1]; for a topic
 * name no wildcard [MQTT-4.7.1-1]; for a filter `#` alone in the last level [MQTT-4.7.1-2] and
 * `+` alone in its level [MQTT-4.7.1-3]. `offset` places a decode-time error.
 */
export function checkTopicShape(
  value: string,
  type: PacketType,
  field: string,
  rule: StringRule,
  offset: number | undefined,
): void {
  const n = value.length;
  if (n === 0) {
    throw new MqttProtocolError(
      rule === TOPIC_NAME ? 'invalid-topic' : 'invalid-topic-filter',
      `${field} must have at least one character`,
      type,
      offset,
      'MQTT-4.7.3-1',
    );
  }
  if (rule === TOPIC_NAME) {
    if (value.includes('+') || value.includes('#')) {
      throw new MqttProtocolError(
        'invalid-topic',
        `${field} ${JSON.stringify(value)} contains a wildcard; wildcards belong in subscriptions only`,
        type,
        offset,
        'MQTT-4.7.1-1',
      );
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c !== 0x23 && c !== 0x2b) continue;
    const alone =
      (i === 0 || value.charCodeAt(i - 1) === 0x2f) && (i === n - 1 || value.charCodeAt(i + 1) === 0x2f);
    if (!alone || (c === 0x23 && i !== n - 1)) {
      throw new MqttProtocolError(
        'invalid-topic-filter',
        c === 0x23
          ? `${field} ${JSON.stringify(value)}: '#' must be the whole last level (e.g. 'a/#')`
          : `${field} ${JSON.stringify(value)}: '+' must be a whole level (e.g. 'a/+/c')`,
        type,
        offset,
        c === 0x23 ? 'MQTT-4.7.1-2' : 'MQTT-4.7.1-3',
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// QoS

/** Refuses a QoS other than 0, 1 or 2; `statement` is the one the field's rule is numbered by. */
export function checkQos(qos: unknown, type: PacketType, field: string, statement: string): void {
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new MqttProtocolError('invalid-qos', `${field} must be 0, 1 or 2, got ${String(qos)}`, type, undefined, statement);
  }
}
