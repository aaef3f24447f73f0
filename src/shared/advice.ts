/**
 * What an error advises, kept as data: a code for programs, the remedy in words, and the option
 * that carries it out. Each face of the library names that option its own way (the library as
 * `family: 0`, the `aliot` command as `--family 0`), so no face has to rewrite another's text.
 */

/** An option a remedy is carried out with, named as the library's API spells it. */
export interface AdviceOption {
  /** `family`, `ca`, `transport`, `connectTimeout`, `host`, `endpoint`, ... */
  readonly name: string;
  /** The value to give it, when one fits. */
  readonly value?: string | number;
}

/** One thing to try. */
export interface Advice<Code extends string = string> {
  /** What the remedy is, for programs to branch on. */
  readonly code: Code;
  /** The remedy in words; `{option}` stands where the option is named. */
  readonly text: string;
  /** The option `{option}` names; without one the text stands alone. */
  readonly option?: AdviceOption;
}

/**
 * What a layer that knows more adds to another layer's error: the platform profile's reading of
 * a transport failure, say. `text` is a statement of fact; `advice` what to do about it.
 */
export interface Hint<Code extends string = string> {
  readonly code: Code;
  readonly text: string;
  readonly advice: readonly Advice[];
}

/**
 * How one face of the library names an option. `undefined` means that face has no such option;
 * the advice that needs it is then left out rather than given in terms the reader cannot use.
 */
export type OptionNamer = (option: AdviceOption) => string | undefined;

/** Options as the library's API names them: `family: 0`, `transport: 'tcp'`, `the ca option`. */
export const libraryOptionName: OptionNamer = ({ name, value }) => {
  if (value === undefined) return `the ${name} option`;
  return `${name}: ${typeof value === 'string' ? `'${value}'` : value}`;
};

/** Each piece of advice in words, with its option named by `namer`; advice `namer` cannot name is left out. */
export function adviceLines(advice: readonly Advice[], namer: OptionNamer = libraryOptionName): string[] {
  const lines: string[] = [];
  for (const item of advice) {
    if (item.option === undefined) {
      lines.push(item.text);
      continue;
    }
    const name = namer(item.option);
    if (name !== undefined) lines.push(item.text.replace('{option}', () => name));
  }
  return lines;
}

/**
 * An error's whole message: what happened, what to do, then any hint, as one line. This is how
 * the library's errors build their `message`; other faces render the same parts their own way.
 */
export function composeMessage(summary: string, advice: readonly Advice[], hints: readonly Hint[] = [], namer: OptionNamer = libraryOptionName): string {
  const sentence = (head: string, items: readonly Advice[]): string => {
    const lines = adviceLines(items, namer);
    return lines.length === 0 ? head : `${head}: ${lines.join('; ')}`;
  };
  return [sentence(summary, advice), ...hints.map((hint) => sentence(hint.text, hint.advice))].join('. ');
}
