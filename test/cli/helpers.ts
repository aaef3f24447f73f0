/** Runs `aliot` in-process with captured output, or as a real process for exit codes and signals. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/cli.js';
import type { Io } from '../../src/cli/io.js';

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly stdin?: string;
  /** Aborting it stands in for Ctrl-C. */
  readonly signal?: AbortSignal;
  readonly tty?: boolean;
  /** Sees stdout as it is written, e.g. to wait for a line. */
  readonly onStdout?: (text: string, all: string) => void;
}

/** A captured Io and what was written to it. */
export function captureIo(options: RunOptions = {}): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: {
      write: (text) => {
        out += text;
        options.onStdout?.(text, out);
      },
      isTTY: options.tty === true,
    },
    stderr: { write: (text) => void (err += text), isTTY: false },
    env: options.env ?? {},
    readStdin: () => Promise.resolve(Buffer.from(options.stdin ?? '', 'utf8')),
    stdinIsTTY: options.stdin === undefined,
    signal: options.signal ?? new AbortController().signal,
  };
  return { io, out: () => out, err: () => err };
}

/** `aliot ...argv` in this process. */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<Run> {
  const { io, out, err } = captureIo(options);
  const code = await main(argv, io);
  return { code, stdout: out(), stderr: err() };
}

/** The built executable; `npm test` builds before it runs the tests. */
export const MAIN_JS = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** `node dist/cli/main.js ...argv` (or another build of the CLI) as a child process. */
export function spawnCli(argv: readonly string[], env: Record<string, string> = {}, stdin?: string, script = MAIN_JS): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...argv], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}
