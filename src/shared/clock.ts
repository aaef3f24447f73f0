/**
 * Time as the project sees it. Every time-dependent rule (the session's keepalive, ping timeout,
 * CONNACK timeout and reconnect backoff, the transport's connect timeout, the stand-in's
 * deadlines, reply timeouts) reads `now()` and arms timers through this interface, so that tests
 * drive them in virtual time instead of sleeping.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Real time: `performance.now()` (monotonic, immune to wall-clock jumps) and Node's timers.
 *
 * The timers keep the process alive, as a socket does: a client waiting to reconnect has no
 * socket, and its program must not exit because of that. Whoever wants a timer not to hold the
 * process says so (`MqttClient.unref()`).
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

/** Lets a timer from `systemClock` stop (or start again) holding the process; other clocks' handles are left alone. */
export function refTimer(handle: unknown, ref: boolean): void {
  const timer = handle as { ref?: () => unknown; unref?: () => unknown } | null;
  if (typeof timer !== 'object' || timer === null) return;
  if (ref) timer.ref?.();
  else timer.unref?.();
}

/** Checks that `clock` has the three members a Clock needs. */
export function isClock(clock: unknown): clock is Clock {
  const c = clock as Clock | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.now === 'function' &&
    typeof c.setTimeout === 'function' &&
    typeof c.clearTimeout === 'function'
  );
}
