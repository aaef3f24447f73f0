/**
 * The sessions the stand-in keeps for devices that connected with Clean Session 0 and are gone,
 * as the platform does: "cleanSession = false: the previous session is resumed when the
 * connection is established. The device does not need to resubscribe to topics and will receive
 * QoS 1 messages cached by IoT Platform" (help.aliyun.com/zh/iot/user-guide/session-expiry, on
 * MQTT 3.1.1). What one holds: its subscriptions, its unacknowledged QoS 1 deliveries (sent again
 * with DUP 1 and their packet ids: "如果QoS=1消息未接收到PUBACK消息,会在设备重连时,重新推送给设备",
 * the Pub API page, parameter Qos) and the QoS 1 messages that matched while it was away (never
 * QoS 0 ones: "物联网平台不保存QoS=0的消息", the BatchPub API page).
 *
 * One session per device, named by the clientId it connected with [MQTT-3.1.3-2]: a device has
 * one connection at a time on the platform, so it has one session to resume. Everything here is
 * bounded (`sessions` option, limits.ts): how long a session and a message live, what one
 * session holds, what all of them hold together.
 */
import { refTimer } from '../shared/clock.js';
import { EmulatorError } from './errors.js';
import type { DeliveryCallback } from './in-flight.js';
import { deviceKey } from './options.js';
import { duration } from './session-limits.js';
import { SessionState } from './session-state.js';
import type { SessionOwner, SessionPolicy } from './session-state.js';

interface Kept {
  readonly state: SessionState;
  readonly timer: unknown;
}

/** What a CONNECT gets: the session to work on, and whether it existed [MQTT-3.2.2-2]. */
export interface Resumed {
  readonly state: SessionState;
  readonly sessionPresent: boolean;
}

export class SessionStore {
  readonly #policy: SessionPolicy;
  /** Sessions of devices that are offline, by {@link deviceKey}. */
  readonly #kept = new Map<string, Kept>();
  /** What the kept sessions hold together. */
  #messages = 0;
  #bytes = 0;
  #closed = false;

  constructor(policy: SessionPolicy) {
    this.#policy = policy;
  }

  /** How many sessions of offline devices are kept. */
  get size(): number {
    return this.#kept.size;
  }

  /**
   * The session for a device whose CONNECT was accepted. Clean Session 0 and the clientId of the
   * kept session: that session, Session Present 1 [MQTT-3.2.2-2]. Otherwise a new one, Session
   * Present 0, and a kept one is discarded: Clean Session 1 starts afresh [MQTT-3.1.2-6,
   * MQTT-3.2.2-1], another clientId names another session [MQTT-3.1.3-2].
   */
  open({ productKey, deviceName, clientId }: SessionOwner, clean: boolean): Resumed {
    // Only who it is: what opens it is a connection, which holds more (its id, address, keepalive).
    const owner: SessionOwner = { productKey, deviceName, clientId };
    const kept = this.#take(deviceKey(productKey, deviceName));
    if (kept !== undefined && !clean && kept.owner.clientId === owner.clientId) {
      kept.expire();
      this.#policy.report(kept.event('resumed', `Session Present 1: ${describe(kept)} kept since the last connection`));
      return { state: kept, sessionPresent: true };
    }
    if (kept !== undefined) {
      const why = clean
        ? 'the device connected with Clean Session 1 [MQTT-3.1.2-6]'
        : `the device connected with clientId ${owner.clientId}, not ${kept.owner.clientId} [MQTT-3.1.3-2]`;
      const event = kept.event('discarded', `${why}; what it held is gone`);
      kept.discard(() => new EmulatorError('not-acknowledged', `the session of device ${owner.deviceName} was discarded before the device acknowledged a QoS 1 message: ${why}`));
      this.#policy.report(event);
    }
    return { state: new SessionState(owner, !clean, this.#policy), sessionPresent: false };
  }

  /**
   * A connection ended with `state`: keeps it when it is a Clean Session 0 session and the
   * emulator is not closing [MQTT-3.1.2-4]. Deliveries it did not keep fail; what passes the
   * total limits is let go, newest first. `false` when the session ends here.
   */
  keep(state: SessionState, outcome: { readonly accepted: boolean; readonly reason: string }): boolean {
    if (!state.persistent || !outcome.accepted || outcome.reason === 'server-closed' || this.#closed) return false;
    const { limits, clock } = this.#policy;
    const key = deviceKey(state.owner.productKey, state.owner.deviceName);
    // A newer connection of the device has a session already (it took this one back before this
    // one could end): the newer one is the device's.
    if (this.#kept.has(key)) return false;
    state.inFlight.failUnkept(() => new EmulatorError('not-acknowledged', `the connection ended (${outcome.reason}) before the device acknowledged a QoS 1 delivery the session could not keep`));
    state.expire();
    state.trim(limits.maxTotalMessages - this.#messages, limits.maxTotalBytes - this.#bytes, totalLimit(limits));
    const timer = clock.setTimeout(() => this.#expire(key), limits.expiry);
    refTimer(timer, false); // a session of a device that is gone never holds the process
    this.#kept.set(key, { state, timer });
    this.#messages += state.messages;
    this.#bytes += state.bytes;
    this.#policy.report(state.event('kept', `the connection ended (${outcome.reason}); ${describe(state)} kept for ${duration(limits.expiry)}`));
    return true;
  }

  /**
   * Offers a routed PUBLISH to the sessions of offline devices: each whose filters match keeps it
   * at QoS 1 [MQTT-3.3.5-1]; at QoS 0 nothing is kept. With `acknowledged`, each adds a promise
   * settled by the device's PUBACK on a later connection, or rejected when the session lets the
   * message go.
   */
  route(topic: string, payload: Uint8Array, qos: 0 | 1, acknowledged?: Promise<void>[]): void {
    if (qos === 0 || this.#kept.size === 0) return;
    const { maxTotalMessages, maxTotalBytes } = this.#policy.limits;
    /** One copy for every session that keeps it: what is routed can be a view into a socket's chunk. */
    let copy: Uint8Array | undefined;
    for (const { state } of this.#kept.values()) {
      if (state.grantedQos(topic) < 1) continue;
      let done: DeliveryCallback | undefined;
      if (acknowledged !== undefined) {
        acknowledged.push(new Promise<void>((resolve, reject) => (done = (error) => (error === undefined ? resolve() : reject(error)))));
      }
      this.#measure(state, () => {
        state.expire();
        if (this.#messages + 1 > maxTotalMessages || this.#bytes + payload.byteLength + topic.length > maxTotalBytes) {
          state.refuse(topic, payload, done, `not kept for the offline device: ${totalLimit(this.#policy.limits)}`);
        } else {
          state.enqueue(topic, (copy ??= new Uint8Array(payload)), done);
        }
      });
    }
  }

  /** The emulator is closing: every kept session ends, failing what waits with `error`. */
  close(error: EmulatorError): void {
    this.#closed = true;
    for (const key of [...this.#kept.keys()]) this.#take(key)?.discard(() => error);
  }

  #expire(key: string): void {
    const state = this.#take(key);
    if (state === undefined) return;
    const { expiry } = this.#policy.limits;
    const event = state.event('expired', `the device stayed away ${duration(expiry)} (sessions.expiry); what the session held is gone`);
    state.discard(() => new EmulatorError('not-acknowledged', `the session of device ${state.owner.deviceName} expired (sessions.expiry, ${duration(expiry)}) before the device came back`));
    this.#policy.report(event);
  }

  /** Takes a kept session out of the store (its device is back, or it ends). */
  #take(key: string): SessionState | undefined {
    const kept = this.#kept.get(key);
    if (kept === undefined) return undefined;
    this.#kept.delete(key);
    this.#policy.clock.clearTimeout(kept.timer);
    this.#messages -= kept.state.messages;
    this.#bytes -= kept.state.bytes;
    return kept.state;
  }

  /** Runs `change` on a kept session and keeps the totals in step with what it holds after. */
  #measure(state: SessionState, change: () => void): void {
    const { messages, bytes } = state;
    change();
    this.#messages += state.messages - messages;
    this.#bytes += state.bytes - bytes;
  }
}

function describe(state: SessionState): string {
  return `${state.subscriptions.size} subscriptions and ${state.messages} QoS 1 messages`;
}

function totalLimit(limits: SessionPolicy['limits']): string {
  return `the sessions of offline devices hold ${limits.maxTotalMessages} messages or ${limits.maxTotalBytes} bytes together at most (sessions.maxTotalMessages, sessions.maxTotalBytes)`;
}
