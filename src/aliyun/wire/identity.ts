/*
 * A device as the gateway formats name it: `{ "productKey": "...", "deviceName": "..." }`.
 */
import { ConfigurationError } from '../../shared/errors.js';
import { forbidCharacters, requireText } from '../../shared/validate.js';
import { PlatformPayloadError } from './errors.js';
import { Fields } from './read.js';

/** A device's identity on the platform. */
export interface DeviceIdentity {
  readonly productKey: string;
  readonly deviceName: string;
}

/**
 * Characters an identity must not hold: each name is one topic level (no `/`, `+`, `#`), and `&`
 * joins deviceName and productKey in the CONNECT user name.
 */
const FORBIDDEN = ['/', '+', '#', '&'];

/**
 * `value` as a device identity, checked as it will be written: both names non-empty, without
 * `/`, `+`, `#` or `&`.
 *
 * @throws ConfigurationError naming `${field}.productKey` or `${field}.deviceName` (just
 *   `productKey` or `deviceName` when `field` is empty).
 *
 * @internal
 */
export function checkIdentity(value: unknown, field: string): DeviceIdentity {
  if (typeof value !== 'object' || value === null) {
    throw new ConfigurationError(field === '' ? 'device' : field, 'expected an object with productKey and deviceName');
  }
  const given = value as Partial<DeviceIdentity>;
  return { productKey: checkName(subField(field, 'productKey'), given.productKey), deviceName: checkName(subField(field, 'deviceName'), given.deviceName) };
}

/**
 * `field.name`, or `name` for the top level (`field` empty).
 *
 * @internal
 */
export function subField(field: string, name: string): string {
  return field === '' ? name : `${field}.${name}`;
}

function checkName(field: string, value: unknown): string {
  const text = requireText(field, value, 'give the name exactly as the console shows it');
  forbidCharacters(field, text, FORBIDDEN, 'it names one topic level and is joined with & in the user name');
  return text;
}

/**
 * Reads `{ productKey, deviceName }` at `path`.
 *
 * @throws PlatformPayloadError `missing-field` or `bad-field` naming the field.
 *
 * @internal
 */
export function readIdentity(value: unknown, path: string): DeviceIdentity {
  const fields = Fields.of(value, path);
  return { productKey: readName(fields, 'productKey'), deviceName: readName(fields, 'deviceName') };
}

/**
 * One of the two names, read with the same rules {@link checkIdentity} writes them by.
 *
 * @internal
 */
export function readName(fields: Fields, name: 'productKey' | 'deviceName'): string {
  const text = fields.string(name);
  const found = FORBIDDEN.find((character) => text.includes(character));
  if (found !== undefined) {
    throw new PlatformPayloadError('bad-field', fields.at(name), `must not contain '${found}'`);
  }
  return text;
}

/**
 * `productKey/deviceName`: one string per device, for maps and duplicate checks.
 *
 * @internal
 */
export function identityKey(device: DeviceIdentity): string {
  return `${device.productKey}/${device.deviceName}`;
}

/**
 * `devices` checked one by one as `${field}[i]`, refusing an empty list, more than `max`, or the
 * same device twice.
 *
 * @throws ConfigurationError naming the list or the offending element.
 *
 * @internal
 */
export function checkDeviceList<T>(field: string, devices: unknown, max: number, check: (item: unknown, field: string) => T & DeviceIdentity, why: string): T[] {
  if (!Array.isArray(devices) || devices.length === 0) {
    throw new ConfigurationError(field, 'expected a non-empty array of devices');
  }
  if (devices.length > max) {
    throw new ConfigurationError(field, `holds ${devices.length} devices; ${why} allows at most ${max} per message: split it`);
  }
  const seen = new Set<string>();
  return devices.map((item, index) => {
    const checked = check(item, `${field}[${index}]`);
    const key = identityKey(checked);
    if (seen.has(key)) throw new ConfigurationError(`${field}[${index}]`, `${key} appears twice in one message; list each device once`);
    seen.add(key);
    return checked;
  });
}
