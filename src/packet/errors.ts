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
  /** A field runs past the end of its frame. */
  | 'truncated'
  /** Bytes left inside a frame after its last field, or after the frame given to `decode`. */
  | 'trailing-bytes'
  /** `encodeInto` was given a target without room for the whole packet. */
  | 'buffer-too-small'
  /**
   * A well-formed packet the receiver may not get at this point: a server's PUBLISH before
   * CONNACK [MQTT-3.2.0-1], a SUBSCRIBE from a server, an ack for an identifier nobody sent.
   * Found by the session, not the codec.
   */
  | 'unexpected-packet';

/**
 * A violation of MQTT 3.1.1 found while decoding bytes or encoding a packet value.
 *
 * On receipt the connection must be closed [MQTT-4.8.0-1]. `offset` is the byte position of the
 * offending field: within the bytes given to `decode`, within the stream since the decoder was
 * created for `PacketDecoder`, and within the target for `encodeInto`. It is `undefined` when a
 * packet value is refused before any position exists.
 */
export class MqttProtocolError extends Error {
  override readonly name = 'MqttProtocolError';
  readonly code: MqttProtocolErrorCode;
  readonly packetType: PacketType | undefined;
  readonly offset: number | undefined;

  constructor(
    code: MqttProtocolErrorCode,
    message: string,
    packetType?: PacketType,
    offset?: number,
  ) {
    super(
      `${message} [${code}${packetType === undefined ? '' : `, ${packetType.toUpperCase()}`}${
        offset === undefined ? '' : ` at byte ${offset}`
      }]`,
    );
    this.code = code;
    this.packetType = packetType;
    this.offset = offset;
  }

  /** The same error with `offset` moved by `base` (a frame decoded inside a larger stream). */
  shifted(base: number): MqttProtocolError {
    if (base === 0 || this.offset === undefined) return this;
    const message = this.message.slice(0, this.message.lastIndexOf(' ['));
    const moved = new MqttProtocolError(this.code, message, this.packetType, this.offset + base);
    return moved;
  }
}
