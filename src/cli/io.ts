/**
 * What a command may touch of the outside world, passed in rather than reached for, so that the
 * tests run every command in-process with captured output, a given environment and an abort
 * signal standing in for Ctrl-C.
 */

/** Somewhere text goes: the process's stdout or stderr, or a test's buffer. */
export interface Output {
  write(text: string): void;
  /** A terminal: colour is allowed (unless NO_COLOR says otherwise). */
  readonly isTTY?: boolean | undefined;
}

export interface Io {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard input, read to its end. */
  readStdin(): Promise<Buffer>;
  /** Standard input is a terminal: a command that would read it asks for arguments instead. */
  readonly stdinIsTTY: boolean;
  /** Ends the long-running commands (`emulator`, `sub`): SIGINT or SIGTERM in a real process. */
  readonly signal: AbortSignal;
}

/**
 * The exit codes every command uses, so scripts can tell a typo from a broker that said no:
 * 0 done, 1 the command line or its input is wrong, 2 the connection failed or was refused,
 * 3 a wait timed out (`sub -W`, a reply that never came).
 */
export const EXIT = Object.freeze({ ok: 0, usage: 1, connection: 2, timeout: 3 });

/**
 * A mistake on the command line: printed as `aliot <command>: <message>` with the hint, exit
 * code 1, never with a stack trace. Messages never quote the value of a secret option.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly hint: string | undefined;

  constructor(message: string, hint?: string) {
    super(message);
    this.hint = hint;
  }
}

/** The real process's streams and environment; `signal` aborts on the first SIGINT or SIGTERM. */
export function processIo(signal: AbortSignal): Io {
  return {
    stdout: { write: (text) => void process.stdout.write(text), isTTY: process.stdout.isTTY === true },
    stderr: { write: (text) => void process.stderr.write(text), isTTY: process.stderr.isTTY === true },
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    stdinIsTTY: process.stdin.isTTY === true,
    signal,
  };
}
