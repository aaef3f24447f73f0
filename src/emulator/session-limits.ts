/**
 * The `sessions` option: how long the stand-in keeps a Clean Session 0 session, and how much it
 * lets one hold and all of them hold together. The defaults and their sources are in limits.ts.
 */
import { ConfigurationError } from '../shared/errors.js';
import { requireIntegerIn } from '../shared/validate.js';
import {
  MAX_KEPT_BYTES,
  MAX_KEPT_MESSAGES,
  MAX_SESSION_BYTES,
  MAX_SESSION_MESSAGES,
  MESSAGE_EXPIRY_MS,
  SESSION_EXPIRY_MS,
} from './limits.js';

/** The `sessions` option of `startEmulator`. Every field is optional. */
export interface EmulatorSessionOptions {
  /** Milliseconds a Clean Session 0 session outlives its connection; default seven days. */
  expiry?: number;
  /** Milliseconds a kept QoS 1 message lives, from when the session took it; default seven days (the platform's). */
  messageExpiry?: number;
  /** QoS 1 messages one session holds (unacknowledged and queued); default 1,000, at most 65,535 (the packet ids). */
  maxMessages?: number;
  /** Their payload and topic bytes; default 4 MiB. */
  maxBytes?: number;
  /** Messages all the sessions of offline devices hold together; default 100,000. */
  maxTotalMessages?: number;
  /** Their bytes together; default 64 MiB. */
  maxTotalBytes?: number;
}

export type SessionLimits = Readonly<Required<EmulatorSessionOptions>>;

/** The longest delay timers take; anything larger would fire at once. */
const MAX_TIMEOUT = 2_147_483_647;

const FIELDS = ['expiry', 'messageExpiry', 'maxMessages', 'maxBytes', 'maxTotalMessages', 'maxTotalBytes'] as const;

/** @throws ConfigurationError naming the field (`sessions.expiry`, ...). */
export function resolveSessionLimits(options: unknown): SessionLimits {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigurationError('sessions', `expected an object with any of ${FIELDS.join(', ')}`);
  }
  const given = options as Record<string, unknown>;
  const unknown = Object.keys(given).find((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown !== undefined) throw new ConfigurationError(`sessions.${unknown}`, `not an option; use ${FIELDS.join(', ')}`);
  const count = (field: (typeof FIELDS)[number], fallback: number, max: number, rule: string): number =>
    requireIntegerIn(`sessions.${field}`, given[field] ?? fallback, 1, max, rule);
  return Object.freeze({
    expiry: count('expiry', SESSION_EXPIRY_MS, MAX_TIMEOUT, 'give whole milliseconds from 1 to 2147483647 (about 24 days)'),
    messageExpiry: count('messageExpiry', MESSAGE_EXPIRY_MS, MAX_TIMEOUT, 'give whole milliseconds from 1 to 2147483647 (about 24 days)'),
    maxMessages: count('maxMessages', MAX_SESSION_MESSAGES, 65_535, 'give a whole number from 1 to 65535: each message in flight holds a packet id'),
    maxBytes: count('maxBytes', MAX_SESSION_BYTES, Number.MAX_SAFE_INTEGER, 'give a whole number of bytes above 0'),
    maxTotalMessages: count('maxTotalMessages', MAX_KEPT_MESSAGES, Number.MAX_SAFE_INTEGER, 'give a whole number above 0'),
    maxTotalBytes: count('maxTotalBytes', MAX_KEPT_BYTES, Number.MAX_SAFE_INTEGER, 'give a whole number of bytes above 0'),
  });
}

/** `ms` for an event message, with days beside it when there are some. */
export function duration(ms: number): string {
  const days = ms / 86_400_000;
  return days >= 1 ? `${ms} ms (${Number(days.toFixed(2))} days)` : `${ms} ms`;
}
