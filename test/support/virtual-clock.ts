/**
 * Virtual time for anything that takes a `Clock` (the MQTT session, its keepalive and backoff,
 * the transport's connect timeout, the stand-in's deadlines): time stands still until a test
 * moves it, and timers fire only then, each at its own due time. The project's one test clock.
 */
import type { Clock } from '../../src/shared/clock.js';

interface Timer {
  readonly at: number;
  /** Order of creation, so timers due at the same moment fire in the order they were set. */
  readonly seq: number;
  readonly callback: () => void;
}

export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();
  #onSchedule: Array<() => void> = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    if (!Number.isFinite(ms)) throw new RangeError(`setTimeout needs a finite delay, got ${ms}`);
    const handle = ++this.#seq;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), seq: handle, callback });
    const waiting = this.#onSchedule;
    this.#onSchedule = [];
    for (const resolve of waiting) resolve();
    return handle;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.#timers.delete(handle);
  }

  /** Resolves at the next `setTimeout` call: how a test knows that a deadline has been armed. */
  nextSchedule(): Promise<void> {
    return new Promise((resolve) => this.#onSchedule.push(resolve));
  }

  /** Timers set and neither fired nor cleared. */
  pending(): number {
    return this.#timers.size;
  }

  /** When the earliest pending timer is due, or `undefined` when none is. */
  nextDue(): number | undefined {
    return this.#earliest()?.[1].at;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way at its own time,
   * earliest first (then in the order set), including timers that those callbacks set when they
   * too fall due before the end. Returns how many timers fired.
   */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`time only moves forward: advance(${ms})`);
    const target = this.#now + ms;
    let fired = 0;
    for (;;) {
      const due = this.#earliest();
      if (due === undefined || due[1].at > target) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      fired++;
      due[1].callback();
    }
    this.#now = target;
    return fired;
  }

  /** Moves time forward to `time` (no-op when it has passed). */
  advanceTo(time: number): number {
    return this.advance(Math.max(0, time - this.#now));
  }

  #earliest(): [number, Timer] | undefined {
    let best: [number, Timer] | undefined;
    for (const entry of this.#timers) {
      const t = entry[1];
      if (best === undefined || t.at < best[1].at || (t.at === best[1].at && t.seq < best[1].seq)) best = entry;
    }
    return best;
  }
}
