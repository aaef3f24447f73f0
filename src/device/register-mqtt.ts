/*
 * Dynamic registration over MQTT (one secret per product): a TLS connection whose CONNECT is
 * signed with the ProductSecret and announces `authType=register` (a device added in the console:
 * the platform pushes its DeviceSecret on `/ext/register`) or `authType=regnwl` (no
 * pre-registration, cn-shanghai only: a clientId and a DeviceToken on `/ext/regnwl`), after which
 * the platform closes the connection. The device subscribes to nothing: the answer is pushed (C
 * Link SDK 4.x `components/dynreg-mqtt/aiot_dynregmq_api.c` reads it from whatever PUBLISH comes).
 * Formats and sources: `src/aliyun/register/mqtt.ts`.
 *
 * @example
 * const credentials = await registerDeviceOverMqtt({ productKey, deviceName: 'meter-0042', productSecret });
 * const device = await connectDevice({ ...credentials, endpoint: 'product' });
 * // without pre-registration:
 * const token = await registerDeviceOverMqtt({ productKey, deviceName: 'meter-0043', productSecret, authType: 'regnwl' });
 * const other = await connectDevice({ ...token });
 */
import type { LookupFunction } from 'node:net';
import type { Clock } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireOneOf } from '../shared/validate.js';
import type { SignMethod } from '../sign/types.js';
import { MqttClient } from '../client/client.js';
import { ConnectionRefusedError } from '../client/errors.js';
import type { OpenSocket } from '../client/options.js';
import { platformConnackHint } from '../aliyun/connack.js';
import { deviceConnectionOptions } from '../aliyun/connection.js';
import type { CaOption, EndpointChoice } from '../aliyun/connection.js';
import type { AliyunRegion } from '../aliyun/endpoints.js';
import { platformTransportHint } from '../aliyun/hints.js';
import type { DeviceCredentials } from '../aliyun/register/https.js';
import { parseRegisterAnswerMessage, parseRegnwlAnswerMessage, registrationConnectCredentials } from '../aliyun/register/mqtt.js';
import type { DeviceToken, RegisterAuthType, RegisterSecureMode } from '../aliyun/register/mqtt.js';
import { REGISTER_TOPIC, REGNWL_TOPIC } from '../aliyun/service-topics.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { TransportError } from '../transport/errors.js';
import { RegistrationError } from './register.js';

/** The longest delay timers take. */
const MAX_TIMEOUT = 2_147_483_647;

/** What {@link registerDeviceOverMqtt} needs. */
export interface RegisterOverMqttOptions {
  readonly productKey: string;
  readonly deviceName: string;
  /** The product's ProductSecret. Never printed, never in an error. */
  readonly productSecret: string;
  /**
   * `'register'` (default): the device was added in the console; resolves with its DeviceSecret.
   * `'regnwl'`: no pre-registration (cn-shanghai only); resolves with a clientId and DeviceToken.
   */
  readonly authType?: RegisterAuthType | undefined;
  /** As for `connectDevice`: `'product'` (default), `'ipv6-test'`, `{ instanceId }`, `{ host, port }`. */
  readonly endpoint?: EndpointChoice | undefined;
  /** Default `cn-shanghai`. */
  readonly region?: AliyunRegion | undefined;
  /** Default 1883 (TLS, as the platform serves it). */
  readonly port?: number | undefined;
  /** Trusted roots; default the platform's bundle for platform hosts. */
  readonly ca?: CaOption | undefined;
  /** Overrides the address family the endpoint implies (6 in cn-shanghai). */
  readonly family?: 0 | 4 | 6 | undefined;
  readonly lookup?: LookupFunction | undefined;
  /** Opens the byte stream instead of the transport (tests, proxies). */
  readonly openSocket?: OpenSocket | undefined;
  /** The instance id of a new public or Enterprise instance, sent as `instanceId=`. */
  readonly instanceId?: string | undefined;
  /** 2 (default, as the SDKs send) or -2 (the page's value for new instances). */
  readonly secureMode?: RegisterSecureMode | undefined;
  /** Default `hmacsha256`, as the SDKs sign. */
  readonly signMethod?: SignMethod | undefined;
  /** Default: 16 fresh random hex digits. */
  readonly random?: string | undefined;
  /** Milliseconds the whole registration may take, connection included; default 15000. */
  readonly timeout?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Arms the timeout (and the client's own deadlines); default the system clock. */
  readonly clock?: Clock | undefined;
}

/**
 * Registers a device over MQTT and resolves with what `connectDevice` takes: the triple
 * (`authType: 'register'`) or `{ productKey, deviceName, clientId, deviceToken }` (`'regnwl'`).
 * Both print their secret as `[redacted]`. Store them: the platform gives a DeviceSecret only
 * until the device first connects.
 *
 * Every option is checked before any connection is opened.
 *
 * @throws ConfigurationError for a bad option.
 * @throws RegistrationError `refused` (the CONNACK's `returnCode`: 4 a wrong ProductSecret, 5 a
 *   product closed to registration, an unknown or already activated device), `malformed-answer`,
 *   `network` (the transport's error as `cause`, or a connection closed without an answer),
 *   `timeout`, `aborted`. No secret in any message.
 */
export function registerDeviceOverMqtt(options: RegisterOverMqttOptions & { readonly authType?: 'register' | undefined }): Promise<Readonly<DeviceCredentials>>;
export function registerDeviceOverMqtt(options: RegisterOverMqttOptions & { readonly authType: 'regnwl' }): Promise<Readonly<DeviceToken>>;
export function registerDeviceOverMqtt(options: RegisterOverMqttOptions): Promise<Readonly<DeviceCredentials> | Readonly<DeviceToken>>;
export async function registerDeviceOverMqtt(options: RegisterOverMqttOptions): Promise<Readonly<DeviceCredentials> | Readonly<DeviceToken>> {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object with productKey, deviceName and productSecret');
  }
  const authType = requireOneOf('authType', options.authType ?? 'register', ['register', 'regnwl'] as const);
  const timeout = requireIntegerIn('timeout', options.timeout ?? 15_000, 1, MAX_TIMEOUT, 'give milliseconds, e.g. 15000');
  const signal = options.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')) {
    throw new ConfigurationError('signal', `got ${describeValue(signal)}; give an AbortSignal`);
  }
  const credentials = registrationConnectCredentials({ ...options, authType });
  // The endpoint, family, SNI and CA are a device's; the signature it would make with the
  // ProductSecret as its secret is thrown away for the registration's own credentials.
  const { clientId: _clientId, username: _username, password: _password, ...connection } = deviceConnectionOptions({
    productKey: options.productKey,
    deviceName: options.deviceName,
    deviceSecret: options.productSecret,
    endpoint: options.endpoint,
    region: options.region,
    port: options.port,
    ca: options.ca,
    transport: 'tls',
    timestamp: false,
  });
  const client = new MqttClient({
    ...connection,
    family: options.family ?? connection.family,
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    ...(options.openSocket === undefined ? {} : { openSocket: options.openSocket }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    clientId: credentials.clientId,
    username: credentials.username,
    password: credentials.password,
    reconnect: false,
    connackHint: (returnCode) => platformConnackHint(returnCode),
  });
  const device = { productKey: options.productKey, deviceName: options.deviceName };
  const what = `${device.productKey}/${device.deviceName}`;
  const topic = authType === 'register' ? REGISTER_TOPIC : REGNWL_TOPIC;
  const clock = client.options.clock;
  let timer: unknown;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<Readonly<DeviceCredentials> | Readonly<DeviceToken>>((resolve, reject) => {
      let connected = false;
      timer = clock.setTimeout(() => reject(new RegistrationError('timeout', `no registration answer for ${what} within ${timeout} ms`)), timeout);
      onAbort = () => reject(new RegistrationError('aborted', 'the registration was aborted', { cause: signal?.reason }));
      if (signal?.aborted === true) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      client.on('message', (arrived, payload) => {
        if (arrived !== topic) return;
        try {
          resolve(authType === 'register' ? parseRegisterAnswerMessage(payload, device) : parseRegnwlAnswerMessage(payload, device));
        } catch (error) {
          if (!(error instanceof PlatformPayloadError)) throw error;
          reject(new RegistrationError('malformed-answer', `the registration answer on ${topic} is not the platform's: ${error.message}`, { cause: error }));
        }
      });
      client.on('close', () => {
        if (connected) reject(new RegistrationError('network', `the platform closed the registration connection of ${what} without an answer on ${topic}`));
      });
      client.connect().then(
        () => {
          connected = true;
          if (!client.connected) reject(new RegistrationError('network', `the platform closed the registration connection of ${what} without an answer on ${topic}`));
        },
        (error: unknown) => reject(asRegistrationError(error, what)),
      );
    });
  } finally {
    clock.clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    await client.end({ force: true });
  }
}

function asRegistrationError(error: unknown, what: string): unknown {
  if (error instanceof ConnectionRefusedError) {
    return new RegistrationError(
      'refused',
      `the platform refused to register ${what}: CONNACK ${error.returnCode}` +
        (error.returnCode === 4
          ? ' (the signature does not match: check the ProductSecret)'
          : error.returnCode === 5
            ? ' (not authorized: check that the product has dynamic registration on, that the device was added in the console for authType register, and that it has not been activated yet)'
            : ''),
      { cause: error, returnCode: error.returnCode },
    );
  }
  if (error instanceof TransportError) {
    const hinted = error.withHint(platformTransportHint(error));
    return new RegistrationError('network', hinted.message, { cause: hinted });
  }
  if (error instanceof ConfigurationError) return error;
  return new RegistrationError('network', `the registration connection of ${what} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}
