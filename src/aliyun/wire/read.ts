/*
 * Strict readers for the JSON payloads of the platform's device services. Every field is read
 * by name with its JSON path, so an error says exactly which field was wrong (`data[1].sign`)
 * and what was expected, without ever quoting the field's value: several of these payloads
 * carry secrets.
 */
import { PlatformPayloadError } from './errors.js';

/** A parsed JSON object. */
export type JsonObject = Record<string, unknown>;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * The JSON value of a payload.
 *
 * @throws PlatformPayloadError `invalid-utf8` or `invalid-json`.
 *
 * @internal
 */
export function readJson(payload: Uint8Array | string): unknown {
  let text: string;
  if (typeof payload === 'string') {
    text = payload;
  } else {
    try {
      text = utf8.decode(payload);
    } catch {
      throw new PlatformPayloadError('invalid-utf8', '', 'the payload is not well-formed UTF-8');
    }
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new PlatformPayloadError('invalid-json', '', `the payload is not JSON (${(cause as Error).message})`);
  }
}

/**
 * `true` for a JSON object (not null, not an array).
 *
 * @internal
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How a JSON value reads in a message: `null`, `an array`, `a number`, `an empty string`, ...
 *
 * @internal
 */
export function jsonKind(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === '') return 'an empty string';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * `path.name`, or `name` at the top level.
 *
 * @internal
 */
export function fieldPath(path: string, name: string | number): string {
  if (typeof name === 'number') return `${path}[${name}]`;
  return path === '' ? name : `${path}.${name}`;
}

const DIGITS = /^\d+$/;

/**
 * The fields of one JSON object, read strictly. Each reader throws a PlatformPayloadError naming
 * the field's path: `missing-field` when it is absent, `bad-field` when it is of the wrong kind.
 *
 * @internal
 */
export class Fields {
  /** The object itself. */
  readonly raw: JsonObject;
  readonly path: string;

  constructor(raw: JsonObject, path: string) {
    this.raw = raw;
    this.path = path;
  }

  /**
   * `value` as an object's fields.
   *
   * @throws PlatformPayloadError `not-an-object` at the top level (path `''`), `missing-field`
   *   or `bad-field` below it.
   */
  static of(value: unknown, path: string): Fields {
    if (isJsonObject(value)) return new Fields(value, path);
    if (path === '') {
      throw new PlatformPayloadError('not-an-object', '', `the payload is ${jsonKind(value)}, not an object`);
    }
    throw new PlatformPayloadError(value === undefined ? 'missing-field' : 'bad-field', path, `expected an object, got ${jsonKind(value)}`);
  }

  /** The fields of a payload's top-level object. */
  static ofPayload(payload: Uint8Array | string): Fields {
    return Fields.of(readJson(payload), '');
  }

  /** The path of field `name`. */
  at(name: string): string {
    return fieldPath(this.path, name);
  }

  /** Whether field `name` is present (not `undefined`). */
  has(name: string): boolean {
    return this.raw[name] !== undefined;
  }

  /** The raw value of field `name`, `undefined` when absent. */
  value(name: string): unknown {
    return this.raw[name];
  }

  /** A field that must be present, as a non-empty string. */
  string(name: string): string {
    const value = this.raw[name];
    if (typeof value === 'string' && value !== '') return value;
    throw this.wrong(name, 'a non-empty string');
  }

  /** A field that may be absent; when present, a string (possibly empty). */
  optionalString(name: string): string | undefined {
    const value = this.raw[name];
    if (value === undefined || typeof value === 'string') return value;
    throw this.wrong(name, 'a string');
  }

  /**
   * A count or a time in milliseconds, which senders write either as a JSON number or as a
   * string of decimal digits (the platform's pages print `"1524448722000"`, the Node.js SDK sends
   * a number): a non-negative safe integer either way.
   */
  count(name: string): number {
    const value = this.raw[name];
    const number = typeof value === 'string' && DIGITS.test(value) ? Number(value) : value;
    if (typeof number === 'number' && Number.isSafeInteger(number) && number >= 0) return number;
    throw this.wrong(name, 'a non-negative whole number (or a string of its digits)');
  }

  /** Like {@link count}, for a field that may be absent. */
  optionalCount(name: string): number | undefined {
    return this.has(name) ? this.count(name) : undefined;
  }

  /** An integer written as a JSON number. */
  integer(name: string): number {
    const value = this.raw[name];
    if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
    throw this.wrong(name, 'a whole number');
  }

  /** A JSON boolean. */
  boolean(name: string): boolean {
    const value = this.raw[name];
    if (typeof value === 'boolean') return value;
    throw this.wrong(name, 'true or false');
  }

  /** A nested object. */
  object(name: string): Fields {
    return Fields.of(this.raw[name], this.at(name));
  }

  /** A nested object that may be absent. */
  optionalObject(name: string): Fields | undefined {
    return this.has(name) ? this.object(name) : undefined;
  }

  /** An array field. */
  array(name: string): unknown[] {
    const value = this.raw[name];
    if (Array.isArray(value)) return value;
    throw this.wrong(name, 'an array');
  }

  /** Each element of array field `name`, read by `read` with its own path. */
  list<T>(name: string, read: (item: unknown, path: string) => T): T[] {
    const path = this.at(name);
    return this.array(name).map((item, index) => read(item, fieldPath(path, index)));
  }

  /** The error for a field that is absent or not `expected`. Never quotes the value. */
  wrong(name: string, expected: string): PlatformPayloadError {
    const value = this.raw[name];
    return new PlatformPayloadError(
      value === undefined ? 'missing-field' : 'bad-field',
      this.at(name),
      `expected ${expected}, got ${jsonKind(value)}`,
    );
  }
}
