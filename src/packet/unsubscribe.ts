/**
 * UNSUBSCRIBE (section 3.10): client to server, flags 0010 [MQTT-3.10.1-1].
 *
 *   a2 RL | packet id | topic filter+   at least one [MQTT-3.10.3-2]
 */
import { MqttProtocolError } from './errors.js';
import {
  TOPIC_FILTER,
  checkPacketId,
  checkTopicShape,
  fieldLength,
  readPacketId,
  readUtf8,
  utf8Length,
  writeUint16,
  writeUtf8,
} from './primitives.js';
import type { UnsubscribePacket } from './types.js';

export function unsubscribeLength(p: UnsubscribePacket): number {
  checkPacketId(p.packetId, 'unsubscribe');
  const filters = p.topicFilters;
  if (!Array.isArray(filters) || filters.length === 0) {
    throw new MqttProtocolError(
      'empty-topic-filter-list',
      'UNSUBSCRIBE needs at least one topic filter',
      'unsubscribe',
      undefined,
      'MQTT-3.10.3-2',
    );
  }
  let n = 2;
  for (let i = 0; i < filters.length; i++) {
    n += 2 + utf8Length(filters[i], 'unsubscribe', `topicFilters[${i}]`, TOPIC_FILTER);
  }
  return n;
}

export function writeUnsubscribe(p: UnsubscribePacket, target: Uint8Array, pos: number): number {
  pos = writeUint16(target, pos, p.packetId);
  for (const f of p.topicFilters) pos = writeUtf8(target, pos, f);
  return pos;
}

export function readUnsubscribe(buf: Uint8Array, start: number, end: number): UnsubscribePacket {
  if (end - start < 2) {
    throw new MqttProtocolError('truncated', 'UNSUBSCRIBE ends before its packet identifier', 'unsubscribe', start);
  }
  const packetId = readPacketId(buf, start, 'unsubscribe');
  let pos = start + 2;
  if (pos === end) {
    throw new MqttProtocolError(
      'empty-topic-filter-list',
      'UNSUBSCRIBE carries no topic filter',
      'unsubscribe',
      pos,
      'MQTT-3.10.3-2',
    );
  }
  const topicFilters: string[] = [];
  while (pos < end) {
    const length = fieldLength(buf, pos, end, 'unsubscribe', 'topic filter');
    const filter = readUtf8(buf, pos, length, 'unsubscribe', 'topic filter');
    checkTopicShape(filter, 'unsubscribe', 'topic filter', TOPIC_FILTER, pos);
    topicFilters.push(filter);
    pos += 2 + length;
  }
  return { type: 'unsubscribe', packetId, topicFilters };
}
