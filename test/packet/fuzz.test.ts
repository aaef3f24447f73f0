/**
 * Fuzzing the decoders with random bytes and mutated valid frames.
 *
 * The only outcomes allowed are packets, need-more (`null` from decodeFrame, no packets from a
 * PacketDecoder) and MqttProtocolError; anything else thrown fails. The three decoders must agree
 * with each other, a PacketDecoder must work again after every error, and every packet that comes
 * back must re-encode to exactly the bytes it was decoded from (strict decoding makes decode a
 * bijection on valid frames).
 *
 * Reproduce a failure with the seed and case number it prints:
 *   FUZZ_SEED=<seed> npx vitest run test/packet/fuzz.test.ts
 * FUZZ_CASES raises or lowers the number of cases (default 120,000).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_PACKET_SIZE, MqttProtocolError, PacketDecoder, decode, decodeFrame, encode } from '../../src/packet/index.js';
import type { MqttProtocolErrorCode, Packet } from '../../src/packet/index.js';
import { toHex } from '../support/hex.js';
import { packetArb } from './arbitraries.js';
import { VECTORS } from './vectors.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x6d717474) >>> 0;
const CASES = Number(process.env['FUZZ_CASES'] ?? 120_000);

/** sfc32: a small, fast PRNG with a 128-bit state; one instance per case so any case replays alone. */
function prng(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

type Random = { int(n: number): number; chance(p: number): boolean; byte(): number };
function random(seed: number): Random {
  const next = prng(seed);
  return {
    int: (n) => (n <= 0 ? 0 : next() % n),
    chance: (p) => next() / 0x1_0000_0000 < p,
    byte: () => next() & 0xff,
  };
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** Valid frames to mutate: the vectors and a fixed sample of generated packets. */
const SEEDS: Uint8Array[] = [
  ...VECTORS.map((v) => v.bytes),
  ...fc.sample(packetArb, { numRuns: 150, seed: SEED | 0 }).map((p) => encode(p).slice()),
];

/** First bytes that pass the fixed-header check (every PUBLISH flag nibble, Table 2.2 for the rest). */
const VALID_FIRST_BYTES = [
  0x10, 0x20, 0x40, 0x50, 0x62, 0x70, 0x82, 0x90, 0xa2, 0xb0, 0xc0, 0xd0, 0xe0,
  ...Array.from({ length: 16 }, (_, f) => 0x30 | f),
];

function randomBytes(r: Random): Uint8Array {
  const out = new Uint8Array(r.int(48));
  for (let i = 0; i < out.length; i++) out[i] = r.byte();
  if (out.length > 0 && r.chance(0.7)) out[0] = VALID_FIRST_BYTES[r.int(VALID_FIRST_BYTES.length)]!;
  if (out.length > 1 && r.chance(0.5)) out[1] = r.int(out.length); // a length that roughly fits
  return out;
}

function mutate(r: Random, input: Uint8Array): Uint8Array {
  let bytes = Array.from(input);
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) {
    const at = r.int(bytes.length);
    switch (r.int(9)) {
      case 0: // bit flip
        if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << r.int(8));
        break;
      case 1: // byte replaced
        if (bytes.length > 0) bytes[at] = r.byte();
        break;
      case 2: // byte inserted
        bytes.splice(r.int(bytes.length + 1), 0, r.byte());
        break;
      case 3: // byte deleted
        bytes.splice(at, 1);
        break;
      case 4: // truncated
        bytes = bytes.slice(0, r.int(bytes.length + 1));
        break;
      case 5: // Remaining Length corrupted
        if (bytes.length > 1) bytes[1] = r.chance(0.5) ? r.byte() : Math.max(0, bytes[1]! + r.int(5) - 2);
        break;
      case 6: // an inner two-byte length or packet id corrupted
        if (bytes.length > 3) {
          const p = 2 + r.int(bytes.length - 3);
          bytes[p] = r.chance(0.8) ? 0 : r.byte();
          bytes[p + 1] = r.chance(0.5) ? r.int(8) : r.byte();
        }
        break;
      case 7: // another frame appended
        bytes.push(...SEEDS[r.int(SEEDS.length)]!);
        break;
      default: // first byte's flags changed
        if (bytes.length > 0) bytes[0] = (bytes[0]! & 0xf0) | r.int(16);
    }
  }
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------------------------------------
// Outcomes

type Outcome<T> = { value: T } | { error: MqttProtocolError };

/** Runs `action`; an MqttProtocolError is an outcome, any other exception fails the case. */
function attempt<T>(action: () => T): Outcome<T> {
  try {
    return { value: action() };
  } catch (error) {
    if (error instanceof MqttProtocolError) return { error };
    throw new Error(`threw ${String(error)} instead of MqttProtocolError`, { cause: error });
  }
}

/** Deep equality of decoded packets (same keys, byte fields by content); cheap enough for the hot loop. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array) return b instanceof Uint8Array && equalBytes(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
const errorText = (e: MqttProtocolError | undefined): string => (e === undefined ? 'none' : `${e.code}@${e.offset}`);

/** Fails the case with `what()` (built only on failure: the loop is hot) unless `condition`. */
function check(condition: boolean, what: () => string): void {
  if (!condition) throw new Error(what());
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The bytes `packet` was decoded from must be exactly what the encoder makes of it. */
function checkReencodes(packet: Packet, frame: Uint8Array): void {
  const encoded = attempt(() => encode(packet));
  if ('error' in encoded) {
    // The one deliberate asymmetry: a server must read this CONNECT to answer CONNACK 2 [MQTT-3.1.3-7].
    const refusable = packet.type === 'connect' && packet.clientId === '' && !packet.clean;
    check(refusable && encoded.error.code === 'invalid-client-id', () => `decoded packet does not re-encode: ${encoded.error.message}`);
    return;
  }
  check(equalBytes(encoded.value, frame), () => `re-encodes to ${toHex(encoded.value)}, not to the decoded frame ${toHex(frame)}`);
}

interface Walk {
  packets: Packet[];
  /** Where each frame starts. */
  starts: number[];
  consumed: number;
  error: MqttProtocolError | undefined;
}

/** decodeFrame from the start of `input`, frame after frame, until need-more or an error. */
function walk(input: Uint8Array): Walk {
  const packets: Packet[] = [];
  const starts: number[] = [];
  let at = 0;
  for (;;) {
    const outcome = attempt(() => decodeFrame(input, at));
    if ('error' in outcome) return { packets, starts, consumed: at, error: outcome.error };
    if (outcome.value === null) return { packets, starts, consumed: at, error: undefined };
    const { packet, length } = outcome.value;
    check(length > 0 && at + length <= input.length, () => `decodeFrame length ${length} at ${at}`);
    checkReencodes(packet, input.subarray(at, at + length));
    packets.push(packet);
    starts.push(at);
    at += length;
  }
}

const stats = { cases: 0, packets: 0, needMore: 0, errors: new Map<MqttProtocolErrorCode, number>() };

/** Feeds `input` to `decoder` cut at `cuts`; returns the packets and the error, if any. */
function pushChunks(decoder: PacketDecoder, input: Uint8Array, cuts: readonly number[]): [Packet[], MqttProtocolError | undefined] {
  const got: Packet[] = [];
  let from = 0;
  for (const to of [...cuts, input.length]) {
    const outcome = attempt(() => decoder.push(input.subarray(from, to)));
    from = to;
    if ('error' in outcome) return [got, outcome.error];
    got.push(...outcome.value);
  }
  return [got, undefined];
}

/** Works again after an error: the next frame pushed comes back as it was. */
function checkRecovers(r: Random, decoder: PacketDecoder): void {
  const pool = decoder.maxPacketSize < MAX_PACKET_SIZE ? SMALL_SEEDS : SEEDS;
  const seed = pool[r.int(pool.length)]!;
  const again = decoder.push(seed);
  check(again.length === 1 && equalBytes(encode(again[0]!), seed), () => 'PacketDecoder did not recover after an error');
}

const SMALL_LIMIT = 40;
const SMALL_SEEDS = SEEDS.filter((s) => s.length <= SMALL_LIMIT);

/**
 * A decoder with a small maxPacketSize sees the same stream as the walk, except that it may stop
 * with packet-too-large at the start of a frame (or of the unfinished tail) larger than the limit.
 */
function checkSmallLimit(r: Random, input: Uint8Array, cuts: readonly number[], stream: Walk, small: PacketDecoder): void {
  small.reset();
  const [got, failure] = pushChunks(small, input, cuts);
  check(same(got, stream.packets.slice(0, got.length)), () => 'limited PacketDecoder packets differ from the walk');
  if (failure?.code === 'packet-too-large') {
    const at = failure.offset!;
    const frameIndex = stream.starts.indexOf(at);
    const size = frameIndex >= 0 ? (stream.starts[frameIndex + 1] ?? stream.consumed) - at : Infinity;
    check(at === stream.consumed || (frameIndex >= 0 && size > SMALL_LIMIT), () => `packet-too-large at ${at} is not an oversize frame`);
    checkRecovers(r, small);
    return;
  }
  check(errorText(failure) === errorText(stream.error), () => `limited PacketDecoder ${errorText(failure)}, walk ${errorText(stream.error)}`);
  if (failure !== undefined) checkRecovers(r, small);
}

/**
 * One fuzz case. The decoders are shared by all cases, so recovery after errors is exercised
 * throughout.
 */
function runCase(r: Random, input: Uint8Array, decoder: PacketDecoder, small: PacketDecoder): void {
  stats.cases++;
  const stream = walk(input);
  const first = stream.packets[0];

  // decode: exactly one whole frame, consistent with decodeFrame.
  const whole = attempt(() => decode(input));
  if ('value' in whole) {
    check(stream.packets.length === 1 && stream.consumed === input.length, () => 'decode accepted what decodeFrame did not frame exactly');
    check(same(whole.value, first), () => 'decode and decodeFrame disagree on the packet');
  } else if (first !== undefined) {
    const length = encodeLength(input);
    check(
      length < input.length && whole.error.code === 'trailing-bytes' && whole.error.offset === length,
      () => `decode says ${errorText(whole.error)} where decodeFrame read one frame of ${length} bytes`,
    );
  } else if (stream.error !== undefined) {
    check(errorText(whole.error) === errorText(stream.error), () => `decode ${errorText(whole.error)}, decodeFrame ${errorText(stream.error)}`);
  } else {
    check(whole.error.code === 'truncated' && whole.error.offset === input.length, () => `need-more, but decode says ${errorText(whole.error)}`);
  }

  // decodeFrame at a non-zero offset: the same outcome, offsets moved.
  if (r.chance(0.25)) {
    const shifted = attempt(() => decodeFrame(Uint8Array.of(0xff, 0xff, ...input), 2));
    if ('error' in shifted) {
      check(stream.packets.length === 0 && stream.error !== undefined, () => 'decodeFrame at offset 2 failed where offset 0 did not');
      check(shifted.error.code === stream.error!.code && shifted.error.offset === stream.error!.offset! + 2, () => 'offset not moved by 2');
    } else {
      check(same(shifted.value?.packet, first), () => 'decodeFrame at offset 2 read another packet');
    }
  }

  // PacketDecoder over random chunks: the same packets and the same error as the walk.
  decoder.reset();
  const cuts = Array.from({ length: r.int(4) }, () => r.int(input.length + 1)).sort((a, b) => a - b);
  const [got, failure] = pushChunks(decoder, input, cuts);
  check(errorText(failure) === errorText(stream.error), () => `PacketDecoder ${errorText(failure)}, decodeFrame walk ${errorText(stream.error)}`);
  check(same(got, stream.packets.slice(0, got.length)), () => 'PacketDecoder packets differ from the walk');
  if (failure === undefined) {
    check(got.length === stream.packets.length, () => 'PacketDecoder lost packets');
    check(decoder.bufferedBytes === input.length - stream.consumed, () => 'PacketDecoder holds the wrong number of bytes');
    stats.needMore += stream.consumed < input.length ? 1 : 0;
  } else {
    stats.errors.set(failure.code, (stats.errors.get(failure.code) ?? 0) + 1);
    checkRecovers(r, decoder);
  }
  stats.packets += stream.packets.length;
  if (r.chance(0.25)) checkSmallLimit(r, input, cuts, stream, small);
}

/** Length of the first frame of `input` (which decodeFrame has read). */
function encodeLength(input: Uint8Array): number {
  return decodeFrame(input)!.length;
}

/** Runs every case; a failure names the seed, the case and its input. */
function runAll(): void {
  const decoder = new PacketDecoder();
  const small = new PacketDecoder({ maxPacketSize: SMALL_LIMIT });
  for (let i = 0; i < CASES; i++) {
    const r = random((SEED + Math.imul(i, 0x9e3779b9)) >>> 0);
    const input = r.chance(0.3) ? randomBytes(r) : mutate(r, SEEDS[r.int(SEEDS.length)]!);
    try {
      runCase(r, input, decoder, small);
    } catch (error) {
      throw new Error(
        `fuzz case ${i} failed (reproduce: FUZZ_SEED=${SEED}, case ${i}); input ${toHex(input)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

describe('fuzz: random bytes and mutated frames', () => {
  it(`${CASES} cases: only packets, need-more or MqttProtocolError; decoders agree; packets re-encode to their bytes (FUZZ_SEED=${SEED})`, () => {
    // Most cases end in an MqttProtocolError; capturing a stack for each would be most of the run.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      runAll();
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    if (process.env['FUZZ_STATS'] !== undefined) console.log(stats);
    // The inputs must reach past the fixed header: many packets back, and every kind of error.
    expect(stats.cases).toBe(CASES);
    expect(stats.packets).toBeGreaterThan(CASES / 10);
    expect(stats.needMore).toBeGreaterThan(CASES / 20);
    // Every code a decoder without a size limit can throw.
    expect([...stats.errors.keys()].sort()).toEqual(
      [
        'remaining-length-overflow', 'remaining-length-not-minimal', 'invalid-remaining-length', 'reserved-packet-type',
        'invalid-flags', 'invalid-qos', 'invalid-packet-id', 'invalid-protocol-name', 'unsupported-protocol-level',
        'invalid-connect-flags', 'invalid-connack-flags', 'invalid-return-code', 'invalid-suback-code', 'invalid-utf8',
        'invalid-topic', 'invalid-topic-filter', 'invalid-requested-qos', 'empty-topic-filter-list', 'truncated',
        'trailing-bytes',
      ].sort(),
    );
  });
});
