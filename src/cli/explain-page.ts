/**
 * The field model as the page of `aliot web` gets it: `aliot explain`'s own dissector and the
 * CLI's own hex reader, bundled for the browser by `scripts/bundle.mjs` into the page's
 * `mqtt-explain.js` (the page's entry point; nothing in Node imports this module). Nothing here
 * dissects; the page never decides by itself what a byte means or whether a frame is valid.
 *
 * This is the one module that knows the shape of the explainer's output (explain-model.ts): the
 * page's shape is kept apart from it, so that a change there is met here alone.
 */
import { explain } from './explain.js';
import type { ExplainedPacket, ExplainProblem, Explanation } from './explain-model.js';
import { parseHex } from './hex.js';
import { UsageError } from './io.js';

export type { ExplainField, ExplainPart } from './explain-model.js';

/** Why the decoder refused the bytes, as the page shows it. */
export interface PageProblem {
  /** The decoder's error code, e.g. `invalid-topic`. */
  readonly code: string;
  /** The offending byte's position in the bytes dissected; undefined when the decoder gave none. */
  readonly offset: number | undefined;
  /** What is wrong, in a sentence. */
  readonly detail: string;
  /** The normative statement broken, e.g. `MQTT-3.3.2-2`, when there is one. */
  readonly statement: string | undefined;
}

export interface PagePacket extends Omit<ExplainedPacket, 'problem' | 'packet'> {
  readonly problem: PageProblem | undefined;
}

export interface PageExplanation {
  readonly byteLength: number;
  readonly packets: readonly PagePacket[];
  readonly problem: PageProblem | undefined;
}

/** Pasted hex read as `aliot explain` reads it, or why it cannot be. */
export type HexReading =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly message: string; readonly hint: string | undefined };

export function readHex(text: string): HexReading {
  try {
    return { ok: true, bytes: parseHex(text) };
  } catch (error) {
    if (error instanceof UsageError) return { ok: false, message: error.message, hint: error.hint };
    throw error;
  }
}

/**
 * Every packet in `bytes`, field by field, exactly as `aliot explain` dissects them; a CONNECT's
 * password is always shown as redacted. The decoded packet objects are left out: the page shows
 * the fields, and a decoded payload would be one more copy of bytes it has already.
 */
export function dissect(bytes: Uint8Array): PageExplanation {
  const explanation: Explanation = explain(bytes, { showPassword: false });
  return {
    byteLength: explanation.byteLength,
    packets: explanation.packets.map(({ packet: _packet, problem, fields, ...rest }) => ({
      ...rest,
      fields: fields.map((field) => ({ ...field, meaning: field.meaning.replace(CLI_PASSWORD_HINT, '; the page never shows it') })),
      problem: pageProblem(problem),
    })),
    problem: pageProblem(explanation.problem),
  };
}

/** What the CLI says about a redacted password, which names a flag the page does not have. */
const CLI_PASSWORD_HINT = '; shown with --show-password';

function pageProblem(problem: ExplainProblem | undefined): PageProblem | undefined {
  if (problem === undefined) return undefined;
  return { code: problem.code, offset: problem.offset, detail: problem.detail, statement: problem.statement };
}
