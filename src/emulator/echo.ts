/**
 * The messages of `refuse` and `disconnect` events quote what the peer sent (a clientId
 * extension field, a user name, the codec's reason). A peer decides how long that is and what it
 * holds, and the messages end up in logs: they are cut to a length a log line can take, and no
 * secret the emulator knows is ever quoted.
 */
import { REDACTED } from '../sign/redact.js';

/** The longest message an event carries, in UTF-16 code units, the marker of what was cut included. */
export const MAX_EVENT_MESSAGE = 240;

/** How much of the end is kept: where a message says what was wrong, after the echoed value. */
const TAIL = 60;

/**
 * Values shorter than this are not searched for: they would match ordinary words of the message,
 * and the platform's secrets are 32 characters, its signatures 32 to 64 hex digits.
 */
export const MIN_REDACTED_LENGTH = 8;

/**
 * `text` at most {@link MAX_EVENT_MESSAGE} long: a longer one keeps its start and its last
 * {@link TAIL} characters around a marker that says how many were left out.
 */
export function boundMessage(text: string): string {
  if (text.length <= MAX_EVENT_MESSAGE) return text;
  // The marker's length depends on the count it holds, which is at most text.length digits long.
  const markerLength = `…[${text.length} characters left out]…`.length;
  let head = MAX_EVENT_MESSAGE - TAIL - markerLength;
  let tail = text.length - TAIL;
  // Never split a surrogate pair: half of one is not a character.
  if (isHighSurrogate(text.charCodeAt(head - 1))) head--;
  if (isLowSurrogate(text.charCodeAt(tail))) tail++;
  return `${text.slice(0, head)}…[${tail - head} characters left out]…${text.slice(tail)}`;
}

/** `text` with every occurrence of each secret (of {@link MIN_REDACTED_LENGTH} or more characters) replaced by `[redacted]`. */
export function redactSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= MIN_REDACTED_LENGTH && result.includes(secret)) {
      result = result.split(secret).join(REDACTED);
    }
  }
  return result;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
