/**
 * Requests the emulator sent to a device and is waiting to see answered: each has a key that the
 * answer carries (reply topic and Alink id, or the RRPC response topic), a deadline on the
 * injected clock, and the connection it went out on, so that a lost connection fails it at once
 * instead of at its deadline.
 */
import type { Clock } from '../shared/clock.js';
import { EmulatorError } from './errors.js';

interface Waiter<T> {
  readonly connection: object;
  readonly timer: unknown;
  readonly resolve: (value: T) => void;
  readonly reject: (error: Error) => void;
}

export class PendingReplies<T> {
  readonly #clock: Clock;
  readonly #waiting = new Map<string, Waiter<T>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Resolves with the value {@link settle} gives `key`, or rejects with an EmulatorError
   * `reply-timeout` (whose message is `what` and the timeout) once `timeoutMs` pass first.
   */
  wait(key: string, connection: object, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#waiting.delete(key);
        reject(new EmulatorError('reply-timeout', `${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, { connection, timer, resolve, reject });
    });
  }

  /** Hands `value` to the request waiting on `key`; `false` when none is (late, or never asked). */
  settle(key: string, value: T): boolean {
    const waiter = this.#take(key);
    waiter?.resolve(value);
    return waiter !== undefined;
  }

  /** Fails every request sent on `connection` (all of them when it is `undefined`). */
  fail(connection: object | undefined, error: EmulatorError): void {
    for (const [key, waiter] of this.#waiting) {
      if (connection === undefined || waiter.connection === connection) {
        this.#take(key);
        waiter.reject(error);
      }
    }
  }

  #take(key: string): Waiter<T> | undefined {
    const waiter = this.#waiting.get(key);
    if (waiter !== undefined) {
      this.#waiting.delete(key);
      this.#clock.clearTimeout(waiter.timer);
    }
    return waiter;
  }
}
