/**
 * Where the platform listens: the IPv6 test host, the per-product host in each region, and the
 * newer per-instance hosts.
 */
import { ConfigurationError } from '../shared/errors.js';
import { requireIntegerIn, requireOneOf, requireText } from '../shared/validate.js';

/** Regions with a public MQTT endpoint, as the platform's page lists them. */
export const ALIYUN_REGIONS = ['cn-shanghai', 'ap-southeast-1', 'ap-northeast-1', 'us-west-1', 'eu-central-1'] as const;

/** One of {@link ALIYUN_REGIONS}. */
export type AliyunRegion = (typeof ALIYUN_REGIONS)[number];

/** The region used when none is named. */
export const DEFAULT_REGION: AliyunRegion = 'cn-shanghai';

/** The only region that serves MQTT over IPv6. */
export const IPV6_REGION: AliyunRegion = 'cn-shanghai';

/** The port every platform endpoint listens on by default (the vendor SDKs also use 443 and 8883). */
export const DEFAULT_PORT = 1883;

/** A host and port of the platform. */
export interface PlatformEndpoint {
  readonly host: string;
  readonly port: number;
  /** `false` for the IPv6 test endpoint, which is for verification only. */
  readonly production: boolean;
}

/**
 * The platform's IPv6 test endpoint, `ipv6.itls.cn-shanghai.aliyuncs.com:1883` over TLS 1.2.
 * For verifying IPv6 access only, not for production: production devices use
 * {@link productEndpoint} once the product's AAAA record has been enabled.
 */
export const IPV6_TEST_ENDPOINT: PlatformEndpoint = Object.freeze({
  host: 'ipv6.itls.cn-shanghai.aliyuncs.com',
  port: DEFAULT_PORT,
  production: false,
});

/**
 * The production endpoint of a product: `${productKey}.iot-as-mqtt.${region}.aliyuncs.com`.
 * In cn-shanghai it answers over IPv6 once its AAAA record has been enabled by a support ticket;
 * elsewhere it is IPv4 only.
 *
 * @throws ConfigurationError for a productKey that is not a host name label, an unknown region
 *   (the message lists the known ones) or a port outside 1..65535.
 */
export function productEndpoint(productKey: string, region: AliyunRegion = DEFAULT_REGION, port = DEFAULT_PORT): PlatformEndpoint {
  const label = hostLabel('productKey', productKey, "use the product's ProductKey from the console");
  const known = checkRegion(region);
  return Object.freeze({ host: `${label}.iot-as-mqtt.${known}.aliyuncs.com`, port: checkPort(port), production: true });
}

/**
 * The endpoint of an IoT Platform instance (newer instances): `${instanceId}.mqtt.iothub.aliyuncs.com`.
 *
 * @throws ConfigurationError for an instanceId that is not a host name label or a bad port.
 */
export function instanceEndpoint(instanceId: string, port = DEFAULT_PORT): PlatformEndpoint {
  const label = hostLabel('instanceId', instanceId, "use the instance ID from the console's instance overview");
  return Object.freeze({ host: `${label}.mqtt.iothub.aliyuncs.com`, port: checkPort(port), production: true });
}

/**
 * The explanation to give when a platform host name has no IPv6 address (no AAAA record): the
 * most common first failure, since a product endpoint's AAAA record is enabled only on request.
 * In words; `platformTransportHint` gives the same as data, for a TransportError.
 */
export function missingAaaaHint(host: string): string {
  // Never the host that failed as the way out.
  const isTestEndpoint = host.toLowerCase().replace(/\.$/, '') === IPV6_TEST_ENDPOINT.host;
  return (
    `${host} has no IPv6 address (no AAAA record). The platform serves MQTT over IPv6 only in ` +
    `${IPV6_REGION}, and a product endpoint's AAAA record must first be enabled by a support ticket; ` +
    `${isTestEndpoint ? '' : `verify IPv6 access with ${IPV6_TEST_ENDPOINT.host}, or `}connect over IPv4 meanwhile.`
  );
}

/** `region` as a known region, or a ConfigurationError listing them. */
export function checkRegion(region: unknown): AliyunRegion {
  return requireOneOf('region', region, ALIYUN_REGIONS);
}

/** `port` as a TCP port, or a ConfigurationError. */
export function checkPort(port: unknown): number {
  return requireIntegerIn('port', port, 1, 65535, `use a TCP port such as ${DEFAULT_PORT} (the platform also listens on 443 and 8883)`);
}

function hostLabel(field: string, value: unknown, hint: string): string {
  const text = requireText(field, value, hint);
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(text)) {
    throw new ConfigurationError(
      field,
      `${JSON.stringify(text)} cannot be part of a host name (letters, digits and inner '-', at most 63); ${hint}`,
    );
  }
  return text;
}
