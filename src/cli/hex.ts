/**
 * Hex in and out: reading the hex people paste (from Wireshark, a log, a test vector) and showing
 * frames as hex without ever showing a password.
 */
import type { Packet } from '../packet/types.js';
import { UsageError } from './io.js';

/**
 * The bytes of pasted hex. Accepts pairs of hex digits separated by white space, `:` or `,`, each
 * group optionally prefixed with `0x` (`10 02 00 00`, `10:02:00:00`, `0x10 0x02`, `10020000`).
 * Throws UsageError for anything else, naming the group that is wrong.
 */
export function parseHex(text: string): Uint8Array {
  const groups = text.split(/[\s:,]+/).filter((g) => g !== '');
  const digits: string[] = [];
  for (const [index, group] of groups.entries()) {
    const bare = /^0x/i.test(group) ? group.slice(2) : group;
    if (!/^[0-9a-f]*$/i.test(bare) || bare === '') {
      throw new UsageError(
        `${JSON.stringify(group)} (group ${index + 1}) is not hex`,
        'give bytes as hex digit pairs, e.g. 10 02 00 00, 10:02:00:00 or 0x10 0x02',
      );
    }
    if (bare.length % 2 !== 0) {
      throw new UsageError(
        `${JSON.stringify(group)} (group ${index + 1}) has an odd number of hex digits`,
        'write every byte as two digits, e.g. 0a rather than a',
      );
    }
    digits.push(bare);
  }
  return Buffer.from(digits.join(''), 'hex');
}

/** `10 8a 01`: bytes as lower-case hex pairs. */
export function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * The first `max` bytes as hex, then `…` and the total when there are more, so a long frame
 * stays on one line.
 */
export function hexPreview(bytes: Uint8Array, max: number): string {
  if (bytes.length <= max) return hexBytes(bytes);
  return `${hexBytes(bytes.subarray(0, max))} … (${bytes.length} bytes)`;
}

/** Marks one masked byte in {@link maskPassword}'s output. */
export const MASKED_BYTE = -1;

/**
 * The frame's bytes with a CONNECT's password bytes replaced by {@link MASKED_BYTE}, for showing.
 * The password is the last field of a CONNECT [MQTT-3.1.3-1], so they are the frame's last bytes.
 */
export function maskPassword(frame: Uint8Array, packet: Packet): number[] {
  const shown = Array.from(frame);
  if (packet.type === 'connect' && packet.password !== undefined) {
    shown.fill(MASKED_BYTE, shown.length - packet.password.length);
  }
  return shown;
}

/** Like {@link hexPreview}, with masked bytes shown as `**`. */
export function maskedHexPreview(frame: Uint8Array, packet: Packet, max: number): string {
  const shown = maskPassword(frame, packet);
  const pairs = shown.slice(0, max).map((b) => (b === MASKED_BYTE ? '**' : b.toString(16).padStart(2, '0')));
  return shown.length <= max ? pairs.join(' ') : `${pairs.join(' ')} … (${shown.length} bytes)`;
}
