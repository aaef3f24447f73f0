/**
 * The device shadow's cloud side: one shadow per device, kept across connections (it is the
 * cloud's data, not the session's). A device's `get`, `update` and `delete` on
 * `/shadow/update/{pk}/{dn}` are answered on `/shadow/get/{pk}/{dn}`; an application's change of
 * the desired state (`emulator.updateShadow`, the UpdateDeviceShadow API) is pushed there as
 * `method: "control"` when the device is online and subscribed.
 *
 * Rules (help.aliyun.com/document_detail/53932 "设备影子JSON详解"; the UpdateDeviceShadow API
 * page for the application's side):
 * - a write's version must be above the shadow's, else error 409; -1 resets the version, which
 *   the stand-in does by applying the write and setting the version to 0;
 * - a reported key set to `"null"` is removed; `"desired":"null"` clears the desired state;
 * - at most 128 reported properties (error 408);
 * - the errors of a request that cannot be read: 400 not JSON, 401 no method, 402 no state,
 *   403 a version that is not a number, 404 no reported section, 405 an empty reported section,
 *   406 an unknown method (`SHADOW_ERROR_CODES`);
 * - metadata holds each key's last change, in seconds, as the platform writes timestamps.
 */
import { buildShadowMessage, parseShadowRequest, SHADOW_NULL } from '../../aliyun/services/shadow.js';
import type { ShadowRequest } from '../../aliyun/services/shadow.js';
import type { ParsedServiceTopic } from '../../aliyun/service-topics.js';
import { serviceTopic } from '../../aliyun/service-topics.js';
import { PlatformPayloadError } from '../../aliyun/wire/errors.js';
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import { identityKey } from '../../aliyun/wire/identity.js';
import type { JsonObject } from '../../aliyun/wire/read.js';
import { isJsonObject } from '../../aliyun/wire/read.js';
import { ConfigurationError } from '../../shared/errors.js';
import { SHADOW_ERROR_CODES, SHADOW_MAX_REPORTED } from '../../device/shadow-codes.js';
import type { OnlineDevice } from '../presence.js';
import type { EmulatorShadow } from '../types.js';
import type { CloudContext, CloudService } from './service.js';
import { ownTopic } from './own-topic.js';

interface Stored {
  reported: JsonObject;
  desired: JsonObject;
  reportedAt: Record<string, { timestamp: number }>;
  desiredAt: Record<string, { timestamp: number }>;
  version: number;
}

/** @internal */
export interface ShadowOptions {
  readonly autoReplyServices: boolean;
}

/** @internal */
export class ShadowService implements CloudService {
  readonly #cloud: CloudContext;
  readonly #options: ShadowOptions;
  readonly #shadows = new Map<string, Stored>();
  /** Whether a device exists (is registered), for the application's side of the API. */
  readonly #known: (device: DeviceIdentity) => boolean;

  constructor(cloud: CloudContext, options: ShadowOptions, known: (device: DeviceIdentity) => boolean) {
    this.#cloud = cloud;
    this.#options = options;
    this.#known = known;
  }

  published(): void {}

  servicePublished(device: OnlineDevice, _topic: string, kind: ParsedServiceTopic, payload: Uint8Array): void {
    if (kind.kind !== 'shadow-update' || !ownTopic(device, kind) || !this.#options.autoReplyServices) return;
    const answerTopic = serviceTopic('shadow-get', kind);
    let request: ShadowRequest;
    try {
      request = parseShadowRequest(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      this.#cloud.send(answerTopic, this.#error(errorCodeFor(error), error.message));
      return;
    }
    this.#cloud.send(answerTopic, this.#answer(kind, request));
  }

  disconnected(): void {}

  closing(): void {}

  /** The shadow of a device, copied; an empty one at version 0 when nothing was ever written. */
  read(device: DeviceIdentity): EmulatorShadow {
    this.#checkKnown(device);
    const stored = this.#store(device);
    return structuredClone({
      reported: stored.reported,
      desired: stored.desired,
      metadata: { reported: stored.reportedAt, desired: stored.desiredAt },
      version: stored.version,
    });
  }

  /**
   * The application's side (UpdateDeviceShadow): replaces the desired state (`deltaUpdate`:
   * merges into it, a key set to `"null"` removing it), at `version` (above the shadow's) or the
   * next one, and pushes it to the device as `control` when it is online and subscribed.
   * Returns the new version.
   *
   * @throws ConfigurationError for an unknown device, a desired state that is not a JSON object,
   *   or a version not above the shadow's.
   */
  updateDesired(device: DeviceIdentity, desired: unknown, options: { readonly version?: number | undefined; readonly deltaUpdate?: boolean | undefined }): number {
    this.#checkKnown(device);
    if (!isJsonObject(desired)) throw new ConfigurationError('desired', 'must be a JSON object of the state to apply, e.g. { "color": "green" }');
    const stored = this.#store(device);
    const version = options.version ?? stored.version + 1;
    if (!Number.isSafeInteger(version) || version <= stored.version) {
      throw new ConfigurationError('version', `must be above the shadow's version ${stored.version} (leave it out for the next one)`);
    }
    const now = this.#seconds();
    if (options.deltaUpdate !== true) {
      stored.desired = {};
      stored.desiredAt = {};
    }
    for (const [key, value] of Object.entries(structuredClone(desired))) {
      if (value === SHADOW_NULL) {
        delete stored.desired[key];
        delete stored.desiredAt[key];
      } else {
        stored.desired[key] = value;
        stored.desiredAt[key] = { timestamp: now };
      }
    }
    stored.version = version;
    this.#cloud.send(
      serviceTopic('shadow-get', device),
      buildShadowMessage({
        kind: 'control',
        state: { reported: stored.reported, desired: stored.desired },
        metadata: { reported: stored.reportedAt, desired: stored.desiredAt },
        version,
        timestamp: now,
      }),
    );
    return version;
  }

  #answer(device: DeviceIdentity, request: ShadowRequest): string {
    const stored = this.#store(device);
    const timestamp = this.#seconds();
    if (request.method === 'get') {
      return buildShadowMessage({
        kind: 'document',
        state: { reported: stored.reported, desired: stored.desired },
        metadata: { reported: stored.reportedAt, desired: stored.desiredAt },
        version: stored.version,
        timestamp,
      });
    }
    if (request.version !== -1 && request.version <= stored.version) {
      return this.#error(SHADOW_ERROR_CODES.versionConflict, `version ${request.version} is not above the shadow's version ${stored.version}`);
    }
    if (request.method === 'delete') {
      const keys = request.keys === 'all' ? Object.keys(stored.reported) : request.keys;
      for (const key of keys) {
        delete stored.reported[key];
        delete stored.reportedAt[key];
      }
    } else {
      const reported = request.reported ?? {};
      if (request.reported !== undefined && Object.keys(reported).length === 0) {
        return this.#error(SHADOW_ERROR_CODES.emptyReported, 'the reported section is empty');
      }
      if (!withinDepth(reported, MAX_SHADOW_DEPTH)) {
        return this.#error(SHADOW_ERROR_CODES.badJson, `the reported state is nested deeper than ${MAX_SHADOW_DEPTH} levels, more than the stand-in keeps`);
      }
      const merged = { ...stored.reported };
      for (const [key, value] of Object.entries(reported)) {
        if (value === SHADOW_NULL) delete merged[key];
        else merged[key] = value;
      }
      if (Object.keys(merged).length > SHADOW_MAX_REPORTED) {
        return this.#error(SHADOW_ERROR_CODES.tooManyReported, `the shadow would hold ${Object.keys(merged).length} reported properties; at most ${SHADOW_MAX_REPORTED}`);
      }
      for (const [key, value] of Object.entries(reported)) {
        if (value === SHADOW_NULL) delete stored.reportedAt[key];
        else stored.reportedAt[key] = { timestamp };
      }
      stored.reported = merged;
      if (request.clearDesired) {
        stored.desired = {};
        stored.desiredAt = {};
      }
    }
    stored.version = request.version === -1 ? 0 : request.version;
    return buildShadowMessage({ kind: 'accepted', version: stored.version, timestamp });
  }

  #error(errorCode: string, errorMessage: string): string {
    return buildShadowMessage({ kind: 'error', errorCode, errorMessage, timestamp: this.#seconds() });
  }

  #store(device: DeviceIdentity): Stored {
    const key = identityKey(device);
    let stored = this.#shadows.get(key);
    if (stored === undefined) {
      stored = { reported: {}, desired: {}, reportedAt: {}, desiredAt: {}, version: 0 };
      this.#shadows.set(key, stored);
    }
    return stored;
  }

  #checkKnown(device: DeviceIdentity): void {
    if (!this.#known(device)) {
      throw new ConfigurationError('deviceName', `no device ${device.deviceName} in product ${device.productKey}; the stand-in keeps shadows of its registered devices only`);
    }
  }

  #seconds(): number {
    return Math.floor(this.#cloud.wallClock() / 1000);
  }
}

/**
 * How deep the stand-in lets a reported state nest. No source gives the platform's bound; this one
 * keeps a 256 KB PUBLISH of nested arrays (which `JSON.parse` takes) from being stored, since
 * writing it back out (`JSON.stringify`, a get) would overflow the stack.
 */
export const MAX_SHADOW_DEPTH = 32;

/** Whether `value` nests at most `max` objects and arrays deep, checked without recursion. */
function withinDepth(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > max) return false;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return true;
}

/** The page's error code for a request the reader refused. */
function errorCodeFor(error: PlatformPayloadError): string {
  if (error.code === 'invalid-json' || error.code === 'invalid-utf8' || error.code === 'not-an-object') return SHADOW_ERROR_CODES.badJson;
  if (error.code === 'wrong-method' || (error.field === 'method' && error.code === 'bad-field')) return SHADOW_ERROR_CODES.badMethod;
  switch (error.field) {
    case 'method':
      return SHADOW_ERROR_CODES.missingMethod;
    case 'state':
      return SHADOW_ERROR_CODES.missingState;
    case 'version':
      return SHADOW_ERROR_CODES.badVersion;
    default:
      return error.field.startsWith('state.') ? SHADOW_ERROR_CODES.missingReported : SHADOW_ERROR_CODES.badJson;
  }
}
