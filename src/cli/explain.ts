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
import type { Packet } from '../packet/types.js';
import type { ExplainedPacket, ExplainField, Explanation, ExplainOptions, ExplainProblem } from './explain-model.js';
import { dissect, TYPES } from './explain-packets.js';
import { count, CUT_SHORT } from './explain-walk.js';
import { PLAIN } from './style.js';
import type { Style } from './style.js';
import { wrapWords } from './text.js';

export type { ExplainedPacket, ExplainField, Explanation, ExplainOptions, ExplainPart, ExplainProblem } from './explain-model.js';

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
      problem = { code: error.code, offset: error.offset, statement: error.statement, detail: error.detail };
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
 * topic, say) at the string's length prefix, so the text after that prefix (or as much of it as
 * there is) is kept too: it is what the error is about.
 */
function upTo(fields: readonly ExplainField[], offset: number): ExplainField[] {
  const kept = fields.filter((f) => f.offset <= offset);
  const last = kept[kept.length - 1];
  const next = fields[kept.length];
  if (last !== undefined && next !== undefined && last.offset === offset && last.name === `${next.name.replace(CUT_SHORT, '')} length`) {
    kept.push(next);
  }
  return kept;
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
        statement: undefined,
        detail: `the input ends after ${bytes.length - pos} of the frame's ${need} bytes`,
      };
    }
  }
  return { code: 'truncated', offset: bytes.length, statement: undefined, detail: 'the input ends inside the fixed header' };
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
    const { code, offset, statement, detail } = p.problem;
    const at = offset === undefined ? '' : ` at byte ${offset}`;
    lines.push(style.error(`error ${code}${at}${statement === undefined ? '' : ` [${statement}]`}: ${detail}`));
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
