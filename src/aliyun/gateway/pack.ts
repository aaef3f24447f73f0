/*
 * The gateway's batch posts: the packed post (`thing.event.property.pack.post`: the gateway's own
 * properties and events and those of up to 20 sub-devices, in one message) and the history post
 * (`thing.event.property.history.post`: data recorded while offline, each value with the time it
 * was taken).
 *
 * Formats: help.aliyun.com/document_detail/89301 "网关批量上报数据" (also
 * help.aliyun.com/zh/marketplace/gateway-reports-data-in-batches): `params` is
 * `{properties: {id: {value, time}}, events: {id: {value, time}}, subDevices: [{identity:
 * {productKey, deviceName}, properties, events}]}`, at most 200 properties, 20 events and 20
 * sub-devices per message; help.aliyun.com/zh/marketplace/historical-data-reporting-of-the-object-model
 * "物模型历史数据上报": `params` is `[{identity, properties: [{id: {value, time}}, ...], events:
 * [...]}]`. The history page as read states no count limits; only the platform's 256 KB message
 * limit applies (the client checks it on publish).
 */
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue } from '../../shared/validate.js';
import { SERVICE_METHODS } from '../service-topics.js';
import { readRequest, writeRequest } from '../wire/envelope.js';
import { PlatformPayloadError } from '../wire/errors.js';
import type { DeviceIdentity } from '../wire/identity.js';
import { checkDeviceList, checkIdentity, readIdentity } from '../wire/identity.js';
import { Fields, isJsonObject } from '../wire/read.js';
import { GATEWAY_LIMITS } from './limits.js';
import { readList } from './topology.js';

/** A value and, optionally, when it was taken (milliseconds since the epoch). */
export interface TimedValue {
  readonly value: unknown;
  readonly time?: number | undefined;
}

/** Properties and events of one device, by identifier. An event's value is its output object. */
export interface ThingReport {
  readonly properties?: Readonly<Record<string, TimedValue>> | undefined;
  readonly events?: Readonly<Record<string, TimedValue>> | undefined;
}

/** One sub-device's part of a packed post. */
export interface SubDeviceReport extends DeviceIdentity, ThingReport {}

/** What {@link buildPackPost} needs. */
export interface PackPostInput extends ThingReport {
  readonly id: string;
  /** Up to 20 sub-devices, each at most once. */
  readonly subDevices?: readonly SubDeviceReport[] | undefined;
}

/**
 * The packed post, on the gateway's `thing/event/property/pack/post` topic.
 *
 * @throws ConfigurationError when the message would hold more than 200 properties, 20 events or
 *   20 sub-devices, nothing at all, a sub-device twice, an empty identifier, an event value that
 *   is not an object, a time that is not a non-negative integer, or a value JSON cannot write.
 */
export function buildPackPost(input: PackPostInput): string {
  const counts = { properties: 0, events: 0 };
  const params: Record<string, unknown> = writeReport(input, '', counts, false);
  const given = input.subDevices;
  if (given !== undefined && (!Array.isArray(given) || given.length > 0)) {
    const checked = checkDeviceList('subDevices', given, GATEWAY_LIMITS.maxPackSubDevices, (item, field) => {
      const identity = checkIdentity(item, field);
      return { ...identity, written: writeReport(item as SubDeviceReport, field, counts, false) };
    }, 'a packed post');
    params['subDevices'] = checked.map(({ productKey, deviceName, written }) => ({ identity: { productKey, deviceName }, ...written }));
  }
  if (counts.properties === 0 && counts.events === 0) {
    throw new ConfigurationError('properties', 'the packed post holds no property and no event; give at least one');
  }
  checkCount('properties', counts.properties, GATEWAY_LIMITS.maxPackProperties);
  checkCount('events', counts.events, GATEWAY_LIMITS.maxPackEvents);
  return writeRequest({ id: input.id, params, method: SERVICE_METHODS.packPost });
}

/** A packed post as read (the platform's side). */
export interface PackPost {
  readonly id: string;
  readonly gateway: ThingReport;
  readonly subDevices: SubDeviceReport[];
}

/**
 * Reads a packed post (the platform's side). Limits are not enforced here: a stand-in answers an
 * over-full message with the platform's 460 instead.
 *
 * @throws PlatformPayloadError naming the first malformed field.
 */
export function parsePackPost(payload: Uint8Array | string): PackPost {
  const request = readRequest(payload, { method: SERVICE_METHODS.packPost });
  const params = Fields.of(request.params, 'params');
  const subDevices = params.has('subDevices')
    ? params.list('subDevices', (item, path) => {
        const fields = Fields.of(item, path);
        return { ...readIdentity(fields.value('identity'), fields.at('identity')), ...readReport(fields, false) };
      })
    : [];
  return { id: request.id, gateway: readReport(params, false), subDevices };
}

/** One device's recorded data in a history post. */
export interface HistoryEntry extends DeviceIdentity {
  /** Snapshots, each a set of properties with the time of each. */
  readonly properties?: readonly Readonly<Record<string, TimedValue>>[] | undefined;
  /** Snapshots of events, each with its time. */
  readonly events?: readonly Readonly<Record<string, TimedValue>>[] | undefined;
}

/**
 * The history post, on the gateway's (or a device's own) `thing/event/property/history/post`:
 * every value carries its `time`.
 *
 * @throws ConfigurationError for an empty list, an entry with no data, a value without a time, or
 *   the faults {@link buildPackPost} refuses.
 */
export function buildHistoryPost(input: { readonly id: string; readonly entries: readonly HistoryEntry[] }): string {
  const params = checkDeviceList('entries', input.entries, Number.MAX_SAFE_INTEGER, (item, field) => {
    const entry = item as HistoryEntry;
    const identity = checkIdentity(entry, field);
    const counts = { properties: 0, events: 0 };
    const written: Record<string, unknown> = { identity };
    for (const kind of ['properties', 'events'] as const) {
      const snapshots = entry[kind];
      if (snapshots === undefined) continue;
      if (!Array.isArray(snapshots)) throw new ConfigurationError(`${field}.${kind}`, 'must be an array of snapshots');
      written[kind] = snapshots.map((snapshot, index) =>
        writeValues(`${field}.${kind}[${index}]`, snapshot, kind === 'events', true, counts, kind),
      );
    }
    if (counts.properties === 0 && counts.events === 0) {
      throw new ConfigurationError(field, 'holds no property and no event; give at least one or leave the device out');
    }
    return { ...identity, written };
  }, 'the platform').map(({ written }) => written);
  return writeRequest({ id: input.id, params, method: SERVICE_METHODS.historyPost });
}

/** Reads a history post (the platform's side): every value must carry its time. */
export function parseHistoryPost(payload: Uint8Array | string): { readonly id: string; readonly entries: HistoryEntry[] } {
  const request = readRequest(payload, { method: SERVICE_METHODS.historyPost });
  const entries = readList(request.params, 'params', (item, path) => {
    const fields = Fields.of(item, path);
    const identity = readIdentity(fields.value('identity'), fields.at('identity'));
    const snapshots = (kind: 'properties' | 'events'): Record<string, TimedValue>[] | undefined =>
      fields.has(kind) ? fields.list(kind, (snapshot, at) => readValues(snapshot, at, kind === 'events', true)) : undefined;
    return { ...identity, properties: snapshots('properties'), events: snapshots('events') };
  });
  return { id: request.id, entries };
}

/** Writes `properties` and `events` of one report under `field`, counting them. */
function writeReport(report: ThingReport, field: string, counts: { properties: number; events: number }, timeRequired: boolean): Record<string, unknown> {
  const written: Record<string, unknown> = {};
  const at = (name: string): string => (field === '' ? name : `${field}.${name}`);
  if (report.properties !== undefined) written['properties'] = writeValues(at('properties'), report.properties, false, timeRequired, counts, 'properties');
  if (report.events !== undefined) written['events'] = writeValues(at('events'), report.events, true, timeRequired, counts, 'events');
  return written;
}

function writeValues(
  field: string,
  values: unknown,
  eventValues: boolean,
  timeRequired: boolean,
  counts: { properties: number; events: number },
  kind: 'properties' | 'events',
): Record<string, { value: unknown; time?: number }> {
  if (!isJsonObject(values)) throw new ConfigurationError(field, 'must be an object of identifier: { value, time }');
  const written: Record<string, { value: unknown; time?: number }> = {};
  for (const [identifier, entry] of Object.entries(values)) {
    const at = `${field}.${identifier}`;
    if (identifier === '') throw new ConfigurationError(field, 'holds an empty identifier; use the identifier from the thing model');
    if (!isJsonObject(entry) || !('value' in entry)) throw new ConfigurationError(at, 'must be { value, time }');
    const { value, time } = entry as unknown as TimedValue;
    if (eventValues && !isJsonObject(value)) throw new ConfigurationError(`${at}.value`, "an event's value is the object of its output parameters");
    if (value === undefined) throw new ConfigurationError(`${at}.value`, 'is missing');
    if (time === undefined) {
      if (timeRequired) throw new ConfigurationError(`${at}.time`, 'is required here: give when the value was taken, in milliseconds');
      written[identifier] = { value };
    } else {
      if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) {
        throw new ConfigurationError(`${at}.time`, `got ${describeValue(time)}; give milliseconds since the epoch`);
      }
      written[identifier] = { value, time };
    }
    counts[kind] += 1;
  }
  return written;
}

function checkCount(field: 'properties' | 'events', count: number, max: number): void {
  if (count > max) {
    throw new ConfigurationError(field, `the packed post holds ${count} ${field}; the platform takes at most ${max} per message: split it`);
  }
}

function readReport(fields: Fields, timeRequired: boolean): ThingReport {
  const report: { properties?: Record<string, TimedValue>; events?: Record<string, TimedValue> } = {};
  if (fields.has('properties')) report.properties = readValues(fields.value('properties'), fields.at('properties'), false, timeRequired);
  if (fields.has('events')) report.events = readValues(fields.value('events'), fields.at('events'), true, timeRequired);
  return report;
}

function readValues(value: unknown, path: string, eventValues: boolean, timeRequired: boolean): Record<string, TimedValue> {
  const fields = Fields.of(value, path);
  const read: Record<string, TimedValue> = {};
  for (const identifier of Object.keys(fields.raw)) {
    const entry = fields.object(identifier);
    if (!entry.has('value')) throw entry.wrong('value', 'a value');
    const item = entry.value('value');
    if (eventValues && !isJsonObject(item)) {
      throw new PlatformPayloadError('bad-field', entry.at('value'), "expected an object (an event's output parameters)");
    }
    const time = timeRequired || entry.has('time') ? entry.count('time') : undefined;
    read[identifier] = time === undefined ? { value: item } : { value: item, time };
  }
  return read;
}
