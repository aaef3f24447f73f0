/**
 * The QoS 1 PUBLISHes a connection sent and the device has not acknowledged yet, by packet id.
 */
import { EmulatorError } from './errors.js';

/** Called once a delivery is settled: without an error on PUBACK (or at once for QoS 0). */
export type DeliveryCallback = (error?: EmulatorError) => void;

const MAX_PACKET_ID = 65_535;

export class InFlight {
  readonly #waiting = new Map<number, DeliveryCallback>();
  #nextPacketId = 1;

  /**
   * Takes a packet id no other unacknowledged PUBLISH of the connection holds [MQTT-2.3.1-2], for
   * a delivery that `done` settles.
   *
   * @throws EmulatorError `no-free-packet-id` when all 65,535 wait for PUBACK.
   */
  add(done: DeliveryCallback): number {
    if (this.#waiting.size >= MAX_PACKET_ID) {
      throw new EmulatorError('no-free-packet-id', `all ${MAX_PACKET_ID} packet ids of the connection wait for PUBACK; the device is not acknowledging`);
    }
    let id = this.#nextPacketId;
    while (this.#waiting.has(id)) id = id === MAX_PACKET_ID ? 1 : id + 1;
    this.#nextPacketId = id === MAX_PACKET_ID ? 1 : id + 1;
    this.#waiting.set(id, done);
    return id;
  }

  /** A PUBACK: settles its delivery. One for an id not in flight (a duplicate, say) changes nothing. */
  acknowledge(packetId: number): void {
    const done = this.#waiting.get(packetId);
    this.#waiting.delete(packetId);
    done?.();
  }

  /** The connection ended: every delivery still waiting fails, with `error()` built once for all. */
  failAll(error: () => EmulatorError): void {
    if (this.#waiting.size === 0) return;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    // One error for all: building a stack trace for each of thousands of deliveries would take seconds.
    const shared = error();
    for (const done of waiting) done(shared);
  }
}
