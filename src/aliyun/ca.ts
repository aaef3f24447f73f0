/**
 * The platform's root certificates, shipped with the package in `certs/aliyun-iot-root-ca.pem`
 * (GlobalSign Root CA R1, Aliyun IoT Root CA, GlobalSign R6, R46 and E46). Node's bundled store
 * no longer holds GlobalSign Root CA R1, so platform connections use this bundle by default.
 */
import { nodeFs } from '../shared/builtins.js';

/**
 * `src/aliyun/` and `dist/aliyun/` both sit two levels below the package root, so one relative
 * URL finds the bundle from the sources under Vitest and from the built package.
 */
const BUNDLE_URL = new URL('../../certs/aliyun-iot-root-ca.pem', import.meta.url);

let cached: string | undefined;

/**
 * The platform's root CAs as one PEM text, read on first use and cached. Pass it as `ca` to
 * `tls.connect` (or let {@link deviceConnectionOptions} do so).
 *
 * @throws Error when the bundle is missing from the installed package.
 */
export function aliyunRootCa(): string {
  cached ??= readPemBundle(BUNDLE_URL);
  return cached;
}

/** Reads a PEM file, explaining where it was looked for when it is not there. */
export function readPemBundle(url: URL): string {
  try {
    return nodeFs().readFileSync(url, 'utf8');
  } catch (cause) {
    throw new Error(
      `cannot read the platform's root CA bundle at ${decodeURIComponent(url.pathname)}; reinstall aliot-mqtt or pass a ca option`,
      { cause },
    );
  }
}

/** Each `-----BEGIN CERTIFICATE-----` block of a PEM text, in order, delimiters included. */
export function pemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}
