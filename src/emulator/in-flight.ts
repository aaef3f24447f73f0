/**
 * The QoS 1 PUBLISHes a session sent and the device has not acknowledged yet, by packet id, in
 * the order they were sent. A Clean Session 0 session also keeps each one's message, to send it
 * again with the same packet id on the device's next connection [MQTT-4.4.0-1, MQTT-2.3.1-4].
 */
import { EmulatorError } from './errors.js';

/** Called once a delivery is settled: without an error on PUBACK (or at once for QoS 0). */
export type DeliveryCallback = (error?: EmulatorError) => void;

/** A QoS 1 message a Clean Session 0 session holds until the device acknowledges it. */
export interface KeptMessage {
  readonly topic: string;
  /** A copy: what is routed can be a view into a socket's chunk, which is reused. */
  readonly payload: Uint8Array;
  /** When the session took it, on the emulator's clock (a message expires some time after). */
  readonly at: number;
  /** What it counts against the session's byte limit. */
  readonly size: number;
  /** Settles whoever waits for the device's PUBACK, if anyone does. */
  readonly done: DeliveryCallback | undefined;
}

interface Delivery {
  readonly done: DeliveryCallback | undefined;
  /** Kept for a resend, or `undefined` for a delivery that ends with its connection. */
  readonly message: KeptMessage | undefined;
}

const MAX_PACKET_ID = 65_535;

export class InFlight {
  readonly #waiting = new Map<number, Delivery>();
  #nextPacketId = 1;

  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Takes a packet id no other unacknowledged PUBLISH of the session holds [MQTT-2.3.1-2], for
   * a delivery that `done` settles; `message` when the session keeps it for a resend.
   *
   * @throws EmulatorError `no-free-packet-id` when all 65,535 wait for PUBACK.
   */
  add(done: DeliveryCallback | undefined, message?: KeptMessage): number {
    if (this.#waiting.size >= MAX_PACKET_ID) {
      throw new EmulatorError('no-free-packet-id', `all ${MAX_PACKET_ID} packet ids of the connection wait for PUBACK; the device is not acknowledging`);
    }
    let id = this.#nextPacketId;
    while (this.#waiting.has(id)) id = id === MAX_PACKET_ID ? 1 : id + 1;
    this.#nextPacketId = id === MAX_PACKET_ID ? 1 : id + 1;
    this.#waiting.set(id, { done, message });
    return id;
  }

  /**
   * A PUBACK: settles its delivery and returns its kept message, if any. One for an id not in
   * flight (a duplicate, say) changes nothing.
   */
  acknowledge(packetId: number): KeptMessage | undefined {
    const delivery = this.#waiting.get(packetId);
    if (delivery === undefined) return undefined;
    this.#waiting.delete(packetId);
    delivery.done?.();
    return delivery.message;
  }

  /** The kept deliveries with their packet ids, oldest first: what a resumed session sends again. */
  kept(): Array<[number, KeptMessage]> {
    const kept: Array<[number, KeptMessage]> = [];
    for (const [id, { message }] of this.#waiting) if (message !== undefined) kept.push([id, message]);
    return kept;
  }

  /** Forgets a kept delivery without settling it (the caller does); `false` when it is not in flight. */
  remove(packetId: number): boolean {
    return this.#waiting.delete(packetId);
  }

  /** The connection ended and the session stays: the deliveries it did not keep fail, with `error()` built once. */
  failUnkept(error: () => EmulatorError): void {
    const failed: DeliveryCallback[] = [];
    for (const [id, { done, message }] of this.#waiting) {
      if (message !== undefined) continue;
      this.#waiting.delete(id);
      if (done !== undefined) failed.push(done);
    }
    settleAll(failed, error);
  }

  /** The session is over: every delivery still waiting fails, with `error()` built once for all. */
  failAll(error: () => EmulatorError): void {
    if (this.#waiting.size === 0) return;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    settleAll(
      waiting.flatMap(({ done }) => (done === undefined ? [] : [done])),
      error,
    );
  }
}

function settleAll(callbacks: readonly DeliveryCallback[], error: () => EmulatorError): void {
  if (callbacks.length === 0) return;
  // One error for all: building a stack trace for each of thousands of deliveries would take seconds.
  const shared = error();
  for (const done of callbacks) done(shared);
}
