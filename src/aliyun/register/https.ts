/*
 * Dynamic registration over HTTPS (one secret per product, pre-registered devices): the device
 * POSTs `productKey`, `deviceName`, `random`, `sign`, `signMethod` as a form to
 * `https://iot-auth.{region}.aliyuncs.com/auth/register/device` and gets its DeviceSecret back.
 *
 * Formats: C Link SDK 4.x `components/dynreg/aiot_dynreg_api.c` (`aiot_dynreg_send_request`:
 * body `productKey=%s&deviceName=%s&random=%s&sign=%s&signMethod=hmacsha256`, headers
 * `Content-Type: application/x-www-form-urlencoded` and `Accept: text/xml,text/javascript,
 * text/html,application/json`; `_dynreg_device_info` reads `deviceSecret` from a 200 answer);
 * Node.js SDK 1.2.8 `lib/utils.js` `register` (the same form, default URL
 * `https://iot-auth.cn-shanghai.aliyuncs.com/auth/register/device`, a reply with `code` 200 and
 * `data`); the platform's page as quoted in blog.csdn.net/changzengli/article/details/104473584:
 * answer `{"code":200,"data":{"productKey","deviceName","deviceSecret"},"message":"success"}`,
 * `signMethod` one of HmacMD5, HmacSHA1, HmacSHA256 (any case).
 *
 * The Node.js SDK 1.2.8 signs with HMAC-SHA1 whatever method it announces (its `hmacSign` ignores
 * the method), a bug this module does not copy: the signature always uses the announced method.
 * HTTPS registration works only for pre-registered devices (help.aliyun.com "Register devices":
 * "HTTPS does not support the registration-free method").
 */
import { withHiddenSecrets } from '../../sign/redact.js';
import { SIGN_METHODS } from '../../sign/types.js';
import type { SignMethod } from '../../sign/types.js';
import { requireOneOf } from '../../shared/validate.js';
import { checkRegion, DEFAULT_REGION } from '../endpoints.js';
import type { AliyunRegion } from '../endpoints.js';
import { parseSignMethodName, registrationRandom, signRegistration } from '../gateway/sign.js';
import { PlatformPayloadError } from '../wire/errors.js';
import type { DeviceIdentity } from '../wire/identity.js';
import { checkIdentity, readIdentity } from '../wire/identity.js';
import { Fields } from '../wire/read.js';

/** The path the registration form is POSTed to. */
export const REGISTER_PATH = '/auth/register/device';

/** The HTTPS registration host of a region: `iot-auth.${region}.aliyuncs.com`. */
export function registerHost(region: AliyunRegion = DEFAULT_REGION): string {
  return `iot-auth.${checkRegion(region)}.aliyuncs.com`;
}

/** A device's triple: what `connectDevice` takes. Prints its secret as `[redacted]`. */
export interface DeviceCredentials extends DeviceIdentity {
  readonly deviceSecret: string;
}

/**
 * `credentials` frozen, printing the secret as `[redacted]`.
 *
 * @internal
 */
export function hiddenCredentials(credentials: DeviceCredentials): Readonly<DeviceCredentials> {
  return withHiddenSecrets({ productKey: credentials.productKey, deviceName: credentials.deviceName, deviceSecret: credentials.deviceSecret }, ['deviceSecret']);
}

/** What {@link buildRegisterForm} needs. */
export interface RegisterFormInput {
  readonly productKey: string;
  readonly deviceName: string;
  /** Never printed. */
  readonly productSecret: string;
  /** Default: 16 fresh random hex digits. */
  readonly random?: string | undefined;
  /** Default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
}

/**
 * The form body, `productKey=..&deviceName=..&random=..&sign=..&signMethod=hmacsha256`, each value
 * URL-encoded.
 *
 * @throws ConfigurationError naming the field.
 */
export function buildRegisterForm(input: RegisterFormInput): string {
  const { productKey, deviceName } = checkIdentity(input, '');
  const signMethod = requireOneOf('signMethod', input.signMethod ?? 'hmacsha256', SIGN_METHODS);
  const random = input.random ?? registrationRandom();
  const sign = signRegistration({ productKey, deviceName, productSecret: input.productSecret, random, signMethod });
  return new URLSearchParams({ productKey, deviceName, random, sign, signMethod }).toString();
}

/** A registration form as the platform reads it. */
export interface RegisterForm extends DeviceIdentity {
  readonly random: string;
  readonly sign: string;
  readonly signMethod: SignMethod;
}

/**
 * Reads a registration form (the platform's side).
 *
 * @throws PlatformPayloadError `missing-field` or `bad-field` naming the form field.
 */
export function parseRegisterForm(body: string): RegisterForm {
  const form = new URLSearchParams(body);
  const fields = Fields.of(Object.fromEntries(form), '');
  const { productKey, deviceName } = readIdentity(fields.raw, '');
  const random = fields.string('random');
  const sign = fields.string('sign');
  const signMethod = parseSignMethodName(fields.string('signMethod'));
  if (signMethod === undefined) throw new PlatformPayloadError('bad-field', 'signMethod', 'expected hmacmd5, hmacsha1 or hmacsha256');
  return { productKey, deviceName, random, sign, signMethod };
}

/** What a registration answer says. */
export type RegisterAnswer =
  | { readonly ok: true; readonly credentials: Readonly<DeviceCredentials> }
  | { readonly ok: false; readonly code: number; readonly message: string | undefined };

/**
 * Reads the JSON answer to a registration: code 200 with `data.{productKey, deviceName,
 * deviceSecret}`, or the platform's code and message.
 *
 * @throws PlatformPayloadError for an answer that is not that JSON.
 */
export function parseRegisterAnswer(body: Uint8Array | string): RegisterAnswer {
  const fields = Fields.ofPayload(body);
  const code = fields.integer('code');
  const message = fields.optionalString('message');
  if (code !== 200) return { ok: false, code, message };
  const data = fields.object('data');
  const identity = readIdentity(data.raw, 'data');
  return { ok: true, credentials: hiddenCredentials({ ...identity, deviceSecret: data.string('deviceSecret') }) };
}

/** A registration answer (the platform's side). */
export function buildRegisterAnswer(answer: { readonly credentials: DeviceCredentials } | { readonly code: number; readonly message: string }): string {
  if ('credentials' in answer) {
    const { productKey, deviceName, deviceSecret } = answer.credentials;
    return JSON.stringify({ code: 200, data: { productKey, deviceName, deviceSecret }, message: 'success' });
  }
  return JSON.stringify({ code: answer.code, data: {}, message: answer.message });
}
