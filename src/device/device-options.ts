/**
 * The options of {@link connectDevice} and of the handle's calls, and their resolution: the
 * device's own settings checked, the sign-in chosen (secret, DeviceToken or X.509 certificate),
 * and every other option handed to the {@link MqttClient} as it is, except those the device
 * decides itself from its identity and endpoint.
 */
import type { MqttClientOptions } from '../client/options.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn } from '../shared/validate.js';
import { platformConnackHint } from '../aliyun/connack.js';
import type { DeviceOptions } from '../aliyun/connection.js';
import { x509ConnackHint } from '../aliyun/x509.js';
import { PLATFORM_LIMITS } from '../aliyun/limits.js';
import { signIn } from './identity.js';
import type { CertificateDeviceOptions, SignIn } from './identity.js';
import { tokenSignIn } from './token-connection.js';
import type { TokenSignInOptions } from './token-connection.js';

/** How long a post waits for its `_reply` when neither the device nor the call says: 10 s. */
export const DEFAULT_REPLY_TIMEOUT = 10_000;

/** The longest delay timers take; anything larger would fire at once. */
const MAX_TIMEOUT = 2_147_483_647;

/**
 * The options the device decides from its identity and endpoint (see {@link DeviceOptions}), or
 * that the platform does not have (`will`): not client options of `connectDevice`.
 */
const DEVICE_DECIDES = ['host', 'servername', 'rejectUnauthorized', 'username', 'password', 'will', 'connackHint'] as const;

/** The options of {@link connectDevice} that are the device's own, not the client's. */
const DEVICE_KEYS: ReadonlySet<string> = new Set([
  'productKey', 'deviceName', 'deviceSecret', 'deviceToken', 'endpoint', 'region', 'port', 'transport', 'keepalive',
  'signMethod', 'clientId', 'timestamp', 'ca', 'clean', 'replyTimeout', 'subscribe',
] satisfies Array<keyof ConnectDeviceOptions>);

/**
 * The client options {@link connectDevice} hands to {@link MqttClient} as they are (reconnect,
 * queues, timeouts, store, clock...). `family` overrides the one the endpoint implies;
 * `maxOutgoingPacketSize` defaults to the platform's limit.
 */
export type DeviceClientOptions = Omit<MqttClientOptions, keyof DeviceOptions | (typeof DEVICE_DECIDES)[number]> &
  Pick<MqttClientOptions, 'family'>;

/**
 * What {@link connectDevice} needs for a device that signs in with its secret: the device's
 * identity and endpoint ({@link DeviceOptions}), client options passed through
 * ({@link DeviceClientOptions}; `family` overrides the one the endpoint implies), and the
 * handle's own two settings.
 */
export interface ConnectDeviceOptions extends Omit<DeviceOptions, 'deviceSecret'>, DeviceClientOptions, DeviceHandleOptions {
  /** Signs the CONNECT; never printed. Give this or `deviceToken`. */
  readonly deviceSecret?: string | undefined;
  /**
   * The DeviceToken of a device registered without pre-registration
   * (`registerDeviceOverMqtt({ authType: 'regnwl' })`), with `clientId` the one issued with it:
   * the device then connects over TLS with `securemode=-2,authType=connwl` and the token as its
   * password. Never printed. Give this or `deviceSecret`.
   */
  readonly deviceToken?: string | undefined;
}

/**
 * What {@link connectDevice} needs for a device that authenticates by the X.509 certificate the
 * platform issued it: the certificate as the client options `cert` and `key` (or `pfx`), no
 * secret, the identity only if the device knows it ({@link CertificateDeviceOptions}), and the
 * same client options and handle settings as a device with a secret.
 */
export type ConnectCertificateDeviceOptions = CertificateDeviceOptions &
  DeviceClientOptions &
  DeviceHandleOptions &
  ({ readonly cert: string | Uint8Array } | { readonly pfx: Uint8Array });

/** The settings of the device handle itself. */
export interface DeviceHandleOptions {
  /**
   * Milliseconds a post waits for its `_reply`, 1..2147483647; default 10000. A certificate device
   * that does not know its identity also waits this long for it after connecting.
   */
  readonly replyTimeout?: number | undefined;
  /**
   * Subscribe at connect to the post replies (`thing/event/+/post_reply`), property set and
   * service calls (`thing/service/#`) and RRPC requests (`rrpc/request/+`), at QoS 1. Default
   * `true`. With `false` nothing is subscribed: posts time out and requests never arrive until
   * the caller subscribes to the filters it wants (`device.topics` builds them).
   */
  readonly subscribe?: boolean | undefined;
}

/** Options of one post. */
export interface PostOptions {
  /** Milliseconds to wait for the `_reply`; default the device's `replyTimeout`. */
  readonly timeout?: number | undefined;
  /** QoS of the post itself: 1 (default, the platform acknowledges it) or 0. */
  readonly qos?: 0 | 1 | undefined;
}

/** Options of one event post. */
export interface EventPostOptions extends PostOptions {
  /** When the event happened, in milliseconds since the epoch; sent as `params.time`. Default: left out. */
  readonly time?: number | undefined;
}

/** Options of {@link Device.publish}. */
export interface DevicePublishOptions {
  /** 0 (default) or 1; the platform has no QoS 2. */
  readonly qos?: 0 | 1 | undefined;
}

/**
 * A timeout option in whole milliseconds, 1..2147483647.
 *
 * @internal
 */
export function checkTimeout(field: string, value: unknown): number {
  return requireIntegerIn(field, value, 1, MAX_TIMEOUT, `give whole milliseconds, 1..${MAX_TIMEOUT}`);
}

/**
 * The options of {@link connectDevice} checked: the handle's own, and how it signs in.
 *
 * @internal
 */
export interface ResolvedDevice extends SignIn {
  readonly replyTimeout: number;
  readonly subscribe: boolean;
}

/**
 * Checks the handle's own options and signs in (with the secret, the DeviceToken or the X.509
 * certificate), as {@link deviceConnectionOptions} checks the device's triple and endpoint.
 *
 * @throws ConfigurationError for a bad option.
 *
 * @internal
 */
export function resolveDevice(options: ConnectDeviceOptions | ConnectCertificateDeviceOptions): ResolvedDevice {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object with productKey, deviceName and deviceSecret');
  }
  const replyTimeout = checkTimeout('replyTimeout', options.replyTimeout ?? DEFAULT_REPLY_TIMEOUT);
  const subscribe = options.subscribe ?? true;
  if (typeof subscribe !== 'boolean') {
    throw new ConfigurationError('subscribe', `got ${describeValue(subscribe)}; use true or false`);
  }
  const { certificate, connection, identity } =
    (options as ConnectDeviceOptions).deviceToken !== undefined ? tokenSignIn(options as ConnectDeviceOptions & TokenSignInOptions) : signIn(options as DeviceOptions | ConnectCertificateDeviceOptions);
  return { replyTimeout, subscribe, certificate, connection, identity };
}

/**
 * The client's options: everything that is not the device's own goes to the client as it is
 * (the client refuses names it does not know), over the platform's packet limit, under what the
 * sign-in decided.
 *
 * @throws ConfigurationError for an option the device decides itself.
 *
 * @internal
 */
export function deviceClientOptions(options: ConnectDeviceOptions | ConnectCertificateDeviceOptions, device: ResolvedDevice): MqttClientOptions {
  const { certificate, connection } = device;
  const clientOptions = Object.fromEntries(Object.entries(options).filter(([name]) => !DEVICE_KEYS.has(name))) as DeviceClientOptions;
  for (const name of DEVICE_DECIDES) {
    if (Object.hasOwn(clientOptions, name)) {
      throw new ConfigurationError(name, 'connectDevice sets this itself from the device\'s identity and endpoint (the platform has no will); leave it out');
    }
  }
  return {
    maxOutgoingPacketSize: PLATFORM_LIMITS.maxPacketBytes,
    ...clientOptions,
    ...connection,
    family: clientOptions.family ?? connection.family,
    connackHint: (returnCode) => (certificate ? x509ConnackHint(returnCode) : platformConnackHint(returnCode)),
  };
}
