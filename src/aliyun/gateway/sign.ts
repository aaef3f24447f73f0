/*
 * The two signatures of the gateway formats.
 *
 * - A sub-device proves itself with its own DeviceSecret, exactly as a device does in CONNECT:
 *   HMAC over `clientId`, `deviceName`, `productKey`, `timestamp`, sorted by name and written as
 *   name then value (help.aliyun.com/document_detail/89299 "添加拓扑关系", /89300 "子设备上下线":
 *   every parameter but `sign`, `signMethod` and `cleanSession`). The BatchAddThingTopo API page
 *   (help.aliyun.com/document_detail/145672) gives a worked value, reproduced in the tests.
 * - A device registering itself, directly or through its gateway, proves it holds the product's
 *   ProductSecret: HMAC over `deviceName`, `productKey`, `random` in that (sorted) order
 *   (C Link SDK 4.x `components/dynreg/aiot_dynreg_api.c` `_dynreg_sign`, `components/subdev`
 *   `_subdev_calculate_product_register_sign`; Node.js SDK 1.2.8 `lib/utils.js`
 *   `deviceRegisterSign`; Python linkkit `__dynamic_register_device`).
 *
 * The sources disagree on the clientId a sub-device signs with (`pk&dn` in the platform's page
 * and the Node.js SDK, `pk.dn` in the C SDK, `pk.dn|lan=Python,...|` in Python linkkit) and on the
 * case of the hex: the platform recomputes the HMAC over whatever clientId the message carries and
 * compares hex without regard to case, so any of them works. This module defaults to the page's
 * `productKey&deviceName` and writes upper-case hex like the CONNECT password; the registration
 * signature is lower-case hex, as all three SDKs send it.
 */
import { nodeCrypto } from '../../shared/builtins.js';
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue, requireOneOf, requireText } from '../../shared/validate.js';
import { hmacDigest, signContent, SIGNATURE_HEX_LENGTH, signature } from '../../sign/content.js';
import { SIGN_METHODS } from '../../sign/types.js';
import type { SignMethod } from '../../sign/types.js';
import { checkIdentity, subField } from '../wire/identity.js';

/**
 * How the gateway payloads name each sign method. The pages list `hmacSha1`, `hmacSha256`,
 * `hmacMd5` and compare without regard to case (BatchAddThingTopo: "大小写不敏感"); the C SDK and
 * Python linkkit send `hmacSha256`.
 */
export const SIGN_METHOD_NAMES: Readonly<Record<SignMethod, string>> = Object.freeze({
  hmacmd5: 'hmacMd5',
  hmacsha1: 'hmacSha1',
  hmacsha256: 'hmacSha256',
});

/** The sign method a payload names, matched without regard to case, or `undefined`. */
export function parseSignMethodName(text: string): SignMethod | undefined {
  const lower = text.toLowerCase();
  return SIGN_METHODS.find((method) => method === lower);
}

/** A sub-device's triple, and the clientId it signs with. */
export interface SubDeviceCredentials {
  readonly productKey: string;
  readonly deviceName: string;
  /** Signs the sub-device's messages; never printed. */
  readonly deviceSecret: string;
  /** Any non-empty id; default `${productKey}&${deviceName}`, as the platform's page shows. */
  readonly clientId?: string | undefined;
}

/** Options of {@link signSubDevice}. */
export interface SubDeviceSignOptions {
  /** Milliseconds since the epoch; default `Date.now()`. */
  readonly timestamp?: number | undefined;
  /** Default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
}

/** The signed fields a topology add or a login carries for one sub-device. */
export interface SubDeviceSignature {
  readonly productKey: string;
  readonly deviceName: string;
  readonly clientId: string;
  /** Milliseconds, as the decimal text that was signed. */
  readonly timestamp: string;
  readonly signMethod: SignMethod;
  /** Upper-case hex HMAC. */
  readonly sign: string;
}

/**
 * Signs a sub-device for `thing.topo.add` or a login.
 *
 * @throws ConfigurationError naming the field (`productKey`, `deviceName`, `deviceSecret`,
 *   `clientId`, `timestamp`, `signMethod`); the secret's value never appears.
 */
export function signSubDevice(device: SubDeviceCredentials, options: SubDeviceSignOptions = {}): SubDeviceSignature {
  return signSubDeviceAt('', device, options);
}

/**
 * {@link signSubDevice} for an element of a list: the errors about the device's own fields name
 * them under `field` (`subDevices[2].deviceSecret`).
 *
 * @internal
 */
export function signSubDeviceAt(field: string, device: SubDeviceCredentials, options: SubDeviceSignOptions): SubDeviceSignature {
  const { productKey, deviceName } = checkIdentity(device, field);
  const deviceSecret = requireText(subField(field, 'deviceSecret'), device.deviceSecret, "use the sub-device's DeviceSecret from the console");
  const clientId =
    device.clientId === undefined
      ? `${productKey}&${deviceName}`
      : requireText(subField(field, 'clientId'), device.clientId, 'give any non-empty id, or leave it out for productKey&deviceName');
  const timestamp = timestampText(options.timestamp);
  const signMethod = requireOneOf('signMethod', options.signMethod ?? 'hmacsha256', SIGN_METHODS);
  const content = signContent({ clientId, deviceName, productKey, timestamp });
  return { productKey, deviceName, clientId, timestamp, signMethod, sign: signature(signMethod, deviceSecret, content) };
}

/**
 * Whether `sign` is the HMAC of the sub-device fields keyed with `deviceSecret` (the platform's
 * check, for the stand-in). Hex is compared without regard to case, in constant time.
 */
export function verifySubDeviceSign(presented: Omit<SubDeviceSignature, 'sign'> & { readonly sign: string }, deviceSecret: string): boolean {
  const content = signContent({
    clientId: presented.clientId,
    deviceName: presented.deviceName,
    productKey: presented.productKey,
    timestamp: presented.timestamp,
  });
  return hexMatches(presented.sign, hmacDigest(presented.signMethod, deviceSecret, content), presented.signMethod);
}

/** What a registration signature covers. */
export interface RegistrationSignInput {
  readonly productKey: string;
  readonly deviceName: string;
  /** The product's ProductSecret; never printed. */
  readonly productSecret: string;
  /** Any non-empty text of letters and digits, fresh for each request. */
  readonly random: string;
  /** Default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
}

/**
 * The registration signature: lower-case hex HMAC (keyed with the ProductSecret) over
 * `deviceName${deviceName}productKey${productKey}random${random}`.
 *
 * @throws ConfigurationError naming the field.
 */
export function signRegistration(input: RegistrationSignInput): string {
  const { productKey, deviceName } = checkIdentity(input, '');
  const productSecret = requireText('productSecret', input.productSecret, "use the product's ProductSecret from the console");
  const random = checkRandom(input.random);
  const signMethod = requireOneOf('signMethod', input.signMethod ?? 'hmacsha256', SIGN_METHODS);
  return hmacDigest(signMethod, productSecret, signContent({ deviceName, productKey, random })).toString('hex');
}

/** Whether `sign` is the registration signature for the fields (the platform's check). */
export function verifyRegistrationSign(
  presented: { readonly productKey: string; readonly deviceName: string; readonly random: string; readonly signMethod: SignMethod; readonly sign: string },
  productSecret: string,
): boolean {
  const content = signContent({ deviceName: presented.deviceName, productKey: presented.productKey, random: presented.random });
  return hexMatches(presented.sign, hmacDigest(presented.signMethod, productSecret, content), presented.signMethod);
}

/** A fresh random text for a registration: 16 hex digits from the system's CSPRNG. */
export function registrationRandom(): string {
  return nodeCrypto().randomBytes(8).toString('hex');
}

/**
 * `random` as the platform takes it: 1..64 letters and digits.
 *
 * @internal
 */
export function checkRandom(random: unknown): string {
  const text = requireText('random', random, 'leave it out for a fresh one, or give letters and digits');
  if (!/^[A-Za-z0-9]{1,64}$/.test(text)) {
    throw new ConfigurationError('random', `got ${describeValue(text)}; use 1..64 letters and digits`);
  }
  return text;
}

function timestampText(given: unknown): string {
  const value = given === undefined ? Date.now() : given;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigurationError('timestamp', `got ${describeValue(given)}; give milliseconds since the epoch (e.g. Date.now())`);
  }
  return String(value);
}

function hexMatches(presented: string, expected: Buffer, method: SignMethod): boolean {
  if (presented.length !== SIGNATURE_HEX_LENGTH[method] || !/^[0-9a-fA-F]*$/.test(presented)) return false;
  return nodeCrypto().timingSafeEqual(Buffer.from(presented, 'hex'), expected);
}
