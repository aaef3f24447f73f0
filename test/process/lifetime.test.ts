/**
 * The client as a program runs it: a plain `node` process whose only work is an MqttClient
 * (vitest keeps its own process alive, so only a child process shows these). A client that has
 * not been ended keeps the process alive, as a socket would, while it waits to reconnect;
 * `end()` lets it exit, and `unref()` says so explicitly.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { describeWithBroker } from '../support/mosquitto.js';
import { useFaultProxy } from '../support/fault-proxy.js';
import { uniqueId, useBroker } from '../client-broker/support.js';

const LIBRARY = fileURLToPath(new URL('../../dist/pkg/index.js', import.meta.url));

/** A child running `body` after `client` is made; its stdout lines, and its exit. */
interface Program {
  readonly lines: string[];
  readonly child: ChildProcess;
  /** Resolves with the first line that matches, or rejects when the process exits first. */
  line(pattern: RegExp, ms?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const programs: ChildProcess[] = [];
const directories: string[] = [];
afterEach(() => {
  for (const child of programs.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function run(port: number, ca: string, clientId: string, body: string): Program {
  const dir = mkdtempSync(join(tmpdir(), 'aliot-program-'));
  directories.push(dir);
  const file = join(dir, 'program.mjs');
  writeFileSync(
    file,
    [
      `import { MqttClient } from ${JSON.stringify(LIBRARY)};`,
      `const client = new MqttClient({ host: '::1', port: ${port}, ca: ${JSON.stringify(ca)}, clientId: ${JSON.stringify(clientId)},`,
      `  reconnect: { initialDelay: 50, maxDelay: 100 }, connectTimeout: 2000 });`,
      `const say = (...words) => process.stdout.write(words.join(' ') + '\\n');`,
      `client.on('error', () => {});`,
      `client.on('offline', () => say('offline'));`,
      `client.on('reconnect', (attempt) => say('reconnect', attempt));`,
      body,
    ].join('\n'),
  );
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  programs.push(child);
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      lines.push(line);
      for (const w of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return {
    lines,
    child,
    exited,
    line: (pattern, ms = 15_000) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        waiters.push({ pattern, resolve });
        const timer = setTimeout(() => reject(new Error(`no line ${pattern} within ${ms} ms; saw ${JSON.stringify(lines)}`)), ms);
        void exited.then(({ code }) => {
          clearTimeout(timer);
          reject(new Error(`the program exited (code ${code}) before printing ${pattern}; it printed ${JSON.stringify(lines)}`));
        });
      });
    },
  };
}

describeWithBroker('a program whose only work is an MqttClient', () => {
  const suite = useBroker();
  const proxied = useFaultProxy(() => ({ host: '::1', port: suite.broker.tlsPort }));

  it('stays alive while the broker restarts, reconnects, and exits 0 once it calls end()', async () => {
    const program = run(
      suite.broker.tlsPort,
      suite.broker.ca,
      uniqueId('alive'),
      `let connects = 0;
client.on('connect', () => { say('connect'); if (++connects === 2) void client.end().then(() => say('ended')); });
await client.connect();`,
    );
    await program.line(/^connect$/);
    await suite.broker.restart();
    await program.line(/^offline$/);
    await program.line(/^ended$/);
    expect(program.lines.filter((l) => l === 'connect')).toHaveLength(2);
    expect((await program.exited).code).toBe(0);
  });

  it('a program that catches a failed connect() waits for the background retry', async () => {
    proxied.proxy.refuse(true);
    const program = run(
      proxied.proxy.port,
      suite.broker.ca,
      uniqueId('retry'),
      `client.on('connect', () => { say('connect'); void client.end().then(() => say('ended')); });
client.connect().catch((error) => say('failed', error.code));`,
    );
    await program.line(/^failed /);
    await program.line(/^reconnect 2$/); // still alive through two more attempts
    proxied.proxy.refuse(false);
    await program.line(/^ended$/);
    expect((await program.exited).code).toBe(0);
  });

  it('unref() lets the program exit while the client waits to reconnect', async () => {
    const program = run(
      proxied.proxy.port,
      suite.broker.ca,
      uniqueId('unref'),
      `client.on('connect', () => say('connect'));
await client.connect();
client.unref();`,
    );
    await program.line(/^connect$/);
    proxied.proxy.refuse(true);
    proxied.proxy.cutAll('close');
    const { code } = await program.exited;
    expect(code).toBe(0);
    expect(program.lines).toContain('offline');
    expect(program.lines.filter((l) => l === 'connect')).toHaveLength(1);
  });

  it('a client that is never connected does not hold the process', async () => {
    const program = run(suite.broker.tlsPort, suite.broker.ca, uniqueId('idle'), `say('made');`);
    await program.line(/^made$/);
    expect((await program.exited).code).toBe(0);
  });
});
