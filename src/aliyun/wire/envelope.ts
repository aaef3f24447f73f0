/*
 * The Alink envelope as the platform's device services use it. Requests are
 * `{"id":"123","version":"1.0","params":...,"method":"..."}` where, unlike the thing-model topics,
 * `params` may be an array (topology, batch logout, tags) and `method` may be absent (the
 * session topics and the OTA topics carry none). Replies are `{"id":"123","code":200,"data":...}`.
 */
import { ConfigurationError } from '../../shared/errors.js';
import { requireText } from '../../shared/validate.js';
import { PlatformPayloadError } from './errors.js';
import { Fields, isJsonObject } from './read.js';

/**
 * The protocol version every request carries.
 *
 * @internal
 */
export const PLATFORM_VERSION = '1.0';

/** A request as read from the wire. */
export interface PlatformRequest {
  /** The request id as text; a numeric id (some SDKs send `"id":123`) is given as its digits. */
  readonly id: string;
  readonly version: string | undefined;
  readonly method: string | undefined;
  /** The raw `params`; `undefined` when absent. */
  readonly params: unknown;
}

/**
 * A reply as read from the wire: either a success (`code` 200) with its data read by the
 * format's reader, or the platform's refusal with its code, message and raw data.
 */
export type PlatformReply<T> =
  | { readonly ok: true; readonly id: string; readonly code: 200; readonly data: T; readonly message: string | undefined }
  | { readonly ok: false; readonly id: string; readonly code: number; readonly data: unknown; readonly message: string | undefined };

/**
 * Reads an envelope's `id`: a non-empty string, or a non-negative integer given as its digits.
 *
 * @internal
 */
export function readId(fields: Fields): string {
  const value = fields.value('id');
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  throw fields.wrong('id', 'a non-empty string such as "123"');
}

/**
 * Reads a request.
 *
 * @param method the method this topic carries: when given and the payload names another,
 *   `wrong-method`; a payload without `method` is accepted unless `methodRequired`.
 * @throws PlatformPayloadError for a malformed envelope.
 *
 * @internal
 */
export function readRequest(
  payload: Uint8Array | string,
  expected: { readonly method?: string; readonly methodRequired?: boolean } = {},
): PlatformRequest {
  const fields = Fields.ofPayload(payload);
  const id = readId(fields);
  const version = fields.optionalString('version');
  const method = fields.optionalString('method');
  if (method === undefined || method === '') {
    if (expected.methodRequired === true) throw fields.wrong('method', `the method ${JSON.stringify(expected.method ?? '')}`);
  } else if (expected.method !== undefined && method !== expected.method) {
    throw new PlatformPayloadError(
      'wrong-method',
      'method',
      `this topic carries ${JSON.stringify(expected.method)}, the payload says ${JSON.stringify(method)}`,
    );
  }
  return { id, version, method: method === '' ? undefined : method, params: fields.value('params') };
}

/**
 * Reads a reply. On code 200 the data goes through `readData` (which throws for data of the
 * wrong shape); on any other code the data is kept as sent, since refusals carry whatever the
 * platform chose to add (the devices a batch login refused, for instance).
 *
 * @throws PlatformPayloadError for a malformed envelope or malformed success data.
 *
 * @internal
 */
export function readReply<T>(payload: Uint8Array | string, readData: (data: unknown, path: string) => T): PlatformReply<T> {
  const fields = Fields.ofPayload(payload);
  const id = readId(fields);
  const code = fields.integer('code');
  const message = fields.optionalString('message');
  const data = fields.value('data');
  if (code === 200) return { ok: true, id, code, data: readData(data, 'data'), message };
  return { ok: false, id, code, data, message };
}

/**
 * What {@link writeRequest} writes.
 *
 * @internal
 */
export interface RequestInput {
  readonly id: string;
  readonly params: unknown;
  /** Left out of the payload when `undefined`, as the session and OTA topics have it. */
  readonly method?: string | undefined;
  readonly version?: string | undefined;
}

/**
 * A request's JSON text, fields in the order the platform's pages print them: `id`, `version`,
 * `params`, then `method` when there is one.
 *
 * @throws ConfigurationError (`id`) for an empty id, (`params`) for params that JSON cannot write.
 *
 * @internal
 */
export function writeRequest(request: RequestInput): string {
  const id = requireText('id', request.id, 'use AlinkIdGenerator.next()');
  const body: Record<string, unknown> = { id, version: request.version ?? PLATFORM_VERSION, params: request.params };
  if (request.method !== undefined) body['method'] = request.method;
  return toJson('params', body);
}

/**
 * `JSON.stringify`, with a ConfigurationError naming `field` for values JSON cannot write.
 *
 * @internal
 */
export function toJson(field: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new ConfigurationError(field, `cannot be written as JSON (${(cause as Error).message}); use plain JSON values`);
  }
  if (text === undefined) throw new ConfigurationError(field, 'cannot be written as JSON; use plain JSON values');
  return text;
}

/**
 * `value` as a plain JSON object for `field`, or a ConfigurationError.
 *
 * @internal
 */
export function requireObject(field: string, value: unknown, example: string): Record<string, unknown> {
  if (!isJsonObject(value)) throw new ConfigurationError(field, `must be an object such as ${example}`);
  return value;
}
