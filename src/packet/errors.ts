import type { PacketType } from './types.js';

/**
 * Every way a byte sequence (or a packet value given to the encoder) can break MQTT 3.1.1.
 * Tests and callers branch on these codes, never on message text.
 */
export type MqttProtocolErrorCode =
  /** Remaining Length continues past its fourth byte (section 2.2.3). */
  | 'remaining-length-overflow'
  /** Remaining Length uses more bytes than its value needs (e.g. `80 00` for 0). */
  | 'remaining-length-not-minimal'
  /** Remaining Length does not fit the packet type (e.g. PUBACK with other than 2). */
  | 'invalid-remaining-length'
  /** The frame is larger than the receiver's maximum packet size. */
  | 'packet-too-large'
  /** Control packet type 0 or 15, which are reserved. */
  | 'reserved-packet-type'
  /** Fixed header flag bits differ from Table 2.2 [MQTT-2.2.2-1, MQTT-2.2.2-2]. */
  | 'invalid-flags'
  /** QoS bits 11 [MQTT-3.3.1-4], or a QoS value outside 0..2 given to the encoder. */
  | 'invalid-qos'
  /** Packet identifier 0 where one is required [MQTT-2.3.1-1], or outside 1..65535. */
  | 'invalid-packet-id'
  /** CONNECT protocol name other than `MQTT` (section 3.1.2.1). */
  | 'invalid-protocol-name'
  /** CONNECT protocol level other than 4 (section 3.1.2.2); a server answers CONNACK 1. */
  | 'unsupported-protocol-level'
  /** CONNECT flags break the rules of section 3.1.2.3..3.1.2.9 [MQTT-3.1.2-11..22]. */
  | 'invalid-connect-flags'
  /** A zero-length ClientId with Clean Session 0 [MQTT-3.1.3-7] (encoder only). */
  | 'invalid-client-id'
  /** CONNACK reserved bits set, or Session Present with a refusal (section 3.2.2). */
  | 'invalid-connack-flags'
  /** CONNACK return code above 5 (section 3.2.2.3). */
  | 'invalid-return-code'
  /** SUBACK return code other than 0, 1, 2 or 0x80 [MQTT-3.9.3-2]. */
  | 'invalid-suback-code'
  /** A string that is not well-formed UTF-8, holds U+0000, or a lone surrogate [MQTT-1.5.3-1/-2]. */
  | 'invalid-utf8'
  /** A string or binary field longer than 65,535 bytes (section 1.5.3). */
  | 'field-too-long'
  /** A value outside its field's range (keepalive, remaining length, ...). */
  | 'value-out-of-range'
  /** Empty topic name or a wildcard in a PUBLISH topic [MQTT-3.3.2-2, MQTT-4.7.1-1, MQTT-4.7.3-1]. */
  | 'invalid-topic'
  /** Topic filter with a misplaced `#` or `+`, or empty [MQTT-4.7.1-2, MQTT-4.7.1-3]. */
  | 'invalid-topic-filter'
  /** SUBSCRIBE requested-QoS byte with reserved bits set or QoS 3 [MQTT-3-8.3-4]. */
  | 'invalid-requested-qos'
  /** SUBSCRIBE or UNSUBSCRIBE with no topic filter [MQTT-3.8.3-3, MQTT-3.10.3-2]. */
  | 'empty-topic-filter-list'
  /** A field runs past the end of its frame, or the input ends before the frame does. */
  | 'truncated'
  /** Bytes left inside a frame after its last field, or after the frame given to `decode`. */
  | 'trailing-bytes'
  /**
   * A well-formed packet the receiver may not get at this point: a server's PUBLISH before
   * CONNACK [MQTT-3.2.0-1], a SUBSCRIBE from a server, an ack for an identifier nobody sent.
   * Found by the session, not the codec.
   */
  | 'unexpected-packet';

/**
 * A violation of MQTT 3.1.1 found while decoding bytes or encoding a packet value.
 *
 * On receipt the connection must be closed [MQTT-4.8.0-1]. Branch on `code`; show `detail` (what
 * is wrong, in a sentence), `statement` (the normative statement broken, when the specification
 * numbers one) and `offset` rather than taking the message apart: `message` is all of them in one
 * line for logs.
 *
 * `offset` follows one convention in every decoder path: it is the position of the first byte of
 * the field that breaks the rule. A length-prefixed field (a string, the will message, the
 * password) starts at its two-byte length prefix, whatever inside it is wrong; a flag or a bit
 * field is placed at its byte; a Remaining Length that is too long, not minimal, or wrong for the
 * packet type at its first byte (the frame's second); a frame over `maxPacketSize` at its first
 * byte. What is missing is placed where it should start: a field cut off by the end of its frame,
 * an empty topic filter list, and the end of the bytes when they stop inside a frame. Extra bytes
 * are placed at the first of them. Positions count within the bytes given to `decode` or
 * `decodeFrame`, and within the stream since the decoder started (or was reset) for
 * `PacketDecoder`. An encoder error has no offset: a packet value is refused before any position
 * exists.
 */
export class MqttProtocolError extends Error {
  override readonly name = 'MqttProtocolError';
  readonly code: MqttProtocolErrorCode;
  readonly packetType: PacketType | undefined;
  readonly offset: number | undefined;
  /** What is wrong, in a sentence, without the statement id, code, type or offset. */
  readonly detail: string;
  /** The normative statement broken, e.g. `MQTT-3.3.1-4`, when the specification numbers one. */
  readonly statement: string | undefined;

  constructor(
    code: MqttProtocolErrorCode,
    detail: string,
    packetType?: PacketType,
    offset?: number,
    statement?: string,
  ) {
    const where = `${packetType === undefined ? '' : `, ${packetType.toUpperCase()}`}${offset === undefined ? '' : ` at byte ${offset}`}`;
    super(`${detail}${statement === undefined ? '' : ` [${statement}]`} [${code}${where}]`);
    this.code = code;
    this.packetType = packetType;
    this.offset = offset;
    this.detail = detail;
    this.statement = statement;
  }

  /**
   * The same error with `offset` moved by `base` (a frame decoded inside a larger stream).
   * @internal
   */
  shifted(base: number): MqttProtocolError {
    if (base === 0 || this.offset === undefined) return this;
    return new MqttProtocolError(this.code, this.detail, this.packetType, this.offset + base, this.statement);
  }
}

/**
 * `encodeInto` was given a target without room for the packet at the offset asked for (or an
 * offset that is not a position in it). A mistake of the caller's, not a protocol violation by
 * anyone: nothing was written.
 */
export class BufferTooSmallError extends Error {
  override readonly name = 'BufferTooSmallError';
  readonly code = 'buffer-too-small';
  readonly packetType: PacketType;
  /** Bytes the encoded packet takes. */
  readonly needed: number;
  /** Where the caller asked for it to be written. */
  readonly offset: number;
  /** The target's length. */
  readonly available: number;

  constructor(packetType: PacketType, needed: number, offset: number, available: number) {
    super(
      `${packetType.toUpperCase()} needs ${needed} bytes at offset ${offset}; the target holds ${available}` +
        (Number.isInteger(offset) && offset >= 0 ? '' : ' and the offset must be a whole number from 0'),
    );
    this.packetType = packetType;
    this.needed = needed;
    this.offset = offset;
    this.available = available;
  }
}
