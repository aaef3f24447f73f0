/**
 * Time as the session sees it. Every time-dependent rule (keepalive, ping timeout, CONNACK
 * timeout, reconnect backoff) reads `now()` and arms timers through this interface, so tests
 * drive them in virtual time instead of sleeping.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real time: `performance.now()` (monotonic, immune to wall-clock jumps) and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // A session's timers never keep the process alive on their own; its socket does.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
