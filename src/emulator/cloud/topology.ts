/**
 * Topology as the console holds it: which gateway each sub-device belongs to. A sub-device has at
 * most one gateway; adding it to another moves it (the stand-in's reading: no source says the
 * platform refuses the move instead).
 */
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import { deviceKey } from '../options.js';

export class TopologyStore {
  /** Gateway key to its sub-devices by key. */
  readonly #subDevices = new Map<string, Map<string, DeviceIdentity>>();
  /** Sub-device key to its gateway. */
  readonly #gatewayOf = new Map<string, DeviceIdentity>();

  /** The gateway `subDevice` belongs to, or `undefined`. */
  gatewayOf(subDevice: DeviceIdentity): DeviceIdentity | undefined {
    return this.#gatewayOf.get(keyOf(subDevice));
  }

  /** Whether `subDevice` is in `gateway`'s topology. */
  has(gateway: DeviceIdentity, subDevice: DeviceIdentity): boolean {
    return this.#subDevices.get(keyOf(gateway))?.has(keyOf(subDevice)) ?? false;
  }

  /** `gateway`'s sub-devices, in the order they were added. */
  subDevicesOf(gateway: DeviceIdentity): DeviceIdentity[] {
    return [...(this.#subDevices.get(keyOf(gateway))?.values() ?? [])];
  }

  /** Adds `subDevice` under `gateway`; returns the gateway it was under before, if another. */
  add(gateway: DeviceIdentity, subDevice: DeviceIdentity): DeviceIdentity | undefined {
    const previous = this.gatewayOf(subDevice);
    if (previous !== undefined && keyOf(previous) === keyOf(gateway)) return undefined;
    if (previous !== undefined) this.remove(previous, subDevice);
    const gatewayKey = keyOf(gateway);
    let subDevices = this.#subDevices.get(gatewayKey);
    if (subDevices === undefined) this.#subDevices.set(gatewayKey, (subDevices = new Map()));
    const identity = { productKey: subDevice.productKey, deviceName: subDevice.deviceName };
    subDevices.set(keyOf(subDevice), identity);
    this.#gatewayOf.set(keyOf(subDevice), { productKey: gateway.productKey, deviceName: gateway.deviceName });
    return previous;
  }

  /** Removes `subDevice` from `gateway`'s topology; `false` when it was not in it. */
  remove(gateway: DeviceIdentity, subDevice: DeviceIdentity): boolean {
    const subDevices = this.#subDevices.get(keyOf(gateway));
    if (subDevices === undefined || !subDevices.delete(keyOf(subDevice))) return false;
    this.#gatewayOf.delete(keyOf(subDevice));
    return true;
  }
}

function keyOf(device: DeviceIdentity): string {
  return deviceKey(device.productKey, device.deviceName);
}
