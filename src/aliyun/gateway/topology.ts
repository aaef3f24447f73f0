/*
 * Topology: the gateway declares which sub-devices it speaks for (`thing.topo.add`, each
 * sub-device signed with its own secret), lists and removes them (`thing.topo.get`,
 * `thing.topo.delete`), hears of changes made in the console (`thing.topo.change`), and registers
 * sub-devices of products open to dynamic registration (`thing.sub.register`), getting their
 * secrets back.
 *
 * Formats: help.aliyun.com/document_detail/89299 (管理拓扑关系, with the request and reply
 * examples), help.aliyun.com/zh/marketplace/notify-gateway-topology-changes (status 0 created,
 * 1 deleted, 2 enabled, 8 disabled); C Link SDK 4.x `components/subdev/aiot_subdev_api.c`
 * (`aiot_subdev_send_topo_add`: `signmethod` in lower case, `hmacSha256`); sub-device
 * registration reply with `iotId`, `deviceSecret` per sub-device and the codes 460, 401, 6402 as
 * the platform's page lists them (quoted in blog.csdn.net/changzengli/article/details/104473584).
 *
 * The field naming the sign method is `signmethod` in a topology add (page, C SDK, Python linkkit)
 * but `signMethod` in a login; readers accept either spelling in both places.
 */
import type { SignMethod } from '../../sign/types.js';
import { withHiddenSecrets } from '../../sign/redact.js';
import { requireOneOf } from '../../shared/validate.js';
import { SERVICE_METHODS } from '../service-topics.js';
import { readRequest, readReply, writeRequest } from '../wire/envelope.js';
import type { PlatformReply } from '../wire/envelope.js';
import { PlatformPayloadError } from '../wire/errors.js';
import type { DeviceIdentity } from '../wire/identity.js';
import { checkDeviceList, checkIdentity, readIdentity, readName } from '../wire/identity.js';
import { fieldPath, Fields } from '../wire/read.js';
import { GATEWAY_LIMITS } from './limits.js';
import type { SubDeviceCredentials, SubDeviceSignature } from './sign.js';
import { parseSignMethodName, SIGN_METHOD_NAMES, signSubDeviceAt } from './sign.js';

/** What {@link buildTopoAdd} needs. */
export interface TopoAddInput {
  readonly id: string;
  /** 1..30 sub-devices, each with its own secret. */
  readonly subDevices: readonly SubDeviceCredentials[];
  /** Default `Date.now()`, one timestamp for the whole message. */
  readonly timestamp?: number | undefined;
  /** Default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
}

/**
 * `thing.topo.add`: `params` is one signed entry per sub-device,
 * `{productKey, deviceName, clientId, timestamp, signmethod, sign}`.
 *
 * @throws ConfigurationError for an empty list, more than 30 sub-devices, a sub-device listed
 *   twice, or a field that cannot be signed (the field is named; secrets never appear).
 */
export function buildTopoAdd(input: TopoAddInput): string {
  const timestamp = input.timestamp ?? Date.now();
  const entries = checkDeviceList(
    'subDevices',
    input.subDevices,
    GATEWAY_LIMITS.maxTopoAdd,
    (item, field) => signSubDeviceAt(field, item as SubDeviceCredentials, { timestamp, signMethod: input.signMethod }),
    'thing.topo.add',
  );
  const params = entries.map((entry) => ({
    productKey: entry.productKey,
    deviceName: entry.deviceName,
    clientId: entry.clientId,
    timestamp: entry.timestamp,
    signmethod: SIGN_METHOD_NAMES[entry.signMethod],
    sign: entry.sign,
  }));
  return writeRequest({ id: input.id, params, method: SERVICE_METHODS.topoAdd });
}

/**
 * Reads a `thing.topo.add` request (the platform's side). The timestamp is kept as the text that
 * was signed. `method` may be absent (the C SDK and Python linkkit send none).
 *
 * @throws PlatformPayloadError naming the first malformed field.
 */
export function parseTopoAdd(payload: Uint8Array | string): { readonly id: string; readonly subDevices: SubDeviceSignature[] } {
  const request = readRequest(payload, { method: SERVICE_METHODS.topoAdd });
  return { id: request.id, subDevices: readList(request.params, 'params', readSignedEntry) };
}

/**
 * Reads one signed sub-device entry of a topology add or a login: names, `clientId`, `timestamp`
 * (digits, or a number as the Node.js SDK sends it), `signmethod` or `signMethod` (or the
 * message-wide `fallbackMethod`), `sign`.
 *
 * @internal
 */
export function readSignedEntry(value: unknown, path: string, fallbackMethod?: SignMethod): SubDeviceSignature {
  const fields = Fields.of(value, path);
  const productKey = readName(fields, 'productKey');
  const deviceName = readName(fields, 'deviceName');
  const clientId = fields.string('clientId');
  const timestamp = readSignedTimestamp(fields);
  const methodField = fields.has('signmethod') ? 'signmethod' : 'signMethod';
  const signMethod = fields.has(methodField) || fallbackMethod === undefined ? readSignMethod(fields, methodField) : fallbackMethod;
  const sign = fields.string('sign');
  return { productKey, deviceName, clientId, timestamp, signMethod, sign };
}

/**
 * A sign method field such as `hmacSha256`, matched without regard to case.
 *
 * @internal
 */
export function readSignMethod(fields: Fields, name: string): SignMethod {
  const method = parseSignMethodName(fields.string(name));
  if (method === undefined) throw new PlatformPayloadError('bad-field', fields.at(name), 'expected hmacMd5, hmacSha1 or hmacSha256');
  return method;
}

function readSignedTimestamp(fields: Fields): string {
  const value = fields.value('timestamp');
  if (typeof value === 'string' && /^\d+$/.test(value)) return value;
  return String(fields.count('timestamp'));
}

/** The `_reply` of a topology add, get or delete: on success, the sub-devices it concerns. */
export function parseTopologyReply(payload: Uint8Array | string): PlatformReply<DeviceIdentity[]> {
  return readReply(payload, (data, path) => readList(data, path, readIdentity));
}

/** `thing.topo.get`: no parameters. */
export function buildTopoGet(input: { readonly id: string }): string {
  return writeRequest({ id: input.id, params: {}, method: SERVICE_METHODS.topoGet });
}

/**
 * `thing.topo.delete`: `params` is `[{productKey, deviceName}, ...]`.
 *
 * @throws ConfigurationError for an empty list, a sub-device listed twice or a bad name.
 */
export function buildTopoDelete(input: { readonly id: string; readonly subDevices: readonly DeviceIdentity[] }): string {
  const subDevices = checkIdentities('subDevices', input.subDevices);
  return writeRequest({ id: input.id, params: subDevices, method: SERVICE_METHODS.topoDelete });
}

/** Reads a `thing.topo.delete` request (the platform's side). */
export function parseTopoDelete(payload: Uint8Array | string): { readonly id: string; readonly subDevices: DeviceIdentity[] } {
  const request = readRequest(payload, { method: SERVICE_METHODS.topoDelete });
  return { id: request.id, subDevices: readList(request.params, 'params', readIdentity) };
}

/** What happened to the topology, as `thing.topo.change` says it. */
export type TopoChangeStatus = 'created' | 'deleted' | 'enabled' | 'disabled';

/** The numeric `status` of each change. */
export const TOPO_CHANGE_STATUS: Readonly<Record<TopoChangeStatus, number>> = Object.freeze({
  created: 0,
  deleted: 1,
  enabled: 2,
  disabled: 8,
});

const STATUS_BY_CODE = new Map(Object.entries(TOPO_CHANGE_STATUS).map(([name, code]) => [code, name as TopoChangeStatus]));

/** A topology change notice. */
export interface TopoChange {
  readonly id: string;
  readonly status: TopoChangeStatus;
  readonly subDevices: DeviceIdentity[];
}

/**
 * `thing.topo.change` (the platform's side): `params` is `{ status, subList: [...] }`.
 *
 * @throws ConfigurationError for an unknown status or a bad sub-device.
 */
export function buildTopoChange(input: { readonly id: string; readonly status: TopoChangeStatus; readonly subDevices: readonly DeviceIdentity[] }): string {
  const status = requireOneOf('status', input.status, Object.keys(TOPO_CHANGE_STATUS) as TopoChangeStatus[]);
  const subList = checkIdentities('subDevices', input.subDevices);
  return writeRequest({ id: input.id, params: { status: TOPO_CHANGE_STATUS[status], subList }, method: SERVICE_METHODS.topoChange });
}

/**
 * Reads a `thing.topo.change` notice. Answer it with a 200 reply on its `_reply` topic.
 *
 * @throws PlatformPayloadError for a malformed notice or a status other than 0, 1, 2 or 8.
 */
export function parseTopoChange(payload: Uint8Array | string): TopoChange {
  const request = readRequest(payload, { method: SERVICE_METHODS.topoChange });
  const params = Fields.of(request.params, 'params');
  const code = params.integer('status');
  const status = STATUS_BY_CODE.get(code);
  if (status === undefined) throw new PlatformPayloadError('bad-field', 'params.status', 'expected 0 (created), 1 (deleted), 2 (enabled) or 8 (disabled)');
  return { id: request.id, status, subDevices: params.list('subList', readIdentity) };
}

/** `thing.sub.register`: `params` is `[{productKey, deviceName}, ...]`. */
export function buildSubRegister(input: { readonly id: string; readonly subDevices: readonly DeviceIdentity[] }): string {
  const subDevices = checkIdentities('subDevices', input.subDevices);
  return writeRequest({ id: input.id, params: subDevices, method: SERVICE_METHODS.subRegister });
}

/** Reads a `thing.sub.register` request (the platform's side). */
export function parseSubRegister(payload: Uint8Array | string): { readonly id: string; readonly subDevices: DeviceIdentity[] } {
  const request = readRequest(payload, { method: SERVICE_METHODS.subRegister });
  return { id: request.id, subDevices: readList(request.params, 'params', readIdentity) };
}

/** A sub-device the platform registered: its triple (the secret prints as `[redacted]`). */
export interface RegisteredSubDevice extends DeviceIdentity {
  readonly deviceSecret: string;
  /** The platform's own id for the device, when the reply carries one. */
  readonly iotId?: string;
}

/**
 * Reads the `_reply` of `thing.sub.register`: on success, `data` is one
 * `{iotId, productKey, deviceName, deviceSecret}` per sub-device. Each returned object prints its
 * secret as `[redacted]`.
 */
export function parseSubRegisterReply(payload: Uint8Array | string): PlatformReply<RegisteredSubDevice[]> {
  return readReply(payload, (data, path) =>
    readList(data, path, (item, itemPath) => {
      const fields = Fields.of(item, itemPath);
      const identity = readIdentity(item, itemPath);
      const deviceSecret = fields.string('deviceSecret');
      const iotId = fields.optionalString('iotId');
      const device: RegisteredSubDevice = iotId === undefined ? { ...identity, deviceSecret } : { ...identity, deviceSecret, iotId };
      return withHiddenSecrets(device, ['deviceSecret']);
    }),
  );
}

/**
 * Each element of the JSON array `value` at `path`, read by `read`.
 *
 * @internal
 */
export function readList<T>(value: unknown, path: string, read: (item: unknown, path: string) => T): T[] {
  if (!Array.isArray(value)) {
    throw new PlatformPayloadError(value === undefined ? 'missing-field' : 'bad-field', path, 'expected an array');
  }
  return value.map((item, index) => read(item, fieldPath(path, index)));
}

/** A list of distinct identities (no per-message limit is documented for delete and register). */
function checkIdentities(field: string, devices: unknown): DeviceIdentity[] {
  return checkDeviceList(field, devices, Number.MAX_SAFE_INTEGER, checkIdentity, 'the platform');
}
