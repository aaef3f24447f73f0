/**
 * Where the session's news goes when no promise carries it: the `error` event when someone
 * listens, otherwise nothing (the same error settles the promises concerned) or, for what no
 * promise carries at all (a stored message lost, damage found in the store), a process warning.
 *
 * It is also the outbox's hooks and the owner the subscriptions report to, and it counts the
 * quick drops that point at a second client with the same credentials.
 */
import { debug } from '../shared/builtins.js';
import { StoreError } from '../store/errors.js';
import { MqttClientError } from './errors.js';
import type { SessionEmitter } from './events.js';
import { toError } from './failures.js';
import type { OutboxHooks } from './outbox-store.js';

/** A connection dropped sooner than this after CONNACK counts as a quick drop. */
const QUICK_DROP_MS = 5000;

export class Reporter implements OutboxHooks {
  #quickDrops = 0;

  constructor(private readonly events: SessionEmitter) {}

  /**
   * Emits `error` when someone listens; the same error also settles the promises concerned, or
   * no caller waits for it (a refused filter when restoring subscriptions).
   */
  report(error: Error): void {
    if (debug.enabled) debug('error: %s', error.message);
    if (this.events.listenerCount('error') > 0) this.events.emit('error', error);
  }

  /** A 'message', 'connect' or 'restored' listener threw: hand it back the way EventEmitter would. */
  listenerThrew(error: unknown): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', toError(error));
    else
      process.nextTick(() => {
        throw error;
      });
  }

  /**
   * Two connections with the same credentials kick each other off and both reconnect: name the
   * symptom when connections keep being closed by the server right after CONNACK, with no
   * message of ours to blame.
   */
  connectionLost(lastedMs: number, unexplained: boolean): void {
    this.#quickDrops = unexplained && lastedMs < QUICK_DROP_MS ? this.#quickDrops + 1 : 0;
    if (this.#quickDrops !== 3) return;
    this.report(
      new MqttClientError(
        'connection-closed',
        'the server closed the connection right after accepting it, three times in a row, with nothing of ours to blame: ' +
          'another client with the same client id (or the same device credentials) may be connected and kicking this one off',
      ),
    );
  }

  // OutboxHooks

  /** Opening the durable store (in the constructor) found damage. */
  damaged(error: Error): void {
    process.nextTick(() => this.#reportOrWarn(error)); // once the program can listen
  }

  /** A stored message no caller waits for failed. */
  lost(error: Error): void {
    this.#reportOrWarn(error);
  }

  /** The session reports the refusal on 'error' itself; warn if nobody listens. */
  refusedUnheard(error: Error): void {
    if (this.events.listenerCount('error') === 0) process.emitWarning(error.message, { code: 'ALIOT_STORE_LOST' });
  }

  /** Every restored message is settled. */
  restored(acknowledged: number, refused: number): void {
    try {
      this.events.emit('restored', acknowledged, refused);
    } catch (error) {
      this.listenerThrew(error);
    }
  }

  /** Emits `error`, or warns when nobody listens: for news no promise carries. */
  #reportOrWarn(error: Error): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', error);
    else process.emitWarning(error.message, { code: error instanceof StoreError && error.code === 'store-corrupt' ? 'ALIOT_STORE_DAMAGE' : 'ALIOT_STORE_LOST' });
  }
}
