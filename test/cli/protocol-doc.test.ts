import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DOC_DEVICE, DOC_TIMESTAMP, protocolDoc } from '../../src/cli/protocol-doc.js';
import { signCredentials } from '../../src/sign/index.js';

const DOC = fileURLToPath(new URL('../../docs/protocol.md', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../scripts/gen-protocol-doc.mjs', import.meta.url));
const run = promisify(execFile);

/** `node scripts/gen-protocol-doc.mjs ...args`: exit code and output. */
async function script(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('docs/protocol.md', () => {
  it('is exactly what the generator produces from a real session today', async () => {
    expect(await protocolDoc()).toBe(readFileSync(DOC, 'utf8'));
  });

  it('walks through the session packet by packet, each with its bytes and its dissection', () => {
    const doc = readFileSync(DOC, 'utf8');
    const headings = [...doc.matchAll(/^## \d+\. (\w+)/gm)].map((m) => m[1]);
    expect(headings).toEqual(['CONNECT', 'CONNACK', 'SUBSCRIBE', 'SUBACK', 'PUBLISH', 'PUBLISH', 'PUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT']);
    expect(doc.match(/^#1 [A-Z]+ \(/gm)).toHaveLength(10);
    expect(doc).toContain('PUBLISH, DUP 0, QoS 0, RETAIN 0');
    expect(doc).toContain('PUBLISH, DUP 0, QoS 1, RETAIN 0');
    expect(doc).toContain('§3.1.2.10 [MQTT-3.1.2-23]');
  });

  it('never shows the password, not even as bytes', () => {
    const doc = readFileSync(DOC, 'utf8');
    const { password } = signCredentials({ ...DOC_DEVICE, clientId: 'lamp-01', timestamp: DOC_TIMESTAMP });
    expect(doc).not.toContain(password);
    expect(doc).not.toContain(Buffer.from(password).toString('hex').slice(0, 12).replace(/(..)(?!$)/g, '$1 '));
    expect(doc).toContain('[64 bytes redacted]');
  });

  it('the script confirms the committed file with --check (exit 0) and catches a stale one (exit 1)', async () => {
    const fresh = await script('--check');
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('is up to date');
    const stale = join(mkdtempSync(join(tmpdir(), 'aliot-doc-')), 'protocol.md');
    writeFileSync(stale, readFileSync(DOC, 'utf8').replace('PINGRESP: yes', 'PINGRESP: no'));
    const result = await script('--check', '--file', stale);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is stale: run npm run docs');
  });
});
