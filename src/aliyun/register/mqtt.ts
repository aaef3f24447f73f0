/*
 * Dynamic registration over MQTT (one secret per product). The device opens a TLS connection
 * whose CONNECT is signed with the ProductSecret and announces `authType=register` (a device
 * pre-registered in the console: the platform answers on `/ext/register` with its DeviceSecret)
 * or `authType=regnwl` (no pre-registration: the answer on `/ext/regnwl` is a clientId and a
 * DeviceToken). The platform then closes the connection; the device connects again with what it
 * got: a DeviceSecret goes into the ordinary signed CONNECT, a token into
 * `clientId|securemode=-2,authType=connwl|` with the token as password.
 *
 * Formats:
 * - CONNECT: C Link SDK 4.x `components/dynreg-mqtt/aiot_dynregmq_api.c`
 *   (`aiot_dynregmq_send_request`: clientId `${deviceName}.${productKey}|random=%s,authType=%s,
 *   securemode=2,signmethod=hmacsha256[,instanceId=%s]|`, user name `deviceName&productKey`,
 *   password the lower-case hex HMAC-SHA256 of `deviceName%sproductKey%srandom%s` keyed with the
 *   ProductSecret); Python linkkit `__config_mqtt_client_internal` builds the same.
 * - answers: the same C file `_dynregmq_recv_handler` (`/ext/register` carries `deviceSecret`;
 *   `/ext/regnwl` carries `clientId` and `deviceToken`, then connect with
 *   `clientId|authType=connwl,securemode=-2,...|`, user name `deviceName&productKey`, password the
 *   token); Python linkkit reads `productKey` and `deviceName` from `/ext/regnwl` too.
 * - the platform's page (help.aliyun.com "MQTT-based dynamic registration"): TLS only; the
 *   keepalive is not checked; registration without pre-registration exists only in cn-shanghai;
 *   new public and Enterprise instances take `securemode=-2` with `instanceId`, old public
 *   instances `securemode=2`. The two SDKs send `securemode=2` in every case; this module does
 *   too unless told `secureMode: -2`, and reads either.
 */
import type { MqttCredentials, SignMethod } from '../../sign/types.js';
import { SIGN_METHODS } from '../../sign/types.js';
import { withHiddenSecrets } from '../../sign/redact.js';
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue, requireOneOf, requireText } from '../../shared/validate.js';
import { parseSignMethodName, registrationRandom, signRegistration } from '../gateway/sign.js';
import { PlatformPayloadError } from '../wire/errors.js';
import type { DeviceIdentity } from '../wire/identity.js';
import { checkIdentity, readName } from '../wire/identity.js';
import { Fields } from '../wire/read.js';
import type { DeviceCredentials } from './https.js';
import { hiddenCredentials } from './https.js';

/** `register`: the device exists in the console; `regnwl`: it does not (cn-shanghai only). */
export type RegisterAuthType = 'register' | 'regnwl';

/** The securemode a registration announces: 2 (SDKs, old public instances) or -2 (new instances). */
export type RegisterSecureMode = 2 | -2;

/** What {@link registrationConnectCredentials} needs. */
export interface RegistrationConnectInput {
  readonly productKey: string;
  readonly deviceName: string;
  /** Never printed. */
  readonly productSecret: string;
  readonly authType: RegisterAuthType;
  /** Default: 16 fresh random hex digits. */
  readonly random?: string | undefined;
  /** Default `hmacsha256`, as both SDKs use. */
  readonly signMethod?: SignMethod | undefined;
  /** The instance id of a new public or Enterprise instance, added as `instanceId=`. */
  readonly instanceId?: string | undefined;
  /** Default 2. */
  readonly secureMode?: RegisterSecureMode | undefined;
}

/**
 * The CONNECT clientId, user name and password of a registration connection. Connect over TLS;
 * the returned object prints its password as `[redacted]`.
 *
 * @example registrationConnectCredentials({ productKey: 'pk', deviceName: 'dev', productSecret: 's',
 *   authType: 'register', random: '123' }).clientId
 *   // 'dev.pk|random=123,authType=register,securemode=2,signmethod=hmacsha256|'
 * @throws ConfigurationError naming the field.
 */
export function registrationConnectCredentials(input: RegistrationConnectInput): Readonly<MqttCredentials> {
  const { productKey, deviceName } = checkIdentity(input, '');
  const authType = requireOneOf('authType', input.authType, ['register', 'regnwl'] as const);
  const signMethod = requireOneOf('signMethod', input.signMethod ?? 'hmacsha256', SIGN_METHODS);
  const secureMode = requireOneOf('secureMode', input.secureMode ?? 2, [2, -2] as const);
  const random = input.random ?? registrationRandom();
  const password = signRegistration({ productKey, deviceName, productSecret: input.productSecret, random, signMethod });
  const fields = [`random=${random}`, `authType=${authType}`, `securemode=${secureMode}`, `signmethod=${signMethod}`];
  if (input.instanceId !== undefined) fields.push(`instanceId=${checkInstanceId(input.instanceId)}`);
  return withHiddenSecrets(
    { clientId: `${deviceName}.${productKey}|${fields.join(',')}|`, username: `${deviceName}&${productKey}`, password },
    ['password'],
  );
}

function checkInstanceId(value: unknown): string {
  const text = requireText('instanceId', value, "use the instance ID from the console's instance overview");
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new ConfigurationError('instanceId', `got ${describeValue(text)}; use letters, digits, '-' and '_'`);
  return text;
}

/** A registration CONNECT as the platform reads its clientId. */
export interface RegistrationClientId {
  readonly authType: RegisterAuthType;
  readonly random: string;
  readonly signMethod: SignMethod;
  readonly secureMode: RegisterSecureMode;
  readonly instanceId: string | undefined;
}

/**
 * Reads the extension of a registration clientId (the platform's side): `undefined` when the
 * clientId announces no `authType=register` or `regnwl` (an ordinary or a token connection).
 *
 * @throws PlatformPayloadError (`bad-field`, naming the extension field) for a registration
 *   clientId without `random`, with an unknown sign method, or a securemode other than 2 or -2.
 */
export function parseRegistrationClientId(clientId: string): RegistrationClientId | undefined {
  const fields = clientIdFields(clientId);
  const authType = fields.get('authType');
  if (authType !== 'register' && authType !== 'regnwl') return undefined;
  const random = fields.get('random');
  if (random === undefined || !/^[A-Za-z0-9]{1,64}$/.test(random)) {
    throw new PlatformPayloadError('bad-field', 'random', 'a registration clientId needs random=<letters and digits>');
  }
  const signMethod = parseSignMethodName(fields.get('signmethod') ?? 'hmacsha256');
  if (signMethod === undefined) throw new PlatformPayloadError('bad-field', 'signmethod', 'expected hmacmd5, hmacsha1 or hmacsha256');
  const secureMode = fields.get('securemode');
  if (secureMode !== '2' && secureMode !== '-2') throw new PlatformPayloadError('bad-field', 'securemode', 'expected securemode=2 or -2 (registration is TLS only)');
  return { authType, random, signMethod, secureMode: secureMode === '2' ? 2 : -2, instanceId: fields.get('instanceId') };
}

/** Whether a clientId announces a token connection (`authType=connwl`). */
export function isTokenClientId(clientId: string): boolean {
  return clientIdFields(clientId).get('authType') === 'connwl';
}

/** The `name=value` fields of the `|...|` extension of a clientId (empty when it has none). */
function clientIdFields(clientId: string): Map<string, string> {
  const open = clientId.indexOf('|');
  const fields = new Map<string, string>();
  if (open < 0 || !clientId.endsWith('|') || open === clientId.length - 1) return fields;
  for (const field of clientId.slice(open + 1, -1).split(',')) {
    const equals = field.indexOf('=');
    if (equals > 0) fields.set(field.slice(0, equals), field.slice(equals + 1));
  }
  return fields;
}

/**
 * Reads the `/ext/register` answer: the DeviceSecret of `device` (the connection's own). A payload
 * naming another device is refused. The returned triple prints its secret as `[redacted]`.
 *
 * @throws PlatformPayloadError for a missing secret or another device's answer.
 */
export function parseRegisterAnswerMessage(payload: Uint8Array | string, device: DeviceIdentity): Readonly<DeviceCredentials> {
  const fields = Fields.ofPayload(payload);
  checkSameDevice(fields, device);
  return hiddenCredentials({ productKey: device.productKey, deviceName: device.deviceName, deviceSecret: fields.string('deviceSecret') });
}

/** The `/ext/register` answer (the platform's side). */
export function buildRegisterAnswerMessage(credentials: DeviceCredentials): string {
  const { productKey, deviceName } = checkIdentity(credentials, '');
  const deviceSecret = requireText('deviceSecret', credentials.deviceSecret, 'give the secret the platform issued');
  return JSON.stringify({ productKey, deviceName, deviceSecret });
}

/** What a registration without pre-registration returns. Prints its token as `[redacted]`. */
export interface DeviceToken extends DeviceIdentity {
  /** The bare clientId to connect with. */
  readonly clientId: string;
  readonly deviceToken: string;
}

/**
 * Reads the `/ext/regnwl` answer for `device`.
 *
 * @throws PlatformPayloadError for a missing clientId or token, or another device's answer.
 */
export function parseRegnwlAnswerMessage(payload: Uint8Array | string, device: DeviceIdentity): Readonly<DeviceToken> {
  const fields = Fields.ofPayload(payload);
  checkSameDevice(fields, device);
  const clientId = fields.string('clientId');
  if (/[|,=]/.test(clientId)) throw new PlatformPayloadError('bad-field', 'clientId', "expected a bare clientId, without '|', ',' or '='");
  return withHiddenSecrets({ productKey: device.productKey, deviceName: device.deviceName, clientId, deviceToken: fields.string('deviceToken') }, ['deviceToken']);
}

/** The `/ext/regnwl` answer (the platform's side). */
export function buildRegnwlAnswerMessage(token: DeviceToken): string {
  const { productKey, deviceName } = checkIdentity(token, '');
  const clientId = requireText('clientId', token.clientId, 'give the clientId the platform issued');
  const deviceToken = requireText('deviceToken', token.deviceToken, 'give the token the platform issued');
  return JSON.stringify({ clientId, productKey, deviceName, deviceToken });
}

/**
 * The CONNECT fields of a token connection: clientId `${clientId}|securemode=-2,authType=connwl|`,
 * user name `deviceName&productKey`, the token as password (printed as `[redacted]`). Connect
 * over TLS.
 */
export function tokenConnectCredentials(token: DeviceToken): Readonly<MqttCredentials> {
  const { productKey, deviceName } = checkIdentity(token, '');
  const clientId = requireText('clientId', token.clientId, 'give the clientId from the registration');
  const password = requireText('deviceToken', token.deviceToken, 'give the token from the registration');
  return withHiddenSecrets({ clientId: `${clientId}|securemode=-2,authType=connwl|`, username: `${deviceName}&${productKey}`, password }, ['password']);
}

function checkSameDevice(fields: Fields, device: DeviceIdentity): void {
  for (const name of ['productKey', 'deviceName'] as const) {
    if (fields.has(name) && readName(fields, name) !== device[name]) {
      throw new PlatformPayloadError('bad-field', name, `the answer is for another device than ${device.productKey}/${device.deviceName}`);
    }
  }
}
