/*
 * The file digests of OTA jobs and remote configuration files. The platform's pages print the
 * method as `MD5` or `SHA256` (help.aliyun.com/document_detail/89307), the C Link SDK 4.x accepts
 * `SHA256`, `Sha256` and `Md5` (`components/ota/aiot_ota_api.c` `_ota_mqtt_process`), Python
 * linkkit compares `Md5` and `SHA256`, and configuration files say `Sha256` (Node.js SDK 1.2.8
 * `lib/thing.js` `getConfig`): so the name is matched without regard to case.
 */
import { PlatformPayloadError } from './errors.js';
import type { Fields } from './read.js';

/** A file digest method. */
export type DigestMethod = 'md5' | 'sha256';

/** Hex digits in each digest. */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestMethod, number>> = Object.freeze({ md5: 32, sha256: 64 });

/** How the platform writes each method. */
export const DIGEST_METHOD_NAMES: Readonly<Record<DigestMethod, string>> = Object.freeze({ md5: 'MD5', sha256: 'SHA256' });

/** The method a payload names, without regard to case, or `undefined`. */
export function parseDigestMethod(text: string): DigestMethod | undefined {
  const lower = text.toLowerCase();
  return lower === 'md5' || lower === 'sha256' ? lower : undefined;
}

/**
 * Reads a method field and a digest field: the method must be MD5 or SHA256, the digest that
 * many hex digits (returned in lower case).
 *
 * @internal
 */
export function readDigest(fields: Fields, methodField: string, digestField: string): { readonly method: DigestMethod; readonly digest: string } {
  const method = parseDigestMethod(fields.string(methodField));
  if (method === undefined) throw new PlatformPayloadError('bad-field', fields.at(methodField), 'expected MD5 or SHA256');
  const digest = fields.string(digestField);
  if (digest.length !== DIGEST_HEX_LENGTH[method] || !/^[0-9a-fA-F]+$/.test(digest)) {
    throw new PlatformPayloadError('bad-field', fields.at(digestField), `expected ${DIGEST_HEX_LENGTH[method]} hex digits (an ${method} digest)`);
  }
  return { method, digest: digest.toLowerCase() };
}

/**
 * Reads a download URL: an absolute `https:` URL (the platform serves OTA and configuration
 * files from OSS over HTTPS; a plain `http:` URL would let anyone on the path swap the file).
 *
 * @internal
 */
export function readHttpsUrl(fields: Fields, name: string): string {
  const text = fields.string(name);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PlatformPayloadError('bad-field', fields.at(name), 'expected an absolute URL');
  }
  if (url.protocol !== 'https:') throw new PlatformPayloadError('bad-field', fields.at(name), `expected an https: URL, got ${url.protocol}`);
  return text;
}
