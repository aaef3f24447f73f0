/*
 * The device shadow: the platform's copy of a device's `reported` state and the `desired` state
 * applications set. The device publishes on `/shadow/update/{pk}/{dn}`; the platform answers, and
 * pushes desired-state changes, on `/shadow/get/{pk}/{dn}`.
 *
 * Formats:
 * - device to platform, C Link SDK 4.x `components/shadow/shadow_private.h`:
 *   `{"method":"update","state":{"reported":{...}},"version":N}`,
 *   `{"method":"update","state":{"desired":"null"},"version":N}` (clear the desired state once
 *   applied), `{"method":"get"}`, `{"method":"delete","state":{"reported":{...}},"version":N}`;
 *   Node.js SDK 1.2.8 `lib/thing.js` `deleteShadow`: a deleted key is written as `"null"`, and
 *   `"reported":"null"` deletes every reported key.
 * - platform to device, `components/shadow/aiot_shadow_api.c` `_shadow_recv_message_handler`:
 *   `{"method":"reply"|"control","payload":{"status":"success"|"error",...},"timestamp":T}`,
 *   `version` either beside `payload` or inside it (Python linkkit `__try_parse_try_shadow`
 *   looks in both places); an error reply carries `payload.content.errorcode` and `errormessage`.
 * - versions are 64-bit integers; `-1` resets the shadow's version to 0 (help.aliyun.com
 *   "Device shadow JSON format", document_detail/53932). An update whose version is not greater
 *   than the shadow's is refused (version conflict).
 */
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue } from '../../shared/validate.js';
import { PlatformPayloadError } from '../wire/errors.js';
import { Fields, isJsonObject } from '../wire/read.js';
import type { JsonObject } from '../wire/read.js';

/** How the shadow writes a deleted key, or a whole section cleared. */
export const SHADOW_NULL = 'null';

/** `{"method":"get"}`: ask for the whole shadow. */
export function buildShadowGet(): string {
  return '{"method":"get"}';
}

/**
 * Reports state: `{"method":"update","state":{"reported":{...}},"version":N}`.
 *
 * @throws ConfigurationError for a reported state that is not a non-empty object, or a version
 *   that is not an integer ≥ -1.
 */
export function buildShadowUpdate(input: { readonly reported: Readonly<Record<string, unknown>>; readonly version: number }): string {
  if (!isJsonObject(input.reported) || Object.keys(input.reported).length === 0) {
    throw new ConfigurationError('reported', 'must be a non-empty object of the state to report');
  }
  return JSON.stringify({ method: 'update', state: { reported: input.reported }, version: checkVersion(input.version) });
}

/** Clears the desired state once the device has applied it. */
export function buildShadowClearDesired(input: { readonly version: number }): string {
  return JSON.stringify({ method: 'update', state: { desired: SHADOW_NULL }, version: checkVersion(input.version) });
}

/**
 * Deletes reported keys, or every reported key with `'all'`.
 *
 * @throws ConfigurationError for an empty key list or an empty key.
 */
export function buildShadowDelete(input: { readonly keys: readonly string[] | 'all'; readonly version: number }): string {
  let reported: unknown = SHADOW_NULL;
  if (input.keys !== 'all') {
    if (!Array.isArray(input.keys) || input.keys.length === 0) {
      throw new ConfigurationError('keys', "give the reported keys to delete, or 'all'");
    }
    reported = Object.fromEntries(
      input.keys.map((key, index) => {
        if (typeof key !== 'string' || key === '') throw new ConfigurationError(`keys[${index}]`, 'must be a non-empty key');
        return [key, SHADOW_NULL];
      }),
    );
  }
  return JSON.stringify({ method: 'delete', state: { reported }, version: checkVersion(input.version) });
}

/** A request on the update topic, as the platform reads it. */
export type ShadowRequest =
  | { readonly method: 'get' }
  /** `reported` to merge (a key set to `"null"` is removed), and `desired: null` to clear it. */
  | { readonly method: 'update'; readonly reported: JsonObject | undefined; readonly clearDesired: boolean; readonly version: number }
  /** Reported keys to remove, or every one with `'all'`. */
  | { readonly method: 'delete'; readonly keys: string[] | 'all'; readonly version: number };

/**
 * Reads a request on `/shadow/update/{pk}/{dn}` (the platform's side).
 *
 * @throws PlatformPayloadError for an unknown method, a missing state or version, or a state
 *   section of the wrong kind.
 */
export function parseShadowRequest(payload: Uint8Array | string): ShadowRequest {
  const fields = Fields.ofPayload(payload);
  const method = fields.string('method');
  if (method === 'get') return { method };
  if (method !== 'update' && method !== 'delete') {
    throw new PlatformPayloadError('wrong-method', 'method', 'expected "update", "get" or "delete"');
  }
  const version = readVersion(fields);
  const state = fields.object('state');
  if (method === 'delete') {
    const reported = state.value('reported');
    if (reported === SHADOW_NULL) return { method, keys: 'all', version };
    return { method, keys: Object.keys(state.object('reported').raw), version };
  }
  const clearDesired = state.value('desired') === SHADOW_NULL;
  if (state.has('desired') && !clearDesired) throw state.wrong('desired', '"null" (a device may only clear the desired state)');
  const reported = state.has('reported') ? state.object('reported').raw : undefined;
  if (reported === undefined && !clearDesired) throw state.wrong('reported', 'the reported state');
  return { method, reported, clearDesired, version };
}

/** A message on `/shadow/get/{pk}/{dn}`, as the device reads it. */
export type ShadowMessage =
  /** An update or delete was accepted; the shadow now has `version`. */
  | { readonly kind: 'accepted'; readonly version: number | undefined; readonly timestamp: number }
  /** The answer to a get: the whole shadow. */
  | { readonly kind: 'document'; readonly state: ShadowState; readonly metadata: unknown; readonly version: number; readonly timestamp: number }
  /** The platform refused a request. */
  | { readonly kind: 'error'; readonly errorCode: string; readonly errorMessage: string | undefined; readonly timestamp: number }
  /** The desired state changed: apply `state.desired`, then clear it. */
  | { readonly kind: 'control'; readonly state: ShadowState; readonly metadata: unknown; readonly version: number; readonly timestamp: number };

/** The two sections of a shadow. */
export interface ShadowState {
  readonly reported: JsonObject | undefined;
  readonly desired: JsonObject | undefined;
}

/**
 * Reads a message on `/shadow/get/{pk}/{dn}`.
 *
 * @throws PlatformPayloadError for an unknown method or status, or a missing field.
 */
export function parseShadowMessage(payload: Uint8Array | string): ShadowMessage {
  const fields = Fields.ofPayload(payload);
  const method = fields.string('method');
  if (method !== 'reply' && method !== 'control') throw new PlatformPayloadError('wrong-method', 'method', 'expected "reply" or "control"');
  const timestamp = fields.count('timestamp');
  const body = fields.object('payload');
  const status = body.string('status');
  if (status === 'error') {
    const content = body.object('content');
    const code = content.value('errorcode');
    if (typeof code !== 'string' && typeof code !== 'number') throw content.wrong('errorcode', 'an error code');
    return { kind: 'error', errorCode: String(code), errorMessage: content.optionalString('errormessage'), timestamp };
  }
  if (status !== 'success') throw new PlatformPayloadError('bad-field', 'payload.status', 'expected "success" or "error"');
  const version = fields.has('version') ? readVersion(fields) : body.has('version') ? readVersion(body) : undefined;
  if (method === 'reply' && !body.has('state')) return { kind: 'accepted', version, timestamp };
  if (version === undefined) throw fields.wrong('version', 'the shadow version');
  const stateFields = body.object('state');
  const state = { reported: section(stateFields, 'reported'), desired: section(stateFields, 'desired') };
  return { kind: method === 'control' ? 'control' : 'document', state, metadata: body.value('metadata'), version, timestamp };
}

/**
 * A message on `/shadow/get/{pk}/{dn}` (the platform's side). `timestamp` is in seconds, as the
 * platform writes it.
 */
export function buildShadowMessage(message: ShadowMessage): string {
  if (message.kind === 'accepted') {
    const payload: Record<string, unknown> = { status: 'success' };
    if (message.version !== undefined) payload['version'] = message.version;
    return JSON.stringify({ method: 'reply', payload, timestamp: message.timestamp });
  }
  if (message.kind === 'error') {
    const content = { errorcode: message.errorCode, errormessage: message.errorMessage ?? '' };
    return JSON.stringify({ method: 'reply', payload: { status: 'error', content }, timestamp: message.timestamp });
  }
  const state: Record<string, unknown> = {};
  if (message.state.reported !== undefined) state['reported'] = message.state.reported;
  if (message.state.desired !== undefined) state['desired'] = message.state.desired;
  const payload: Record<string, unknown> = { status: 'success', state };
  if (message.metadata !== undefined) payload['metadata'] = message.metadata;
  return JSON.stringify({ method: message.kind === 'control' ? 'control' : 'reply', payload, version: message.version, timestamp: message.timestamp });
}

function section(state: Fields, name: 'reported' | 'desired'): JsonObject | undefined {
  return state.has(name) ? state.object(name).raw : undefined;
}

function readVersion(fields: Fields): number {
  const value = fields.value('version');
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= -1) return value;
  throw fields.wrong('version', 'an integer ≥ -1');
}

function checkVersion(version: unknown): number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < -1) {
    throw new ConfigurationError('version', `got ${describeValue(version)}; give the next version (an integer), or -1 to reset it`);
  }
  return version;
}
