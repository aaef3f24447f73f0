/**
 * A message the server will not take, and closes the connection after instead (a server-side
 * maximum packet size, say), would otherwise be re-sent after every reconnect for ever. The
 * evidence is gathered here:
 *
 * - the server (or the network) closes a connection while a message is the oldest
 *   unacknowledged one: it becomes the suspect;
 * - on the next connection the suspect goes out alone, and nothing else goes out until its
 *   PUBACK (a probe);
 * - when the server closes the connection right after the probe `PROBES` times in a row, the
 *   message is refused (`message-refused`) and the others go on.
 *
 * A random network cut costs one probe's round trip; blaming a message wrongly would take two
 * cuts in a row, each inside that round trip.
 */

import type { PublishPacket } from '../packet/types.js';
import { MqttClientError } from './errors.js';

/** Probes in a row the server must close the connection after before a message is refused. */
const PROBES = 2;

export class RefusalProbe<M> {
  /** The oldest unacknowledged message when the last connection was lost by the server. */
  #suspect: M | undefined;
  /** The suspect, sent alone on this connection. */
  #probing: M | undefined;
  /** Connections in a row the server closed right after the probe. */
  #failed = 0;

  /** A probe is out: nothing else may go out until its PUBACK. */
  get probing(): boolean {
    return this.#probing !== undefined;
  }

  /** The last connection loss came right after a message that may be refused. */
  get suspecting(): boolean {
    return this.#suspect !== undefined;
  }

  /** A new connection: `true` when `oldest` is the suspect and must go out alone first. */
  start(oldest: M | undefined): boolean {
    if (this.#suspect === undefined || oldest !== this.#suspect) return false;
    this.#probing = oldest;
    return true;
  }

  /** `message` was acknowledged: `true` when it was the probe (the rest may go now). */
  acknowledged(message: M): boolean {
    if (this.#suspect === message) this.#suspect = undefined;
    if (this.#probing !== message) return false;
    this.#probing = undefined;
    this.#failed = 0;
    return true;
  }

  /**
   * The connection was lost while `oldest` was the oldest unacknowledged message (`sentOnIt`:
   * it went out on that connection); `byPeer`: the server or the network closed it, not one of
   * our own decisions. `true` when `oldest` is to be refused now.
   */
  lost(oldest: M | undefined, sentOnIt: boolean, byPeer: boolean): boolean {
    const probe = this.#probing;
    this.#probing = undefined;
    if (!byPeer || oldest === undefined || !sentOnIt) {
      this.#suspect = undefined;
      this.#failed = 0;
      return false;
    }
    if (probe !== oldest) {
      this.#suspect = oldest;
      this.#failed = 0;
      return false;
    }
    if (++this.#failed < PROBES) return false; // still the suspect: probe it again
    this.#suspect = undefined;
    this.#failed = 0;
    return true;
  }

  /** Forgets everything (the messages were all settled). */
  reset(): void {
    this.#suspect = undefined;
    this.#probing = undefined;
    this.#failed = 0;
  }
}

/** The error a refused message is rejected with. */
export function refusedError(packet: PublishPacket, packetId: number): MqttClientError {
  return new MqttClientError(
    'message-refused',
    `the server closed the connection right after this message (PUBLISH to ${JSON.stringify(packet.topic)}, ` +
      `${packet.payload.length} bytes, packet id ${packetId}), and again each time it was sent alone: it refuses it, ` +
      'often for its size (a server-side maximum packet size; see maxOutgoingPacketSize) or its topic. It was dropped; the others go on',
  );
}
