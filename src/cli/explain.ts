/**
 * Dissects MQTT 3.1.1 bytes field by field for people learning the protocol: each field's byte
 * offset and bytes, its name as the specification names it, the decoded value, what it means,
 * and the section (and statement ids) that define it.
 *
 * Whether the bytes are valid is decided by the library's own decoder (`decodeFrame`), never by
 * this file, so the dissection cannot call valid what the client would refuse or the other way
 * round. The walk over the fields is deliberately lenient instead: it shows whatever is there,
 * and when the decoder refuses a frame the fields up to the offending byte are shown with the
 * decoder's error code and offset.
 *
 * `explain` is pure (bytes in, rows out) so the CLI, the generated docs/protocol.md and the tests
 * share it; `renderExplanation` turns the rows into text.
 */
import { decodeFrame } from '../packet/codec.js';
import { MqttProtocolError } from '../packet/errors.js';
import type { MqttProtocolErrorCode } from '../packet/errors.js';
import type { Packet, PacketType } from '../packet/types.js';
import { dissect, TYPES } from './explain-packets.js';
import { count } from './explain-walk.js';
import { PLAIN } from './style.js';
import type { Style } from './style.js';
import { wrapWords } from './text.js';

/** Some bits of a field's byte (a flag, the QoS), or one byte of the Remaining Length varint. */
export interface ExplainPart {
  /** The byte with only these bits shown (`.... ..1.`), or a varint byte as `1 0001010`. */
  readonly bits: string;
  readonly name: string;
  readonly value: string;
  /** Section and statement ids, e.g. `3.1.2.4 [MQTT-3.1.2-6]`; empty when none applies. */
  readonly spec: string;
}

/** One field of a packet. */
export interface ExplainField {
  /** Position of its first byte in the bytes given to {@link explain}. */
  readonly offset: number;
  readonly length: number;
  /** Its bytes as hex pairs, or `[N bytes redacted]` for a hidden password. */
  readonly hex: string;
  readonly name: string;
  readonly value: string;
  readonly meaning: string;
  /** Section and statement ids, e.g. `3.1.2.10 [MQTT-3.1.2-23]`. */
  readonly spec: string;
  readonly parts: readonly ExplainPart[];
}

/** Why the decoder refused the bytes: its MqttProtocolError, code and offset intact. */
export interface ExplainProblem {
  readonly code: MqttProtocolErrorCode;
  /** Position in the bytes given to {@link explain}; undefined when the decoder gave none. */
  readonly offset: number | undefined;
  readonly message: string;
}

export interface ExplainedPacket {
  /** 1 for the first packet of the input. */
  readonly index: number;
  readonly offset: number;
  /** Bytes of the frame present in the input (fewer than the frame needs when it was cut short). */
  readonly length: number;
  /** Undefined for the reserved types 0 and 15. */
  readonly type: PacketType | undefined;
  /** `client to server`, `server to client` or `both directions`. */
  readonly direction: string;
  /** Its section of the specification, e.g. `3.1`. */
  readonly section: string;
  /** What the packet is for, in a few words. */
  readonly purpose: string;
  readonly fields: readonly ExplainField[];
  /** The decoded packet; undefined when the decoder refused the frame. */
  readonly packet: Packet | undefined;
  readonly problem: ExplainProblem | undefined;
}

export interface Explanation {
  readonly byteLength: number;
  /** In input order; the last one carries the problem, if any (nothing after it is read). */
  readonly packets: readonly ExplainedPacket[];
  readonly problem: ExplainProblem | undefined;
}

export interface ExplainOptions {
  /** Show a CONNECT's password instead of `[redacted]` (default false). */
  readonly showPassword?: boolean | undefined;
}

/**
 * Explains every packet in `bytes`, one after another, until the bytes end or the decoder
 * refuses one. Never throws for any input.
 */
export function explain(bytes: Uint8Array, options: ExplainOptions = {}): Explanation {
  const packets: ExplainedPacket[] = [];
  let problem: ExplainProblem | undefined;
  let pos = 0;
  while (pos < bytes.length && problem === undefined) {
    let packet: Packet | undefined;
    let frameLength = 0;
    try {
      const frame = decodeFrame(bytes, pos);
      if (frame === null) problem = cutShort(bytes, pos);
      else ({ packet, length: frameLength } = frame);
    } catch (error) {
      if (!(error instanceof MqttProtocolError)) throw error;
      problem = { code: error.code, offset: error.offset, message: bareMessage(error) };
    }
    const { fields, type, end } = dissect(bytes, pos, options.showPassword === true);
    const shown = problem?.offset === undefined ? fields : upTo(fields, problem.offset);
    const info = type === undefined ? undefined : TYPES[type];
    packets.push({
      index: packets.length + 1,
      offset: pos,
      length: (packet === undefined ? end : pos + frameLength) - pos,
      type,
      direction: info?.direction ?? 'neither direction',
      section: info?.section ?? '2.2.1',
      purpose: info?.purpose ?? 'a reserved packet type',
      fields: shown,
      packet,
      problem,
    });
    pos += frameLength;
  }
  return { byteLength: bytes.length, packets, problem };
}

/**
 * The fields up to the offending byte. The decoder places an error in a string (a wildcard in a
 * topic, say) at the string's length prefix, so the text after that prefix is kept too: it is
 * what the error is about.
 */
function upTo(fields: readonly ExplainField[], offset: number): ExplainField[] {
  const kept = fields.filter((f) => f.offset <= offset);
  const last = kept[kept.length - 1];
  const next = fields[kept.length];
  if (last !== undefined && next !== undefined && last.offset === offset && last.name === `${next.name} length`) kept.push(next);
  return kept;
}

/** The decoder's message without the ` [code, TYPE at byte n]` it appends (shown separately). */
function bareMessage(error: MqttProtocolError): string {
  const at = error.message.lastIndexOf(' [');
  return at < 0 ? error.message : error.message.slice(0, at);
}

/** The problem for a frame the input ends inside of (`decodeFrame` returned "need more"). */
function cutShort(bytes: Uint8Array, pos: number): ExplainProblem {
  let length = 0;
  let multiplier = 1;
  for (let i = pos + 1; i < bytes.length && i <= pos + 4; i++) {
    length += (bytes[i]! & 0x7f) * multiplier;
    multiplier *= 128;
    if (bytes[i]! < 0x80) {
      const need = i + 1 - pos + length;
      return {
        code: 'truncated',
        offset: bytes.length,
        message: `the input ends after ${bytes.length - pos} of the frame's ${need} bytes`,
      };
    }
  }
  return { code: 'truncated', offset: bytes.length, message: 'the input ends inside the fixed header' };
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** Hex shown in the bytes column before it is cut with an ellipsis. */
const HEX_COLUMN_BYTES = 8;
const WRAP_AT = 100;

/**
 * The explanation as text: a heading per packet, then one line per field (offset, bytes, name,
 * value, spec) with its bit parts and its meaning below it, and the decoder's error at the end.
 */
export function renderExplanation(explanation: Explanation, style: Style = PLAIN): string {
  const out: string[] = [];
  for (const p of explanation.packets) {
    if (out.length > 0) out.push('');
    out.push(renderPacket(p, explanation.byteLength, style));
  }
  return `${out.join('\n')}\n`;
}

function renderPacket(p: ExplainedPacket, total: number, style: Style): string {
  const lines: string[] = [];
  const name = p.type === undefined ? 'RESERVED' : p.type.toUpperCase();
  const where = `bytes ${p.offset}..${p.offset + Math.max(p.length, 1) - 1} of ${total}`;
  lines.push(style.bold(`#${p.index} ${name}`) + ` (${p.direction}: ${p.purpose}; section ${p.section}), ${count(p.length, 'byte')}, ${where}`);
  const offsetWidth = Math.max(6, ...p.fields.map((f) => String(f.offset).length));
  const hexWidth = HEX_COLUMN_BYTES * 3 - 1;
  const nameWidth = Math.min(28, Math.max(5, ...p.fields.map((f) => f.name.length)));
  const valueWidth = Math.min(44, Math.max(5, ...p.fields.map((f) => f.value.length)));
  const indent = ' '.repeat(offsetWidth + 2 + hexWidth + 2);
  lines.push(style.dim(`${'offset'.padStart(offsetWidth)}  ${'bytes'.padEnd(hexWidth)}  ${'field'.padEnd(nameWidth)}  ${'value'.padEnd(valueWidth)}  spec`));
  for (const f of p.fields) {
    const marked = p.problem?.offset !== undefined && p.problem.offset >= f.offset && p.problem.offset < f.offset + Math.max(f.length, 1);
    const hex = cutHex(f.hex, hexWidth);
    const row = `${String(f.offset).padStart(offsetWidth)}  ${hex.padEnd(hexWidth)}  ${f.name.padEnd(nameWidth)}  ${f.value.padEnd(valueWidth)}  ${spec(f.spec)}`;
    lines.push((marked ? style.error(row) : row).trimEnd());
    for (const line of wrapWords(f.meaning, WRAP_AT - indent.length - 2)) lines.push(style.dim(`${indent}  ${line}`));
    const partName = Math.max(0, ...f.parts.map((part) => part.name.length));
    const bitsWidth = Math.max(0, ...f.parts.map((part) => part.bits.length));
    for (const part of f.parts) {
      lines.push(`${indent}  ${part.bits.padEnd(bitsWidth)}  ${part.name.padEnd(partName)}  ${part.value}${part.spec === '' ? '' : `  ${spec(part.spec)}`}`.trimEnd());
    }
  }
  if (p.problem !== undefined) {
    const at = p.problem.offset === undefined ? '' : ` at byte ${p.problem.offset}`;
    lines.push(style.error(`error ${p.problem.code}${at}: ${p.problem.message}`));
  }
  return lines.join('\n');
}

function spec(text: string): string {
  return text === '' ? '' : `§${text}`;
}

/** Hex pairs cut to `width` characters at a pair boundary with an ellipsis; a redaction note is kept whole. */
function cutHex(hex: string, width: number): string {
  if (hex.length <= width || hex.startsWith('[')) return hex === '' ? '(none)' : hex;
  const pairs = Math.floor((width - 2) / 3);
  return `${hex.slice(0, pairs * 3 - 1)} …`;
}
