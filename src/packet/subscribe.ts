/**
 * SUBSCRIBE (section 3.8): client to server, flags 0010 [MQTT-3.8.1-1].
 *
 *   82 RL | packet id | (topic filter, requested QoS)+   at least one pair [MQTT-3.8.3-3]
 */
import { MqttProtocolError } from './errors.js';
import {
  TOPIC_FILTER,
  checkPacketId,
  checkQos,
  checkTopicShape,
  fieldLength,
  readPacketId,
  readUtf8,
  utf8Length,
  writeUint16,
  writeUtf8,
} from './primitives.js';
import type { QoS, SubscribePacket, Subscription } from './types.js';

export function subscribeLength(p: SubscribePacket): number {
  checkPacketId(p.packetId, 'subscribe');
  const subs = p.subscriptions;
  if (!Array.isArray(subs) || subs.length === 0) {
    throw new MqttProtocolError(
      'empty-topic-filter-list',
      'SUBSCRIBE needs at least one topic filter',
      'subscribe',
      undefined,
      'MQTT-3.8.3-3',
    );
  }
  let n = 2;
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i]!;
    checkQos(s.qos, 'subscribe', `subscriptions[${i}].qos`, 'MQTT-3-8.3-4');
    n += 3 + utf8Length(s.topicFilter, 'subscribe', `subscriptions[${i}].topicFilter`, TOPIC_FILTER);
  }
  return n;
}

export function writeSubscribe(p: SubscribePacket, target: Uint8Array, pos: number): number {
  pos = writeUint16(target, pos, p.packetId);
  for (const s of p.subscriptions) {
    pos = writeUtf8(target, pos, s.topicFilter);
    target[pos++] = s.qos;
  }
  return pos;
}

export function readSubscribe(buf: Uint8Array, start: number, end: number): SubscribePacket {
  if (end - start < 2) {
    throw new MqttProtocolError('truncated', 'SUBSCRIBE ends before its packet identifier', 'subscribe', start);
  }
  const packetId = readPacketId(buf, start, 'subscribe');
  let pos = start + 2;
  if (pos === end) {
    throw new MqttProtocolError(
      'empty-topic-filter-list',
      'SUBSCRIBE carries no topic filter',
      'subscribe',
      pos,
      'MQTT-3.8.3-3',
    );
  }
  const subscriptions: Subscription[] = [];
  while (pos < end) {
    const length = fieldLength(buf, pos, end, 'subscribe', 'topic filter');
    const topicFilter = readUtf8(buf, pos, length, 'subscribe', 'topic filter');
    checkTopicShape(topicFilter, 'subscribe', 'topic filter', TOPIC_FILTER, pos);
    pos += 2 + length;
    if (pos === end) {
      throw new MqttProtocolError('truncated', 'topic filter without its requested QoS byte', 'subscribe', pos);
    }
    const qos = buf[pos]!;
    if (qos > 2) {
      // Reserved bits 7-2 are 0 and QoS is 0..2.
      throw new MqttProtocolError(
        'invalid-requested-qos',
        `requested QoS byte 0x${qos.toString(16).padStart(2, '0')} is not 0, 1 or 2`,
        'subscribe',
        pos,
        'MQTT-3-8.3-4',
      );
    }
    pos++;
    subscriptions.push({ topicFilter, qos: qos as QoS });
  }
  return { type: 'subscribe', packetId, subscriptions };
}
