/**
 * `aliot web` from a shell: the built executable prints the page's address, serves it, and stops
 * cleanly on Ctrl-C; a non-loopback address is refused before anything listens.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAIN_JS, run } from '../cli/helpers.js';
import { rawGet } from './support.js';

/** The executable the package ships (package.json `bin`), which finds the page from dist/pkg/. */
const BUNDLED_CLI = fileURLToPath(new URL('../../dist/pkg/cli.js', import.meta.url));

describe('aliot web', () => {
  it.each([
    ['the shipped bundle', BUNDLED_CLI],
    ['the per-file build', MAIN_JS],
  ])('prints the address, serves the page there, and stops on SIGINT (%s)', async (_, script) => {
    const child = spawn(process.execPath, [script, 'web'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        out += text;
        const match = /page: +(http:\/\/\[::1\]:\d+\/)/.exec(out);
        if (match !== null) resolve(match[1]!);
      });
      child.once('exit', () => reject(new Error(`exited early: ${out} ${err}`)));
    });
    expect(out).toMatch(/stand-in: +mqtts:\/\/\[::1\]:\d+/);
    const port = Number(new URL(url).port);
    const page = await rawGet(port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>aliot web: MQTT 3.1.1 on the wire</title>');
    expect((await rawGet(port, '/mqtt-explain.js')).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('closed: the page, the demo device and the stand-in');
    expect(err).toBe('');
  });

  it('refuses an address that is not a loopback one', async () => {
    for (const host of ['::', '0.0.0.0', '192.168.1.10']) {
      const result = await run(['web', '--host', host]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('--host must be a loopback address');
    }
  });

  it('explains itself in --help', async () => {
    const result = await run(['web', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('aliot web');
    expect(result.stdout).toContain('--mqtt-port');
    expect((await run(['--help'])).stdout).toMatch(/web +the protocol in the browser/);
  });
});
