import { refTimer } from '../shared/clock.js';
import type { Clock } from '../shared/clock.js';

/**
 * The session's clock: the caller's, with timers that follow `unref()` (a client that was told not
 * to hold the process arms no timer that does).
 */
export class RefClock implements Clock {
  refd = true;
  constructor(private readonly base: Clock) {}
  now(): number {
    return this.base.now();
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.base.setTimeout(callback, ms);
    if (!this.refd) refTimer(handle, false);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.base.clearTimeout(handle);
  }
}
