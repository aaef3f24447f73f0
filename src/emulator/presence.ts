/**
 * Who is online: the one accepted connection of each device, and its Alink topics. The platform
 * keeps one session per device; a second login of the same device ends the first. Sub-devices
 * logged in through a gateway are online here too, on their gateway's connection, so that the
 * cloud side addresses them exactly as it addresses a device of its own.
 */
import { AlinkTopics } from '../aliyun/alink/topics.js';
import { EmulatorError } from './errors.js';
import { deviceKey } from './options.js';
import type { Session } from './session.js';

/** An online device: its connection and the topics it owns. */
export interface OnlineDevice {
  /** Its own connection, or for a sub-device the connection of its gateway. */
  readonly session: Session;
  readonly topics: AlinkTopics;
  /** For a sub-device logged in through a gateway: the gateway. */
  readonly gateway?: OnlineDevice | undefined;
}

/** Told when a sub-device's session ends because the same device logged in elsewhere. */
export type DisplacedListener = (subDevice: OnlineDevice) => void;

export class Presence {
  /** By {@link deviceKey}: devices on their own connection, and sub-devices. */
  readonly #online = new Map<string, OnlineDevice>();
  readonly #bySession = new WeakMap<Session, OnlineDevice>();
  /** A gateway's sub-devices online through it, by {@link deviceKey}. */
  readonly #subDevices = new WeakMap<OnlineDevice, Map<string, OnlineDevice>>();
  readonly #displaced: DisplacedListener;

  constructor(displaced: DisplacedListener = () => {}) {
    this.#displaced = displaced;
  }

  /**
   * Makes `session` the device's only connection, ending an older session first, as two logins of
   * one device kick each other off on the platform (the newer one stays).
   */
  claim(session: Session, productKey: string, deviceName: string): OnlineDevice {
    const key = deviceKey(productKey, deviceName);
    this.#endOlder(key);
    const device: OnlineDevice = { session, topics: new AlinkTopics({ productKey, deviceName }) };
    this.#online.set(key, device);
    this.#bySession.set(session, device);
    return device;
  }

  /**
   * Forgets `session` (if it is still its device's connection: a kicked one no longer is) and
   * every sub-device online through it; returns those sub-devices.
   */
  release(session: Session): OnlineDevice[] {
    const device = this.#bySession.get(session);
    if (device === undefined) return [];
    const key = deviceKey(device.topics.productKey, device.topics.deviceName);
    if (this.#online.get(key) === device) this.#online.delete(key);
    const subDevices = [...(this.#subDevices.get(device)?.values() ?? [])];
    for (const subDevice of subDevices) this.leave(subDevice);
    return subDevices;
  }

  /**
   * Puts a sub-device online through `gateway`. One online elsewhere (on its own connection, or
   * through another gateway) is ended first; one online through this gateway already stays.
   */
  join(gateway: OnlineDevice, productKey: string, deviceName: string): OnlineDevice {
    const key = deviceKey(productKey, deviceName);
    const current = this.#online.get(key);
    if (current?.gateway === gateway) return current;
    this.#endOlder(key);
    const subDevice: OnlineDevice = { session: gateway.session, topics: new AlinkTopics({ productKey, deviceName }), gateway };
    this.#online.set(key, subDevice);
    let mine = this.#subDevices.get(gateway);
    if (mine === undefined) this.#subDevices.set(gateway, (mine = new Map()));
    mine.set(key, subDevice);
    return subDevice;
  }

  /** Takes a sub-device offline; `false` when it was not online (any more). */
  leave(subDevice: OnlineDevice): boolean {
    const key = deviceKey(subDevice.topics.productKey, subDevice.topics.deviceName);
    if (subDevice.gateway === undefined || this.#online.get(key) !== subDevice) return false;
    this.#online.delete(key);
    this.#subDevices.get(subDevice.gateway)?.delete(key);
    return true;
  }

  /** The device that `session` is, once its CONNECT was accepted. */
  of(session: Session): OnlineDevice | undefined {
    return this.#bySession.get(session);
  }

  /** The sub-device online through `gateway`, or `undefined`. */
  subDevice(gateway: OnlineDevice, productKey: string, deviceName: string): OnlineDevice | undefined {
    return this.#subDevices.get(gateway)?.get(deviceKey(productKey, deviceName));
  }

  /** The sub-devices online through `gateway`. */
  subDevicesOf(gateway: OnlineDevice): OnlineDevice[] {
    return [...(this.#subDevices.get(gateway)?.values() ?? [])];
  }

  /** How many sub-devices are online through `gateway`. */
  subDeviceCount(gateway: OnlineDevice): number {
    return this.#subDevices.get(gateway)?.size ?? 0;
  }

  /** The online device or sub-device, or `undefined`. */
  lookup(productKey: string, deviceName: string): OnlineDevice | undefined {
    return this.#online.get(deviceKey(productKey, deviceName));
  }

  /** The online device or sub-device, or EmulatorError `not-connected`. */
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

  /** Ends the session the device `key` has now: its own connection is kicked, a sub-device's is displaced. */
  #endOlder(key: string): void {
    const older = this.#online.get(key);
    if (older === undefined) return;
    if (older.gateway === undefined) {
      older.session.kick();
    } else if (this.leave(older)) {
      this.#displaced(older);
    }
  }
}
