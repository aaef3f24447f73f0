/**
 * Virtual time for the emulator: timers fire only when a test advances the clock, so keepalive
 * and timeout tests run without sleeping.
 */
import type { EmulatorClock } from '../../src/emulator/index.js';

interface Timer {
  readonly at: number;
  readonly fn: () => void;
}

export class FakeClock implements EmulatorClock {
  #now = 0;
  #nextHandle = 1;
  readonly #timers = new Map<number, Timer>();
  #onSchedule: Array<() => void> = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, { at: this.#now + ms, fn });
    const waiting = this.#onSchedule;
    this.#onSchedule = [];
    for (const resolve of waiting) resolve();
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Resolves at the next `setTimeout` call: how a test knows the emulator has started a deadline. */
  nextSchedule(): Promise<void> {
    return new Promise((resolve) => this.#onSchedule.push(resolve));
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due on the way at its own time, in
   * order (earliest first, then in the order set), including timers those timers set.
   */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let due: [number, Timer] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (due === undefined || entry[1].at < due[1].at)) due = entry;
      }
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = target;
  }
}
