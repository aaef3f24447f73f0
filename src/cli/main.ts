#!/usr/bin/env node
/**
 * The `aliot` executable (package.json `bin`). Ctrl-C or SIGTERM aborts the command's signal, so
 * `sub` and `emulator` close their connections cleanly; a second one, or a command still running
 * three seconds later, exits at once with 130.
 */
import { main } from './cli.js';
import { processIo } from './io.js';

const controller = new AbortController();
const interrupted = (): void => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
  setTimeout(() => process.exit(130), 3000).unref();
};
process.on('SIGINT', interrupted);
process.on('SIGTERM', interrupted);

process.exitCode = await main(process.argv.slice(2), processIo(controller.signal));
// The handlers would otherwise keep the process from being ended by a signal while it drains.
process.off('SIGINT', interrupted);
process.off('SIGTERM', interrupted);
