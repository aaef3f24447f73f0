/**
 * How a device signs in, and who it is. A device authenticates with its secret (which signs the
 * CONNECT) or with the X.509 certificate the platform issued it (presented in the TLS
 * handshake), never both: the platform's page on X.509 authentication says the two are mutually
 * exclusive. A certificate device may not know its productKey and deviceName; the platform sends
 * them on `/ext/auth/identity/response` after CONNACK, and this watches for them.
 */
import type { Clock } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { deviceConnectionOptions } from '../aliyun/connection.js';
import type { DeviceOptions, PlatformConnectionOptions } from '../aliyun/connection.js';
import { parseX509Identity, x509ConnectionOptions, X509_ENDPOINT, X509_IDENTITY_TOPIC } from '../aliyun/x509.js';
import type { DeviceIdentity, X509DeviceOptions } from '../aliyun/x509.js';
import { DeviceError } from './errors.js';

/**
 * A device that authenticates by the X.509 certificate the platform issued it: `cert` and `key`
 * (or `pfx`) are client options, passed through; the rest is {@link X509DeviceOptions}. Nothing
 * is signed, so there is no secret, sign method or timestamp.
 */
export interface CertificateDeviceOptions extends X509DeviceOptions {
  readonly deviceSecret?: undefined;
  readonly signMethod?: undefined;
  readonly timestamp?: undefined;
}

/** How the device signs in: the connection options, and its identity when known before connecting. */
export interface SignIn {
  readonly certificate: boolean;
  readonly connection: PlatformConnectionOptions;
  readonly identity: DeviceIdentity | undefined;
}

/**
 * The connection options for a device, by certificate when `cert` or `pfx` is given and by
 * secret otherwise.
 *
 * @throws ConfigurationError for a secret together with a certificate, a secret for the X.509
 *   endpoint, and whatever the profile refuses.
 */
export function signIn(options: (DeviceOptions | CertificateDeviceOptions) & { readonly cert?: unknown; readonly pfx?: unknown }): SignIn {
  const certificate = options.cert !== undefined || options.pfx !== undefined;
  if (!certificate) {
    if (options.endpoint === ('x509' as unknown)) {
      throw new ConfigurationError(
        'endpoint',
        `${X509_ENDPOINT.host} authenticates devices by certificate: give the device's cert and key (and no deviceSecret), or another endpoint`,
      );
    }
    const device = options as DeviceOptions;
    return { certificate, connection: deviceConnectionOptions(device), identity: { productKey: device.productKey, deviceName: device.deviceName } };
  }
  for (const field of ['deviceSecret', 'signMethod', 'timestamp'] as const) {
    if (options[field] !== undefined) {
      throw new ConfigurationError(
        field,
        "a device authenticates with its certificate or with its secret, not both (the platform refuses the two together); leave it out, or the certificate",
      );
    }
  }
  const device = options as CertificateDeviceOptions;
  const connection = x509ConnectionOptions(device);
  const identity = device.productKey === undefined ? undefined : { productKey: device.productKey, deviceName: device.deviceName! };
  return { certificate, connection, identity };
}

/**
 * Watches a certificate device's connections for the identity message: the first one gives the
 * device its identity (or must agree with the one it was given), later ones must agree with it.
 */
export class IdentityWatch {
  #identity: DeviceIdentity | undefined;
  /** A bad identity message that came before anyone waited: the wait fails with it. */
  #failure: Error | undefined;
  #waiting: { resolve(identity: DeviceIdentity): void; reject(error: Error): void; timer: unknown } | undefined;

  constructor(
    known: DeviceIdentity | undefined,
    private readonly clock: Clock,
  ) {
    this.#identity = known;
  }

  get identity(): DeviceIdentity | undefined {
    return this.#identity;
  }

  /**
   * Reads a message on the identity topic; `false` for any other topic. What cannot be read, or
   * names another device, is returned as the error to report (and fails a wait).
   */
  receive(topic: string, payload: Uint8Array): { readonly identity?: DeviceIdentity; readonly error?: DeviceError } | false {
    if (topic !== X509_IDENTITY_TOPIC) return false;
    let said: DeviceIdentity;
    try {
      said = parseX509Identity(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      return this.#fail(new DeviceError('malformed-identity', `cannot read the identity the platform sent on ${topic} (${error.message})`, { cause: error }));
    }
    const known = this.#identity;
    if (known !== undefined && (known.productKey !== said.productKey || known.deviceName !== said.deviceName)) {
      return this.#fail(
        new DeviceError(
          'identity-mismatch',
          `the platform says this certificate is device ${said.deviceName} of product ${said.productKey}, ` +
            `not ${known.deviceName} of ${known.productKey}: the productKey and deviceName given are another device's`,
        ),
      );
    }
    this.#identity = said;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting !== undefined) {
      this.clock.clearTimeout(waiting.timer);
      waiting.resolve(said);
    }
    return { identity: said };
  }

  /** The identity, at once when known, else when the platform sends it (DeviceError `identity-timeout` after `timeout` ms). */
  wait(timeout: number): Promise<DeviceIdentity> {
    if (this.#identity !== undefined) return Promise.resolve(this.#identity);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.#waiting = undefined;
        reject(
          new DeviceError(
            'identity-timeout',
            `the platform accepted the connection but sent no identity on ${X509_IDENTITY_TOPIC} within ${timeout} ms ` +
              '(replyTimeout): is this a device of a product whose authentication mode is X.509 certificate? ' +
              'Give productKey and deviceName if the device knows them',
          ),
        );
      }, timeout);
      this.#waiting = { resolve, reject, timer };
    });
  }

  /** Stops a wait: `connectDevice` gave up. */
  cancel(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting === undefined) return;
    this.clock.clearTimeout(waiting.timer);
    waiting.reject(error);
  }

  #fail(error: DeviceError): { readonly error: DeviceError } {
    if (this.#waiting === undefined && this.#identity === undefined) this.#failure ??= error;
    this.cancel(error);
    return { error };
  }
}
