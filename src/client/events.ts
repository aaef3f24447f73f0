/** The session's events and what it reports, as the client shows them. */
import type { Packet } from '../packet/types.js';
import type { MqttMessage } from './messages.js';

/** What a successful connection reports. */
export interface ConnectionInfo {
  /** The server still had a session for this client id (clean session 0 only). */
  readonly sessionPresent: boolean;
}

export interface EndReport {
  /** QoS 1 messages without PUBACK and messages still queued, in order; their promises rejected. */
  readonly unacknowledged: readonly UnacknowledgedMessage[];
}

/** The events the session raises, as the client's public events. */
export interface SessionEvents {
  connect: [info: ConnectionInfo];
  message: [topic: string, payload: Buffer, message: MqttMessage];
  close: [error: Error | undefined, details: CloseDetails];
  offline: [];
  reconnect: [attempt: number, delay: number];
  error: [error: Error];
  end: [];
  restored: [acknowledged: number, refused: number];
  packetsend: [packet: Packet, frame: Uint8Array];
  packetreceive: [packet: Packet, frame: Uint8Array];
}

/** The client's emitter, as the session sees it. */
export interface SessionEmitter {
  emit<K extends keyof SessionEvents>(event: K, ...args: SessionEvents[K]): boolean;
  listenerCount(event: keyof SessionEvents): number;
}

/** What a closed connection came to, for the `close` event. */
export interface CloseDetails {
  /** CONNACK accepted the session on it. */
  readonly accepted: boolean;
  /**
   * The first bytes the server sent on a connection that was never accepted (at most 64): what a
   * server that does not speak MQTT said instead, such as a TLS record on a plain TCP connection.
   * Empty for an accepted connection.
   */
  readonly received: Uint8Array;
}

/** A QoS 1 message that was never acknowledged, reported by `end()`. */
export interface UnacknowledgedMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  readonly packetId: number | undefined;
}
