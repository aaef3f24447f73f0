/**
 * The gateway's topology and sub-device registration on the cloud side: `thing.topo.add` (each
 * sub-device's signature checked with its own secret), `thing.topo.get`, `thing.topo.delete` and
 * `thing.sub.register`, and what a change of topology does to a sub-device's session (a moved or
 * removed sub-device is logged out, and its gateway told). Formats and codes:
 * docs/platform-formats.md section 4, `src/device/gateway-codes.ts`.
 */
import { verifySubDeviceSign } from '../../aliyun/cloud-formats.js';
import type { SubDeviceSignature } from '../../aliyun/gateway/index.js';
import { GATEWAY_LIMITS } from '../../aliyun/gateway/limits.js';
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import { nodeCrypto } from '../../shared/builtins.js';
import { GATEWAY_REPLY_CODES as CODES, GATEWAY_REPLY_MESSAGES } from '../../device/gateway-codes.js';
import { deviceKey } from '../options.js';
import type { OnlineDevice } from '../presence.js';
import type { EmulatorTopology } from '../types.js';
import { hasDuplicates, identity, refusal, refuse, sameDevice } from './gateway-answers.js';
import type { Answer, Refusal } from './gateway-answers.js';
import type { GatewayHost, GatewayNotices } from './gateway-notices.js';
import { TopologyStore } from './topology.js';

export class GatewayTopology {
  readonly #host: GatewayHost;
  readonly #notices: GatewayNotices;
  readonly #store = new TopologyStore();

  constructor(host: GatewayHost, notices: GatewayNotices, topology: readonly EmulatorTopology[]) {
    this.#host = host;
    this.#notices = notices;
    for (const { gateway, subDevices } of topology) for (const subDevice of subDevices) this.#store.add(gateway, subDevice);
  }

  /** The gateway `subDevice` belongs to, or `undefined`. */
  gatewayOf(subDevice: DeviceIdentity): DeviceIdentity | undefined {
    return this.#store.gatewayOf(subDevice);
  }

  /** Whether `subDevice` is in `gateway`'s topology. */
  has(gateway: DeviceIdentity, subDevice: DeviceIdentity): boolean {
    return this.#store.has(gateway, subDevice);
  }

  /** `gateway`'s sub-devices, in the order they were added. */
  subDevicesOf(gateway: DeviceIdentity): DeviceIdentity[] {
    return this.#store.subDevicesOf(gateway);
  }

  /** Whether `gateway` may send for `device`: itself, or one of its sub-devices. */
  speaksFor(gateway: OnlineDevice, device: DeviceIdentity): boolean {
    return sameDevice(device, gateway.topics) || this.#store.has(gateway.topics, device);
  }

  /** Adds `subDevice` under `gateway`; a sub-device moved from another gateway leaves its session there. */
  add(gateway: DeviceIdentity, subDevice: DeviceIdentity): void {
    const previous = this.#store.add(gateway, subDevice);
    if (previous === undefined) return;
    const online = this.#host.presence.lookup(subDevice.productKey, subDevice.deviceName);
    if (online?.gateway !== undefined && sameDevice(online.gateway.topics, previous)) {
      this.#host.presence.leave(online);
      this.#notices.notice(online.gateway, subDevice, CODES.topologyNotFound, GATEWAY_REPLY_MESSAGES[6401]!);
      this.#notices.announce(online, 'logout', 'topology-removed');
    }
    this.#notices.topologyChange(previous, 'deleted', [subDevice]);
  }

  /** Removes a sub-device from the topology, ending its session; `notice` is the code its gateway is told, if any. */
  remove(gateway: DeviceIdentity, subDevice: DeviceIdentity, notice: number | undefined): boolean {
    if (!this.#store.remove(gateway, subDevice)) return false;
    const online = this.#host.presence.lookup(subDevice.productKey, subDevice.deviceName);
    if (online?.gateway !== undefined && sameDevice(online.gateway.topics, gateway) && this.#host.presence.leave(online)) {
      if (notice !== undefined) this.#notices.notice(online.gateway, subDevice, notice, GATEWAY_REPLY_MESSAGES[notice]!);
      this.#notices.announce(online, 'logout', 'topology-removed');
    }
    return true;
  }

  /** Removes a sub-device whose session has already ended; `false` when it was not in the topology. */
  forget(gateway: DeviceIdentity, subDevice: DeviceIdentity): boolean {
    return this.#store.remove(gateway, subDevice);
  }

  // -------------------------------------------------------------------------------------------
  // The gateway's requests

  topoAdd(gateway: OnlineDevice, id: string, entries: readonly SubDeviceSignature[]): Answer {
    if (entries.length === 0 || entries.length > GATEWAY_LIMITS.maxTopoAdd || hasDuplicates(entries)) {
      return { id, code: CODES.requestParameterError, message: `${GATEWAY_REPLY_MESSAGES[460]}: give 1..${GATEWAY_LIMITS.maxTopoAdd} distinct sub-devices` };
    }
    const refusals: Refusal[] = [];
    for (const entry of entries) {
      const device = this.#host.registry.get(entry.productKey, entry.deviceName);
      if (device === undefined || device.status === 'deleted') refusals.push(refuse(entry, CODES.deviceNotFound));
      else if (sameDevice(entry, gateway.topics)) refusals.push(refuse(entry, CODES.cannotAddSelf));
      else if (device.status === 'disabled') refusals.push(refuse(entry, CODES.deviceDisabled));
      else if (device.secret === '' || !verifySubDeviceSign(entry, device.secret)) refusals.push(refuse(entry, CODES.authError));
    }
    if (refusals.length > 0) return refusal(id, refusals);
    for (const entry of entries) this.add(identity(gateway.topics), identity(entry));
    return { id, data: entries.map(identity) };
  }

  topoGet(gateway: OnlineDevice, id: string): Answer {
    return { id, data: this.#store.subDevicesOf(gateway.topics) };
  }

  topoDelete(gateway: OnlineDevice, id: string, subDevices: readonly DeviceIdentity[]): Answer {
    const unknown = subDevices.filter((device) => this.#host.registry.get(device.productKey, device.deviceName) === undefined);
    if (unknown.length > 0) return refusal(id, unknown.map((device) => ({ device, code: CODES.deviceNotFound, message: GATEWAY_REPLY_MESSAGES[6100]! })));
    for (const subDevice of subDevices) this.remove(gateway.topics, subDevice, undefined);
    return { id, data: subDevices };
  }

  subRegister(gateway: OnlineDevice, id: string, subDevices: readonly DeviceIdentity[]): Answer {
    const refusals: Refusal[] = [];
    for (const subDevice of subDevices) {
      const device = this.#host.registry.get(subDevice.productKey, subDevice.deviceName);
      if (device === undefined || device.status === 'deleted') refusals.push(refuse(subDevice, CODES.deviceNotFound));
      else if (sameDevice(subDevice, gateway.topics)) refusals.push(refuse(subDevice, CODES.cannotAddSelf));
    }
    if (refusals.length > 0) return refusal(id, refusals);
    const data = subDevices.map((subDevice) => {
      const device = this.#host.registry.get(subDevice.productKey, subDevice.deviceName)!;
      const deviceSecret = this.#host.registry.activate(device);
      return { iotId: iotId(device), productKey: device.productKey, deviceName: device.deviceName, deviceSecret };
    });
    return { id, data };
  }
}

/** A stable stand-in for the platform's opaque device id. */
function iotId(device: DeviceIdentity): string {
  return nodeCrypto().createHash('sha256').update(deviceKey(device.productKey, device.deviceName)).digest('base64url').slice(0, 28);
}
