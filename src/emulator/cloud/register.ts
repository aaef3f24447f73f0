/**
 * Dynamic registration's cloud side (one secret per product): products open to it, with their
 * ProductSecret; the HTTPS form on `/auth/register/device`; the MQTT registration CONNECT
 * (`authType=register` answered on `/ext/register` with the DeviceSecret, `authType=regnwl`
 * answered on `/ext/regnwl` with a clientId and a DeviceToken); and the token connection that
 * follows (`authType=connwl`). Formats and sources: `src/aliyun/register/`.
 *
 * A device's life here, as on the platform, its secret and status kept in the stand-in's
 * registry (shared with the gateway's `thing.sub.register`):
 * - registered with an empty secret: in the console, not activated. `register` (HTTPS or MQTT)
 *   mints its DeviceSecret; asked again before the device first connects with it, the same one
 *   (a device that lost the answer can ask again); once the device has connected, it is
 *   activated and registration is refused.
 * - registered with a secret, or with none in X.509 mode (a certificate device): activated;
 *   registration is refused. Disabled: refused (6204); deleted: as not registered.
 * - not listed: only `regnwl` (registration without pre-registration) creates it, and issues a
 *   clientId and token; asking again issues new ones and revokes the old. At most
 *   {@link MAX_CREATED_DEVICES} devices per product are created this way.
 *
 * The checks, and what the platform answers (the codes the sources give: 401 for a bad sign, 460
 * for a bad request, 6100 for an unknown device; the pages name none for a product closed to
 * registration or a device already activated, so those say why in the message):
 *
 * | check | HTTPS code | MQTT CONNACK |
 * | --- | --- | --- |
 * | the form or clientId cannot be read | 460 | 2 |
 * | registration over plain TCP | n/a | 3 |
 * | user name not `deviceName&productKey` naming the clientId's device | n/a | 4 |
 * | product not open to dynamic registration | 401 | 5 |
 * | signature not the ProductSecret's | 401 | 4 |
 * | device not in the console (`register`) | 6100 | 5 |
 * | device disabled | 6204 | 5 |
 * | device already activated | 460 | 5 |
 */
import { nodeCrypto } from '../../shared/builtins.js';
import { ALINK_REPLY_CODES } from '../../aliyun/alink/codes.js';
import { verifyRegistrationSign } from '../../aliyun/gateway/sign.js';
import { buildRegisterAnswer, parseRegisterForm } from '../../aliyun/register/https.js';
import type { RegisterForm } from '../../aliyun/register/https.js';
import { buildRegisterAnswerMessage, buildRegnwlAnswerMessage, isTokenClientId, parseRegistrationClientId } from '../../aliyun/register/mqtt.js';
import type { RegistrationClientId } from '../../aliyun/register/mqtt.js';
import { REGISTER_TOPIC, REGNWL_TOPIC } from '../../aliyun/service-topics.js';
import { PlatformPayloadError } from '../../aliyun/wire/errors.js';
import { parseClientId } from '../../sign/extension.js';
import type { ConnectPacket } from '../../packet/types.js';
import { deviceKey } from '../options.js';
import type { DeviceRegistry } from '../registry.js';

/** How many devices `regnwl` may create in one product: a bound on what a registration flood can make the stand-in keep. */
export const MAX_CREATED_DEVICES = 10_000;

/** The codes an HTTPS registration is refused with. */
export const REGISTRATION_CODES = Object.freeze({
  requestParameterError: ALINK_REPLY_CODES.requestParameterError,
  /** "request auth error": the signature does not match (Node SDK `lib/utils.js`; page 89299). */
  authError: 401,
  /** "device not found" (page 120329). */
  deviceNotFound: 6100,
  /** "device disabled" (page 120329). */
  deviceDisabled: 6204,
});

/** The verdict on a registration or token CONNECT, as admission reports it. */
/** @internal */
export type CloudAdmission =
  | {
      readonly ok: true;
      readonly productKey: string;
      readonly deviceName: string;
      readonly clientId: string;
      /** Registration and token connections prove themselves with a secret (the ProductSecret's signature, the token). */
      readonly authentication: 'secret';
      /** For a registration: what to send once CONNACK 0 is out, before the connection is closed. */
      readonly registration?: { readonly authType: 'register' | 'regnwl'; readonly topic: string; readonly payload: string };
    }
  | { readonly ok: false; readonly returnCode: 2 | 3 | 4 | 5; readonly reason: RegistrationRefusal; readonly message: string };

/** Why a registration or token CONNECT was refused. */
/** @internal */
export type RegistrationRefusal = 'malformed-extension' | 'securemode-mismatch' | 'malformed-username' | 'bad-signature' | 'unknown-device' | 'registration-refused';

/** An HTTPS answer: the status and the JSON body. */
/** @internal */
export interface FormAnswer {
  readonly status: number;
  readonly body: string;
  /** The device that got its secret, when one did. */
  readonly registered?: { readonly productKey: string; readonly deviceName: string } | undefined;
}

interface Token {
  readonly clientId: string;
  readonly deviceToken: string;
}

/** @internal */
export class Registrar {
  readonly #registry: DeviceRegistry;
  readonly #products: ReadonlyMap<string, string>;
  /** Devices whose secret registration minted and which have not connected with it yet, by device key. */
  readonly #pending = new Set<string>();
  /** Tokens of devices created by `regnwl`, by device key. */
  readonly #tokens = new Map<string, Token>();
  readonly #created = new Map<string, number>();

  constructor(registry: DeviceRegistry, products: ReadonlyMap<string, string>) {
    this.#registry = registry;
    this.#products = products;
  }

  /** Whether the platform knows the device: registered (and not deleted), or created by `regnwl`. */
  knows(productKey: string, deviceName: string): boolean {
    const device = this.#registry.get(productKey, deviceName);
    return (device !== undefined && device.status !== 'deleted') || this.#tokens.has(deviceKey(productKey, deviceName));
  }

  /** A device connected: from now on it is activated. */
  connected(productKey: string, deviceName: string): void {
    this.#pending.delete(deviceKey(productKey, deviceName));
  }

  /** The secrets the registrar holds beyond the registry's (product secrets, tokens), for keeping them out of event messages. */
  *secrets(): Generator<string> {
    yield* this.#products.values();
    for (const token of this.#tokens.values()) yield token.deviceToken;
  }

  /** The answer to a POST of the registration form. */
  answerForm(body: string): FormAnswer {
    let form: RegisterForm;
    try {
      form = parseRegisterForm(body);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      return refusal(REGISTRATION_CODES.requestParameterError, `request parameter error: ${error.message}`);
    }
    const productSecret = this.#products.get(form.productKey);
    if (productSecret === undefined) return refusal(REGISTRATION_CODES.authError, `request auth error: product ${form.productKey} is not open to dynamic registration`);
    if (!verifyRegistrationSign(form, productSecret)) return refusal(REGISTRATION_CODES.authError, 'request auth error: the sign is not the ProductSecret\'s signature of deviceName, productKey and random');
    const outcome = this.#register(form.productKey, form.deviceName);
    if (!outcome.ok) return refusal(outcome.httpCode, outcome.message);
    const { productKey, deviceName } = form;
    return { status: 200, body: buildRegisterAnswer({ credentials: { productKey, deviceName, deviceSecret: outcome.deviceSecret } }), registered: { productKey, deviceName } };
  }

  /**
   * The verdict on a CONNECT whose clientId announces a registration (`authType=register` or
   * `regnwl`), or `undefined` for any other CONNECT.
   */
  admitRegistration(connect: ConnectPacket, tls: boolean): CloudAdmission | undefined {
    let announced: RegistrationClientId | undefined;
    try {
      announced = parseRegistrationClientId(connect.clientId);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      return refuse(2, 'malformed-extension', `the registration clientId is malformed: ${error.message}`);
    }
    if (announced === undefined) return undefined;
    if (!tls) return refuse(3, 'securemode-mismatch', 'dynamic registration is TLS only; this listener is plain TCP');
    const identity = readUsername(connect.username);
    if (identity === undefined) return refuse(4, 'malformed-username', 'the user name must be deviceName&productKey');
    const { productKey, deviceName } = identity;
    if (!connect.clientId.startsWith(`${deviceName}.${productKey}|`)) {
      return refuse(4, 'malformed-username', `the clientId of a registration is deviceName.productKey; it names another device than the user name ${deviceName}&${productKey}`);
    }
    const productSecret = this.#products.get(productKey);
    if (productSecret === undefined) return refuse(5, 'registration-refused', `product ${productKey} is not open to dynamic registration`);
    const sign = passwordText(connect.password);
    if (!verifyRegistrationSign({ productKey, deviceName, random: announced.random, signMethod: announced.signMethod, sign }, productSecret)) {
      return refuse(4, 'bad-signature', `the password is not the ${announced.signMethod} registration signature keyed with the ProductSecret of ${productKey}`);
    }
    const bare = `${deviceName}.${productKey}`;
    if (announced.authType === 'register') {
      const outcome = this.#register(productKey, deviceName);
      if (!outcome.ok) return refuse(5, outcome.httpCode === REGISTRATION_CODES.deviceNotFound ? 'unknown-device' : 'registration-refused', outcome.message);
      const payload = buildRegisterAnswerMessage({ productKey, deviceName, deviceSecret: outcome.deviceSecret });
      return { ok: true, productKey, deviceName, clientId: bare, authentication: 'secret', registration: { authType: 'register', topic: REGISTER_TOPIC, payload } };
    }
    const outcome = this.#registerWithoutPreregistration(productKey, deviceName);
    if (!outcome.ok) return refuse(5, 'registration-refused', outcome.message);
    const payload = buildRegnwlAnswerMessage({ productKey, deviceName, ...outcome.token });
    return { ok: true, productKey, deviceName, clientId: bare, authentication: 'secret', registration: { authType: 'regnwl', topic: REGNWL_TOPIC, payload } };
  }

  /**
   * The verdict on a token CONNECT (`authType=connwl`), or `undefined` for any other: the user
   * name names a device `regnwl` created, and the clientId and password are the ones it issued.
   */
  admitToken(connect: ConnectPacket, tls: boolean): CloudAdmission | undefined {
    if (!isTokenClientId(connect.clientId)) return undefined;
    const parsed = parseClientId(connect.clientId);
    if (!parsed.ok) return refuse(2, 'malformed-extension', parsed.message);
    if (!tls) return refuse(3, 'securemode-mismatch', 'a token connection is TLS only; this listener is plain TCP');
    const identity = readUsername(connect.username);
    if (identity === undefined) return refuse(4, 'malformed-username', 'the user name must be deviceName&productKey');
    const { productKey, deviceName } = identity;
    const token = this.#tokens.get(deviceKey(productKey, deviceName));
    if (token === undefined) return refuse(5, 'unknown-device', `no device ${deviceName} in product ${productKey} registered without pre-registration`);
    const presented = Buffer.from(passwordText(connect.password));
    const expected = Buffer.from(token.deviceToken);
    if (parsed.clientId !== token.clientId || presented.length !== expected.length || !nodeCrypto().timingSafeEqual(presented, expected)) {
      return refuse(4, 'bad-signature', `the clientId and password are not the ones the last registration of ${deviceName} issued`);
    }
    return { ok: true, productKey, deviceName, clientId: parsed.clientId, authentication: 'secret' };
  }

  #register(productKey: string, deviceName: string): { ok: true; deviceSecret: string } | { ok: false; httpCode: number; message: string } {
    const key = deviceKey(productKey, deviceName);
    const device = this.#registry.get(productKey, deviceName);
    if (device === undefined || device.status === 'deleted') {
      return { ok: false, httpCode: REGISTRATION_CODES.deviceNotFound, message: `device not found: ${deviceName} is not registered in product ${productKey} (registration with authType=register needs a device added in the console; regnwl does not)` };
    }
    if (device.status === 'disabled') {
      return { ok: false, httpCode: REGISTRATION_CODES.deviceDisabled, message: `device disabled: ${deviceName} of product ${productKey} is disabled in the console` };
    }
    if (device.secret === '') {
      this.#pending.add(key);
      return { ok: true, deviceSecret: this.#registry.activate(device) };
    }
    if (this.#pending.has(key)) return { ok: true, deviceSecret: device.secret };
    return { ok: false, httpCode: REGISTRATION_CODES.requestParameterError, message: `device ${deviceName} of product ${productKey} is already activated; its secret is given only until it first connects` };
  }

  #registerWithoutPreregistration(productKey: string, deviceName: string): { ok: true; token: Token } | { ok: false; message: string } {
    const key = deviceKey(productKey, deviceName);
    const registered = this.#registry.get(productKey, deviceName);
    if (registered !== undefined && registered.status !== 'deleted') {
      return { ok: false, message: `device ${deviceName} is registered in product ${productKey}; register it with authType=register (pre-registered), not regnwl` };
    }
    if (!this.#tokens.has(key)) {
      const created = this.#created.get(productKey) ?? 0;
      if (created >= MAX_CREATED_DEVICES) return { ok: false, message: `product ${productKey} has ${MAX_CREATED_DEVICES} devices created by registration, the stand-in's limit` };
      this.#created.set(productKey, created + 1);
    }
    const token = { clientId: nodeCrypto().randomBytes(12).toString('base64url').replace(/[-_]/g, 'x'), deviceToken: nodeCrypto().randomBytes(24).toString('hex') };
    this.#tokens.set(key, token);
    return { ok: true, token };
  }
}

function refusal(code: number, message: string): FormAnswer {
  return { status: 200, body: buildRegisterAnswer({ code, message }) };
}

function refuse(returnCode: 2 | 3 | 4 | 5, reason: RegistrationRefusal, message: string): CloudAdmission {
  return { ok: false, returnCode, reason, message };
}

/** `deviceName&productKey`, each part non-empty and free of `&`, or `undefined`. */
function readUsername(username: string | undefined): { productKey: string; deviceName: string } | undefined {
  const parts = username?.split('&');
  if (parts?.length !== 2 || parts[0] === '' || parts[1] === '') return undefined;
  return { deviceName: parts[0]!, productKey: parts[1]! };
}

function passwordText(password: Uint8Array | undefined): string {
  return password === undefined ? '' : Buffer.from(password).toString('utf8');
}
