/**
 * The one rule, for the device and the stand-in alike, for answering a request that cannot be
 * read: which `id` it can still be answered with.
 */

/**
 * The id to answer an unreadable Alink request with: its `id` when that is a non-empty string,
 * or a whole number from 0 to 2^53 - 1 (written as decimal text, as a sender that forgot the
 * quotes meant it); `undefined` when the payload is not a JSON object or has no such id. A
 * fraction, a negative or an unsafe number is not an id anyone sent on purpose, so it is not
 * echoed back as one.
 */
export function readRequestId(payload: Uint8Array | string): string | undefined {
  let parsed: unknown;
  try {
    const text = typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const id: unknown = (parsed as { id?: unknown }).id;
  if (typeof id === 'string') return id === '' ? undefined : id;
  return Number.isSafeInteger(id) && (id as number) >= 0 ? String(id) : undefined;
}
