import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deviceConnectionOptions } from '../../src/aliyun/index.js';
import { MqttClient } from '../../src/client/index.js';
import { MAIN_JS, run } from './helpers.js';
import type { Run } from './helpers.js';

const CA_PATH = fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url));
const DEVICE = { productKey: 'a1Cli', deviceName: 'lamp', deviceSecret: 'cli:secret-with:colons' };
const DEVICE_ARG = `${DEVICE.productKey}:${DEVICE.deviceName}:${DEVICE.deviceSecret}`;

/** `aliot emulator` in-process until `until` has been printed; abort() stands in for Ctrl-C. */
async function startCommand(argv: string[], env: Record<string, string> = {}): Promise<{ port: number; output: () => string; waitFor: (text: string) => Promise<void>; stop: () => Promise<Run> }> {
  const controller = new AbortController();
  let output = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const result = run(['emulator', ...argv], {
    env,
    signal: controller.signal,
    onStdout: (_text, all) => {
      output = all;
      for (const w of waiters.filter((x) => all.includes(x.text))) w.resolve();
    },
  });
  const waitFor = (text: string): Promise<void> =>
    output.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve }));
  await Promise.race([waitFor('Ctrl-C stops it'), result.then((r) => Promise.reject(new Error(`emulator ended: ${r.stderr}`)))]);
  const port = Number(/listening on mqtts?:\/\/\[::1\]:(\d+)/.exec(output)![1]);
  return {
    port,
    output: () => output,
    waitFor,
    stop: () => {
      controller.abort();
      return result;
    },
  };
}

function device(port: number, transport: 'tls' | 'tcp' = 'tls', secret = DEVICE.deviceSecret): MqttClient {
  const c = deviceConnectionOptions({ ...DEVICE, deviceSecret: secret, endpoint: { host: '::1', port }, transport, ca: readFileSync(CA_PATH, 'utf8') });
  return new MqttClient({ ...c, ca: c.ca as string, reconnect: false });
}

describe('aliot emulator', () => {
  it('prints its address and the CA to trust, logs devices, and closes on Ctrl-C with exit 0', async () => {
    const emulator = await startCommand(['--device', DEVICE_ARG]);
    expect(emulator.output()).toContain(`listening on mqtts://[::1]:${emulator.port}`);
    expect(emulator.output()).toContain(`trust the CA certificate in ${CA_PATH}`);
    expect(emulator.output()).toContain(`--endpoint '[::1]:${emulator.port}' --cafile ${CA_PATH}`);
    const client = device(emulator.port);
    await client.connect();
    await emulator.waitFor('[1] lamp of a1Cli connected');
    await client.end();
    await emulator.waitFor('[1] lamp of a1Cli left: client-disconnect');
    const result = await emulator.stop();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/closed: every connection ended, no longer listening\n$/);
    expect(result.stdout + result.stderr).not.toContain(DEVICE.deviceSecret);
  });

  it('logs a refusal with its CONNACK code and reason', async () => {
    const emulator = await startCommand(['--device', DEVICE_ARG]);
    await expect(device(emulator.port, 'tls', 'wrong').connect()).rejects.toMatchObject({ returnCode: 4 });
    await emulator.waitFor('[1] refused with CONNACK 4: bad-signature');
    expect((await emulator.stop()).code).toBe(0);
  });

  it('logs a tool that speaks plain MQTT to its TLS port as a failed handshake', async () => {
    const emulator = await startCommand(['--device', DEVICE_ARG]);
    await expect(device(emulator.port, 'tcp').connect()).rejects.toBeInstanceOf(Error);
    await emulator.waitFor('[1] refused (closed, no CONNACK): tls-handshake-failed');
    expect((await emulator.stop()).code).toBe(0);
  });

  it('traces every packet with --trace, the password masked', async () => {
    const emulator = await startCommand(['--device', DEVICE_ARG, '--trace']);
    const client = device(emulator.port);
    await client.connect();
    await client.ping();
    await client.end();
    await emulator.waitFor('left: client-disconnect');
    const out = (await emulator.stop()).stdout;
    const order = [...out.matchAll(/\[1\] (device -> platform|platform -> device)\s+(\w+)/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(order).toEqual([
      'device -> platform CONNECT',
      'platform -> device CONNACK',
      'device -> platform PINGREQ',
      'platform -> device PINGRESP',
      'device -> platform DISCONNECT',
    ]);
    expect(out).toContain('password=[64 bytes]');
  });

  it('runs over plain TCP with --tcp, and prints the PEM with --pem', async () => {
    const tcp = await startCommand(['--device', DEVICE_ARG, '--tcp']);
    expect(tcp.output()).toContain(`listening on mqtt://[::1]:${tcp.port}`);
    expect(tcp.output()).toContain('securemode=3');
    const client = device(tcp.port, 'tcp');
    await client.connect();
    await client.end();
    expect((await tcp.stop()).code).toBe(0);
    const pem = await startCommand(['--device', DEVICE_ARG, '--pem']);
    expect(pem.output()).toContain(readFileSync(CA_PATH, 'utf8').trim());
    await pem.stop();
  });

  it('takes the secret from ALIOT_DEVICE_SECRET for PK:DN', async () => {
    const emulator = await startCommand(['--device', 'a1Cli:lamp'], { ALIOT_DEVICE_SECRET: DEVICE.deviceSecret });
    const client = device(emulator.port);
    await client.connect();
    await client.end();
    expect((await emulator.stop()).code).toBe(0);
  });

  it.each([
    [[], 'no device'],
    [['--device', 'justone'], '--device number 1 is not PK:DN:SECRET'],
    [['--device', ':lamp:top-secret-value'], '--device number 1 is not PK:DN:SECRET'],
    [['--device', 'pk:dn'], '--device pk:dn has no secret'],
    [['--device', 'p/k:dn:top-secret-value'], 'devices[0].productKey'],
    [['--device', DEVICE_ARG, '--port', '70000'], '--port must be a whole number 0..65535'],
  ])('exits 1 for %j, without quoting a secret', async (argv, text) => {
    const result = await run(['emulator', ...argv]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(text);
    expect(result.stderr).not.toContain('top-secret-value');
  });

  it('has --help and -h, exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const result = await run(['emulator', flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('--device PK:DN[:SECRET]');
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('as a process: starts, serves a device, and closes cleanly on %s with exit 0', async (signal) => {
    const child = spawn(process.execPath, [MAIN_JS, 'emulator', '--device', DEVICE_ARG], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('Ctrl-C stops it')) resolve();
      }),
    );
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => resolve([code, sig])));
    let connected: MqttClient | undefined;
    try {
      await ready;
      connected = device(Number(/\[::1\]:(\d+)/.exec(stdout)![1]));
      await connected.connect();
      child.kill(signal);
      expect(await exited).toEqual([0, null]);
      expect(stdout).toContain('[1] lamp of a1Cli left: server-closed');
      expect(stdout).toMatch(/closed: every connection ended, no longer listening\n$/);
      expect(stderr).toBe('');
    } finally {
      // A failed step must not leave the child running.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await connected?.end();
    }
  });
});
