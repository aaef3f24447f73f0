/**
 * Incoming PUBLISH: acknowledged as Table 3.4 says, then handed to the application through the
 * `message` event and every `messages()` iterator.
 *
 * - QoS 1 is acknowledged whether or not anybody listens [MQTT-4.5.0-2], in arrival order
 *   [MQTT-4.6.0-2], and the PUBACK is queued before delivery, so a listener that throws cannot
 *   lose it.
 * - QoS 2 (a server may use it with other brokers): PUBREC, delivered once, until PUBREL ends the
 *   exchange [MQTT-4.3.3-2].
 * - The payload reaches the application as a Node Buffer that views the received bytes (no copy),
 *   so `payload.toString()` is the text.
 * - An iterator that falls `messageBuffer` messages behind pauses reading from the socket.
 */
import type { PublishPacket } from '../packet/types.js';
import type { Connection } from './connection.js';
import { ListenerFailure } from './connection.js';
import { MessageStream } from './messages.js';
import type { MessageStreamHost, MqttMessage } from './messages.js';

export interface InboxHooks {
  /** Emits the `message` event. */
  message(topic: string, payload: Buffer, message: MqttMessage): void;
  /** Some iterator is behind (true), or none is any more (false). */
  behind(behind: boolean): void;
}

export class Inbox implements MessageStreamHost {
  // Created on first use: a gateway holds thousands of clients, most never iterate or see QoS 2.
  #streams: Set<MessageStream> | undefined;
  #fullStreams: Set<MessageStream> | undefined;
  /** Incoming QoS 2 ids awaiting PUBREL. */
  #awaitingPubrel: Set<number> | undefined;

  constructor(
    private readonly messageBuffer: number,
    private readonly hooks: InboxHooks,
  ) {}

  /** Some iterator is behind by `messageBuffer` messages. */
  get behind(): boolean {
    return this.#fullStreams !== undefined && this.#fullStreams.size > 0;
  }

  /** A PUBLISH arrived on `conn` [MQTT-3.3.4-1]. Throws ListenerFailure when a listener threw. */
  receive(conn: Connection, packet: PublishPacket): void {
    if (packet.qos === 2) {
      const id = packet.packetId!;
      const awaiting = (this.#awaitingPubrel ??= new Set());
      const duplicate = awaiting.has(id);
      awaiting.add(id);
      conn.send({ type: 'pubrec', packetId: id });
      if (duplicate) return; // delivered once already [MQTT-4.3.3-2]
    } else if (packet.qos === 1) {
      conn.send({ type: 'puback', packetId: packet.packetId! });
    }
    // The connection's decoder made the payload a Buffer (see `bufferView`): the packet is the
    // message, nobody else holds it.
    const message = packet as MqttMessage;
    const payload = message.payload;
    if (this.#streams !== undefined) for (const stream of this.#streams) stream.push(message);
    try {
      this.hooks.message(packet.topic, payload, message);
    } catch (error) {
      throw new ListenerFailure(error);
    }
  }

  /** PUBREL ends an incoming QoS 2 exchange: PUBCOMP. */
  pubrel(conn: Connection, packetId: number): void {
    this.#awaitingPubrel?.delete(packetId);
    conn.send({ type: 'pubcomp', packetId });
  }

  /** The server holds no session for us: QoS 2 ids awaiting PUBREL mean nothing any more [MQTT-3.1.2-6]. */
  sessionLost(): void {
    this.#awaitingPubrel?.clear();
  }

  /** A new iterator, seeing every message from now on. */
  stream(ended: boolean): MessageStream {
    const stream = new MessageStream(this, this.messageBuffer);
    if (ended) stream.finish();
    else (this.#streams ??= new Set()).add(stream);
    return stream;
  }

  /** The client ended: iterators end after what they hold. */
  finish(): void {
    if (this.#streams !== undefined) for (const stream of this.#streams) stream.finish();
    this.#streams = undefined;
  }

  /** @internal */
  streamBackpressure(stream: MessageStream, full: boolean): void {
    const fullStreams = (this.#fullStreams ??= new Set());
    const was = fullStreams.size > 0;
    if (full) fullStreams.add(stream);
    else fullStreams.delete(stream);
    if (was !== fullStreams.size > 0) this.hooks.behind(fullStreams.size > 0);
  }

  /** @internal */
  streamClosed(stream: MessageStream): void {
    this.#streams?.delete(stream);
    this.streamBackpressure(stream, false);
  }
}
