import { nodeUtil } from '../shared/builtins.js';

/** `util.inspect.custom`, a registered symbol, so `node:util` need not load to name it. */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** What a hidden value prints as. */
export const REDACTED = '[redacted]';

/**
 * Freezes `value` and gives it a `toString`, `toJSON` and `util.inspect` view in which the
 * `secretKeys` read `[redacted]` and the `bulkyKeys` (e.g. a PEM bundle) print as their size. The
 * keys stay ordinary readable properties. The added methods are not enumerable, so `Object.keys`
 * and spreading see only the data.
 */
export function withHiddenSecrets<T extends object>(
  value: T,
  secretKeys: readonly (keyof T & string)[],
  bulkyKeys: readonly (keyof T & string)[] = [],
): Readonly<T> {
  const shown = (): Record<string, unknown> => {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const key of bulkyKeys) copy[key] = sizeOf(copy[key]);
    for (const key of secretKeys) {
      if (copy[key] !== undefined) copy[key] = REDACTED;
    }
    return copy;
  };
  Object.defineProperties(value, {
    toJSON: { value: shown },
    toString: { value: () => nodeUtil().inspect(shown(), { breakLength: Infinity, depth: 1 }) },
    [INSPECT]: {
      value: (_depth: number, options: object, show: (value: unknown, options: object) => string) => show(shown(), options),
    },
  });
  return Object.freeze(value);
}

function sizeOf(item: unknown): unknown {
  if (typeof item === 'string') return `[${item.length} characters]`;
  if (item instanceof Uint8Array) return `[${item.byteLength} bytes]`;
  if (Array.isArray(item)) return `[${item.length} items]`;
  return item;
}
