/**
 * The error base every layer shares, and the one error for bad options.
 *
 * Every error this library throws or rejects with carries a `code` from a literal union: callers
 * branch on codes, never on message text. Messages say what was wrong and how to fix it, and
 * never include secrets (device secrets, passwords, keys).
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * - `invalid-option`: an option has a value it cannot have.
 * - `unknown-option`: an option name the receiver does not know (often a name from another
 *   library, such as MQTT.js's `keepAlive`); the message suggests the right one.
 * - `invalid-argument`: an argument of a call (a topic that is not a string, `retain: "yes"`).
 */
export type ConfigurationErrorCode = 'invalid-option' | 'unknown-option' | 'invalid-argument';

/**
 * A mistake in the options or arguments a caller passed, found before any byte goes on the wire.
 *
 * `field` names the option (e.g. `keepalive`, `deviceName`); the message says what was wrong and
 * how to fix it. Messages never include secrets (device secrets, passwords).
 */
export class ConfigurationError extends CodedError<ConfigurationErrorCode> {
  override readonly name = 'ConfigurationError';
  readonly field: string;

  constructor(field: string, message: string, code: ConfigurationErrorCode = 'invalid-option') {
    super(code, `${field}: ${message}`);
    this.field = field;
  }
}

/**
 * Refuses option names that `known` does not list, suggesting the closest known name (or the
 * name another library uses for it, from `aliases`). `where` names the options object.
 */
export function refuseUnknownOptions(
  options: object,
  known: ReadonlySet<string>,
  where: string,
  aliases: Readonly<Record<string, string>> = {},
): void {
  for (const name of Object.keys(options)) {
    if (known.has(name)) continue;
    // Explicitly undefined unknown keys are still mistakes: a typo with no value is a typo.
    const alias = Object.hasOwn(aliases, name) ? aliases[name] : undefined;
    const suggestion = alias ?? closest(name, known);
    throw new ConfigurationError(
      name,
      `${where} has no option of this name` + (suggestion === undefined ? '' : `; did you mean ${suggestion}?`),
      'unknown-option',
    );
  }
}

/** The known name nearest to `name` (case-insensitive edit distance at most 2), if any. */
function closest(name: string, known: ReadonlySet<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  const lower = name.toLowerCase();
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, small strings only. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
