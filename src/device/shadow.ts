/*
 * The device shadow on a connected device: the platform's copy of the state the device reported
 * and of the state applications want (`desired`). Requests go to `/shadow/update/{pk}/{dn}`;
 * answers, and the desired state pushed when an application changes it (`method: "control"`),
 * come on `/shadow/get/{pk}/{dn}` (formats and sources: `src/aliyun/services/shadow.ts`; C Link
 * SDK 4.x `components/shadow`; help.aliyun.com/document_detail/53932).
 *
 * The shadow protocol has no request id: an answer is known only by its kind (a document answers
 * a get, an acceptance carrying the version sent answers an update or delete, an error answers
 * whatever waits). So requests go out one at a time, each waiting for its answer or its timeout
 * before the next is sent.
 */
import { EventEmitter } from 'node:events';
import { serviceTopic } from '../aliyun/service-topics.js';
import { buildShadowClearDesired, buildShadowDelete, buildShadowGet, buildShadowUpdate, parseShadowMessage } from '../aliyun/services/shadow.js';
import type { ShadowMessage } from '../aliyun/services/shadow.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import type { JsonObject } from '../aliyun/wire/read.js';
import type { Device } from './device-types.js';
import { DeviceError } from './errors.js';
import { serviceLink } from './service-link.js';
import type { ServiceLink, ServiceRequestOptions } from './service-link.js';
import { SHADOW_ERROR_CODES } from './shadow-codes.js';

/** The whole shadow, as a get returns it. */
export interface ShadowDocument {
  /** What the device reported; `{}` when nothing is. */
  readonly reported: Readonly<JsonObject>;
  /** What applications want; `{}` when nothing is pending. */
  readonly desired: Readonly<JsonObject>;
  /** The platform's per-key timestamps (`{ reported: { key: { timestamp } }, desired: ... }`), as sent. */
  readonly metadata: unknown;
  readonly version: number;
  /** When the platform answered, in seconds since the epoch, as it writes it. */
  readonly timestamp: number;
}

/** The desired state an application set, pushed to the device (`method: "control"`). */
export interface ShadowDelta {
  /** What to apply. */
  readonly desired: Readonly<JsonObject>;
  /** The reported state as the shadow holds it, when the push carries it. */
  readonly reported: Readonly<JsonObject> | undefined;
  readonly metadata: unknown;
  /** The shadow's version after the change. */
  readonly version: number;
  readonly timestamp: number;
}

/** Options of a write (report, clear desired, delete). */
export interface ShadowWriteOptions extends ServiceRequestOptions {
  /**
   * The version to write, above the shadow's (or -1, which resets it). Default: one above the
   * version last seen, learning it with a get first when none was seen; a version conflict then
   * re-reads the version and tries once more.
   */
  readonly version?: number | undefined;
}

/** The shadow's events. */
export interface DeviceShadowEvents {
  /** An application changed the desired state: apply it, report, then `clearDesired()`. */
  desired: [delta: ShadowDelta];
}

/** The platform refused a shadow request. */
export class ShadowReplyError extends Error {
  override readonly name = 'ShadowReplyError';
  /** The platform's code as sent, e.g. `'409'` (see `SHADOW_ERROR_CODES`). */
  readonly errorCode: string;
  /** The platform's message, when it sent one. */
  readonly errorMessage: string | undefined;
  /** The request refused; `undefined` for an error that came while no request waited. */
  readonly method: 'get' | 'update' | 'delete' | undefined;

  constructor(method: 'get' | 'update' | 'delete' | undefined, errorCode: string, errorMessage: string | undefined) {
    super(`the platform refused ${method === undefined ? 'a shadow request' : `the shadow ${method}`} with error ${errorCode}${errorMessage === undefined || errorMessage === '' ? '' : `: ${errorMessage}`}` + hintFor(errorCode));
    this.errorCode = errorCode;
    this.errorMessage = errorMessage;
    this.method = method;
  }

  /** Error 409: the version written was not above the shadow's. */
  get versionConflict(): boolean {
    return this.errorCode === SHADOW_ERROR_CODES.versionConflict;
  }
}

function hintFor(code: string): string {
  return code === SHADOW_ERROR_CODES.versionConflict ? ' (version conflict: write a version above the shadow\'s, or leave version out to have it found)' : '';
}

type Expected = 'document' | 'accepted';

/** The one request on the wire. */
interface Outstanding {
  readonly method: 'get' | 'update' | 'delete';
  readonly expect: Expected;
  readonly version: number | undefined;
  readonly resolve: (message: ShadowMessage) => void;
  readonly reject: (error: Error) => void;
}

const shadows = new WeakMap<ServiceLink, Promise<DeviceShadow>>();

/**
 * The shadow of `device`, once `/shadow/get/{pk}/{dn}` is subscribed (on first use; later calls
 * resolve with the same object). From then on the platform's desired-state pushes arrive as
 * `desired` events.
 *
 * @example
 * const shadow = await openShadow(device);
 * shadow.on('desired', async ({ desired }) => { lamp.apply(desired); await shadow.report(lamp.state()); await shadow.clearDesired(); });
 * const { reported, desired, version } = await shadow.get();
 * @throws ConfigurationError for anything but a device handle; the client's error when the
 *   subscription fails; DeviceError `device-ended`.
 */
export function openShadow(device: Device): Promise<DeviceShadow> {
  const link = serviceLink(device);
  let opened = shadows.get(link);
  if (opened === undefined) {
    const shadow: DeviceShadow = new PlatformShadow(link);
    opened = link.subscribe(shadow.topic).then(() => shadow);
    opened.catch(() => shadows.delete(link));
    shadows.set(link, opened);
  }
  return opened;
}

/** A device's shadow; see {@link openShadow}. */
export interface DeviceShadow extends EventEmitter<DeviceShadowEvents> {
  /** `/shadow/get/{pk}/{dn}`, where answers and pushes arrive. */
  readonly topic: string;
  /** The shadow's version as last seen (a get, an accepted write, a push); `undefined` before any. */
  readonly version: number | undefined;
  /**
   * Reads the whole shadow.
   *
   * @throws DeviceError `reply-timeout`, `malformed-reply`, `device-ended`; ShadowReplyError.
   */
  get(options?: ServiceRequestOptions): Promise<ShadowDocument>;
  report(reported: Readonly<Record<string, unknown>>, options?: ShadowWriteOptions): Promise<number>;
  /** Clears the desired state once the device has applied it; resolves with the new version. Throws as {@link DeviceShadow.report}. */
  clearDesired(options?: ShadowWriteOptions): Promise<number>;
  /**
   * Removes reported keys, or every reported key with `'all'`; resolves with the new version.
   * Throws as {@link DeviceShadow.report} (`keys` for an empty list or key).
   */
  delete(keys: readonly string[] | 'all', options?: ShadowWriteOptions): Promise<number>;
}

class PlatformShadow extends EventEmitter<DeviceShadowEvents> implements DeviceShadow {
  readonly topic: string;
  readonly #link: ServiceLink;
  readonly #updateTopic: string;
  /** Requests in order: each starts when the one before has settled. */
  #queue: Promise<unknown> = Promise.resolve();
  #outstanding: Outstanding | undefined;
  #version: number | undefined;

  constructor(link: ServiceLink) {
    super();
    this.#link = link;
    this.topic = serviceTopic('shadow-get', link.device);
    this.#updateTopic = serviceTopic('shadow-update', link.device);
    link.handle(this.topic, (payload) => this.#arrived(payload));
    link.onEnd((error) => this.#outstanding?.reject(error));
  }

  get version(): number | undefined {
    return this.#version;
  }

  async get(options?: ServiceRequestOptions): Promise<ShadowDocument> {
    const timeout = this.#link.timeout(options);
    return this.#enqueue(async () => toDocument(await this.#exchange('get', buildShadowGet(), 'document', undefined, timeout)));
  }

  async report(reported: Readonly<Record<string, unknown>>, options: ShadowWriteOptions = {}): Promise<number> {
    buildShadowUpdate({ reported, version: 0 }); // checks the state before anything is queued
    return this.#write('update', options, (version) => buildShadowUpdate({ reported, version }));
  }

  async clearDesired(options: ShadowWriteOptions = {}): Promise<number> {
    return this.#write('update', options, (version) => buildShadowClearDesired({ version }));
  }

  async delete(keys: readonly string[] | 'all', options: ShadowWriteOptions = {}): Promise<number> {
    buildShadowDelete({ keys, version: 0 });
    return this.#write('delete', options, (version) => buildShadowDelete({ keys, version }));
  }

  #write(method: 'update' | 'delete', options: ShadowWriteOptions, build: (version: number) => string): Promise<number> {
    const timeout = this.#link.timeout(options);
    const given = options.version;
    if (given !== undefined) build(given); // refuses a bad version now
    return this.#enqueue(async () => {
      if (given !== undefined) return this.#accepted(await this.#exchange(method, build(given), 'accepted', given, timeout), given);
      for (let attempt = 1; ; attempt++) {
        if (this.#version === undefined) await this.#exchange('get', buildShadowGet(), 'document', undefined, timeout);
        const version = this.#version! + 1;
        try {
          return this.#accepted(await this.#exchange(method, build(version), 'accepted', version, timeout), version);
        } catch (error) {
          // Someone else (an application's desired state) moved the version on: read it again, once.
          if (attempt > 1 || !(error instanceof ShadowReplyError) || !error.versionConflict) throw error;
          this.#version = undefined;
        }
      }
    });
  }

  #accepted(message: ShadowMessage, sent: number): number {
    const version = message.kind === 'accepted' && message.version !== undefined ? message.version : sent === -1 ? 0 : sent;
    this.#version = version;
    return version;
  }

  #enqueue<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Sends one request and waits for its answer. */
  #exchange(method: Outstanding['method'], payload: string, expect: Expected, version: number | undefined, timeout: number): Promise<ShadowMessage> {
    const what = `the shadow ${method}`;
    this.#link.checkUsable(what);
    return new Promise<ShadowMessage>((resolve, reject) => {
      const clock = this.#link.clock;
      const finish = (): void => {
        clock.clearTimeout(timer);
        if (this.#outstanding === outstanding) this.#outstanding = undefined;
      };
      const outstanding: Outstanding = {
        method,
        expect,
        version,
        resolve: (message) => {
          finish();
          resolve(message);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      };
      const timer = clock.setTimeout(
        () => outstanding.reject(new DeviceError('reply-timeout', `no answer to ${what} on ${this.topic} within ${timeout} ms`)),
        timeout,
      );
      this.#outstanding = outstanding;
      this.#link.send(this.#updateTopic, payload, what).catch((error: Error) => outstanding.reject(error));
    });
  }

  #arrived(payload: Uint8Array): void {
    let message: ShadowMessage;
    try {
      message = parseShadowMessage(payload);
    } catch (error) {
      if (!(error instanceof PlatformPayloadError)) throw error;
      const failure = (what: string): DeviceError =>
        new DeviceError('malformed-reply', `cannot read ${what} on ${this.topic}: ${error.message}`, { cause: error });
      // Whatever it was, it came while this request waited, and nothing else can answer it.
      if (this.#outstanding !== undefined) this.#outstanding.reject(failure(`the answer to the shadow ${this.#outstanding.method}`));
      else this.#link.report(failure('a shadow message'));
      return;
    }
    const outstanding = this.#outstanding;
    switch (message.kind) {
      case 'control':
        this.#version = message.version;
        this.emit('desired', Object.freeze({
          desired: Object.freeze(message.state.desired ?? {}),
          reported: message.state.reported,
          metadata: message.metadata,
          version: message.version,
          timestamp: message.timestamp,
        }));
        return;
      case 'document':
        this.#version = message.version;
        if (outstanding?.expect === 'document') outstanding.resolve(message);
        return;
      case 'accepted':
        // An acceptance names the version it accepted; one for another version is a late answer.
        if (outstanding?.expect === 'accepted' && (message.version === undefined || outstanding.version === -1 || message.version === outstanding.version)) {
          outstanding.resolve(message);
        }
        return;
      case 'error':
        if (outstanding !== undefined) outstanding.reject(new ShadowReplyError(outstanding.method, message.errorCode, message.errorMessage));
        else this.#link.report(new ShadowReplyError(undefined, message.errorCode, message.errorMessage));
        return;
    }
  }
}

function toDocument(message: ShadowMessage): ShadowDocument {
  if (message.kind !== 'document') throw new Error('a get is answered by a document');
  return Object.freeze({
    reported: Object.freeze(message.state.reported ?? {}),
    desired: Object.freeze(message.state.desired ?? {}),
    metadata: message.metadata,
    version: message.version,
    timestamp: message.timestamp,
  });
}
