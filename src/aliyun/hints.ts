/**
 * The platform's reading of a connection that failed or was closed, added to what the transport
 * and the session say of it: the transport knows sockets, not the platform's host names, nor why
 * the platform drops a device. Pure: the facts come in as plain values (a TransportError has
 * them all), the hints go out as data for each face of the library to word.
 */
import type { Advice, Hint } from '../shared/advice.js';
import { IPV6_REGION, IPV6_TEST_ENDPOINT } from './endpoints.js';
import { X509_ENDPOINT } from './x509.js';

/** What a platform hint can say. */
export type PlatformHintCode =
  /** A product's endpoint gets its AAAA record once IPv6 access is enabled by a support ticket. */
  | 'aaaa-by-ticket'
  /** MQTT over IPv6 is served in one region only. */
  | 'ipv6-region-only'
  /** The host name is made of the productKey (or instanceId) and region: one of them is wrong. */
  | 'host-from-identity'
  /** The platform closed an accepted connection: the same device most likely signed in again elsewhere. */
  | 'signed-in-elsewhere'
  /** The X.509 endpoint takes the certificate the platform issued for the device, and no other. */
  | 'x509-certificate'
  /** The platform documents IPv6 for its test endpoint and product endpoints, not for the X.509 endpoint. */
  | 'x509-ipv6-undocumented';

/** The facts of a failed connection attempt the profile reads; a TransportError has them. */
export interface ConnectionFailureFacts {
  /** The transport's error code, e.g. `no-aaaa-record`. */
  readonly code: string;
  readonly host: string;
}

/** A platform host name taken apart. */
type PlatformHost =
  | { readonly kind: 'product'; readonly productKey: string; readonly region: string }
  | { readonly kind: 'instance'; readonly instanceId: string }
  | { readonly kind: 'ipv6-test' }
  | { readonly kind: 'x509' }
  | { readonly kind: 'other-platform' };

const VERIFY_WITH_TEST_ENDPOINT: Advice = {
  code: 'use-ipv6-test-endpoint',
  text: `meanwhile verify IPv6 access with {option} (${IPV6_TEST_ENDPOINT.host}, for tests only)`,
  option: { name: 'endpoint', value: 'ipv6-test' },
};

/**
 * What the platform adds to a transport failure for one of its hosts, or `undefined` when it
 * has nothing to add (another host, or an error its host names do not explain). Never suggests
 * the host that failed.
 *
 * @example
 * catch (error) { if (error instanceof TransportError) throw error.withHint(platformTransportHint(error)); }
 */
export function platformTransportHint(failure: ConnectionFailureFacts): Hint<PlatformHintCode> | undefined {
  const host = platformHost(failure.host);
  if (host?.kind === 'x509') return x509Hint(failure.code);
  // The test endpoint is what the hints suggest; other hosts under aliyuncs.com are not MQTT's.
  if (host === undefined || host.kind === 'ipv6-test' || host.kind === 'other-platform') return undefined;
  if (failure.code === 'no-aaaa-record') {
    if (host.kind === 'product' && host.region !== IPV6_REGION) {
      return {
        code: 'ipv6-region-only',
        text: `the platform serves MQTT over IPv6 in ${IPV6_REGION} only; endpoints in ${host.region} have IPv4 addresses only`,
        advice: [],
      };
    }
    return {
      code: 'aaaa-by-ticket',
      text: `the platform gives ${host.kind === 'product' ? "a product's" : "an instance's"} endpoint its AAAA record only once IPv6 access has been enabled for it by a support ticket`,
      advice: [VERIFY_WITH_TEST_ENDPOINT],
    };
  }
  if (failure.code === 'host-not-found') {
    const [made, check] =
      host.kind === 'product'
        ? [`the productKey (${host.productKey}) and the region (${host.region})`, 'productKey and region']
        : [`the instance ID (${host.instanceId})`, 'instance ID'];
    return {
      code: 'host-from-identity',
      text: `this host name is made from ${made}`,
      advice: [{ code: 'check-identity', text: `check the ${check} against the IoT Platform console` }],
    };
  }
  return undefined;
}

/**
 * What the platform adds when it closes a connection it had accepted, with no error to say why:
 * the usual reason is that the same device signed in again (the newer connection stays, and two
 * clients with one device's credentials take turns kicking each other off). For the session to
 * add to its "the connection closed" on a platform connection, and for tools that know they
 * talk to the platform.
 */
export function platformClosedHint(): Hint<PlatformHintCode> {
  return {
    code: 'signed-in-elsewhere',
    text:
      "the platform closes a device's connection when the same device signs in again elsewhere (the newer connection stays; " +
      "two clients with one device's credentials keep kicking each other off)",
    advice: [{ code: 'one-client-per-device', text: 'make sure no other program or machine is signed in as this device' }],
  };
}

/** What the platform adds to a failure on its X.509 endpoint (see `x509.ts` for the sources). */
function x509Hint(code: string): Hint<PlatformHintCode> | undefined {
  if (code === 'no-aaaa-record') {
    return {
      code: 'x509-ipv6-undocumented',
      text: `the platform documents IPv6 for ${IPV6_TEST_ENDPOINT.host} and for product endpoints, not for ${X509_ENDPOINT.host}`,
      advice: [],
    };
  }
  if (!code.startsWith('client-certificate-')) return undefined;
  return {
    code: 'x509-certificate',
    text:
      `${X509_ENDPOINT.host} authenticates a device by the certificate the platform issued for it, ` +
      'for a product whose authentication mode is X.509 certificate',
    advice: [
      {
        code: 'download-device-certificate',
        text: "download the device's certificate and key from its page in the IoT Platform console, and connect with {option} and key",
        option: { name: 'cert' },
      },
    ],
  };
}

function platformHost(host: string): PlatformHost | undefined {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (!name.endsWith('.aliyuncs.com')) return undefined;
  if (name === IPV6_TEST_ENDPOINT.host) return { kind: 'ipv6-test' };
  if (name === X509_ENDPOINT.host) return { kind: 'x509' };
  const product = /^([a-z0-9-]+)\.iot-as-mqtt\.([a-z0-9-]+)\.aliyuncs\.com$/.exec(name);
  // The productKey keeps the case the caller wrote; the console shows it mixed-case.
  if (product !== null) return { kind: 'product', productKey: host.split('.')[0]!, region: product[2]! };
  const instance = /^([a-z0-9-]+)\.mqtt\.iothub\.aliyuncs\.com$/.exec(name);
  if (instance !== null) return { kind: 'instance', instanceId: host.split('.')[0]! };
  return { kind: 'other-platform' };
}
