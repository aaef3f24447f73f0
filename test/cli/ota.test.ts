/**
 * `aliot ota` against the stand-in, and `aliot emulator`'s OTA flags, run in-process as a user
 * runs them from a shell: exit codes, what is printed, what is left on disk.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectDevice, createOta } from '../../src/device/index.js';
import type { OtaFirmware } from '../../src/device/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';
import { run } from './helpers.js';
import type { Run, RunOptions } from './helpers.js';

const start = emulatorPerTest();
const CA_PATH = fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url));
const FILE = randomBytes(300_000);
const ENV = { ALIOT_DEVICE_SECRET: LAMP.deviceSecret };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aliot-ota-cli-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function ota(emulator: Emulator, extra: string[], options: RunOptions = {}): Promise<Run> {
  const argv = ['ota', '--product-key', LAMP.productKey, '--device-name', LAMP.deviceName, '--endpoint', `[::1]:${emulator.port}`, '--cafile', CA_PATH, ...extra];
  return run(argv, { env: ENV, ...options });
}

/** An executable shell script in the test's directory. */
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('aliot ota', () => {
  it('--once: reports the version, downloads the pushed job with progress, leaves the verified file and says how to finish', async () => {
    const emulator = await start();
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2.0.0', file: FILE });
    const result = await ota(emulator, ['--module', 'default=1.0.0', '--dir', dir, '--once']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('lamp of a1TestProduct: reported default 1.0.0');
    expect(result.stdout).toContain(`job: default 1.0.0 -> 2.0.0, 300 kB, md5 ${job.sign}`);
    expect(result.stdout).toMatch(/\[#{24}\] 100 %  300 kB of 300 kB/);
    expect(result.stdout).toContain(`downloaded and verified: ${join(dir, 'default@2.0.0.bin')}`);
    expect(result.stdout).toContain('--module default=2.0.0 --report');
    expect(readFileSync(join(dir, 'default@2.0.0.bin')).equals(FILE)).toBe(true);
    expect(emulator.otaJobs()[0]!.state).toBe('IN_PROGRESS');
    // The user installs it by hand, then:
    const reported = await ota(emulator, ['--module', 'default=2.0.0', '--report']);
    expect(reported.code).toBe(0);
    expect(emulator.otaJobs()[0]!.state).toBe('SUCCEEDED');
  });

  it('--exec: runs the program with the file, and exit 0 reports the new version (SUCCEEDED)', async () => {
    const emulator = await start();
    const flash = script('flash.sh', 'echo "flashing $1 as $ALIOT_OTA_MODULE $ALIOT_OTA_VERSION"; test -f "$ALIOT_OTA_FILE"');
    await emulator.pushOtaJob({ ...LAMP, module: 'MCU', version: '0.9.2', file: FILE });
    const result = await ota(emulator, ['--module', 'default=1', '--module', 'MCU=0.9.1', '--dir', dir, '--exec', flash, '--check', '--once']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`flashing ${join(dir, 'MCU@0.9.2.bin')} as MCU 0.9.2`);
    expect(result.stdout).toContain('installed; reported MCU 0.9.2');
    expect(result.stdout).toContain('no job waits for module default');
    expect(emulator.otaJobs()[0]!.state).toBe('SUCCEEDED');
    expect(emulator.otaVersions(LAMP.productKey, LAMP.deviceName)).toEqual({ default: '1', MCU: '0.9.2' });
  });

  it('--exec: a program that fails reports burn failed (-4); one that cannot run, upgrade failed (-1); exit code 1', async () => {
    const emulator = await start();
    const broken = script('broken.sh', 'echo "flash error" >&2; exit 3');
    await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    const result = await ota(emulator, ['--module', 'default=1', '--dir', dir, '--exec', broken, '--once']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('flash error');
    expect(result.stderr).toContain('job failed: install-failed (reported step -4)');
    expect(emulator.otaJobs()[0]!.progress.at(-1)).toMatchObject({ step: -4, desc: `${broken} exited with 3` });
    await emulator.pushOtaJob({ ...LAMP, version: '3', file: FILE });
    const missing = await ota(emulator, ['--module', 'default=1', '--dir', dir, '--exec', join(dir, 'no-such-program'), '--once']);
    expect(missing.code).toBe(1);
    expect(emulator.otaJobs()[1]!.progress.at(-1)).toMatchObject({ step: -1 });
    expect(emulator.otaJobs()[1]!.progress.at(-1)!.desc).toContain('cannot run');
  });

  it('a file that is not the job’s: exit code 1, the step reported, nothing left in --dir', async () => {
    const emulator = await start();
    await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, sign: 'f'.repeat(32) });
    const result = await ota(emulator, ['--module', 'default=1', '--dir', dir, '--once']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('job failed: digest-mismatch (reported step -3)');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('Ctrl-C mid-download: exit 0, the partial kept; the next run resumes it', async () => {
    const emulator = await start();
    await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, serve: { bytesPerSecond: 100_000 } });
    const controller = new AbortController();
    const stopped = await ota(emulator, ['--module', 'default=1', '--dir', dir], {
      signal: controller.signal,
      onStdout: (_text, all) => {
        if (/\b[1-9]\d? %/.test(all)) controller.abort();
      },
    });
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain('stopped; the download of default 2 resumes');
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/^default@2\.bin\.[0-9a-f]{16}\.part$/)]);
    const statuses: number[] = [];
    emulator.on('http', (entry) => statuses.push(entry.status));
    const resumed = await ota(emulator, ['--module', 'default=1', '--dir', dir, '--once']);
    expect(resumed.code).toBe(0);
    expect(statuses).toEqual([206]);
    expect(readFileSync(join(dir, 'default@2.bin')).equals(FILE)).toBe(true);
  });

  it('--check --once with no job: exit 3 after --timeout; a malformed or missing --module: exit 1, the value not printed back', async () => {
    const emulator = await start();
    const none = await ota(emulator, ['--module', 'default=1', '--dir', dir, '--check', '--once', '--timeout', '0.2']);
    expect(none.code).toBe(3);
    expect(none.stdout).toContain('no job waits for module default');
    expect(none.stderr).toContain('no job was over within 0.2 s');
    const pasted = 'Pasted-Device-Secret-3c9d1e';
    const bad = await ota(emulator, ['--module', pasted]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--module number 1 is not NAME=VERSION');
    expect(bad.stderr + bad.stdout).not.toContain(pasted);
    expect((await ota(emulator, [])).stderr).toContain('say which OTA modules');
    expect((await ota(emulator, ['--module', 'default=1', '--report', '--once'])).code).toBe(1);
    expect((await ota(emulator, ['--module', 'default=1', '--timeout', '1'])).stderr).toContain('--timeout goes with --once');
  });

  it('a stand-in that is not there: exit code 2 with the transport’s reason', async () => {
    const emulator = await start();
    const port = emulator.port;
    await emulator.close();
    const result = await run(['ota', '--product-key', LAMP.productKey, '--device-name', LAMP.deviceName, '--endpoint', `[::1]:${port}`, '--cafile', CA_PATH, '--module', 'default=1'], { env: ENV });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('refused');
  });
});

describe('aliot emulator --ota-job', () => {
  it('serves the job to the device, and logs its states, progress and the file requests', async () => {
    const file = join(dir, 'fw v2.bin');
    writeFileSync(file, FILE);
    const controller = new AbortController();
    let output = '';
    let ready: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (ready = resolve));
    const command = run(
      ['emulator', '--device', `${LAMP.productKey}:${LAMP.deviceName}:${LAMP.deviceSecret}`, '--ota-job', `${LAMP.productKey}:${LAMP.deviceName}:2.0.0:${file}`, '--ota-sign', 'sha256', '--ota-drop-after', '100k'],
      {
        signal: controller.signal,
        onStdout: (_text, all) => {
          output = all;
          if (all.includes('--once\n')) ready();
        },
      },
    );
    await started;
    expect(output).toMatch(/HTTPS \(OTA files\) on https:\/\/\[::1\]:\d+/);
    expect(output).toMatch(/OTA job 1: lamp of a1TestProduct, module default -> 2\.0\.0: https:\/\/\[::1\]:\d+\/ota\/1\/[0-9a-f]{16}\/fw_v2\.bin/);
    const port = Number(/listening on mqtts:\/\/\[::1\]:(\d+)/.exec(output)![1]);
    const device = await connectDevice({ ...LAMP, endpoint: { host: '::1', port }, ca: readFileSync(CA_PATH, 'utf8') });
    const agent = await createOta(device, { directory: dir, modules: { default: '1.0.0' }, ca: readFileSync(CA_PATH, 'utf8'), retryDelay: 1 });
    const firmware = await new Promise<OtaFirmware>((resolve) => agent.once('downloaded', resolve));
    await agent.reportVersion(firmware.version);
    await new Promise<void>((resolve) => {
      const check = (): void => (output.includes('SUCCEEDED') ? resolve() : void setTimeout(check, 10));
      check();
    });
    await agent.close();
    await device.end();
    controller.abort();
    const result = await command;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('[ota] job 1 (lamp of a1TestProduct, default -> 2.0.0): sent to the device (1x)');
    expect(result.stdout).toMatch(/\[https\] GET \/ota\/1\/[0-9a-f]{16}\/fw_v2\.bin: 200, 100 kB, cut short/);
    expect(result.stdout).toMatch(/\[https\] GET \/ota\/1\/[0-9a-f]{16}\/fw_v2\.bin: 206, 200 kB\n/);
    expect(result.stdout).toContain('[ota] job 1 (lamp of a1TestProduct, default -> 2.0.0): 100 % downloaded and verified');
    expect(result.stdout).toContain('SUCCEEDED, the device reported version 2.0.0');
    expect(existsSync(firmware.path)).toBe(true);
  });

  it('refuses a malformed job, one for a device it does not have, a bad rate, OTA flags without a job, an unreadable file', async () => {
    const device = `${LAMP.productKey}:${LAMP.deviceName}:${LAMP.deviceSecret}`;
    const cases: [string[], string][] = [
      [['--ota-job', 'a1TestProduct:lamp:2.0.0'], '--ota-job number 1 is not PK:DN:VERSION:FILE'],
      [['--ota-job', 'a1TestProduct:fan:2:/x.bin'], 'names fan of a1TestProduct, which no --device gives'],
      [['--ota-job', `a1TestProduct:lamp:2:${CA_PATH}`, '--ota-rate', 'fast'], '--ota-rate must be a byte count'],
      [['--ota-module', 'MCU'], '--ota-module goes with --ota-job'],
      [['--ota-job', 'a1TestProduct:lamp:2:/nonexistent/fw.bin'], 'cannot read the firmware file /nonexistent/fw.bin'],
    ];
    for (const [argv, message] of cases) {
      const result = await run(['emulator', '--device', device, ...argv]);
      expect(result.code, message).toBe(1);
      expect(result.stderr, message).toContain(message);
    }
  });
});
