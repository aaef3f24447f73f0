/**
 * The platform's X.509 device authentication: a device of a product set to "X.509 certificate"
 * authenticates with the certificate and key the platform issued it, in the TLS handshake, on an
 * endpoint of its own; it need not know its productKey and deviceName, which the platform sends
 * it after CONNACK. Pure: the certificate itself is the client's business (`cert` and `key`), and
 * this module never sees it.
 *
 * What the platform expects, and where it says so:
 *
 * - Endpoint `x509.itls.cn-shanghai.aliyuncs.com`, port 1883, TLS, cn-shanghai only; a device
 *   authenticates by certificate or by secret, never both ("使用X.509证书认证" / "Use X.509
 *   certificates to authenticate devices", https://help.aliyun.com/document_detail/140588.html,
 *   sections 限制说明 and 设备端认证配置).
 * - CONNECT without the identity: productKey, deviceName and deviceSecret "set to empty strings"
 *   (same page). The C Link SDK 4.x demo `demos/mqtt_x509_auth_demo.c` does exactly that, and its
 *   `core/utils/core_auth.c` then writes the clientId `${pk}.${dn}|...,securemode=2,...|` (so the
 *   bare id `.`), the user name `${dn}&${pk}` (so `&`) and a signature the platform ignores.
 * - CONNECT with a known identity (same page, 设备再次连接 / "Re-establish a connection"):
 *   `clientId|securemode=2,...|`, user name `deviceName&productKey`, password `""`: "IoT Platform
 *   no longer verifies the signature".
 * - The identity: a PUBLISH on `/ext/auth/identity/response`, which needs no subscription, with the
 *   payload `{"productKey":"...","deviceName":"..."}` (same page; the C SDK 3.x reads it in
 *   `src/mqtt/impl/iotx_mqtt_client.c`, `iotx_mc_parse_identity_response`, on every PUBLISH before
 *   matching subscriptions; the 4.x demo in `demo_get_device_info`).
 *
 * This profile sends the extension `|securemode=2|` alone, as the platform's own Paho example
 * does ("使用X.509证书认证接入示例": mqttClientId `.|securemode=2|`): no signmethod or timestamp,
 * since there is no signature for them to describe.
 */
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireOneOf } from '../shared/validate.js';
import { withHiddenSecrets } from '../sign/redact.js';
import { clientIdProblem } from '../sign/extension.js';
import { isIP } from '../shared/builtins.js';
import { checkIdentity, readIdentity } from './wire/identity.js';
import type { DeviceIdentity } from './wire/identity.js';
import { readJson } from './wire/read.js';
import { aliyunRootCa } from './ca.js';
import { hostEndpoint } from './connection.js';
import type { CaOption, PlatformConnectionOptions } from './connection.js';
import { checkRegion, DEFAULT_PORT, DEFAULT_REGION, IPV6_REGION } from './endpoints.js';
import type { AliyunRegion, PlatformEndpoint } from './endpoints.js';
import { checkKeepalive, PLATFORM_LIMITS } from './limits.js';
import { platformConnackHint } from './connack.js';
import type { PlatformConnackHint } from './connack.js';

/** Where X.509 devices connect: `x509.itls.cn-shanghai.aliyuncs.com:1883`, over TLS. */
export const X509_ENDPOINT: PlatformEndpoint = Object.freeze({
  host: 'x509.itls.cn-shanghai.aliyuncs.com',
  port: DEFAULT_PORT,
  production: true,
});

/** The only region that authenticates devices by X.509 certificate. */
export const X509_REGION: AliyunRegion = 'cn-shanghai';

/** The topic the platform tells an X.509 device its identity on, right after CONNACK; no subscription needed. */
export const X509_IDENTITY_TOPIC = '/ext/auth/identity/response';

export type { DeviceIdentity };

/** Where an X.509 device connects: the platform's X.509 endpoint (default), or any host (a local stand-in). */
export type X509EndpointChoice = 'x509' | { readonly host: string; readonly port?: number | undefined };

/** What {@link x509ConnectionOptions} needs: no secret, and the identity only when it is known already. */
export interface X509DeviceOptions {
  /**
   * The identity, when the device knows it (from an earlier identity message): both or neither.
   * It then goes into the user name as the platform's page asks, and an identity message that
   * names another device is an error.
   */
  readonly productKey?: string | undefined;
  readonly deviceName?: string | undefined;
  /** Default `'x509'`. */
  readonly endpoint?: X509EndpointChoice | undefined;
  /** Default cn-shanghai, the only region with X.509 authentication. */
  readonly region?: AliyunRegion | undefined;
  /** Default 1883; for a `{ host, port }` endpoint give the port there. */
  readonly port?: number | undefined;
  /** Only `'tls'`: the certificate is presented in the TLS handshake. */
  readonly transport?: 'tls' | undefined;
  /** Seconds, 30..1200; default 300. */
  readonly keepalive?: number | undefined;
  /**
   * The bare clientId (MAC or serial number recommended); default `${productKey}.${deviceName}`,
   * which is `.` while the identity is unknown, as the vendor's SDK sends. Give each device its
   * own when a durable store keeps its messages (the store is named after the clientId).
   */
  readonly clientId?: string | undefined;
  /** Trusted roots; default the platform's bundle for the platform's endpoint, Node's for other hosts. */
  readonly ca?: CaOption | undefined;
  /** Clean Session; default `true`. */
  readonly clean?: boolean | undefined;
}

/**
 * Connection options for a device that authenticates by X.509 certificate: the X.509 endpoint
 * (or the given host), TLS with the platform's roots, IPv6 (`family` 6) as for every cn-shanghai
 * endpoint, and the CONNECT fields the platform's page gives, password empty. The certificate and
 * key go to the client as its `cert` and `key` options.
 *
 * @throws ConfigurationError naming the field: a region other than cn-shanghai, plain TCP, only
 *   one of productKey and deviceName, a bad clientId, keepalive outside 30..1200.
 */
export function x509ConnectionOptions(device: X509DeviceOptions): PlatformConnectionOptions {
  if (typeof device !== 'object' || device === null) {
    throw new ConfigurationError('device', 'expected an object (every field is optional for an X.509 device)');
  }
  const region = checkRegion(device.region ?? DEFAULT_REGION);
  if (region !== X509_REGION) {
    throw new ConfigurationError('region', `X.509 device authentication is offered in ${X509_REGION} only; leave region out`);
  }
  requireOneOf('transport', device.transport ?? 'tls', ['tls'] as const);
  const identity = knownIdentity(device);
  const choice = device.endpoint ?? 'x509';
  const { host, port, platform } =
    choice === 'x509'
      ? { host: X509_ENDPOINT.host, port: checkPortOption(device.port), platform: true }
      : typeof choice === 'object' && choice !== null && 'host' in choice
        ? { ...hostEndpoint(choice, device.port), platform: false }
        : refuseEndpoint(choice);
  const keepalive = checkKeepalive(device.keepalive ?? PLATFORM_LIMITS.defaultKeepalive);
  const clean = device.clean ?? true;
  if (typeof clean !== 'boolean') throw new ConfigurationError('clean', `got ${describeValue(clean)}; use true or false`);
  const bare = device.clientId ?? `${identity?.productKey ?? ''}.${identity?.deviceName ?? ''}`;
  if (typeof bare !== 'string') throw new ConfigurationError('clientId', 'expected a string; use the device MAC or serial number');
  const problem = clientIdProblem(bare);
  if (problem !== undefined) throw new ConfigurationError('clientId', problem);
  const literal = isIP(host);
  const trustsPlatform = platform || host.toLowerCase().endsWith('.aliyuncs.com');
  return withHiddenSecrets(
    {
      host,
      port,
      transport: 'tls',
      family: literal === 4 || literal === 6 ? literal : region === IPV6_REGION ? 6 : 0,
      servername: literal === 0 ? host : undefined,
      ca: device.ca ?? (trustsPlatform ? aliyunRootCa() : undefined),
      rejectUnauthorized: true,
      clientId: `${bare}|securemode=2|`,
      username: `${identity?.deviceName ?? ''}&${identity?.productKey ?? ''}`,
      password: '',
      keepalive,
      clean,
    } satisfies PlatformConnectionOptions,
    [],
    ['ca'],
  );
}

/** Where a certificate device's refusals differ from a signing device's: nothing is signed. */
const X509_CONNACK: Readonly<Record<number, Pick<PlatformConnackHint, 'cause' | 'fix'>>> = {
  4: {
    cause: "the user name is not the certificate's device (deviceName&productKey), nor & for a device that does not know who it is",
    fix: 'leave productKey and deviceName out to be told them after connecting, or give the ones the platform sent',
  },
  5: {
    cause:
      "the certificate's device is unknown to the platform, disabled or deleted, or its product does not authenticate by X.509 certificate, " +
      'or the user name names another device',
    fix: "check the device and its product's authentication mode in the IoT Platform console, and connect with the certificate downloaded from the device's page",
  },
};

/**
 * The platform's reading of a CONNACK refusal for a device that authenticates by certificate:
 * as {@link platformConnackHint}, with the causes that a certificate device can have for 4 and 5.
 */
export function x509ConnackHint(returnCode: number): PlatformConnackHint | undefined {
  const hint = platformConnackHint(returnCode);
  const own = X509_CONNACK[returnCode];
  return hint === undefined || own === undefined ? hint : Object.freeze({ ...hint, ...own });
}

/**
 * The identity in a message on {@link X509_IDENTITY_TOPIC}, read as the platform's other formats
 * read a device's identity.
 *
 * @throws PlatformPayloadError `invalid-utf8`, `invalid-json` or `not-an-object` for a payload
 *   that is not a JSON object; `missing-field` or `bad-field` (naming it) when productKey or
 *   deviceName is missing, not a non-empty string, or holds a character that would break the
 *   device's topics (`/`, `+`, `#`) or its user name (`&`).
 */
export function parseX509Identity(payload: Uint8Array | string): DeviceIdentity {
  return Object.freeze(readIdentity(readJson(payload), ''));
}

/** Both parts of a known identity, or neither. */
function knownIdentity(device: X509DeviceOptions): DeviceIdentity | undefined {
  const { productKey, deviceName } = device;
  if (productKey === undefined && deviceName === undefined) return undefined;
  if (productKey === undefined || deviceName === undefined) {
    throw new ConfigurationError(
      productKey === undefined ? 'productKey' : 'deviceName',
      'give both productKey and deviceName (the identity the platform sent), or neither: the platform sends them after connecting',
    );
  }
  return checkIdentity({ productKey, deviceName }, '');
}

function checkPortOption(port: unknown): number {
  if (port === undefined) return X509_ENDPOINT.port;
  return hostEndpoint({ host: X509_ENDPOINT.host }, port as number).port;
}

function refuseEndpoint(choice: unknown): never {
  if (choice === 'product' || choice === 'ipv6-test' || (typeof choice === 'object' && choice !== null && 'instanceId' in choice)) {
    throw new ConfigurationError(
      'endpoint',
      `the platform authenticates devices by certificate on ${X509_ENDPOINT.host} only; leave endpoint out (or 'x509'), or give { host, port } for another server`,
    );
  }
  throw new ConfigurationError('endpoint', `got ${describeValue(choice)}; use 'x509' or { host, port }`);
}
