/**
 * Secrets inside payloads, masked for showing. The trace already shows a CONNECT's password as
 * its length only; the gateway's traffic carries credentials in JSON too: the DeviceSecret the
 * platform hands out on `/ext/register` and in a `thing.sub.register` reply, and each
 * sub-device's signature in a topology add or a login, which is that sub-device's password (it
 * is checked as a CONNECT password is, and lets whoever holds it add or log in the sub-device).
 *
 * Masking keeps the frame's length and layout: each byte of a secret becomes `*` (0x2a), so the
 * hex, the Remaining Length and `--explain`'s offsets stay those of the frame that was sent.
 */
import type { Packet } from '../packet/types.js';

/** Keys whose string value is a credential wherever it appears. */
const SECRET_KEYS = new Set(['deviceSecret', 'productSecret', 'deviceToken', 'password']);

const MASK = 0x2a;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The frame to show: `bytes` with every secret of a PUBLISH's JSON payload masked, and `packet`
 * with that payload. Anything else (another packet, a payload that is not JSON, one without
 * secrets) is returned as it is.
 */
export function maskPayloadSecrets<P extends Packet>(packet: P, bytes: Uint8Array): { packet: P; bytes: Uint8Array } {
  if (packet.type !== 'publish' || packet.payload.length === 0) return { packet, bytes };
  let json: unknown;
  try {
    json = JSON.parse(strictUtf8.decode(packet.payload));
  } catch {
    return { packet, bytes };
  }
  const secrets = new Set<string>();
  collect(json, secrets);
  if (secrets.size === 0) return { packet, bytes };
  // The payload is the frame's last bytes [MQTT-3.3.3]; JSON writes these values (letters and
  // digits, as the platform mints them) byte for byte, so they are found as they are.
  const masked = Buffer.from(bytes);
  const start = masked.length - packet.payload.length;
  for (const secret of secrets) {
    const needle = Buffer.from(secret, 'utf8');
    let at = masked.indexOf(needle, start);
    // Written with escapes (a quote, a control character): not found as it is, so the whole
    // payload goes rather than a secret in another spelling.
    if (at < 0) masked.fill(MASK, start);
    for (; at >= 0; at = masked.indexOf(needle, at + needle.length)) masked.fill(MASK, at, at + needle.length);
  }
  return { packet: { ...packet, payload: masked.subarray(start) }, bytes: masked };
}

/**
 * The secrets in a JSON value: the values of {@link SECRET_KEYS}, and the `sign` of an object
 * that also has a `clientId` (a sub-device's signature). An OTA job's or a configuration's `sign`
 * is the digest of a file, public, and stays.
 */
function collect(value: unknown, secrets: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collect(item, secrets);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const object = value as Record<string, unknown>;
  for (const [key, item] of Object.entries(object)) {
    const secret = SECRET_KEYS.has(key) || (key === 'sign' && 'clientId' in object);
    if (secret && typeof item === 'string' && item !== '') secrets.add(item);
    else collect(item, secrets);
  }
}
