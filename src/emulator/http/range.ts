/**
 * Which bytes of a file a GET asks for: the `Range` and `If-Range` rules of RFC 9110 (sections
 * 14.1.2, 14.2, 13.1.5) for one file of known size. Pure.
 *
 * What is served: one range (`bytes=first-last`, `bytes=first-`, `bytes=-suffix`); a request
 * with several ranges, a unit other than bytes or a malformed header gets the whole file (a
 * server may ignore a Range it does not support, section 14.2); a range that starts at or past
 * the end is unsatisfiable (416). `If-Range` with a validator that is not the file's current one
 * (a strong ETag compared strongly, or the exact Last-Modified date) means the client holds a
 * different file: it gets the whole of this one.
 */

/** The part of a file to send. */
export type RangeChoice =
  /** The whole file, 200. */
  | { readonly kind: 'whole' }
  /** Bytes `start`..`end` inclusive, 206. */
  | { readonly kind: 'part'; readonly start: number; readonly end: number }
  /** Nothing: 416 with `Content-Range: bytes *\/size`. */
  | { readonly kind: 'unsatisfiable' };

const WHOLE: RangeChoice = Object.freeze({ kind: 'whole' });

/**
 * The range of a `size`-byte file that a request with these `Range` and `If-Range` headers gets,
 * for a file whose validators are `etag` (quoted, strong) and `lastModified` (an HTTP date).
 */
export function chooseRange(
  size: number,
  range: string | undefined,
  ifRange: string | undefined,
  validators: { readonly etag: string; readonly lastModified?: string | undefined },
): RangeChoice {
  if (range === undefined) return WHOLE;
  if (ifRange !== undefined && !validatorMatches(ifRange.trim(), validators)) return WHOLE;
  const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (match === null) return WHOLE;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return WHOLE;
  if (first === '') {
    // The last `last` bytes; a suffix of 0 bytes asks for nothing.
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return size === 0 ? { kind: 'unsatisfiable' } : { kind: 'part', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return WHOLE;
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'part', start, end: Math.min(end, size - 1) };
}

/** A strong ETag matches only itself, never a weak one (section 13.1.5); a date matches exactly. */
function validatorMatches(value: string, validators: { readonly etag: string; readonly lastModified?: string | undefined }): boolean {
  if (value.startsWith('"')) return value === validators.etag;
  if (value.startsWith('W/')) return false;
  return validators.lastModified !== undefined && value === validators.lastModified;
}
