/**
 * How the gateway's cloud side answers a request, shared by its topology and session modules:
 * 200 and data, or the code and message of the first sub-device at fault with `data` naming
 * every one (page 89300), and the identities those answers carry.
 */
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import { GATEWAY_REPLY_MESSAGES } from '../../device/gateway-codes.js';
import { deviceKey } from '../options.js';

/** The id of an answer to a request whose own id cannot be read (as the thing model answers). */
export const NO_ID = '0';

/** What a request is answered with: 200 and data, or a code and message. */
export interface Answer {
  readonly id: string;
  readonly code?: number;
  readonly data?: unknown;
  readonly message?: string;
}

/** A refusal of one sub-device in a request. */
export interface Refusal {
  readonly device: DeviceIdentity;
  readonly code: number;
  readonly message: string;
}

/** One sub-device refused with `code`, and the platform's message for it. */
export function refuse(device: DeviceIdentity, code: number): Refusal {
  return { device: identity(device), code, message: GATEWAY_REPLY_MESSAGES[code] ?? 'refused' };
}

/** A refusal of the whole request: the first device's code and message, and `data` naming every device at fault (page 89300). */
export function refusal(id: string, refusals: readonly Refusal[]): Answer {
  const first = refusals[0]!;
  return { id, code: first.code, message: first.message, data: refusals.map(({ device }) => device) };
}

export function identity(device: DeviceIdentity): DeviceIdentity {
  return { productKey: device.productKey, deviceName: device.deviceName };
}

export function sameDevice(a: DeviceIdentity, b: DeviceIdentity): boolean {
  return a.productKey === b.productKey && a.deviceName === b.deviceName;
}

export function hasDuplicates(devices: readonly DeviceIdentity[]): boolean {
  return new Set(devices.map((device) => deviceKey(device.productKey, device.deviceName))).size !== devices.length;
}
