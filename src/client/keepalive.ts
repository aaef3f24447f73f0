/**
 * The keepalive rule, as timestamps plus one timer.
 *
 * - [MQTT-3.1.2-23]: the gap between packets the client sends must never exceed Keep Alive, so
 *   an idle client sends PINGREQ a little before the period ends (timers fire late on a busy
 *   machine, never early).
 * - A client that publishes all the time never goes idle, yet its connection can die silently;
 *   so it also pings when nothing has been *received* for a whole period.
 * - A PINGREQ without PINGRESP within `pingTimeout` means the connection is dead (section
 *   3.1.2.10 says the client should close it).
 *
 * Sending or receiving a packet only records a timestamp: no timer is touched on the hot path.
 * The one timer wakes at the earliest deadline, finds what is due, and re-arms.
 */
import type { Clock } from '../shared/clock.js';

export interface KeepaliveHooks {
  /** Send a PINGREQ now (the session then reports it through `packetSent`). */
  sendPing(): void;
  /** No PINGRESP arrived within the ping timeout. */
  pingTimedOut(): void;
}

/** How long before the end of the period an idle client pings: 1 s, or a fifth of short periods. */
export function sendInterval(keepaliveMs: number): number {
  return Math.max(keepaliveMs - 1000, Math.floor(keepaliveMs * 0.8));
}

export class KeepaliveScheduler {
  private lastSent = 0;
  private lastReceived = 0;
  /** When the outstanding PINGREQ was sent, or -1. */
  private pingSentAt = -1;
  private timer: unknown = undefined;
  private readonly interval: number;

  constructor(
    private readonly clock: Clock,
    /** Keep Alive in ms; 0 turns the mechanism off (section 3.1.2.10). */
    private readonly keepaliveMs: number,
    private readonly pingTimeoutMs: number,
    private readonly hooks: KeepaliveHooks,
  ) {
    this.interval = sendInterval(keepaliveMs);
  }

  /**
   * Starts the schedule once CONNACK has arrived. `lastSent` stays at the CONNECT (reported
   * through `packetSent`): the server counts Keep Alive from it, however late the CONNACK came.
   */
  start(): void {
    const now = this.clock.now();
    this.lastReceived = now;
    this.pingSentAt = -1;
    if (this.keepaliveMs > 0) this.arm(now);
  }

  stop(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pingSentAt = -1;
  }

  packetSent(now: number): void {
    this.lastSent = now;
  }

  packetReceived(now: number): void {
    this.lastReceived = now;
  }

  pingrespReceived(now: number): void {
    this.lastReceived = now;
    this.pingSentAt = -1;
  }

  private arm(now: number): void {
    // While a PINGREQ awaits its answer the gap rule still holds: a ping timeout longer than the
    // send interval must not stretch the silence past Keep Alive [MQTT-3.1.2-23].
    const due =
      this.pingSentAt >= 0
        ? Math.min(this.pingSentAt + this.pingTimeoutMs, this.lastSent + this.interval)
        : Math.min(this.lastSent + this.interval, this.lastReceived + this.keepaliveMs);
    this.timer = this.clock.setTimeout(() => this.wake(), Math.max(0, due - now));
  }

  private wake(): void {
    this.timer = undefined;
    const now = this.clock.now();
    if (this.pingSentAt >= 0) {
      if (now - this.pingSentAt >= this.pingTimeoutMs) {
        this.pingSentAt = -1;
        this.hooks.pingTimedOut();
        return;
      }
      if (now - this.lastSent >= this.interval) {
        // Still unanswered, but a packet is due: ping again; the timeout runs from the first.
        this.hooks.sendPing();
        if (this.pingSentAt < 0) return;
      }
    } else if (now - this.lastSent >= this.interval || now - this.lastReceived >= this.keepaliveMs) {
      this.pingSentAt = now;
      this.hooks.sendPing();
      // sendPing may have ended the session (a write after close); only re-arm if still running.
      if (this.pingSentAt < 0) return;
    }
    this.arm(now);
  }
}
