/**
 * Requests waiting for their Alink reply, keyed by the id the request and its reply share. The
 * device uses it for its posts, the stand-in for its property sets, service calls and RRPC
 * calls: one table, one timeout rule, and one way to fail what waits when a connection ends.
 * No I/O: deadlines run on the injected {@link Clock}.
 */
import type { Clock } from '../../shared/clock.js';

/** How one request waits. */
export interface PendingReplyOptions {
  /**
   * The topic its reply must arrive on. A reply with the same id on another topic answers
   * something else (another device, another request kind) and does not settle this one.
   */
  readonly topic: string;
  /** Milliseconds on the clock until {@link PendingReplyOptions.onTimeout} rejects the wait. */
  readonly timeout: number;
  /** The error the wait rejects with when no reply came in time. */
  readonly onTimeout: () => Error;
  /** What the request is, for the errors {@link PendingReplies.rejectAll} builds, e.g. its method. */
  readonly what: string;
  /** The connection the request went out on, so that its end fails only its requests. */
  readonly owner?: object | undefined;
}

interface Waiter<T> {
  readonly topic: string;
  readonly what: string;
  readonly owner: object | undefined;
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

  /** Requests still waiting. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Waits for the reply to request `id`: resolves with what {@link settle} hands over, or rejects
   * with `onTimeout()` once `timeout` ms pass first, or with what {@link reject} or
   * {@link rejectAll} give.
   *
   * @throws Error when `id` is waiting already: ids come from an `AlinkIdGenerator`, which repeats
   *   none within 4,294,967,295 requests, so this is a bug in the caller, not bad input.
   */
  wait(id: string, options: PendingReplyOptions): Promise<T> {
    if (this.#waiting.has(id)) throw new Error(`request ${id} is waiting for its reply already; give each request a fresh id`);
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#waiting.delete(id);
        reject(options.onTimeout());
      }, options.timeout);
      this.#waiting.set(id, { topic: options.topic, what: options.what, owner: options.owner, timer, resolve, reject });
    });
  }

  /**
   * Hands `value` to request `id` if its reply was expected on `topic`; `false` when nothing waits
   * for it there (a late reply, a duplicate, or one never asked for).
   */
  settle(id: string, topic: string, value: T): boolean {
    const waiter = this.#waiting.get(id);
    if (waiter === undefined || waiter.topic !== topic) return false;
    this.#take(id, waiter).resolve(value);
    return true;
  }

  /** Fails request `id` with `error`; `false` when it is not waiting. */
  reject(id: string, error: Error): boolean {
    const waiter = this.#waiting.get(id);
    if (waiter === undefined) return false;
    this.#take(id, waiter).reject(error);
    return true;
  }

  /**
   * Fails every request that went out on `owner` (every request when `owner` is left out) with
   * the error `error(id, what)` builds for it. Returns how many failed.
   */
  rejectAll(error: (id: string, what: string) => Error, owner?: object): number {
    let failed = 0;
    for (const [id, waiter] of [...this.#waiting]) {
      if (owner !== undefined && waiter.owner !== owner) continue;
      this.#take(id, waiter).reject(error(id, waiter.what));
      failed++;
    }
    return failed;
  }

  #take(id: string, waiter: Waiter<T>): Waiter<T> {
    this.#waiting.delete(id);
    this.#clock.clearTimeout(waiter.timer);
    return waiter;
  }
}
