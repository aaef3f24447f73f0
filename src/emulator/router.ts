/**
 * Routing: a PUBLISH (from a device, or from the cloud side) goes to every open connection with a
 * matching subscription, once, at the lower of its QoS and the highest grant [MQTT-3.3.5-1], and
 * then to the sessions kept for devices that are offline.
 *
 * Never back to the connection it came from. On the platform a device's message goes to the
 * platform, and reaches a device's subscription only through a route set up in the console
 * between two different custom topics (CreateTopicRouteTable, "Forward data to another topic"),
 * so a device never gets its own message back. A plain broker's echo breaks the vendor's Node.js
 * SDK 1.2.8: it subscribes to its own upstream `/sys/{pk}/{dn}/thing/config/push_reply` and hands
 * every message under `thing/config/` to `onConfig`, so a handler answering a push gets its own
 * answer as a push, answers that, and loops.
 */
import type { Session } from './session.js';

/** Where a PUBLISH goes after the open connections: the kept sessions of offline devices. */
export type OfflineRoute = (topic: string, payload: Uint8Array, qos: 0 | 1, acknowledged?: Promise<void>[]) => void;

export class Router {
  /** Open connections, in the order they opened. */
  readonly #sessions = new Set<Session>();
  readonly #offline: OfflineRoute | undefined;

  constructor(offline?: OfflineRoute) {
    this.#offline = offline;
  }

  /** Connections that can receive, oldest first. */
  sessions(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  add(session: Session): void {
    this.#sessions.add(session);
  }

  delete(session: Session): void {
    this.#sessions.delete(session);
  }

  /**
   * Sends to every matching subscription at the lower of `qos` and the grant, except on `from`,
   * the connection that published it. With `acknowledged`, each QoS 1 delivery adds a promise
   * settled by its PUBACK; without, nobody waits, so nothing can reject unheard.
   */
  route(topic: string, payload: Uint8Array, qos: 0 | 1, acknowledged?: Promise<void>[], from?: Session): void {
    for (const session of this.#sessions) {
      if (session === from) continue;
      const granted = session.grantedQos(topic);
      if (granted === -1) continue;
      const effective = qos < granted ? qos : granted;
      if (acknowledged === undefined || effective === 0) {
        session.deliver(topic, payload, effective);
      } else {
        acknowledged.push(
          new Promise<void>((resolve, reject) => {
            session.deliver(topic, payload, 1, (error) => (error === undefined ? resolve() : reject(error)));
          }),
        );
      }
    }
    this.#offline?.(topic, payload, qos, acknowledged);
  }
}
