/**
 * createOta as a program runs it: a listener of `downloaded` that throws is not lost in the
 * agent's promises but ends the program as a throwing listener of any Node.js callback would,
 * with its error on stderr. Only a child process shows that (vitest keeps its own alive).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';

const LIBRARY = fileURLToPath(new URL('../../dist/pkg/index.js', import.meta.url));
const EMULATOR = fileURLToPath(new URL('../../dist/pkg/emulator.js', import.meta.url));
const directories: string[] = [];
afterEach(() => {
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it('a downloaded listener that throws ends the program with its error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aliot-ota-program-'));
  directories.push(dir);
  const program = join(dir, 'program.mjs');
  writeFileSync(
    program,
    `
    import { connectDevice, createOta } from ${JSON.stringify(LIBRARY)};
    import { startEmulator } from ${JSON.stringify(EMULATOR)};
    const lamp = { productKey: 'a1Proc', deviceName: 'lamp', deviceSecret: 'lamp-secret' };
    const emulator = await startEmulator({ devices: [lamp] });
    const device = await connectDevice({ ...lamp, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca });
    const ota = await createOta(device, { directory: ${JSON.stringify(dir)}, modules: { default: '1' }, ca: emulator.ca });
    ota.on('downloaded', () => { throw new Error('the install step has a bug'); });
    await emulator.pushOtaJob({ ...lamp, version: '2', file: Buffer.from('firmware') });
    `,
  );
  const child = spawn(process.execPath, [program], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code).toBe(1);
  expect(stderr).toContain('the install step has a bug');
});
