/** Scaffolding shared by the codec tests: error capture, normalising decoded packets, frame building. */
import { expect } from 'vitest';
import { MqttProtocolError, encode, encodeInto, encodedLength } from '../../src/packet/index.js';
import type { MqttProtocolErrorCode, Packet } from '../../src/packet/index.js';
import { captureError } from '../sign/helpers.js';

export { captureError };

/**
 * Asserts that `action` throws an MqttProtocolError with `code` (and `offset` when given, `null`
 * meaning "no offset"), and returns it.
 */
export function expectProtocolError(
  action: () => unknown,
  code: MqttProtocolErrorCode,
  offset?: number | null,
): MqttProtocolError {
  const error = captureError(action);
  expect(error).toBeInstanceOf(MqttProtocolError);
  const protocolError = error as MqttProtocolError;
  expect(protocolError.code).toBe(code);
  if (offset !== undefined) expect(protocolError.offset).toBe(offset ?? undefined);
  return protocolError;
}

/**
 * A packet (or anything holding one) with every Uint8Array turned into a plain number array, so
 * that decoded views, Buffers and fresh arrays with the same bytes compare equal.
 */
export function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

/** Asserts two packets (or packet lists) are equal field by field, keys included. */
export function expectSamePackets(actual: unknown, expected: unknown): void {
  expect(normalise(actual)).toStrictEqual(normalise(expected));
}

export const SENTINEL = 0xa5;

/** A target of `size` bytes, every byte `SENTINEL`. */
export function sentinelTarget(size: number): Uint8Array {
  return new Uint8Array(size).fill(SENTINEL);
}

/** Asserts that no byte of `target` differs from `SENTINEL`. */
export function expectUntouched(target: Uint8Array): void {
  const touched = target.findIndex((b) => b !== SENTINEL);
  expect(touched, `byte ${touched} of the target was written`).toBe(-1);
}

/**
 * Asserts that the encoder refuses `packet` with `code` (and `statement`, when given) from all
 * three entry points, with no offset (a value has no byte position), and that `encodeInto` leaves
 * a roomy target untouched.
 */
export function expectEncodeRefused(packet: unknown, code: MqttProtocolErrorCode, statement?: string): void {
  const p = packet as Packet;
  const target = sentinelTarget(256);
  const errors = [
    expectProtocolError(() => encodedLength(p), code, null),
    expectProtocolError(() => encode(p), code, null),
    expectProtocolError(() => encodeInto(p, target, 3), code, null),
  ];
  if (statement !== undefined) for (const error of errors) expect(error.statement).toBe(statement);
  expectUntouched(target);
}

// ---------------------------------------------------------------------------------------------
// Building frames by hand, independently of the codec

export type Part = number | readonly number[] | Uint8Array;

/** The parts laid end to end: numbers are single bytes. */
export function bytes(...parts: Part[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else out.push(...part);
  }
  return Uint8Array.from(out);
}

/** A big-endian two-byte integer. */
export function u16(value: number): number[] {
  return [value >> 8, value & 0xff];
}

/** A length-prefixed field holding `content` (a string is written as UTF-8 by Node, not the codec). */
export function field(content: string | Part): Uint8Array {
  const body = typeof content === 'string' ? new Uint8Array(Buffer.from(content, 'utf8')) : bytes(content);
  return bytes(u16(body.length), body);
}

/** The Remaining Length varint of section 2.2.3, written here independently of the codec. */
export function remainingLength(length: number): number[] {
  const out: number[] = [];
  do {
    let digit = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) digit |= 0x80;
    out.push(digit);
  } while (length > 0);
  return out;
}

/** A whole frame: `firstByte`, the minimal Remaining Length of the body, then the body. */
export function frame(firstByte: number, ...body: Part[]): Uint8Array {
  const content = bytes(...body);
  return bytes(firstByte, remainingLength(content.length), content);
}

/** CONNECT variable header up to and including the flags: protocol name "MQTT", level 4, `flags`. */
export function connectHeader(flags: number, keepalive = 60): Uint8Array {
  return bytes(field('MQTT'), 4, flags, u16(keepalive));
}

// ---------------------------------------------------------------------------------------------
// Inputs shared by the decode and encode strictness tests

/** Topic filters with a misplaced wildcard [MQTT-4.7.1-2, MQTT-4.7.1-3]. */
export const BAD_FILTERS = ['a/#/b', 'a#', 'a+', '+a', '#/', 'a/b#', '++', '#+', '##', 'a/+b', 'a/b+/c', '#/a'];

/** Topic filters whose wildcards are placed as section 4.7.1 allows. */
export const GOOD_FILTERS = ['#', '+', '/#', '/+', '+/', 'a/+/b', '+/+', 'a/#', '+/#', '//', '/', 'a//b', ' '];

/** The string fields of the packets, each as the packet that carries `value` there (for the encoder). */
export const STRING_FIELDS: Readonly<Record<string, (value: string) => Packet>> = {
  'PUBLISH topic [MQTT-3.3.2-1]': (value) => ({
    type: 'publish',
    topic: value,
    payload: new Uint8Array(0),
    qos: 1,
    retain: false,
    dup: false,
    packetId: 1,
  }),
  'CONNECT client id [MQTT-3.1.3-4]': (value) => ({ type: 'connect', clientId: value, keepalive: 60, clean: true }),
  'CONNECT will topic [MQTT-3.1.3-10]': (value) => ({
    type: 'connect',
    clientId: 'id',
    keepalive: 60,
    clean: true,
    will: { topic: value, payload: new Uint8Array(0), qos: 0, retain: false },
  }),
  'CONNECT user name [MQTT-3.1.3-11]': (value) => ({
    type: 'connect',
    clientId: 'id',
    keepalive: 60,
    clean: true,
    username: value,
  }),
  'SUBSCRIBE topic filter [MQTT-3.8.3-1]': (value) => ({
    type: 'subscribe',
    packetId: 1,
    subscriptions: [
      { topicFilter: 'a', qos: 0 },
      { topicFilter: value, qos: 1 },
    ],
  }),
  'UNSUBSCRIBE topic filter [MQTT-3.10.3-1]': (value) => ({
    type: 'unsubscribe',
    packetId: 1,
    topicFilters: ['a', value],
  }),
};
