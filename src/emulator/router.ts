/**
 * Routing: a PUBLISH (from a device, or from the cloud side) goes to every open connection with a
 * matching subscription, once, at the lower of its QoS and the highest grant [MQTT-3.3.5-1], and
 * then to the sessions kept for devices that are offline.
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
   * Sends to every matching subscription at the lower of `qos` and the grant. With
   * `acknowledged`, each QoS 1 delivery adds a promise settled by its PUBACK; without, nobody
   * waits, so nothing can reject unheard.
   */
  route(topic: string, payload: Uint8Array, qos: 0 | 1, acknowledged?: Promise<void>[]): void {
    for (const session of this.#sessions) {
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
