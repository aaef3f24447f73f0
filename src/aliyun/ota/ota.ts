/*
 * OTA over MQTT: the device reports each module's version (`/ota/device/inform/{pk}/{dn}`),
 * receives upgrade jobs (`/ota/device/upgrade/{pk}/{dn}`, or on asking with
 * `thing.ota.firmware.get`), downloads and checks the file, and reports progress or failure
 * (`/ota/device/progress/{pk}/{dn}`).
 *
 * Formats: help.aliyun.com/document_detail/89307 (OTA升级): inform `{"id":"123","params":
 * {"version":"1.0.1","module":"MCU"}}` (one module per message; `module` may be left out for the
 * default module); an upgrade job `{"code":"1000","data":{"size":432945,"version":"2.0.0",
 * "isDiff":1,"url":"https://...","md5":"...","digestsign":"...","sign":"...","signMethod":"MD5",
 * "module":"MCU","extData":{...}},"id":1626969597470,"message":"success"}` (note the numeric id
 * and the string code), or with `"dProtocol":"mqtt","streamId":...,"streamFileId":...` and no url
 * for a download over MQTT; progress `{"id":"123","params":{"step":"-1","desc":"...","module":
 * "MCU"}}` with step 1..100 a percentage and -1 upgrade failed, -2 download failed, -3
 * verification failed, -4 programming (burn) failed. C Link SDK 4.x
 * `components/ota/aiot_ota_api.h` `aiot_ota_protocol_errcode_t` defines the same four codes and
 * `aiot_ota_api.c` `aiot_download_report_progress` sends the step as a string; the C SDK and
 * Python linkkit send `"id"` as a bare number; `firmware/get` carries `{"module":...}` or `{}`.
 */
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue, requireIntegerIn, requireText } from '../../shared/validate.js';
import { SERVICE_METHODS } from '../service-topics.js';
import { readId, readReply, readRequest, writeRequest } from '../wire/envelope.js';
import type { PlatformReply } from '../wire/envelope.js';
import type { DigestMethod } from '../wire/digest.js';
import { DIGEST_HEX_LENGTH, DIGEST_METHOD_NAMES, readDigest, readHttpsUrl } from '../wire/digest.js';
import { PlatformPayloadError } from '../wire/errors.js';
import { Fields, isJsonObject } from '../wire/read.js';

/** The module a device has when it names none: the whole firmware. */
export const DEFAULT_OTA_MODULE = 'default';

/** The failure steps of a progress report, as the platform defines them. */
export const OTA_FAILURE = Object.freeze({
  /** -1: the upgrade failed (for a reason of the device's own). */
  upgradeFailed: -1,
  /** -2: the download failed. */
  downloadFailed: -2,
  /** -3: the file did not match its size or digest. */
  verifyFailed: -3,
  /** -4: writing the firmware (burning) failed. */
  burnFailed: -4,
});

/**
 * The version report for one module.
 *
 * @throws ConfigurationError (`version`, `module`) for an empty or non-string value.
 */
export function buildOtaVersion(input: { readonly id: string; readonly version: string; readonly module?: string | undefined }): string {
  const version = requireText('version', input.version, "give the module's current version, e.g. '1.0.1'");
  const params: Record<string, string> = { version };
  if (input.module !== undefined) params['module'] = requireText('module', input.module, "give the module name, or leave it out for 'default'");
  return writeRequest({ id: input.id, params });
}

/** Reads a version report (the platform's side); `module` is `'default'` when absent. */
export function parseOtaVersion(payload: Uint8Array | string): { readonly id: string; readonly version: string; readonly module: string } {
  const request = readRequest(payload);
  const params = Fields.of(request.params, 'params');
  return { id: request.id, version: params.string('version'), module: params.optionalString('module') || DEFAULT_OTA_MODULE };
}

/** An upgrade job: what to fetch, how big it is, and how to check it. */
export interface OtaJob {
  readonly version: string;
  /** Bytes. */
  readonly size: number;
  readonly module: string;
  readonly signMethod: DigestMethod;
  /** Lower-case hex digest of the whole file. */
  readonly sign: string;
  /** `'https'` with a `url`, or `'mqtt'` with a `streamId` (the file comes over MQTT). */
  readonly protocol: 'https' | 'mqtt';
  readonly url: string | undefined;
  readonly streamId: number | undefined;
  readonly streamFileId: number | undefined;
  /** A differential package, to be applied on the current version. */
  readonly isDiff: boolean;
  /** The package's signature for secure boot, when the product has one (`digestsign`). */
  readonly digestSign: string | undefined;
  /** Whatever the console attached to the package, as sent. */
  readonly extData: unknown;
}

/** An upgrade job pushed on `/ota/device/upgrade/{pk}/{dn}`. */
export interface OtaJobMessage {
  /** The message id as text (the platform sends a number). */
  readonly id: string;
  /** `"1000"` in the platform's pushes. */
  readonly code: string | undefined;
  readonly message: string | undefined;
  readonly job: OtaJob;
}

/**
 * Reads an upgrade job push.
 *
 * @throws PlatformPayloadError for a missing or malformed field: a size that is not a positive
 *   integer, a method other than MD5 or SHA256, a digest of the wrong length, a non-https url, or
 *   neither url nor stream.
 */
export function parseOtaJob(payload: Uint8Array | string): OtaJobMessage {
  const fields = Fields.ofPayload(payload);
  const id = readId(fields);
  const code = fields.value('code');
  if (code !== undefined && typeof code !== 'string' && typeof code !== 'number') throw fields.wrong('code', 'a code such as "1000"');
  return {
    id,
    code: code === undefined ? undefined : String(code),
    message: fields.optionalString('message'),
    job: readJob(fields.value('data'), 'data'),
  };
}

/**
 * Reads the `_reply` of `thing.ota.firmware.get`: on success the job, or `undefined` when the
 * data is empty (no upgrade waits for this module).
 */
export function parseFirmwareGetReply(payload: Uint8Array | string): PlatformReply<OtaJob | undefined> {
  return readReply(payload, (data, path) => (isJsonObject(data) && Object.keys(data).length === 0 ? undefined : readJob(data, path)));
}

function readJob(value: unknown, path: string): OtaJob {
  const fields = Fields.of(value, path);
  const version = fields.string('version');
  const size = fields.count('size');
  if (size === 0) throw new PlatformPayloadError('bad-field', fields.at('size'), 'expected the file size in bytes, at least 1');
  const { method, digest } = readDigest(fields, 'signMethod', 'sign');
  const protocol = (fields.optionalString('dProtocol') ?? 'https').toLowerCase();
  if (protocol !== 'https' && protocol !== 'mqtt') throw new PlatformPayloadError('bad-field', fields.at('dProtocol'), 'expected "https" or "mqtt"');
  const url = protocol === 'https' ? readHttpsUrl(fields, 'url') : undefined;
  const streamId = protocol === 'mqtt' ? fields.count('streamId') : undefined;
  const streamFileId = protocol === 'mqtt' ? fields.optionalCount('streamFileId') : undefined;
  const isDiff = fields.has('isDiff') ? readFlag(fields, 'isDiff') : false;
  const module = fields.optionalString('module') || DEFAULT_OTA_MODULE;
  return {
    version,
    size,
    module,
    signMethod: method,
    sign: digest,
    protocol,
    url,
    streamId,
    streamFileId,
    isDiff,
    digestSign: fields.optionalString('digestsign'),
    extData: fields.value('extData'),
  };
}

function readFlag(fields: Fields, name: string): boolean {
  const value = fields.value(name);
  if (value === 0 || value === 1 || typeof value === 'boolean') return value === 1 || value === true;
  throw fields.wrong(name, '0 or 1');
}

/** What the platform's side writes for a job over HTTPS. */
export interface OtaJobInput {
  readonly version: string;
  readonly size: number;
  readonly url: string;
  readonly signMethod: DigestMethod;
  readonly sign: string;
  readonly module?: string | undefined;
  readonly extData?: unknown;
}

/**
 * An upgrade job push over HTTPS (the platform's side), as the platform writes it: string code
 * `"1000"`, numeric id, `md5` repeated beside `sign` for an MD5 job.
 *
 * @throws ConfigurationError for a bad field.
 */
export function buildOtaJob(input: { readonly id: number; readonly job: OtaJobInput }): string {
  const id = requireIntegerIn('id', input.id, 0, Number.MAX_SAFE_INTEGER, 'use a non-negative integer id');
  const job = input.job;
  const version = requireText('job.version', job.version, 'give the target version');
  const size = requireIntegerIn('job.size', job.size, 1, Number.MAX_SAFE_INTEGER, 'give the file size in bytes');
  const url = requireText('job.url', job.url, 'give the https URL of the file');
  if (job.signMethod !== 'md5' && job.signMethod !== 'sha256') throw new ConfigurationError('job.signMethod', `got ${describeValue(job.signMethod)}; use 'md5' or 'sha256'`);
  const length = DIGEST_HEX_LENGTH[job.signMethod];
  if (typeof job.sign !== 'string' || !new RegExp(`^[0-9a-fA-F]{${length}}$`).test(job.sign)) {
    throw new ConfigurationError('job.sign', `must be the ${length}-digit hex ${job.signMethod} digest of the file`);
  }
  const data: Record<string, unknown> = { size, version, isDiff: 0, url };
  if (job.signMethod === 'md5') data['md5'] = job.sign;
  data['sign'] = job.sign;
  data['signMethod'] = DIGEST_METHOD_NAMES[job.signMethod];
  data['module'] = job.module ?? DEFAULT_OTA_MODULE;
  if (job.extData !== undefined) data['extData'] = job.extData;
  return JSON.stringify({ code: '1000', data, id, message: 'success' });
}

/** A progress report: a percentage, or one of the {@link OTA_FAILURE} steps. */
export interface OtaProgressInput {
  readonly id: string;
  /** 0..100, or -1..-4. */
  readonly step: number;
  /** A short description, shown in the console; default `''`. */
  readonly desc?: string | undefined;
  readonly module?: string | undefined;
}

/**
 * The progress report: `{"id":"..","params":{"step":"50","desc":"","module":".."}}`, the step as
 * a string as the C SDK sends it.
 *
 * @throws ConfigurationError (`step`) outside 0..100 and -4..-1, (`desc`, `module`) for a
 *   non-string.
 */
export function buildOtaProgress(input: OtaProgressInput): string {
  const step = requireIntegerIn('step', input.step, -4, 100, 'give a percentage 0..100, or -1 upgrade, -2 download, -3 verification, -4 burn failed');
  const desc = input.desc ?? '';
  if (typeof desc !== 'string') throw new ConfigurationError('desc', 'must be a string');
  const params: Record<string, string> = { step: String(step), desc };
  if (input.module !== undefined) params['module'] = requireText('module', input.module, "give the module name, or leave it out for 'default'");
  return writeRequest({ id: input.id, params });
}

/** Reads a progress report (the platform's side). */
export function parseOtaProgress(payload: Uint8Array | string): { readonly id: string; readonly step: number; readonly desc: string; readonly module: string } {
  const request = readRequest(payload);
  const params = Fields.of(request.params, 'params');
  const raw = params.value('step');
  const step = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < -4 || step > 100) {
    throw params.wrong('step', 'a percentage 0..100 or a failure -1..-4');
  }
  return { id: request.id, step, desc: params.optionalString('desc') ?? '', module: params.optionalString('module') || DEFAULT_OTA_MODULE };
}

/** `thing.ota.firmware.get`: ask whether an upgrade waits for `module` (default: the default module). */
export function buildFirmwareGet(input: { readonly id: string; readonly module?: string | undefined }): string {
  const params = input.module === undefined ? {} : { module: requireText('module', input.module, 'give the module name') };
  return writeRequest({ id: input.id, params, method: SERVICE_METHODS.otaFirmwareGet });
}

/** Reads a `thing.ota.firmware.get` (the platform's side); the C SDK sends no method and a numeric id. */
export function parseFirmwareGet(payload: Uint8Array | string): { readonly id: string; readonly module: string } {
  const request = readRequest(payload, { method: SERVICE_METHODS.otaFirmwareGet });
  const params = request.params === undefined ? undefined : Fields.of(request.params, 'params');
  return { id: request.id, module: params?.optionalString('module') || DEFAULT_OTA_MODULE };
}
