/**
 * The limits a publish meets before it is accepted, each refusal naming the limit and the
 * client's state: `maxOutgoingPacketSize` for one message; `offlineQueueSize` (messages waiting
 * while not connected) and `maxQueuedBytes` (bytes waiting, in any state) for the queue.
 */
import { encodedLength } from '../packet/codec.js';
import type { PublishPacket } from '../packet/types.js';
import { MqttClientError } from './errors.js';
import type { ClientState } from './lifecycle.js';
import type { ResolvedClientOptions } from './options.js';

/** A reason to refuse `packet` for its size on the wire, or undefined. */
export function tooLarge(packet: PublishPacket, max: number): MqttClientError | undefined {
  const size = encodedLength(packet.qos === 0 ? packet : { ...packet, packetId: 1 });
  if (size <= max) return undefined;
  return new MqttClientError(
    'packet-too-large',
    `the PUBLISH to ${JSON.stringify(packet.topic)} would be ${size} bytes on the wire; the limit is ${max} (maxOutgoingPacketSize). ` +
      'Send a smaller payload (split it, or compress it)',
  );
}

/** Where the queue stands when a publish would join it. */
export interface QueueState {
  readonly state: ClientState;
  /** A connection is up to send on. */
  readonly online: boolean;
  readonly queued: number;
  readonly queuedBytes: number;
}

type Limits = Pick<ResolvedClientOptions, 'offlineQoS0' | 'offlineQueueSize' | 'maxQueuedBytes'>;

/** A reason to refuse a publish that would wait in the queue, or undefined. */
export function noRoom(packet: PublishPacket, o: Limits, q: QueueState): MqttClientError | undefined {
  if (!q.online) {
    if (packet.qos === 0 && o.offlineQoS0 === 'reject') {
      return new MqttClientError('connection-closed', `not connected (state ${q.state}), and offlineQoS0 is 'reject': the QoS 0 message was not sent`);
    }
    if (q.queued >= o.offlineQueueSize) {
      return new MqttClientError(
        'queue-full',
        `not connected (state ${q.state}) and ${q.queued} messages wait already (offlineQueueSize ${o.offlineQueueSize}); ` +
          'the message was not accepted. Raise offlineQueueSize, or wait for the connect event',
      );
    }
  }
  const size = packet.payload.length + packet.topic.length;
  if (q.queuedBytes + size > o.maxQueuedBytes) {
    return new MqttClientError(
      'queue-full',
      `${q.queuedBytes} bytes wait to be sent already (maxQueuedBytes ${o.maxQueuedBytes}, state ${q.state}); the message was not accepted. ` +
        (q.online ? 'The connection is slower than the publisher: await publishes, or raise maxQueuedBytes' : 'Wait for the connect event'),
    );
  }
  return undefined;
}
