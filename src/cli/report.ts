/** Where errors become messages and exit codes, for every command. */
import { MqttClientError } from '../client/errors.js';
import { DeviceError } from '../device/errors.js';
import { EmulatorError } from '../emulator/errors.js';
import { ConfigurationError } from '../shared/errors.js';
import { MqttProtocolError } from '../packet/errors.js';
import { TransportError } from '../transport/errors.js';
import type { OptionSpec } from './args.js';
import { describeFailure, flagForField } from './failure.js';
import type { ConnectionFacts } from './failure.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';

/** What the command knows beyond the error: its flags (to name in advice) and its connection. */
export interface ReportContext {
  /** The command's options; advice names only these flags. Without them, no flag is named. */
  readonly options?: readonly OptionSpec[];
  readonly facts?: ConnectionFacts;
}

/** The library's codes for a wait that ran out: each exits with 3, as every timeout does. */
const TIMEOUT_CODES = new Set(['connect-timeout', 'connack-timeout', 'ping-timeout', 'reply-timeout']);

/**
 * Prints an error as `aliot <command>: message`, with a line per hint, and returns its exit code:
 * 1 for a mistake in what was asked, 2 for a connection that failed or was refused, 3 for a wait
 * that timed out. The library's messages say what to do and never hold a secret; a stack is only
 * for bugs, and only under NODE_DEBUG=aliot.
 */
export function report(io: Io, prefix: string, error: unknown, context: ReportContext = {}): number {
  if (error instanceof UsageError) {
    io.stderr.write(`${prefix}: ${error.message}\n${error.hint === undefined ? '' : `  hint: ${error.hint}\n`}`);
    return EXIT.usage;
  }
  if (error instanceof ConfigurationError) {
    // The message names the library's option; the hint says which flag of this command sets it.
    const flag = flagForField(error.field, context.options ?? []);
    io.stderr.write(`${prefix}: ${error.message}\n${flag === undefined ? '' : `  hint: ${error.field} is set with ${flag}\n`}`);
    return EXIT.usage;
  }
  // MqttClientError covers ConnectionRefusedError, whose hint holds the CONNACK's likely cause.
  const connection = [MqttClientError, TransportError, MqttProtocolError, EmulatorError, DeviceError];
  if (connection.some((type) => error instanceof type)) {
    const described = describeFailure(error, context.options ?? [], context.facts);
    const message = described?.message ?? (error as Error).message;
    io.stderr.write(`${prefix}: ${message}\n${(described?.hints ?? []).map((hint) => `  hint: ${hint}\n`).join('')}`);
    return TIMEOUT_CODES.has((error as { code: unknown }).code as string) ? EXIT.timeout : EXIT.connection;
  }
  const debug = /\baliot\b/.test(io.env['NODE_DEBUG'] ?? '');
  const text = error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
  io.stderr.write(`${prefix}: unexpected failure: ${text}\n`);
  return EXIT.usage;
}
