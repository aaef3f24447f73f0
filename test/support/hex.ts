/**
 * Annotated hex for byte-level test vectors.
 *
 *   hex`10 0f               # CONNECT, remaining length 15
 *        00 04 4d 51 54 54  # protocol name "MQTT"`
 *
 * `#` starts a comment that runs to the end of the line; whitespace is ignored. Anything else
 * that is not a pair of hex digits is a mistake in the vector and throws.
 */
export function hex(strings: TemplateStringsArray, ...values: unknown[]): Uint8Array {
  const text = String.raw({ raw: strings.raw }, ...values);
  const digits = text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) {
    throw new Error(`hex vector holds a non-hex character or an odd digit count: ${JSON.stringify(digits)}`);
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** `bytes` as space-separated lower-case hex, for failure messages. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
