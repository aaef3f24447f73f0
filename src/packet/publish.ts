/**
 * PUBLISH (section 3.3): both directions.
 *
 *   3f RL | topic name | [packet id, when QoS > 0] | payload (the rest of the frame)
 *
 * f = DUP(3) QoS(2-1) RETAIN(0) in the first byte.
 */
import { MqttProtocolError } from './errors.js';
import { checkPacketId, checkQos, fieldLength, writeUint16 } from './primitives.js';
import { readTopic, topicWireForm } from './topics.js';
import type { PublishPacket, QoS, PayloadView } from './types.js';

/**
 * Checks every field of a PUBLISH and returns its topic's wire form (length prefix and UTF-8),
 * which `publishLength` measures and `writePublish` copies as is. Kept apart from the length
 * because the wire form comes from a cache: the encoder looks it up once per packet.
 */
export function publishTopic(p: PublishPacket): Uint8Array {
  const qos = p.qos;
  if (qos !== 0) {
    checkQos(qos, 'publish', 'qos', 'MQTT-3.3.1-4');
    checkPacketId(p.packetId, 'publish');
  } else if (p.dup) {
    throw new MqttProtocolError('invalid-flags', 'DUP must be false on a QoS 0 PUBLISH', 'publish', undefined, 'MQTT-3.3.1-2');
  } else if (p.packetId !== undefined) {
    // [MQTT-2.3.1-5]: refuse rather than silently drop what the caller asked for.
    throw new MqttProtocolError('invalid-packet-id', 'a QoS 0 PUBLISH has no packet identifier', 'publish', undefined, 'MQTT-2.3.1-5');
  }
  if (!(p.payload instanceof Uint8Array)) {
    throw new MqttProtocolError('value-out-of-range', 'payload must be a Uint8Array', 'publish');
  }
  return topicWireForm(p.topic);
}

/** Body length (Remaining Length) of a PUBLISH checked by `publishTopic`, whose topic is `topic`. */
export function publishLength(p: PublishPacket, topic: Uint8Array): number {
  return topic.length + (p.qos === 0 ? 0 : 2) + p.payload.length;
}

/** First byte of a PUBLISH: type 3 and the DUP/QoS/RETAIN flags. */
export function publishFirstByte(p: PublishPacket): number {
  return 0x30 | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 0x01 : 0);
}

export function writePublish(p: PublishPacket, topic: Uint8Array, target: Uint8Array, pos: number): number {
  target.set(topic, pos);
  pos += topic.length;
  if (p.qos !== 0) pos = writeUint16(target, pos, p.packetId!);
  target.set(p.payload, pos);
  return pos + p.payload.length;
}

/**
 * Decodes a PUBLISH body; `flags` is the low nibble of the first byte (at `flagsAt`), checked
 * here. `memory` and `base` are `buf.buffer` and `buf.byteOffset`, which the stream decoder reads
 * once per chunk rather than once per packet (the getters are not free).
 */
export function readPublish(
  buf: Uint8Array,
  flags: number,
  start: number,
  end: number,
  flagsAt: number,
  memory: ArrayBufferLike,
  base: number,
  view: PayloadView | undefined,
): PublishPacket {
  const qos = (flags >> 1) & 3;
  if (qos === 3) {
    throw new MqttProtocolError('invalid-qos', 'PUBLISH QoS bits 11 are not allowed', 'publish', flagsAt, 'MQTT-3.3.1-4');
  }
  const dup = (flags & 0x08) !== 0;
  if (dup && qos === 0) {
    throw new MqttProtocolError('invalid-flags', 'DUP set on a QoS 0 PUBLISH', 'publish', flagsAt, 'MQTT-3.3.1-2');
  }
  const topicLength = fieldLength(buf, start, end, 'publish', 'topic');
  const topic = readTopic(buf, start, topicLength, memory, base);
  let pos = start + 2 + topicLength;
  if (qos === 0) {
    const payload = view === undefined ? new Uint8Array(memory, base + pos, end - pos) : view(memory as ArrayBuffer, base + pos, end - pos);
    return { type: 'publish', topic, payload, qos, retain: (flags & 1) !== 0, dup };
  }
  if (pos + 2 > end) {
    throw new MqttProtocolError('truncated', 'PUBLISH ends before its packet identifier', 'publish', pos);
  }
  // Read here rather than through readPacketId: QoS 1 decoding measured a few per cent slower so.
  const packetId = (buf[pos]! << 8) | buf[pos + 1]!;
  if (packetId === 0) {
    throw new MqttProtocolError('invalid-packet-id', 'packet identifier 0 is not allowed', 'publish', pos, 'MQTT-2.3.1-1');
  }
  pos += 2;
  return {
    type: 'publish',
    topic,
    payload: view === undefined ? new Uint8Array(memory, base + pos, end - pos) : view(memory as ArrayBuffer, base + pos, end - pos),
    qos: qos as QoS,
    retain: (flags & 1) !== 0,
    dup,
    packetId,
  };
}
