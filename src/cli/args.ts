/**
 * Command-line parsing and help text from one table of options per command, so the help can
 * never list an option the parser does not know (or miss one it does).
 *
 * Written by hand rather than on `util.parseArgs` for three things it does not do on Node 20: a
 * "did you mean" hint for a mistyped option, a value that starts with `-` (`-m -5`, as
 * mosquitto_pub takes it), and error messages that never quote the value of a secret option.
 */
import { UsageError } from './io.js';

export interface OptionSpec {
  /** The long name without `--`, e.g. `product-key`. */
  readonly name: string;
  /** One letter, e.g. `t` for `-t`. */
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  /** May be given more than once (`-t a -t b`); the values are kept in order. */
  readonly multiple?: boolean;
  /** Its value is never quoted back, not even in an error. */
  readonly secret?: boolean;
  /** What the value is, for the help: `--port N`. */
  readonly placeholder?: string;
  readonly help: string;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the list of commands in `aliot --help`. */
  readonly summary: string;
  /** The synopsis lines, without the leading `aliot `. */
  readonly usage: readonly string[];
  /** Paragraphs after the synopsis. */
  readonly description: string;
  readonly options: readonly OptionSpec[];
  /** Positional arguments allowed: none unless said. */
  readonly positionals?: 'none' | 'any';
  readonly examples?: readonly string[];
}

export interface ParsedArgs {
  /** The last value of a string option, or undefined. */
  string(name: string): string | undefined;
  /** Every value of a repeatable option, in order. */
  strings(name: string): readonly string[];
  flag(name: string): boolean;
  readonly positionals: readonly string[];
}

const HELP: OptionSpec = { name: 'help', type: 'boolean', help: 'show this help and exit' };

/** The options of `spec` plus `--help`, with `-h` for help unless the command uses `-h` itself. */
export function optionsWithHelp(spec: CommandSpec): readonly OptionSpec[] {
  const shortTaken = spec.options.some((o) => o.short === 'h');
  return [...spec.options, shortTaken ? HELP : { ...HELP, short: 'h' }];
}

/** Whether `argv` asks for help (before any `--`), so help wins over every other mistake. */
export function wantsHelp(spec: CommandSpec, argv: readonly string[]): boolean {
  const shortHelp = !spec.options.some((o) => o.short === 'h');
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || (shortHelp && arg === '-h')) return true;
  }
  return false;
}

/** Parses `argv` against `spec`; throws UsageError with a hint naming `aliot <command> --help`. */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options = optionsWithHelp(spec);
  const byLong = new Map(options.map((o) => [o.name, o]));
  const byShort = new Map(options.filter((o) => o.short !== undefined).map((o) => [o.short!, o]));
  const values = new Map<string, string[] | boolean>();
  const positionals: string[] = [];
  const helpHint = `run 'aliot ${spec.name} --help' for the options`;

  const set = (option: OptionSpec, shown: string, value: string | undefined): void => {
    if (option.type === 'boolean') {
      if (value !== undefined) throw new UsageError(`${shown} takes no value`, helpHint);
      if (values.has(option.name)) throw new UsageError(`${shown} is given twice`, helpHint);
      values.set(option.name, true);
      return;
    }
    if (value === undefined) {
      throw new UsageError(`${shown} needs a value${option.placeholder === undefined ? '' : ` (${option.placeholder})`}`, helpHint);
    }
    const previous = values.get(option.name);
    if (Array.isArray(previous) && !option.multiple) {
      throw new UsageError(`${shown} is given twice; give it once`, helpHint);
    }
    values.set(option.name, [...(Array.isArray(previous) ? previous : []), value]);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const equals = arg.indexOf('=');
      const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
      const option = byLong.get(name);
      if (option === undefined) throw unknownOption(`--${name}`, options, helpHint);
      let value = equals < 0 ? undefined : arg.slice(equals + 1);
      if (value === undefined && option.type === 'string' && i + 1 < argv.length) value = argv[++i];
      set(option, `--${name}`, value);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      const option = byShort.get(arg[1]!);
      if (option === undefined) throw unknownOption(arg.length === 2 ? arg : `-${arg[1]}`, options, helpHint);
      const shown = `-${option.short}`;
      if (arg.length > 2) {
        // `-p1883`: the rest of the word is the value; a flag cannot take one.
        if (option.type === 'boolean') throw new UsageError(`${shown} takes no value`, helpHint);
        set(option, shown, arg.slice(2));
        continue;
      }
      set(option, shown, option.type === 'string' && i + 1 < argv.length ? argv[++i] : undefined);
      continue;
    }
    positionals.push(arg);
  }
  if (spec.positionals !== 'any' && positionals.length > 0) {
    // The argument is not quoted: it may be a secret typed without its option.
    throw new UsageError(`'aliot ${spec.name}' takes no arguments besides options (got ${positionals.length})`, helpHint);
  }
  return {
    string: (name) => {
      const value = values.get(name);
      return Array.isArray(value) ? value[value.length - 1] : undefined;
    },
    strings: (name) => {
      const value = values.get(name);
      return Array.isArray(value) ? value : [];
    },
    flag: (name) => values.get(name) === true,
    positionals,
  };
}

function unknownOption(shown: string, options: readonly OptionSpec[], helpHint: string): UsageError {
  const names = options.map((o) => `--${o.name}`);
  const guess = shown.startsWith('--') ? closest(shown, names) : undefined;
  return new UsageError(`unknown option ${shown}`, guess === undefined ? helpHint : `did you mean ${guess}? ${helpHint}`);
}

/** The known name nearest to `typed` within an edit distance of 2, or one it is a prefix of. */
export function closest(typed: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of known) {
    const d = name.startsWith(typed) && typed.length >= 4 ? 1 : editDistance(typed, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** A whole number option within `min..max`, or undefined when absent. */
export function integerOption(args: ParsedArgs, name: string, min: number, max: number, command: string): number | undefined {
  const text = args.string(name);
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number ${min}..${max}, got ${shownValue(text)}`, `run 'aliot ${command} --help'`);
  }
  return value;
}

/** The longest wait a timer can hold, in seconds (setTimeout takes at most 2^31 - 1 ms). */
const MAX_SECONDS = 2_147_483;

/**
 * A wait given in seconds, whole or decimal (`2`, `0.5`), as milliseconds; undefined when absent.
 * Seconds because people type them; the library takes milliseconds.
 */
export function secondsOption(args: ParsedArgs, name: string, command: string): number | undefined {
  const text = args.string(name);
  if (text === undefined) return undefined;
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0.001 && value <= MAX_SECONDS)) {
    throw new UsageError(`--${name} must be seconds from 0.001 to ${MAX_SECONDS} (e.g. 5 or 0.5), got ${JSON.stringify(text)}`, `run 'aliot ${command} --help'`);
  }
  return Math.round(value * 1000);
}

/** One of `allowed`, or undefined when absent. */
export function choiceOption<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[], command: string): T | undefined {
  const text = args.string(name);
  if (text === undefined) return undefined;
  const match = allowed.find((a) => a === text);
  if (match === undefined) {
    // The value is not echoed: a secret pasted into the wrong flag must not be printed back.
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got another value (${text.length} characters)`, `run 'aliot ${command} --help'`);
  }
  return match;
}

/**
 * A flag's value for an error message: shown when it looks like a number, described otherwise,
 * so that a secret pasted into the wrong flag is never printed back.
 */
export function shownValue(text: string): string {
  return /^[-+0-9.eE]{1,24}$/.test(text) ? JSON.stringify(text) : `a value of ${text.length} characters`;
}

/** The help text of a command: synopsis, description, options, examples. */
export function formatHelp(spec: CommandSpec): string {
  const lines = ['Usage:', ...spec.usage.map((u) => `  aliot ${u}`), '', spec.description.trimEnd(), '', 'Options:'];
  const options = optionsWithHelp(spec);
  const labels = options.map((o) => {
    const long = `--${o.name}${o.type === 'string' ? ` ${o.placeholder ?? 'VALUE'}` : ''}`;
    return o.short === undefined ? `    ${long}` : `-${o.short}, ${long}`;
  });
  const width = Math.max(...labels.map((l) => l.length));
  options.forEach((o, i) => {
    const repeat = o.multiple ? ' (repeatable)' : '';
    lines.push(`  ${labels[i]!.padEnd(width)}  ${o.help}${repeat}`);
  });
  if (spec.examples !== undefined && spec.examples.length > 0) {
    lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  }
  return `${lines.join('\n')}\n`;
}
