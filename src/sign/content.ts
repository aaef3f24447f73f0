/**
 * The signature itself: the sorted parameter content and its HMAC, as the platform's page defines
 * them. Shared by the client side (signing) and the server side (verifying).
 */
import { nodeCrypto } from '../shared/builtins.js';
import type { SignMethod } from './types.js';

const HASH_OF: Readonly<Record<SignMethod, string>> = {
  hmacmd5: 'md5',
  hmacsha1: 'sha1',
  hmacsha256: 'sha256',
};

/** Hex digits in a signature made with each method (twice the digest size). */
export const SIGNATURE_HEX_LENGTH: Readonly<Record<SignMethod, number>> = {
  hmacmd5: 32,
  hmacsha1: 40,
  hmacsha256: 64,
};

/**
 * The content the platform signs: each parameter's name then its value, sorted by name (plain
 * code-unit order), with no separators. Parameters whose value is `undefined` are left out, so an
 * absent timestamp is absent from the content.
 *
 * @example signContent({ timestamp: '789', clientId: '12345', productKey: 'pk', deviceName: 'device' })
 *   // 'clientId12345deviceNamedeviceproductKeypktimestamp789'
 */
export function signContent(parameters: Readonly<Record<string, string | undefined>>): string {
  return Object.entries(parameters)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => name + value)
    .join('');
}

/** The raw HMAC digest of `content` (UTF-8) keyed with `secret` (UTF-8). */
export function hmacDigest(method: SignMethod, secret: string, content: string): Buffer {
  return nodeCrypto().createHmac(HASH_OF[method], secret).update(content, 'utf8').digest();
}

/** The CONNECT password: the HMAC of `content` as upper-case hex, as the platform's page prints it. */
export function signature(method: SignMethod, secret: string, content: string): string {
  return hmacDigest(method, secret, content).toString('hex').toUpperCase();
}
