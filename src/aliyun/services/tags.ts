/*
 * Device tags (labels): key-value pairs the device reports about itself, such as maker and
 * model. `thing.deviceinfo.update` adds or changes them, `thing.deviceinfo.delete` removes them
 * by key; both are answered on `_reply`.
 *
 * Format and limits: help.aliyun.com/document_detail/89304 (设备标签): `params` is
 * `[{"attrKey":"Temperature","attrValue":"36.8"}]` (delete: `[{"attrKey":"Temperature"}]`), at
 * most 200 entries; a key is 1..30 characters of letters, digits and `_ - # @ % & * .`; a value is
 * at most 128 characters of Chinese, Japanese, letters, digits and `_ - # @ % & : .`, a Chinese or
 * Japanese character counting 2; reply codes 460 (request parameter error), 6100 (device not
 * found). Node.js SDK 1.2.8 `lib/thing.js` `postTags`, `deleteTags` and Python linkkit
 * `thing_update_tags`, `thing_remove_tags` send the same shapes.
 *
 * An older page for the Linkkit C SDK 3.x (document_detail/97352) says a key is 2..32 bytes of
 * letters and digits not starting with a digit; the protocol page above is the newer and wider
 * rule, and the one followed here.
 */
import { ConfigurationError } from '../../shared/errors.js';
import { SERVICE_METHODS } from '../service-topics.js';
import { readRequest, writeRequest } from '../wire/envelope.js';
import { PlatformPayloadError } from '../wire/errors.js';
import { Fields } from '../wire/read.js';
import { readList } from '../gateway/topology.js';

/** The tag limits. */
export const TAG_LIMITS = Object.freeze({
  /** Entries in one update or delete. */
  maxTags: 200,
  /** Characters in a key. */
  maxKeyLength: 30,
  /** Characters in a value, a Chinese or Japanese character counting 2. */
  maxValueLength: 128,
});

const KEY = /^[A-Za-z0-9_\-#@%&*.]+$/;
const VALUE_CHARACTER = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}A-Za-z0-9_\-#@%&:.]/u;
const WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/** A tag key's problem, or `undefined` for a good key. */
export function tagKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key === '') return 'must be a non-empty string';
  if (key.length > TAG_LIMITS.maxKeyLength) return `is ${key.length} characters; the platform allows ${TAG_LIMITS.maxKeyLength}`;
  if (!KEY.test(key)) return 'may hold only letters, digits and _ - # @ % & * .';
  return undefined;
}

/** A tag value's problem, or `undefined` for a good value. */
export function tagValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'must be a non-empty string';
  let width = 0;
  for (const character of value) {
    if (!VALUE_CHARACTER.test(character)) return `holds ${JSON.stringify(character)}; only Chinese, Japanese, letters, digits and _ - # @ % & : . are allowed`;
    width += WIDE.test(character) ? 2 : 1;
  }
  if (width > TAG_LIMITS.maxValueLength) return `counts ${width} characters (Chinese and Japanese count 2); the platform allows ${TAG_LIMITS.maxValueLength}`;
  return undefined;
}

/**
 * `thing.deviceinfo.update` with the given tags, in the order given.
 *
 * @throws ConfigurationError for no tags, more than 200, or a key or value the platform refuses
 *   (`tags.<key>` names it).
 */
export function buildTagsUpdate(input: { readonly id: string; readonly tags: Readonly<Record<string, string>> }): string {
  const entries = Object.entries(input.tags ?? {});
  checkCount(entries.length);
  const params = entries.map(([attrKey, attrValue]) => {
    const keyProblem = tagKeyProblem(attrKey);
    if (keyProblem !== undefined) throw new ConfigurationError(`tags.${attrKey}`, `the key ${keyProblem}`);
    const valueProblem = tagValueProblem(attrValue);
    if (valueProblem !== undefined) throw new ConfigurationError(`tags.${attrKey}`, `the value ${valueProblem}`);
    return { attrKey, attrValue };
  });
  return writeRequest({ id: input.id, params, method: SERVICE_METHODS.tagsUpdate });
}

/**
 * `thing.deviceinfo.delete` for the given keys.
 *
 * @throws ConfigurationError for no keys, more than 200, or a bad key.
 */
export function buildTagsDelete(input: { readonly id: string; readonly keys: readonly string[] }): string {
  if (!Array.isArray(input.keys)) throw new ConfigurationError('keys', 'must be an array of tag keys');
  checkCount(input.keys.length);
  const params = input.keys.map((attrKey, index) => {
    const problem = tagKeyProblem(attrKey);
    if (problem !== undefined) throw new ConfigurationError(`keys[${index}]`, problem);
    return { attrKey };
  });
  return writeRequest({ id: input.id, params, method: SERVICE_METHODS.tagsDelete });
}

/** Reads a `thing.deviceinfo.update` (the platform's side), refusing keys and values the platform refuses. */
export function parseTagsUpdate(payload: Uint8Array | string): { readonly id: string; readonly tags: Record<string, string> } {
  const request = readRequest(payload, { method: SERVICE_METHODS.tagsUpdate });
  const pairs = readList(request.params, 'params', (item, path) => {
    const fields = Fields.of(item, path);
    const attrKey = checkRead(fields, 'attrKey', tagKeyProblem);
    return [attrKey, checkRead(fields, 'attrValue', tagValueProblem)] as const;
  });
  return { id: request.id, tags: Object.fromEntries(pairs) };
}

/** Reads a `thing.deviceinfo.delete` (the platform's side). */
export function parseTagsDelete(payload: Uint8Array | string): { readonly id: string; readonly keys: string[] } {
  const request = readRequest(payload, { method: SERVICE_METHODS.tagsDelete });
  return { id: request.id, keys: readList(request.params, 'params', (item, path) => checkRead(Fields.of(item, path), 'attrKey', tagKeyProblem)) };
}

function checkRead(fields: Fields, name: string, problemOf: (value: unknown) => string | undefined): string {
  const value = fields.string(name);
  const problem = problemOf(value);
  if (problem !== undefined) throw new PlatformPayloadError('bad-field', fields.at(name), problem);
  return value;
}

function checkCount(count: number): void {
  if (count === 0) throw new ConfigurationError('tags', 'give at least one tag');
  if (count > TAG_LIMITS.maxTags) throw new ConfigurationError('tags', `holds ${count} tags; the platform takes at most ${TAG_LIMITS.maxTags} per message: split it`);
}
