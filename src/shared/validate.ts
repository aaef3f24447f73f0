/**
 * Checks shared by the credentials and the platform profile. Each throws a ConfigurationError
 * that names the field and says how to fix it, and never echoes a value the caller marked secret.
 */
import { ConfigurationError } from './errors.js';

/** Length of a string in UTF-8 bytes. */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * `value` as a non-empty string, or a ConfigurationError for `field`. `hint` says where the right
 * value comes from. A secret field's value never appears in the message.
 */
export function requireText(field: string, value: unknown, hint: string): string {
  if (typeof value !== 'string') {
    throw new ConfigurationError(field, `expected a string, got ${describeType(value)}; ${hint}`);
  }
  if (value.length === 0) {
    throw new ConfigurationError(field, `must not be empty; ${hint}`);
  }
  return value;
}

/** Refuses `value` when it holds one of `forbidden`, quoting the character, never the value. */
export function forbidCharacters(field: string, value: string, forbidden: readonly string[], why: string): void {
  const found = forbidden.find((character) => value.includes(character));
  if (found !== undefined) {
    throw new ConfigurationError(field, `must not contain '${found}' (${why}); remove it`);
  }
}

/** `value` as one of `allowed`, or a ConfigurationError listing them. */
export function requireOneOf<T>(field: string, value: unknown, allowed: readonly T[]): T {
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) {
    const list = allowed.map((candidate) => JSON.stringify(candidate)).join(', ');
    throw new ConfigurationError(field, `got ${describeValue(value)}; use one of ${list}`);
  }
  return match;
}

/** `value` as an integer in `min..max`, or a ConfigurationError that ends with `rule`. */
export function requireIntegerIn(field: string, value: unknown, min: number, max: number, rule: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(field, `got ${describeValue(value)}; ${rule}`);
  }
  return value;
}

/**
 * A short, safe description of a value for an error message. Strings are described, never
 * quoted: a device secret pasted into the wrong field (`signMethod`, say) must not be printed back.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : `a string of ${value.length} characters`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return describeType(value);
}

/** A value known not to be secret (a host name, say), quoted and cut to 80 characters. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
