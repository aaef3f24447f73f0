/** The session's events and what it reports, as the client shows them. */
import type { Packet } from '../packet/types.js';
import type { CloseDetails } from './connection.js';
import type { MqttMessage } from './messages.js';
import type { UnacknowledgedMessage } from './outbox.js';

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
  packetsend: [packet: Packet, frame: Uint8Array];
  packetreceive: [packet: Packet, frame: Uint8Array];
}

/** The client's emitter, as the session sees it. */
export interface SessionEmitter {
  emit<K extends keyof SessionEvents>(event: K, ...args: SessionEvents[K]): boolean;
  listenerCount(event: keyof SessionEvents): number;
}
