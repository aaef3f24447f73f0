/**
 * The `aliot` command: dispatch to the subcommands, help and version, and the one place where
 * errors become messages and exit codes. Everything runs against an `Io`, so the tests call
 * `main` in-process; `main.ts` is the thin executable around it.
 */
import { readFileSync } from 'node:fs';
import { closest, formatHelp, optionsWithHelp, wantsHelp } from './args.js';
import type { CommandSpec } from './args.js';
import { EXPLAIN, runExplain } from './explain-command.js';
import { EXIT, UsageError } from './io.js';
import { report } from './report.js';
import type { Io } from './io.js';
import { DEMO, runDemo } from './demo.js';
import { DEMO_GATEWAY_SPEC, runDemoGateway } from './demo-gateway.js';
import { EMULATOR, runEmulator } from './emulator.js';
import { OTA, runOta } from './ota.js';
import { EMULATOR_ISSUE, runIssue } from './issue.js';
import { PUB, runPub } from './pub.js';
import { REGISTER, runRegister } from './register.js';
import { SIGN, runSign } from './sign.js';
import { SUB, runSub } from './sub.js';
import { WEB, runWeb } from './web.js';

export interface Command {
  readonly spec: CommandSpec;
  run(argv: readonly string[], io: Io): Promise<number>;
  /** Commands under this one (`aliot emulator issue`), each spec named `<command> <word>`. */
  readonly subcommands?: readonly Command[];
}

export const COMMANDS: readonly Command[] = [
  { spec: DEMO, run: runDemo, subcommands: [{ spec: DEMO_GATEWAY_SPEC, run: runDemoGateway }] },
  { spec: SIGN, run: runSign },
  { spec: EXPLAIN, run: runExplain },
  { spec: PUB, run: runPub },
  { spec: SUB, run: runSub },
  { spec: EMULATOR, run: runEmulator, subcommands: [{ spec: EMULATOR_ISSUE, run: runIssue }] },
  { spec: WEB, run: runWeb },
  { spec: REGISTER, run: runRegister },
  { spec: OTA, run: runOta },
];

/** `src/cli/` and `dist/cli/` both sit two levels below the package root. */
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export function version(): string {
  return (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;
}

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length));
  return `aliot: MQTT 3.1.1 for the Alibaba Cloud IoT Platform over IPv6 and TLS

Usage:
  aliot <command> [options]
  aliot <command> --help
  aliot --version

Commands:
${COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`).join('\n')}

Exit codes: 0 done, 1 usage or input error, 2 connection failed or refused, 3 timed out.
Set NODE_DEBUG=aliot to have the client library trace every packet it sends and receives on
stderr, in this command or in any program using aliot-mqtt.
`;
}

/** Runs `aliot <argv>` and returns the exit code; writes only through `io`. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(topHelp());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h') {
    io.stdout.write(topHelp());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (name === 'help') return help(rest[0], io);
  const top = COMMANDS.find((c) => c.spec.name === name);
  const sub = top?.subcommands?.find((c) => c.spec.name === `${name} ${rest[0]}`);
  const command = sub ?? top;
  const commandArgs = sub === undefined ? rest : rest.slice(1);
  const mistyped = sub === undefined ? closestSubcommand(top, rest[0]) : undefined;
  if (mistyped !== undefined) {
    report(io, `aliot ${name}`, new UsageError(`unknown subcommand '${rest[0]}'`, `did you mean 'aliot ${mistyped}'?`));
    return EXIT.usage;
  }
  if (command === undefined) {
    const guess = closest(name, COMMANDS.map((c) => c.spec.name));
    // Quoted only when it looks like a command name: a garbled command line may start with a secret.
    const shown = /^[a-z][a-z-]{0,19}$/i.test(name) ? ` '${name}'` : '';
    const hint = guess === undefined ? "run 'aliot --help' for the commands" : `did you mean 'aliot ${guess}'?`;
    report(io, 'aliot', new UsageError(name.startsWith('-') ? 'unknown option before the command' : `unknown command${shown}`, hint));
    return EXIT.usage;
  }
  if (wantsHelp(command.spec, commandArgs)) {
    io.stdout.write(formatHelp(command.spec));
    return EXIT.ok;
  }
  try {
    return await command.run(commandArgs, io);
  } catch (error) {
    return report(io, `aliot ${command.spec.name}`, error, { options: optionsWithHelp(command.spec) });
  }
}

/** `demo gateway` for `aliot demo gatway`: the subcommand a word after the command was probably meant as. */
function closestSubcommand(top: Command | undefined, word: string | undefined): string | undefined {
  const names = top?.subcommands?.map((c) => c.spec.name) ?? [];
  // Only a plain word: an option's value, or a garbled line that may start with a secret, is never quoted back.
  if (top === undefined || word === undefined || names.length === 0 || !/^[a-z][a-z-]{0,19}$/i.test(word)) return undefined;
  return closest(`${top.spec.name} ${word}`, names);
}

function help(name: string | undefined, io: Io): number {
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (name !== undefined && command === undefined) {
    report(io, 'aliot help', new UsageError('unknown command', "run 'aliot --help' for the commands"));
    return EXIT.usage;
  }
  io.stdout.write(command === undefined ? topHelp() : formatHelp(command.spec));
  return EXIT.ok;
}
