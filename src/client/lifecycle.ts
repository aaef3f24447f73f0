/**
 * The session's states and the one table of moves between them. `Lifecycle.move` is the only
 * code that changes the state; an event the table does not allow in the current state is a bug
 * in the session and throws.
 *
 *                connect()                    CONNACK 0
 *      new ─────────────────▶ connecting ─────────────────▶ connected
 *                               │    ▲                         │
 *               attempt failed  │    │ backoff timer           │ connection lost
 *                               │    │ or connect()            │
 *                               ├───▶ waiting ◀────────────────┤   reconnect on
 *                               │                              │
 *                               └───▶ disconnected ◀───────────┘   reconnect off
 *                                        │
 *                                        └── connect() ──▶ connecting
 *
 *      every state but ending and ended:
 *          end(), the signal, or a refusal that cannot succeed ──▶ ending ──▶ ended
 *
 * - **new**: nothing has happened yet. Publishes wait in the queue for `connect()`.
 * - **connecting**: one attempt: socket, TLS, CONNECT, waiting for CONNACK (all within
 *   `connectTimeout`). Publishes queue.
 * - **connected**: CONNACK accepted the session. Publishes go out.
 * - **waiting**: the connection was lost (or an attempt failed) and reconnecting is on: a timer
 *   holds the backoff delay, and it keeps the process alive, as a socket would. Publishes queue
 *   (up to `offlineQueueSize`).
 * - **disconnected**: the connection was lost (or an attempt failed) and reconnecting is off.
 *   Everything that was pending has been rejected with the reason; new publishes, subscribes and
 *   pings are refused at once with `connection-closed`, because no connection will come unless
 *   the program calls `connect()` again. Nothing is held that the client will not try to send.
 * - **ending**: `end()` waits for outstanding acks (bounded by its timeout), sends DISCONNECT and
 *   closes. Publishes are refused.
 * - **ended**: every promise has settled, every timer is cleared, the socket is closed.
 */
export type ClientState = 'new' | 'connecting' | 'connected' | 'waiting' | 'disconnected' | 'ending' | 'ended';

export type LifecycleEvent =
  /** `connect()` was called (or the backoff timer fired). */
  | 'connect'
  /** The server accepted the CONNECT. */
  | 'accepted'
  /** The attempt failed or the connection was lost, and the client will try again after a delay. */
  | 'retry-later'
  /** The attempt failed or the connection was lost, and reconnecting is off. */
  | 'give-up'
  /** `end()`, the signal, or a failure that would recur on every attempt. */
  | 'end'
  /** The shutdown is complete. */
  | 'ended';

const MOVES: Readonly<Record<ClientState, Readonly<Partial<Record<LifecycleEvent, ClientState>>>>> = {
  new: { connect: 'connecting', end: 'ending' },
  connecting: { accepted: 'connected', 'retry-later': 'waiting', 'give-up': 'disconnected', end: 'ending' },
  connected: { 'retry-later': 'waiting', 'give-up': 'disconnected', end: 'ending' },
  waiting: { connect: 'connecting', end: 'ending' },
  disconnected: { connect: 'connecting', end: 'ending' },
  ending: { ended: 'ended' },
  ended: {},
};

export class Lifecycle {
  #state: ClientState = 'new';
  /** Publishes, subscribes and pings are refused (ending, ended, disconnected): kept with the state, read on every publish. */
  #refusing = false;

  get state(): ClientState {
    return this.#state;
  }

  /** True when `event` is allowed now. */
  allows(event: LifecycleEvent): boolean {
    return MOVES[this.#state][event] !== undefined;
  }

  /** Applies `event` and returns the new state. */
  move(event: LifecycleEvent): ClientState {
    const next = MOVES[this.#state][event];
    if (next === undefined) throw new Error(`aliot-mqtt internal error: '${event}' is not allowed in state '${this.#state}'`);
    this.#state = next;
    this.#refusing = next === 'ending' || next === 'ended' || next === 'disconnected';
    return next;
  }

  /** Publishes, subscribes and pings are refused (ending, ended, disconnected). */
  get refusing(): boolean {
    return this.#refusing;
  }

  /** Ending or ended: the session is over. */
  get over(): boolean {
    return this.#state === 'ending' || this.#state === 'ended';
  }
}
