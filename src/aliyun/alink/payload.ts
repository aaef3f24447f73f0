/**
 * Alink JSON payloads: requests `{"id":"123","version":"1.0","params":{...},"method":"..."}` and
 * replies `{"id":"123","code":200,"data":{}}`. The `id` is a string that pairs a reply with its
 * request.
 */
import { ConfigurationError } from '../../shared/errors.js';
import { requireText } from '../../shared/validate.js';
import { AlinkPayloadError } from './errors.js';
import type { AlinkPayloadErrorCode } from './errors.js';

/** Alink method names for the topics on the platform's page. */
export const ALINK_METHODS = Object.freeze({
  propertyPost: 'thing.event.property.post',
  eventPost: (identifier: string): string => `thing.event.${identifier}.post`,
  propertySet: 'thing.service.property.set',
  serviceCall: (identifier: string): string => `thing.service.${identifier}`,
});

/** The Alink protocol version the platform's page shows. */
export const ALINK_VERSION = '1.0';

/** A request as read from the wire. */
export interface AlinkRequest {
  readonly id: string;
  /** `undefined` when the sender left it out. */
  readonly version: string | undefined;
  readonly method: string;
  /** `{}` when the sender left it out. */
  readonly params: Readonly<Record<string, unknown>>;
}

/** A reply as read from the wire. */
export interface AlinkReply {
  readonly id: string;
  /** 200 for success; anything else is the platform's error code. */
  readonly code: number;
  /** Any JSON value; `undefined` when absent. */
  readonly data: unknown;
  readonly message?: string;
  /** Some senders echo the request's method. */
  readonly method?: string;
}

/** What {@link buildAlinkRequest} writes. */
export interface AlinkRequestInput {
  /** A non-empty string, e.g. from an {@link AlinkIdGenerator}. */
  readonly id: string;
  /** e.g. `ALINK_METHODS.propertyPost`. */
  readonly method: string;
  /** A JSON object; default `{}`. */
  readonly params?: Readonly<Record<string, unknown>> | undefined;
  /** Default `'1.0'`. */
  readonly version?: string | undefined;
}

/** What {@link buildAlinkReply} writes. */
export interface AlinkReplyInput {
  /** The id of the request this answers. */
  readonly id: string;
  /** Default 200. */
  readonly code?: number | undefined;
  /** Any JSON value; default `{}`. */
  readonly data?: unknown;
  readonly message?: string | undefined;
}

/**
 * The JSON text of a request, fields in the page's order (`id`, `version`, `params`, `method`).
 *
 * @throws ConfigurationError (`id`, `method`, `version` or `params`) for an empty or non-string
 *   field, or params that are not an object or cannot be written as JSON.
 */
export function buildAlinkRequest(request: AlinkRequestInput): string {
  const id = requireText('id', request.id, 'use AlinkIdGenerator.next()');
  const method = requireText('method', request.method, "e.g. 'thing.event.property.post'");
  const version = requireText('version', request.version ?? ALINK_VERSION, `use '${ALINK_VERSION}'`);
  const params = request.params ?? {};
  if (!isPlainObject(params)) {
    throw new ConfigurationError('params', 'must be a JSON object such as { "temperature": 21.5 }');
  }
  return toJson('params', { id, version, params, method });
}

/**
 * The JSON text of a reply: `id`, `code`, `data`, then `message` when given.
 *
 * @throws ConfigurationError (`id`, `code`, `message` or `data`) for an empty id, a non-integer
 *   code, a non-string message, or data that cannot be written as JSON.
 */
export function buildAlinkReply(reply: AlinkReplyInput): string {
  const id = requireText('id', reply.id, 'answer with the id of the request');
  const code = reply.code ?? 200;
  if (!Number.isInteger(code)) {
    throw new ConfigurationError('code', 'must be an integer: 200 for success, or an error code');
  }
  if (reply.message !== undefined && typeof reply.message !== 'string') {
    throw new ConfigurationError('message', 'must be a string');
  }
  const data = reply.data === undefined ? {} : reply.data;
  return toJson('data', reply.message === undefined ? { id, code, data } : { id, code, data, message: reply.message });
}

/**
 * Reads a request (property set, service call, or a device's post as the server sees it).
 *
 * @throws AlinkPayloadError with `code` `invalid-utf8`, `invalid-json`, `not-an-object`,
 *   `missing-id`, `bad-id`, `missing-method`, `bad-method`, `bad-version` or `bad-params`.
 */
export function parseAlinkRequest(payload: Uint8Array | string): AlinkRequest {
  const object = readObject(payload);
  const id = readId(object);
  const method = readString(object, 'method', 'missing-method', 'bad-method');
  const version = object['version'];
  if (version !== undefined && typeof version !== 'string') {
    throw new AlinkPayloadError('bad-version', 'version must be a string such as "1.0"');
  }
  const params = object['params'] === undefined ? {} : object['params'];
  if (!isPlainObject(params)) throw new AlinkPayloadError('bad-params', 'params must be an object');
  return { id, version, method, params };
}

/**
 * Reads a reply (to a post, or a device's reply to a set or service call as the server sees it).
 *
 * @throws AlinkPayloadError with `code` `invalid-utf8`, `invalid-json`, `not-an-object`,
 *   `missing-id`, `bad-id`, `missing-code`, `bad-code`, `bad-message` or `bad-method`.
 */
export function parseAlinkReply(payload: Uint8Array | string): AlinkReply {
  const object = readObject(payload);
  const id = readId(object);
  const code = object['code'];
  if (code === undefined) throw new AlinkPayloadError('missing-code', 'a reply needs a code (200 for success)');
  if (typeof code !== 'number' || !Number.isInteger(code)) {
    throw new AlinkPayloadError('bad-code', 'code must be an integer such as 200');
  }
  const message = object['message'];
  if (message !== undefined && typeof message !== 'string') {
    throw new AlinkPayloadError('bad-message', 'message must be a string');
  }
  const method = object['method'];
  if (method !== undefined && typeof method !== 'string') {
    throw new AlinkPayloadError('bad-method', 'method must be a string');
  }
  return {
    id,
    code,
    data: object['data'],
    ...(message === undefined ? {} : { message }),
    ...(method === undefined ? {} : { method }),
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function readObject(payload: Uint8Array | string): Record<string, unknown> {
  let text: string;
  if (typeof payload === 'string') {
    text = payload;
  } else {
    try {
      text = utf8.decode(payload);
    } catch {
      throw new AlinkPayloadError('invalid-utf8', 'the payload is not well-formed UTF-8');
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new AlinkPayloadError('invalid-json', `the payload is not JSON (${(cause as Error).message})`);
  }
  if (!isPlainObject(value)) {
    throw new AlinkPayloadError('not-an-object', `the payload is ${jsonKind(value)}, not an object`);
  }
  return value;
}

function readId(object: Record<string, unknown>): string {
  return readString(object, 'id', 'missing-id', 'bad-id');
}

function readString(
  object: Record<string, unknown>,
  name: string,
  missing: AlinkPayloadErrorCode,
  bad: AlinkPayloadErrorCode,
): string {
  const value = object[name];
  if (value === undefined) throw new AlinkPayloadError(missing, `no ${name}`);
  if (typeof value !== 'string' || value === '') {
    throw new AlinkPayloadError(bad, `${name} must be a non-empty string (e.g. "123"), got ${jsonKind(value)}`);
  }
  return value;
}

/** How a JSON value reads in a message: `null`, `an array`, `a number`, `an empty string`, ... */
function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === '') return 'an empty string';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toJson(field: string, value: object): string {
  try {
    return JSON.stringify(value);
  } catch (cause) {
    throw new ConfigurationError(field, `cannot be written as JSON (${(cause as Error).message}); use plain JSON values`);
  }
}
