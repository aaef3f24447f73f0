/** Where errors become messages and exit codes, for every command. */
import { MqttClientError } from '../client/errors.js';
import { EmulatorError } from '../emulator/errors.js';
import { ConfigurationError } from '../shared/errors.js';
import { MqttProtocolError } from '../packet/errors.js';
import { TransportError } from '../transport/errors.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';

/**
 * Prints an error as `aliot <command>: message` (and a hint) and returns its exit code: 1 for a
 * mistake in what was asked, 2 for a connection that failed or was refused. The library's
 * messages say what to do and never hold a secret; a stack is only for bugs, and only under
 * NODE_DEBUG=aliot.
 */
export function report(io: Io, prefix: string, error: unknown): number {
  if (error instanceof UsageError) {
    io.stderr.write(`${prefix}: ${error.message}\n${error.hint === undefined ? '' : `  hint: ${error.hint}\n`}`);
    return EXIT.usage;
  }
  if (error instanceof ConfigurationError) {
    io.stderr.write(`${prefix}: ${error.message}\n`);
    return EXIT.usage;
  }
  // MqttClientError covers ConnectionRefusedError, whose message carries the CONNACK hint.
  const connection = [MqttClientError, TransportError, MqttProtocolError, EmulatorError];
  if (connection.some((type) => error instanceof type)) {
    io.stderr.write(`${prefix}: ${(error as Error).message}\n`);
    return EXIT.connection;
  }
  const debug = /\baliot\b/.test(io.env['NODE_DEBUG'] ?? '');
  const text = error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
  io.stderr.write(`${prefix}: unexpected failure: ${text}\n`);
  return EXIT.usage;
}
