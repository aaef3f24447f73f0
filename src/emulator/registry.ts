/**
 * The devices the platform knows, as its console holds them: each device's secret (empty while
 * it is registered but not activated), and whether it is enabled, disabled or deleted. Admission
 * reads it for a CONNECT, the gateway's cloud side for topology and sub-device logins, and both
 * see the same changes (a secret minted by `thing.sub.register`, a device disabled by a test).
 */
import { nodeCrypto } from '../shared/builtins.js';
import { deviceKey } from './options.js';
import type { EmulatorCertificateDevice, EmulatorDevice } from './types.js';

/** A device's state in the console. */
export type DeviceStatus = 'enabled' | 'disabled' | 'deleted';

/** One registered device. */
export interface RegisteredDevice {
  readonly productKey: string;
  readonly deviceName: string;
  /** `''` while registered and not activated (dynamic registration hands it out). */
  secret: string;
  status: DeviceStatus;
}

export class DeviceRegistry {
  /** By {@link deviceKey}. */
  readonly #devices = new Map<string, RegisteredDevice>();

  /** A device of X.509 mode without a secret is held as one with none yet: no secret signs it in. */
  constructor(devices: Iterable<EmulatorDevice | EmulatorCertificateDevice>) {
    for (const { productKey, deviceName, deviceSecret } of devices) {
      this.#devices.set(deviceKey(productKey, deviceName), { productKey, deviceName, secret: deviceSecret ?? '', status: 'enabled' });
    }
  }

  /** The device, deleted ones included, or `undefined` when it was never registered. */
  get(productKey: string, deviceName: string): RegisteredDevice | undefined {
    return this.#devices.get(deviceKey(productKey, deviceName));
  }

  /**
   * The secret a CONNECT of this device must be signed with, or `undefined` when the platform
   * would refuse the device whatever it signs: not registered, not activated, disabled or deleted.
   */
  connectSecret(productKey: string, deviceName: string): string | undefined {
    const device = this.get(productKey, deviceName);
    return device === undefined || device.secret === '' || device.status !== 'enabled' ? undefined : device.secret;
  }

  /**
   * Activates a registered device that has no secret yet (dynamic registration), minting one of
   * 32 hex digits as the console shows them; an activated device keeps its own.
   */
  activate(device: RegisteredDevice): string {
    if (device.secret === '') device.secret = nodeCrypto().randomBytes(16).toString('hex');
    return device.secret;
  }

  /** Every secret the registry holds, for redaction. */
  *secrets(): Generator<string> {
    for (const device of this.#devices.values()) if (device.secret !== '') yield device.secret;
  }
}
