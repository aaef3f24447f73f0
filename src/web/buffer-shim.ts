/**
 * What the codec and the explainer use of Node's `Buffer`, for the page's bundle only: in a
 * browser there is no `Buffer`, and `scripts/bundle.mjs` points the bundle's every use of the
 * name at this module instead (rolldown's `inject`, as bundlers polyfill Node's globals).
 *
 * The codec is not changed for the browser. It probes `Buffer.prototype` for Node's fast
 * `utf8Write` and `latin1Slice` and takes its portable path when they are missing, as they are
 * here; the few static methods it and the explainer call are below, each built on what a browser
 * has (TextEncoder, typed arrays). Anything else is missing on purpose: a new use of `Buffer` in
 * the code the page bundles fails loudly in the browser tests rather than misbehaving quietly.
 */

const encoder = new TextEncoder();

/** The bytes of one or more Uint8Arrays, as Node's Buffer would give them. */
export class Buffer extends Uint8Array {
  /** `Buffer.from(hex, 'hex')` (the pasted hex, `parseHex`) and `Buffer.from(arrayBuffer, offset, length)` (the codec's Latin-1 path). */
  static override from(value: unknown, offsetOrEncoding?: unknown, length?: unknown): Buffer {
    if (typeof value === 'string' && offsetOrEncoding === 'hex') {
      // parseHex has checked the digits already; an odd trailing digit is dropped, as Node does.
      const bytes = new Buffer(value.length >> 1);
      for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(value.slice(2 * i, 2 * i + 2), 16);
      return bytes;
    }
    if (value instanceof ArrayBuffer && typeof offsetOrEncoding === 'number' && typeof length === 'number') {
      return new Buffer(value, offsetOrEncoding, length);
    }
    throw new TypeError('this Buffer.from call is not available in the browser bundle (src/web/buffer-shim.ts)');
  }

  static byteLength(text: string, encoding: string): number {
    if (encoding !== 'utf8') throw new TypeError(`Buffer.byteLength(${encoding}) is not available in the browser bundle`);
    return encoder.encode(text).length;
  }

  static allocUnsafe(size: number): Buffer {
    return new Buffer(size);
  }

  static concat(list: readonly Uint8Array[], total?: number): Buffer {
    const out = new Buffer(total ?? list.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of list) {
      if (at >= out.length) break;
      const take = part.subarray(0, out.length - at);
      out.set(take, at);
      at += take.length;
    }
    return out;
  }

  /**
   * Latin-1 is one character per byte, code point = byte. (TextDecoder's 'latin1' is really
   * windows-1252 and maps 0x80..0x9f elsewhere, so it will not do.)
   */
  override toString(encoding?: string): string {
    if (encoding !== 'latin1') throw new TypeError(`Buffer#toString(${String(encoding)}) is not available in the browser bundle`);
    let text = '';
    // In slices, so that a long payload does not exceed the argument limit of fromCharCode.
    for (let i = 0; i < this.length; i += 0x2000) {
      text += String.fromCharCode(...this.subarray(i, Math.min(this.length, i + 0x2000)));
    }
    return text;
  }
}
