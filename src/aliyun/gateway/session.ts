/*
 * Sub-device sessions over the gateway's connection: login (one, or a batch of up to 50), logout,
 * and the cloud's notices that a sub-device was disabled, enabled or deleted, or that it has no
 * session any more.
 *
 * Formats:
 * - login: help.aliyun.com/document_detail/89300, request
 *   `{"id":"123","params":{productKey, deviceName, clientId, timestamp, signMethod, sign,
 *   cleanSession:"true"}}` with no `method`, reply data `{productKey, deviceName}`; QoS 0 only.
 * - batch login: C Link SDK 4.x `components/subdev/aiot_subdev_api.c`
 *   (`aiot_subdev_send_batch_login`) and Python linkkit (`__gateway_login_subdev`) agree on
 *   `params: {signMethod, deviceList: [{productKey, deviceName, clientId, timestamp,
 *   cleanSession, sign}]}`, the sign method once for the whole batch. The platform's page shows
 *   the single login with `signMethod` beside each device; the reader accepts it in either place
 *   (a device's own wins), the writer follows the two SDKs.
 * - batch logout: the same two SDKs: `params` is `[{productKey, deviceName}, ...]`.
 * - disable, enable, delete: requests `thing.disable`, `thing.enable`, `thing.delete` with empty
 *   params on the sub-device's own `/sys/{pk}/{dn}/thing/...` topics, answered on `_reply`
 *   (iotkit-embedded 3.x `src/dev_model/dm_message.c`, `dm_msg_thing_disable` and siblings).
 * - session error: a reply-shaped notice on `/ext/error/{pk}/{dn}` whose data names the
 *   sub-device; code 520 means it has no session (any more) and should log in again
 *   (iotkit-embedded 3.x `dm_msg_ext_error_reply`, `IOTX_DM_ERR_CODE_NO_ACTIVE_SESSION = 520`).
 */
import { SIGN_METHODS } from '../../sign/types.js';
import type { SignMethod } from '../../sign/types.js';
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue, requireIntegerIn, requireOneOf, requireText } from '../../shared/validate.js';
import { SERVICE_METHODS } from '../service-topics.js';
import { readId, readReply, readRequest, writeRequest } from '../wire/envelope.js';
import type { PlatformReply } from '../wire/envelope.js';
import { PlatformPayloadError } from '../wire/errors.js';
import type { DeviceIdentity } from '../wire/identity.js';
import { checkDeviceList, checkIdentity, readIdentity } from '../wire/identity.js';
import { Fields } from '../wire/read.js';
import { GATEWAY_LIMITS } from './limits.js';
import type { SubDeviceCredentials, SubDeviceSignature } from './sign.js';
import { SIGN_METHOD_NAMES, signSubDeviceAt } from './sign.js';
import { readList, readSignedEntry, readSignMethod } from './topology.js';

/** Options shared by the login builders. */
export interface LoginOptions {
  /**
   * `true` (default) drops the QoS 1 messages the platform kept for the sub-device while it was
   * offline; `false` has them delivered after login.
   */
  readonly cleanSession?: boolean | undefined;
  /** Default `Date.now()`. */
  readonly timestamp?: number | undefined;
  /** Default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
}

/** A signed login entry as read back, with its clean-session flag. */
export interface LoginEntry extends SubDeviceSignature {
  readonly cleanSession: boolean;
}

/**
 * A single login on `/ext/session/{gw pk}/{gw dn}/combine/login` (publish at QoS 0).
 *
 * @throws ConfigurationError naming the field (secrets never appear).
 */
export function buildSubLogin(input: LoginOptions & { readonly id: string; readonly subDevice: SubDeviceCredentials }): string {
  const cleanSession = checkClean(input.cleanSession);
  const entry = signSubDeviceAt('subDevice', input.subDevice, input);
  const params = {
    productKey: entry.productKey,
    deviceName: entry.deviceName,
    clientId: entry.clientId,
    timestamp: entry.timestamp,
    signMethod: SIGN_METHOD_NAMES[entry.signMethod],
    sign: entry.sign,
    cleanSession: String(cleanSession),
  };
  return writeRequest({ id: input.id, params });
}

/**
 * A batch login on `/ext/session/{gw pk}/{gw dn}/combine/batch_login` (publish at QoS 0): 1..50
 * sub-devices signed with one timestamp and one sign method.
 *
 * @throws ConfigurationError for an empty batch, more than 50, a sub-device listed twice, or a
 *   field that cannot be signed.
 */
export function buildBatchLogin(input: LoginOptions & { readonly id: string; readonly subDevices: readonly SubDeviceCredentials[] }): string {
  const cleanSession = String(checkClean(input.cleanSession));
  const timestamp = input.timestamp ?? Date.now();
  const signMethod = requireOneOf('signMethod', input.signMethod ?? 'hmacsha256', SIGN_METHODS);
  const entries = checkDeviceList(
    'subDevices',
    input.subDevices,
    GATEWAY_LIMITS.maxBatchLogin,
    (item, field) => signSubDeviceAt(field, item as SubDeviceCredentials, { timestamp, signMethod }),
    'a batch login',
  );
  const deviceList = entries.map((entry) => ({
    productKey: entry.productKey,
    deviceName: entry.deviceName,
    clientId: entry.clientId,
    timestamp: entry.timestamp,
    cleanSession,
    sign: entry.sign,
  }));
  return writeRequest({ id: input.id, params: { signMethod: SIGN_METHOD_NAMES[signMethod], deviceList } });
}

/** Reads a single login (the platform's side). */
export function parseSubLogin(payload: Uint8Array | string): { readonly id: string; readonly subDevice: LoginEntry } {
  const request = readRequest(payload);
  return { id: request.id, subDevice: readLoginEntry(request.params, 'params') };
}

/**
 * Reads a batch login (the platform's side): the sign method comes from each entry when it has
 * one, else from `params.signMethod`.
 */
export function parseBatchLogin(payload: Uint8Array | string): { readonly id: string; readonly subDevices: LoginEntry[] } {
  const request = readRequest(payload);
  const params = Fields.of(request.params, 'params');
  const shared = params.has('signMethod') ? readSignMethod(params, 'signMethod') : undefined;
  return { id: request.id, subDevices: params.list('deviceList', (item, path) => readLoginEntry(item, path, shared)) };
}

function readLoginEntry(value: unknown, path: string, sharedMethod?: SignMethod): LoginEntry {
  const entry = readSignedEntry(value, path, sharedMethod);
  return { ...entry, cleanSession: readClean(Fields.of(value, path)) };
}

/** `cleanSession` as sent: `"true"`/`"false"` (the pages and SDKs) or a JSON boolean; absent is `true`. */
function readClean(fields: Fields): boolean {
  const value = fields.value('cleanSession');
  if (value === undefined) return true;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw fields.wrong('cleanSession', '"true" or "false"');
}

function checkClean(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new ConfigurationError('cleanSession', `got ${describeValue(value)}; use true or false`);
  return value;
}

/** The `_reply` of a single login or logout: on success, the sub-device it concerns. */
export function parseSessionReply(payload: Uint8Array | string): PlatformReply<DeviceIdentity> {
  return readReply(payload, readIdentity);
}

/**
 * The `_reply` of a batch login or logout: on success, the sub-devices. A batch succeeds or
 * fails as a whole; on failure the raw `data` names the devices at fault.
 */
export function parseBatchSessionReply(payload: Uint8Array | string): PlatformReply<DeviceIdentity[]> {
  return readReply(payload, (data, path) => readList(data, path, readIdentity));
}

/** A single logout on `/ext/session/{gw pk}/{gw dn}/combine/logout`: `params` `{productKey, deviceName}`. */
export function buildSubLogout(input: { readonly id: string; readonly subDevice: DeviceIdentity }): string {
  return writeRequest({ id: input.id, params: checkIdentity(input.subDevice, 'subDevice') });
}

/**
 * A batch logout on `/ext/session/{gw pk}/{gw dn}/combine/batch_logout`: `params`
 * `[{productKey, deviceName}, ...]`, 1..50 sub-devices.
 */
export function buildBatchLogout(input: { readonly id: string; readonly subDevices: readonly DeviceIdentity[] }): string {
  const subDevices = checkDeviceList('subDevices', input.subDevices, GATEWAY_LIMITS.maxBatchLogin, checkIdentity, 'a batch logout');
  return writeRequest({ id: input.id, params: subDevices });
}

/** Reads a single logout (the platform's side). */
export function parseSubLogout(payload: Uint8Array | string): { readonly id: string; readonly subDevice: DeviceIdentity } {
  const request = readRequest(payload);
  return { id: request.id, subDevice: readIdentity(request.params, 'params') };
}

/** Reads a batch logout (the platform's side). */
export function parseBatchLogout(payload: Uint8Array | string): { readonly id: string; readonly subDevices: DeviceIdentity[] } {
  const request = readRequest(payload);
  return { id: request.id, subDevices: readList(request.params, 'params', readIdentity) };
}

/** What the cloud did to a sub-device. */
export type LifecycleAction = 'disable' | 'enable' | 'delete';

const ACTION_METHODS: Readonly<Record<LifecycleAction, string>> = {
  disable: SERVICE_METHODS.thingDisable,
  enable: SERVICE_METHODS.thingEnable,
  delete: SERVICE_METHODS.thingDelete,
};

/**
 * A disable, enable or delete notice (the platform's side), sent on the sub-device's
 * `thing/disable`, `thing/enable` or `thing/delete` topic.
 */
export function buildLifecycleNotice(input: { readonly id: string; readonly action: LifecycleAction }): string {
  const action = requireOneOf('action', input.action, Object.keys(ACTION_METHODS) as LifecycleAction[]);
  return writeRequest({ id: input.id, params: {}, method: ACTION_METHODS[action] });
}

/**
 * Reads a disable, enable or delete notice. The topic says which sub-device; answer with a 200
 * reply on its `_reply` topic.
 *
 * @throws PlatformPayloadError for a malformed notice or a method other than `thing.disable`,
 *   `thing.enable`, `thing.delete`.
 */
export function parseLifecycleNotice(payload: Uint8Array | string): { readonly id: string; readonly action: LifecycleAction } {
  const request = readRequest(payload, {});
  const action = (Object.keys(ACTION_METHODS) as LifecycleAction[]).find((name) => ACTION_METHODS[name] === request.method);
  if (action === undefined) {
    throw new PlatformPayloadError('wrong-method', 'method', 'expected thing.disable, thing.enable or thing.delete');
  }
  return { id: request.id, action };
}

/** The code of a session error notice meaning "this sub-device has no session: log it in again". */
export const NO_ACTIVE_SESSION = 520;

/** A notice on `/ext/error/{pk}/{dn}` about one sub-device. */
export interface SessionErrorNotice {
  readonly id: string;
  /** 520 ({@link NO_ACTIVE_SESSION}): the sub-device is not logged in. */
  readonly code: number;
  readonly message: string | undefined;
  readonly subDevice: DeviceIdentity;
}

/** A session error notice (the platform's side): `{id, code, data: {productKey, deviceName}, message}`. */
export function buildSessionError(input: { readonly id: string; readonly subDevice: DeviceIdentity; readonly code?: number; readonly message?: string }): string {
  const id = requireText('id', input.id, 'use AlinkIdGenerator.next()');
  const subDevice = checkIdentity(input.subDevice, 'subDevice');
  const code = requireIntegerIn('code', input.code ?? NO_ACTIVE_SESSION, 100, 999_999, 'use the platform code, 520 for no session');
  return JSON.stringify({ id, code, data: subDevice, message: input.message ?? 'device not login' });
}

/**
 * Reads a session error notice.
 *
 * @throws PlatformPayloadError for a malformed notice.
 */
export function parseSessionError(payload: Uint8Array | string): SessionErrorNotice {
  const fields = Fields.ofPayload(payload);
  return {
    id: readId(fields),
    code: fields.integer('code'),
    message: fields.optionalString('message'),
    subDevice: readIdentity(fields.value('data'), 'data'),
  };
}
