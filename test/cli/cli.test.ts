import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/cli.js';
import { parseArgs } from '../../src/cli/args.js';
import type { CommandSpec } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/io.js';
import { report } from '../../src/cli/report.js';
import { ConnectionRefusedError } from '../../src/client/index.js';
import { MqttProtocolError } from '../../src/packet/index.js';
import { captureIo, run, spawnCli } from './helpers.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('aliot', () => {
  it('prints its version with --version and -V', async () => {
    for (const flag of ['--version', '-V']) expect(await run([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('lists every command with --help, -h and help, and documents the exit codes and NODE_DEBUG', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const result = await run(argv);
      expect(result.code).toBe(0);
      for (const name of ['demo', 'sign', 'explain', 'pub', 'sub', 'emulator']) expect(result.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      expect(result.stdout).toContain('Exit codes: 0 done, 1 usage or input error, 2 connection failed or refused, 3 timed out.');
      expect(result.stdout).toContain('NODE_DEBUG=aliot');
    }
  });

  it('shows a command help with help <command>', async () => {
    expect((await run(['help', 'sign'])).stdout).toContain('--device-secret');
    const unknown = await run(['help', 'nope']);
    expect(unknown.code).toBe(1);
  });

  it('is a usage error (exit 1, the help on stderr) without a command', async () => {
    const result = await run([]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Usage:');
  });

  it('names an unknown command and guesses the one meant', async () => {
    const result = await run(['explian', '20020000']);
    expect(result).toEqual({ code: 1, stdout: '', stderr: "aliot: unknown command 'explian'\n  hint: did you mean 'aliot explain'?\n" });
    const option = await run(['--verbose']);
    expect(option.code).toBe(1);
    expect(option.stderr).toContain('unknown option before the command');
  });

  it('does not quote a first argument that does not look like a command (it may be a secret)', async () => {
    const result = await run(['s3cr3t/Value+=']);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('s3cr3t');
  });

  it('gives every command --help with its synopsis, options and examples', async () => {
    for (const { spec } of COMMANDS) {
      const result = await run([spec.name, '--help']);
      expect(result.code, spec.name).toBe(0);
      expect(result.stdout).toContain(`Usage:\n  aliot ${spec.name}`);
      for (const option of spec.options) expect(result.stdout).toContain(`--${option.name}`);
    }
  });

  it('as a process: exit 1 and a message on stderr for a usage error, 0 for help', async () => {
    const bad = await spawnCli(['sign', '--product-key']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("aliot sign: --product-key needs a value (PK)\n  hint: run 'aliot sign --help' for the options\n");
    const help = await spawnCli(['sign', '--help']);
    expect(help.code).toBe(0);
  });
});

describe('argument parsing', () => {
  const spec: CommandSpec = {
    name: 'test',
    summary: '',
    usage: [],
    description: '',
    positionals: 'any',
    options: [
      { name: 'topic', short: 't', type: 'string', multiple: true, help: '' },
      { name: 'message', short: 'm', type: 'string', help: '' },
      { name: 'verbose', short: 'v', type: 'boolean', help: '' },
      { name: 'secret', type: 'string', secret: true, help: '' },
    ],
  };

  it('takes --name value, --name=value, -x value, -xvalue, repeats, and positionals after --', () => {
    const args = parseArgs(spec, ['--topic', 'a', '--topic=b', '-t', 'c', '-td', '-m', '-5', '-v', 'x', '--', '--not-an-option']);
    expect(args.strings('topic')).toEqual(['a', 'b', 'c', 'd']);
    expect(args.string('message')).toBe('-5');
    expect(args.flag('verbose')).toBe(true);
    expect(args.positionals).toEqual(['x', '--not-an-option']);
  });

  it.each([
    [['--verbose=yes'], '--verbose takes no value'],
    [['-vx'], '-v takes no value'],
    [['-v', '-v'], '-v is given twice'],
    [['-m', 'a', '-m', 'b'], '-m is given twice'],
    [['--message'], '--message needs a value'],
    [['--mesage', 'x'], 'unknown option --mesage'],
    [['-x'], 'unknown option -x'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(spec, argv)).toThrow(UsageError);
    expect(() => parseArgs(spec, argv)).toThrow(message);
  });

  it('never quotes a secret option value back', () => {
    let error: unknown;
    try {
      parseArgs(spec, ['--secret', 'hunter2', '--secret', 'hunter3']);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).not.toMatch(/hunter/);
  });
});

describe('report', () => {
  it('maps errors to exit codes: usage 1, connection and protocol 2, with the message and no stack', () => {
    const cases: [unknown, number, string][] = [
      [new UsageError('bad', 'try this'), 1, 'aliot x: bad\n  hint: try this\n'],
      [new ConnectionRefusedError(5), 2, 'aliot x: the server refused the connection: CONNACK 5 (not authorized)\n'],
      [new MqttProtocolError('invalid-flags', 'nope', 'suback', 3), 2, 'aliot x: nope [invalid-flags, SUBACK at byte 3]\n'],
    ];
    for (const [error, code, text] of cases) {
      const { io, err } = captureIo();
      expect(report(io, 'aliot x', error)).toBe(code);
      expect(err()).toBe(text);
    }
  });

  it('calls anything else an unexpected failure, with a stack only under NODE_DEBUG=aliot', () => {
    const quiet = captureIo();
    expect(report(quiet.io, 'aliot x', new TypeError('boom'))).toBe(1);
    expect(quiet.err()).toBe('aliot x: unexpected failure: boom\n');
    const loud = captureIo({ env: { NODE_DEBUG: 'net,aliot' } });
    report(loud.io, 'aliot x', new TypeError('boom'));
    expect(loud.err()).toMatch(/TypeError: boom\n\s+at /);
  });
});
