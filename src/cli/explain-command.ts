/** `aliot explain`: the command around the dissector in explain.ts. */
import { parseArgs } from './args.js';
import type { CommandSpec } from './args.js';
import { explain, renderExplanation } from './explain.js';
import { parseHex } from './hex.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';
import { styleFor } from './style.js';

export const EXPLAIN: CommandSpec = {
  name: 'explain',
  summary: 'dissect MQTT packets given as hex, field by field, with the spec sections',
  usage: ['explain [--show-password] [--json] HEX...', 'explain [--show-password] [--json] < file-with-hex'],
  description: `Reads MQTT 3.1.1 bytes as hex (pairs of digits; white space, ':' or ',' between them and a
0x prefix are fine; several packets in a row too) and shows each packet field by field: the byte
offset, the bytes, the field's name as the specification names it, its value, what it means and
the section (and statement ids) that define it. Flags are taken apart bit by bit and the
Remaining Length byte by byte. A CONNECT's password is shown as [redacted] unless asked for.

Bytes the decoder refuses are explained up to the offending byte, followed by the error code and
offset the library's decoder gives, and the exit code is 1. With no HEX argument (or '-') the hex
is read from standard input.`,
  options: [
    { name: 'show-password', type: 'boolean', help: "show a CONNECT's password instead of [redacted]" },
    { name: 'json', type: 'boolean', help: 'print the dissection as JSON (packets, fields, problem)' },
  ],
  positionals: 'any',
  examples: [
    'aliot explain 20 02 00 00',
    'aliot explain 0x30,0x0d,0x00,0x05,0x68,0x65,0x6c,0x6c,0x6f,0x77,0x6f,0x72,0x6c,0x64',
    "echo 'c0 00 d0 00' | aliot explain",
  ],
};

export async function runExplain(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(EXPLAIN, argv);
  const fromStdin = args.positionals.length === 0 || (args.positionals.length === 1 && args.positionals[0] === '-');
  if (fromStdin && args.positionals.length === 0 && io.stdinIsTTY) {
    throw new UsageError('no hex given', "pass the bytes as arguments (aliot explain 20 02 00 00) or pipe them in");
  }
  const text = fromStdin ? (await io.readStdin()).toString('utf8') : args.positionals.join(' ');
  const bytes = parseHex(text);
  if (bytes.length === 0) throw new UsageError('no bytes to explain', 'give at least one byte, e.g. aliot explain c0 00');
  const explanation = explain(bytes, { showPassword: args.flag('show-password') });
  if (args.flag('json')) {
    io.stdout.write(`${JSON.stringify(explanation, jsonReplacer(args.flag('show-password')), 2)}\n`);
  } else {
    io.stdout.write(renderExplanation(explanation, styleFor(io)));
  }
  return explanation.problem === undefined ? EXIT.ok : EXIT.usage;
}

/**
 * JSON for the decoded packets: byte fields as hex rather than `{"0":16,"1":2,...}`, and a
 * CONNECT's password as `[redacted]` unless the user asked to see it.
 */
function jsonReplacer(showPassword: boolean): (key: string, value: unknown) => unknown {
  return (key, value) => {
    if (!(value instanceof Uint8Array)) return value;
    if (key === 'password' && !showPassword) return '[redacted]';
    return Buffer.from(value.buffer, value.byteOffset, value.length).toString('hex');
  };
}
