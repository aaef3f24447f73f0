/**
 * Reconnect delays: exponential backoff with full jitter (each delay drawn uniformly from
 * 0..min(maxDelay, initialDelay * 2^attempt)), reset once a connection has stayed up for
 * `resetAfter`. Full jitter spreads a fleet of gateways that lost the same server, so they do
 * not come back in lockstep.
 */
export interface BackoffPolicy {
  /** Upper bound of the first delay, ms. */
  readonly initialDelay: number;
  /** Cap on any delay, ms. */
  readonly maxDelay: number;
  /** A connection that stays up this long (ms) resets the sequence to the first delay. */
  readonly resetAfter: number;
}

export class Backoff {
  private attempt = 0;

  constructor(
    readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Upper bound of the next delay (before jitter). */
  get ceiling(): number {
    const { initialDelay, maxDelay } = this.policy;
    // 2^attempt grows past any cap quickly; stop multiplying once it is there.
    return Math.min(maxDelay, initialDelay * 2 ** Math.min(this.attempt, 52));
  }

  /** The delay before the next attempt, ms; advances the sequence. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling);
    this.attempt++;
    return delay;
  }

  /** A connection was established at `connectedAt` and lost at `lostAt`: reset if it lasted. */
  connectionLasted(connectedAt: number, lostAt: number): void {
    if (lostAt - connectedAt >= this.policy.resetAfter) this.attempt = 0;
  }
}
