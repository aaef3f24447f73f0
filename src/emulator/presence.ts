/**
 * Who is online: the one accepted connection of each device, and its Alink topics. The platform
 * keeps one connection per device; a second login of the same device ends the first.
 */
import { AlinkTopics } from '../aliyun/alink/topics.js';
import { EmulatorError } from './errors.js';
import { deviceKey } from './options.js';
import type { Session } from './session.js';

/** An online device: its connection and the topics it owns. */
export interface OnlineDevice {
  readonly session: Session;
  readonly topics: AlinkTopics;
}

export class Presence {
  /** By {@link deviceKey}. */
  readonly #online = new Map<string, OnlineDevice>();
  readonly #bySession = new WeakMap<Session, OnlineDevice>();

  /**
   * Makes `session` the device's only connection, kicking an older one first, as two logins of
   * one device kick each other off on the platform (the newer one stays).
   */
  claim(session: Session, productKey: string, deviceName: string): OnlineDevice {
    const key = deviceKey(productKey, deviceName);
    this.#online.get(key)?.session.kick();
    const device: OnlineDevice = { session, topics: new AlinkTopics({ productKey, deviceName }) };
    this.#online.set(key, device);
    this.#bySession.set(session, device);
    return device;
  }

  /** Forgets `session` (if it is still its device's connection: a kicked one no longer is). */
  release(session: Session): void {
    const device = this.#bySession.get(session);
    if (device === undefined) return;
    const key = deviceKey(device.topics.productKey, device.topics.deviceName);
    if (this.#online.get(key) === device) this.#online.delete(key);
  }

  /** The device that `session` is, once its CONNECT was accepted. */
  of(session: Session): OnlineDevice | undefined {
    return this.#bySession.get(session);
  }

  /** The online device, or EmulatorError `not-connected`. */
  find(productKey: string, deviceName: string): OnlineDevice {
    const device = this.#online.get(deviceKey(productKey, deviceName));
    if (device === undefined) {
      throw new EmulatorError(
        'not-connected',
        `device ${deviceName} of product ${productKey} is not connected; emulator.connections() lists the devices that are`,
      );
    }
    return device;
  }
}
