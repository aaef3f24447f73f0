/**
 * The walk over a frame's fields for explain.ts: a cursor that turns bytes into rows and stops
 * cleanly (rather than throwing a RangeError or reading junk) where the bytes run out, and what
 * the bodies of several packet families share (the Packet Identifier, the QoS names).
 */
import { hexBytes } from './hex.js';
import type { ExplainField, ExplainPart } from './explain-model.js';

/** `one packet`, `3 packets`. */
export function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** Added to the name of a field the bytes end inside of. */
export const CUT_SHORT = ' (cut short)';

/** Thrown inside the walk when the bytes end before a field does; caught by `dissect`. */
export class EndOfBytes {}

/** What a field's bytes mean: filled in by the caller once the bytes are known. */
export interface Described {
  readonly value: string;
  readonly meaning: string;
  readonly parts?: readonly ExplainPart[];
}

export class Fields {
  readonly list: ExplainField[] = [];
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start: number,
    /** The frame's end, or the input's end when that comes first. */
    readonly end: number,
  ) {
    this.pos = start;
  }

  get left(): number {
    return this.end - this.pos;
  }

  /** The next `n` bytes, or a "cut short" field (citing the field's own `spec`) and the end of the walk. */
  private take(n: number, name: string, spec: string): Uint8Array {
    if (this.left < n) {
      const rest = this.buf.subarray(this.pos, this.end);
      this.list.push({
        offset: this.pos,
        length: rest.length,
        hex: hexBytes(rest),
        name: `${name}${CUT_SHORT}`,
        value: `needs ${count(n, 'byte')}, ${rest.length} left`,
        meaning: 'the frame (or the input) ends before this field does',
        spec,
        parts: [],
      });
      this.pos = this.end;
      throw new EndOfBytes();
    }
    return this.buf.subarray(this.pos, this.pos + n);
  }

  /** The next `n` bytes as one field; `hex` replaces their hex (a redaction). */
  add(n: number, name: string, spec: string, describe: (bytes: Uint8Array) => Described, hex?: string): Uint8Array {
    const bytes = this.take(n, name, spec);
    const { value, meaning, parts = [] } = describe(bytes);
    this.list.push({ offset: this.pos, length: n, hex: hex ?? hexBytes(bytes), name, value, meaning, spec, parts });
    this.pos += n;
    return bytes;
  }

  byte(name: string, spec: string, describe: (b: number) => Described): number {
    return this.add(1, name, spec, (bytes) => describe(bytes[0]!))[0]!;
  }

  /** A two-byte integer, most significant byte first (section 1.5.2). */
  uint16(name: string, spec: string, describe: (v: number) => Described): number {
    const bytes = this.add(2, name, spec, (b) => describe((b[0]! << 8) | b[1]!));
    return (bytes[0]! << 8) | bytes[1]!;
  }

  /** A length prefix; returns the length it announces. */
  private lengthPrefix(name: string, spec: string): number {
    return this.uint16(`${name} length`, spec, (v) => ({
      value: v === 0 ? '0 bytes (empty)' : count(v, 'byte'),
      meaning: `how many bytes of ${name} follow (two bytes, most significant first)`,
    }));
  }

  /**
   * A UTF-8 string field (section 1.5.3): its length row, which cites the rules every string
   * follows, then its text row (empty text too: a rule can be about the emptiness).
   */
  string(name: string, spec: string, meaning: (text: string) => string): string {
    const length = this.lengthPrefix(name, STRING_SPEC);
    let text = '';
    this.add(length, name, spec, (bytes) => {
      text = lenientUtf8.decode(bytes);
      return { value: JSON.stringify(text), meaning: meaning(text) };
    });
    return text;
  }

  /** A binary field (will message, password), shown as `[redacted]` when `secret`. */
  binary(name: string, spec: string, meaning: string, secret: boolean): void {
    const length = this.lengthPrefix(name, spec.split(' ')[0]!);
    if (length === 0) return;
    if (secret) {
      this.add(length, name, spec, () => ({ value: '[redacted]', meaning: `${meaning}; shown with --show-password` }), `[${count(length, 'byte')} redacted]`);
    } else {
      this.add(length, name, spec, (bytes) => ({ value: preview(bytes), meaning }));
    }
  }

  /** Whatever the fields did not account for. */
  rest(): void {
    if (this.left > 0) {
      this.add(this.left, 'unexpected bytes', '2.2.3', (bytes) => ({
        value: `${count(bytes.length, 'byte')} after the last field`,
        meaning: 'the Remaining Length covers more than the fields this packet has',
      }));
    }
  }
}

/** What the length row of every string cites: section 1.5.3, well-formed UTF-8 without U+0000. */
const STRING_SPEC = '1.5.3 [MQTT-1.5.3-1, MQTT-1.5.3-2]';

const lenientUtf8 = new TextDecoder('utf-8');
export const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A payload as quoted text when it is readable UTF-8, else its size. */
export function preview(bytes: Uint8Array): string {
  if (bytes.length === 0) return '0 bytes (empty)';
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return `${count(bytes.length, 'byte')} of binary data`;
  }
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) return `${count(bytes.length, 'byte')} of binary data`;
  const cut = text.length > 72 ? `${text.slice(0, 72)}…` : text;
  // JSON payloads read better unescaped; quotes or line breaks inside call for escaping.
  return /['\n\t]/.test(cut) ? JSON.stringify(cut) : `'${cut}'`;
}

/** The bits of `byte` selected by `mask`, the others as dots: `.... ..1.`. */
export function bitPattern(byte: number, mask: number): string {
  let out = '';
  for (let bit = 7; bit >= 0; bit--) {
    out += mask & (1 << bit) ? String((byte >> bit) & 1) : '.';
    if (bit === 4) out += ' ';
  }
  return out;
}

export function binary8(byte: number): string {
  const bits = byte.toString(2).padStart(8, '0');
  return `${bits.slice(0, 4)} ${bits.slice(4)}`;
}

// ---------------------------------------------------------------------------------------------
// What the bodies of several packet types share

/** Walks the body of one packet type, after its fixed header. */
export type Body = (f: Fields, firstByte: number, showPassword: boolean) => void;

export const QOS_NAMES = ['0: at most once', '1: at least once', '2: exactly once'] as const;

export const packetId = (f: Fields, spec: string, meaning: string): number =>
  f.uint16('Packet Identifier', spec, (v) => ({ value: v === 0 ? '0 (not allowed)' : String(v), meaning }));

/** The body of an acknowledgement: a Packet Identifier and nothing else. */
export const ack =
  (section: string, meaning: string, statement: string): Body =>
  (f) => {
    packetId(f, `${section} [${statement}]`, meaning);
  };
