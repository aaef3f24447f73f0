/**
 * ANSI colour for a terminal, and nothing at all anywhere else: output piped to a file, read by a
 * test or pasted into a document must be plain text.
 */
import type { Io } from './io.js';

export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  /** Device to platform. */
  up(text: string): string;
  /** Platform to device. */
  down(text: string): string;
  error(text: string): string;
  ok(text: string): string;
}

const wrap =
  (open: number, close: number) =>
  (text: string): string =>
    `\u001b[${open}m${text}\u001b[${close}m`;

const COLOUR: Style = {
  enabled: true,
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  up: wrap(36, 39),
  down: wrap(35, 39),
  error: wrap(31, 39),
  ok: wrap(32, 39),
};

const identity = (text: string): string => text;

export const PLAIN: Style = {
  enabled: false,
  bold: identity,
  dim: identity,
  up: identity,
  down: identity,
  error: identity,
  ok: identity,
};

/**
 * Colour only when stdout is a terminal and `NO_COLOR` is unset or empty (the no-color.org
 * convention: present and non-empty turns colour off).
 */
export function styleFor(io: Io): Style {
  const noColor = io.env['NO_COLOR'];
  return io.stdout.isTTY === true && (noColor === undefined || noColor === '') ? COLOUR : PLAIN;
}
