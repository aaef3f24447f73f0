/**
 * From a device's identity to the flat options the client connects with: host, port, TLS
 * settings and signed CONNECT credentials that cannot disagree with each other.
 */
import { isIP } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { signCredentials } from '../sign/credentials.js';
import { withHiddenSecrets } from '../sign/redact.js';
import { secureModeFor } from '../sign/types.js';
import type { SignMethod, Transport } from '../sign/types.js';
import { describeValue, quoteValue, requireOneOf, requireText } from '../shared/validate.js';
import { aliyunRootCa } from './ca.js';
import {
  checkPort,
  checkRegion,
  DEFAULT_PORT,
  DEFAULT_REGION,
  instanceEndpoint,
  IPV6_REGION,
  IPV6_TEST_ENDPOINT,
  productEndpoint,
} from './endpoints.js';
import type { AliyunRegion } from './endpoints.js';
import { checkKeepalive, PLATFORM_LIMITS } from './limits.js';

/** Trusted roots for TLS in PEM, as `tls.connect` (and the transport's `ca` option) takes them. */
export type CaOption = string | Buffer | Array<string | Buffer>;

/**
 * Which host to reach: the product's own endpoint (default), the IPv6 test endpoint, an
 * instance endpoint, or any host and port (a local stand-in, a proxy).
 */
export type EndpointChoice =
  | 'product'
  | 'ipv6-test'
  | { readonly instanceId: string }
  | { readonly host: string; readonly port?: number | undefined };

/** What {@link deviceConnectionOptions} needs to know about a device. */
export interface DeviceOptions {
  readonly productKey: string;
  readonly deviceName: string;
  /** Signs the password; never printed. */
  readonly deviceSecret: string;
  /** Default `'product'`. */
  readonly endpoint?: EndpointChoice | undefined;
  /** Default `cn-shanghai`, the only region with IPv6 MQTT. */
  readonly region?: AliyunRegion | undefined;
  /** Default 1883; for a `{ host, port }` endpoint give the port there. */
  readonly port?: number | undefined;
  /** Default `'tls'`; decides the securemode (tls 2, tcp 3). */
  readonly transport?: Transport | undefined;
  /** Seconds, 30..1200; default 300. */
  readonly keepalive?: number | undefined;
  /** Default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
  /** The bare clientId; default `${productKey}.${deviceName}`. */
  readonly clientId?: string | undefined;
  /** As for signCredentials: milliseconds, default `Date.now()`, `null` or `false` to leave it out. */
  readonly timestamp?: number | null | false | undefined;
  /** Trusted roots; default the platform's bundle for platform hosts (see {@link deviceConnectionOptions}). */
  readonly ca?: CaOption | undefined;
  /** Clean Session; default `true`. */
  readonly clean?: boolean | undefined;
}

/**
 * Everything the client needs to open a connection and send CONNECT. Prints its password as
 * `[redacted]` and its `ca` as a size.
 */
export interface PlatformConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly transport: Transport;
  /** Address family for the DNS lookup: 6 for IPv6, 0 for any, 4 or 6 for an IP literal host. */
  readonly family: 0 | 4 | 6;
  /** SNI and certificate host name: the host name, or `undefined` for an IP literal host. */
  readonly servername: string | undefined;
  /** Trusted roots; `undefined` means Node's defaults (and is always so over plain TCP). */
  readonly ca: CaOption | undefined;
  readonly rejectUnauthorized: true;
  /** With its `|securemode=..,signmethod=..|` extension. */
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  readonly keepalive: number;
  readonly clean: boolean;
}

const TRANSPORTS: readonly Transport[] = ['tls', 'tcp'];

/**
 * Turns device options into flat connection options with signed credentials. The securemode is
 * derived from the transport (tls 2, tcp 3), so the two cannot disagree.
 *
 * - Host: `'product'` is `${productKey}.iot-as-mqtt.${region}.aliyuncs.com`; `'ipv6-test'` is
 *   the IPv6 test endpoint (cn-shanghai, not for production); `{ instanceId }` is
 *   `${instanceId}.mqtt.iothub.aliyuncs.com`; `{ host, port }` is taken as given (brackets
 *   around an IPv6 literal are dropped).
 * - Family: IPv6 MQTT exists only in cn-shanghai, so `family` is 6 when the region is
 *   cn-shanghai (the default) and 0 (any) otherwise; an IP literal host gets its own family.
 * - TLS: `servername` is the host name (`undefined` for an IP literal); `ca` defaults to the
 *   platform's root bundle ({@link aliyunRootCa}) for platform endpoints and for any host under
 *   `.aliyuncs.com`, and to Node's defaults for other hosts; `rejectUnauthorized` is always true.
 *   Over TCP, `ca` is `undefined`.
 * - Keepalive: default 300 seconds; outside 30..1200 is refused.
 *
 * @throws ConfigurationError naming the field, for any option the platform would refuse.
 */
export function deviceConnectionOptions(device: DeviceOptions): PlatformConnectionOptions {
  if (typeof device !== 'object' || device === null) {
    throw new ConfigurationError('device', 'expected an object with productKey, deviceName and deviceSecret');
  }
  const transport = requireOneOf('transport', device.transport ?? 'tls', TRANSPORTS);
  const region = checkRegion(device.region ?? DEFAULT_REGION);
  const { host, port, platform } = resolveEndpoint(device, region);
  const keepalive = checkKeepalive(device.keepalive ?? PLATFORM_LIMITS.defaultKeepalive);
  const clean = device.clean ?? true;
  if (typeof clean !== 'boolean') {
    throw new ConfigurationError('clean', `got ${describeValue(clean)}; use true or false`);
  }
  const credentials = signCredentials({
    productKey: device.productKey,
    deviceName: device.deviceName,
    deviceSecret: device.deviceSecret,
    clientId: device.clientId,
    timestamp: device.timestamp,
    signMethod: device.signMethod,
    secureMode: secureModeFor(transport),
  });
  const literal = isIP(host);
  const trustsPlatform = platform || host.toLowerCase().endsWith('.aliyuncs.com');
  return withHiddenSecrets(
    {
      host,
      port,
      transport,
      family: literal === 4 || literal === 6 ? literal : region === IPV6_REGION ? 6 : 0,
      servername: literal === 0 ? host : undefined,
      ca: transport === 'tcp' ? undefined : (device.ca ?? (trustsPlatform ? aliyunRootCa() : undefined)),
      rejectUnauthorized: true,
      clientId: credentials.clientId,
      username: credentials.username,
      password: credentials.password,
      keepalive,
      clean,
    } satisfies PlatformConnectionOptions,
    ['password'],
    ['ca'],
  );
}

/**
 * A `{ host, port }` endpoint as given (brackets around an IPv6 literal dropped): a local
 * stand-in, a proxy. `port` is the device's own `port` option, which must not disagree.
 */
export function hostEndpoint(choice: { readonly host: string; readonly port?: number | undefined }, port: number | undefined): { host: string; port: number } {
  const given = requireText('endpoint.host', choice.host, 'give a host name or IP address');
  const host = given.startsWith('[') && given.endsWith(']') ? given.slice(1, -1) : given;
  if (/[\s/[\]]/.test(host) || (host.includes(':') && isIP(host) !== 6)) {
    throw new ConfigurationError('endpoint.host', `${quoteValue(given)} is not a host name or IP address`);
  }
  if (choice.port !== undefined && port !== undefined && choice.port !== port) {
    throw new ConfigurationError('port', `endpoint.port ${choice.port} and port ${port} disagree; give one`);
  }
  return { host, port: checkPort(choice.port ?? port ?? DEFAULT_PORT) };
}

function resolveEndpoint(device: DeviceOptions, region: AliyunRegion): { host: string; port: number; platform: boolean } {
  const choice = device.endpoint ?? 'product';
  const port = device.port ?? DEFAULT_PORT;
  if (choice === 'product') {
    return { ...productEndpoint(device.productKey, region, port), platform: true };
  }
  if (choice === 'ipv6-test') {
    if (region !== IPV6_REGION) {
      throw new ConfigurationError(
        'region',
        `the IPv6 test endpoint ${IPV6_TEST_ENDPOINT.host} is in ${IPV6_REGION}; leave region out or use endpoint 'product'`,
      );
    }
    return { host: IPV6_TEST_ENDPOINT.host, port: checkPort(port), platform: true };
  }
  if (typeof choice === 'object' && choice !== null && 'instanceId' in choice) {
    return { ...instanceEndpoint(choice.instanceId, port), platform: true };
  }
  if (typeof choice === 'object' && choice !== null && 'host' in choice) {
    return { ...hostEndpoint(choice, device.port), platform: false };
  }
  throw new ConfigurationError(
    'endpoint',
    `got ${describeValue(choice)}; use 'product', 'ipv6-test', { instanceId } or { host, port }`,
  );
}
