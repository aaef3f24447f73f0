/**
 * PUBLISH and its acknowledgements (PUBACK, and QoS 2's PUBREC, PUBREL, PUBCOMP) field by field,
 * for explain-packets.ts, with what an Alink topic and an Alink payload mean on the platform
 * (explain-subscribe.ts reads filters with the same topics).
 */
import { AlinkTopics } from '../aliyun/alink/topics.js';
import type { AlinkRequestTopic } from '../aliyun/alink/topics.js';
import type { PacketType } from '../packet/types.js';
import { ack, packetId, preview, strictUtf8 } from './explain-walk.js';
import type { Body, Fields } from './explain-walk.js';

export const PUBLISH_BODIES = {
  publish: publishBody,
  puback: ack('3.4.2', 'the id of the QoS 1 PUBLISH this acknowledges', 'MQTT-2.3.1-6'),
  pubrec: ack('3.5.2', 'the id of the QoS 2 PUBLISH that was received', 'MQTT-2.3.1-6'),
  pubrel: ack('3.6.2', 'the id of the QoS 2 message to release', 'MQTT-2.3.1-6'),
  pubcomp: ack('3.7.2', 'the id of the QoS 2 exchange now complete', 'MQTT-2.3.1-6'),
} as const satisfies Partial<Record<PacketType, Body>>;

function publishBody(f: Fields, firstByte: number): void {
  f.string('Topic Name', '3.3.2.1 [MQTT-3.3.2-1, MQTT-3.3.2-2, MQTT-4.7.1-1, MQTT-4.7.3-1]', (topic) => alinkMeaning(topic) ?? 'where the message goes; a topic name holds no wildcards');
  if (((firstByte >> 1) & 3) !== 0) {
    packetId(f, '3.3.2.2 [MQTT-2.3.1-1]', 'QoS 1 and 2 only: the receiver acknowledges with this id');
  }
  f.add(f.left, 'Payload', '3.3.3', (bytes) => ({ value: preview(bytes), meaning: payloadMeaning(bytes) }));
}

function payloadMeaning(bytes: Uint8Array): string {
  const fallback = 'the application message: any bytes, as many as the Remaining Length leaves';
  let object: unknown;
  try {
    object = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    return fallback;
  }
  if (typeof object !== 'object' || object === null) return fallback;
  const { id, method, code } = object as { id?: unknown; method?: unknown; code?: unknown };
  if (typeof method === 'string') return `an Alink request: method ${method}, id ${JSON.stringify(id)}`;
  if (typeof code === 'number') return `an Alink reply: code ${code}${code === 200 ? ' (success)' : ''} for request id ${JSON.stringify(id)}`;
  return 'the application message, here JSON';
}

/** What an Alink topic is for, or undefined for any other topic. */
export function alinkMeaning(topic: string): string | undefined {
  const match = /^\/sys\/([^/]+)\/([^/]+)\//.exec(topic) ?? /^\/([^/]+)\/([^/]+)\/user\//.exec(topic);
  if (match === null) return undefined;
  let topics: AlinkTopics;
  try {
    topics = new AlinkTopics({ productKey: match[1]!, deviceName: match[2]! });
  } catch {
    return undefined;
  }
  const kind = topics.parse(topic);
  if (kind === undefined) return undefined;
  const device = `device ${JSON.stringify(topics.deviceName)} of product ${JSON.stringify(topics.productKey)}`;
  switch (kind.kind) {
    case 'reply':
      return `Alink: the answer to ${requestMeaning(kind.to)}, ${device}`;
    case 'rrpc-request':
      return `Alink RRPC: a synchronous call from the cloud to ${device}, answered on .../rrpc/response/${kind.messageId}`;
    case 'rrpc-response':
      return `Alink RRPC: ${device} answers call ${kind.messageId}`;
    case 'user':
      return `a custom topic of ${device}`;
    default:
      return `Alink: ${requestMeaning(kind)}, ${device}; answered on ..._reply`;
  }
}

function requestMeaning(topic: AlinkRequestTopic): string {
  switch (topic.kind) {
    case 'property-post':
      return 'the device reporting its properties';
    case 'event-post':
      return `the device reporting event ${topic.identifier}`;
    case 'property-set':
      return 'the cloud setting properties';
    case 'service-call':
      return `the cloud calling service ${topic.identifier}`;
  }
}
