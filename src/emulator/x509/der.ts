/**
 * Just enough DER (ITU-T X.690) to write an X.509 certificate and to find the parts of one that a
 * new certificate must copy from its issuer. Node can parse certificates and sign bytes, but not
 * build a certificate; this builds the bytes that get signed.
 */

/** A tag, a length, the content: one DER element. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

/** Short form below 128, else 0x80 + the count of big-endian length bytes. */
function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
/** `[n] EXPLICIT`. */
export const explicit = (n: number, content: Uint8Array): Buffer => tlv(0xa0 + n, content);
/** `[n] IMPLICIT` for a primitive. */
export const implicit = (n: number, content: Uint8Array): Buffer => tlv(0x80 + n, content);
export const octetString = (content: Uint8Array): Buffer => tlv(0x04, content);
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
export const booleanTrue = (): Buffer => tlv(0x01, Buffer.from([0xff]));
export const nullValue = (): Buffer => tlv(0x05, Buffer.alloc(0));

/** A BIT STRING of whole bytes, or with `unused` low bits of the last byte unused. */
export function bitString(content: Uint8Array, unused = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), content]));
}

/** A non-negative INTEGER from its big-endian bytes: leading zeros dropped, one added to keep it positive. */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = Buffer.from(bytes.subarray(start));
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export function smallInteger(n: number): Buffer {
  return unsignedInteger(Buffer.from([n]));
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const arcs = [first! * 40 + second!, ...rest];
  const bytes: number[] = [];
  for (const arc of arcs) {
    const groups: number[] = [];
    for (let value = arc; ; value = Math.floor(value / 128)) {
      groups.unshift(value % 128);
      if (value < 128) break;
    }
    groups.forEach((group, i) => bytes.push(i < groups.length - 1 ? group | 0x80 : group));
  }
  return tlv(0x06, Buffer.from(bytes));
}

/**
 * A certificate's date: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280, 4.1.2.5),
 * to the second, in UTC.
 */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2020-01-01T00:00:00.000Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'latin1')) : tlv(0x18, Buffer.from(digits, 'latin1'));
}

/** One element read back: its tag, the whole element, and its content. */
export interface Element {
  readonly tag: number;
  readonly whole: Buffer;
  readonly content: Buffer;
}

/** The elements inside a constructed element's content, in order. */
export function children(content: Buffer): Element[] {
  const elements: Element[] = [];
  let at = 0;
  while (at < content.length) {
    const tag = content[at]!;
    let size = content[at + 1]!;
    let header = 2;
    if (size & 0x80) {
      const count = size & 0x7f;
      if (count === 0 || count > 4) throw new Error('DER length out of range');
      size = 0;
      for (let i = 0; i < count; i++) size = size * 256 + content[at + 2 + i]!;
      header += count;
    }
    const end = at + header + size;
    if (end > content.length) throw new Error('DER element runs past its container');
    elements.push({ tag, whole: content.subarray(at, end), content: content.subarray(at + header, end) });
    at = end;
  }
  return elements;
}
