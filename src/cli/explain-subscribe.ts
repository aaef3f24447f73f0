/**
 * SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK field by field, for explain-packets.ts: each topic
 * filter (an Alink topic named as explain-publish.ts names it), each requested QoS and each
 * return code.
 */
import type { PacketType } from '../packet/types.js';
import { alinkMeaning } from './explain-publish.js';
import { ack, bitPattern, packetId, QOS_NAMES } from './explain-walk.js';
import type { Body, Fields } from './explain-walk.js';

export const SUBSCRIBE_BODIES = {
  subscribe: subscribeBody,
  suback: subackBody,
  unsubscribe: unsubscribeBody,
  unsuback: ack('3.11.2', 'the id of the UNSUBSCRIBE this answers', 'MQTT-2.3.1-7'),
} as const satisfies Partial<Record<PacketType, Body>>;

function filterMeaning(filter: string): string {
  const wild = filter.includes('+') || filter.includes('#');
  if (wild) return "a filter: '+' matches one topic level, '#' every level below";
  return alinkMeaning(filter) ?? 'a filter without wildcards matches exactly this topic';
}

/** The rules of a topic filter's shape (section 4.7). */
const FILTER_STATEMENTS = 'MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1';

function subscribeBody(f: Fields): void {
  packetId(f, '3.8.2 [MQTT-2.3.1-1]', 'SUBACK answers with the same id');
  while (f.left > 0) {
    f.string('Topic Filter', `3.8.3 [MQTT-3.8.3-1, ${FILTER_STATEMENTS}]`, filterMeaning);
    f.byte('Requested QoS', '3.8.3 [MQTT-3-8.3-4]', (b) => ({
      value: `0x${b.toString(16).padStart(2, '0')}`,
      meaning: 'the highest QoS wanted for messages on this filter (the server may grant less)',
      parts: [
        { bits: bitPattern(b, 0xfc), name: 'Reserved', value: b & 0xfc ? 'must be 0' : '0, as required', spec: '3.8.3 [MQTT-3-8.3-4]' },
        { bits: bitPattern(b, 0x03), name: 'QoS', value: QOS_NAMES[b & 3] ?? '3: not allowed', spec: '3.8.3' },
      ],
    }));
  }
}

function subackBody(f: Fields): void {
  packetId(f, '3.9.2 [MQTT-2.3.1-7]', 'the id of the SUBSCRIBE this answers');
  let n = 1;
  while (f.left > 0) {
    const index = n++;
    f.byte('Return Code', '3.9.3 [MQTT-3.9.3-1, MQTT-3.9.3-2]', (code) => ({
      value:
        code === 0x80
          ? '0x80 = Failure'
          : code <= 2
            ? `0x0${code} = Success, maximum QoS ${code}`
            : `0x${code.toString(16).padStart(2, '0')}: not allowed`,
      meaning: `the answer for topic filter ${index} of the SUBSCRIBE, in order`,
    }));
  }
}

function unsubscribeBody(f: Fields): void {
  packetId(f, '3.10.2 [MQTT-2.3.1-1]', 'UNSUBACK answers with the same id');
  while (f.left > 0) {
    f.string('Topic Filter', `3.10.3 [MQTT-3.10.3-1, ${FILTER_STATEMENTS}]`, () => 'a filter to cancel, exactly as it was subscribed');
  }
}
