/** `aliot emulator` for gateways: registered devices without a secret, --topology, sub-device logins logged. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectGateway } from '../../src/device/index.js';
import { run } from './helpers.js';

const CA = readFileSync(fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url)), 'utf8');

/** `aliot emulator ...` in this process until it prints its banner; abort() stands in for Ctrl-C. */
async function start(argv: string[]): Promise<{ port: number; output: () => string; waitFor: (text: string) => Promise<void>; stop: () => Promise<{ code: number; stdout: string; stderr: string }> }> {
  const controller = new AbortController();
  let output = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const result = run(['emulator', ...argv], {
    signal: controller.signal,
    onStdout: (_text, all) => {
      output = all;
      for (const w of waiters.filter((x) => all.includes(x.text))) w.resolve();
    },
  });
  const waitFor = (text: string): Promise<void> => (output.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve })));
  await Promise.race([waitFor('Ctrl-C stops it'), result.then((r) => Promise.reject(new Error(`emulator ended: ${r.stderr}`)))]);
  return {
    port: Number(/listening on mqtts:\/\/\[::1\]:(\d+)/.exec(output)![1]),
    output: () => output,
    waitFor,
    stop: () => {
      controller.abort();
      return result;
    },
  };
}

describe('aliot emulator for gateways', () => {
  it('takes a topology and a device without a secret, and logs sub-device logins and logouts', async () => {
    const emulator = await start(['--device', 'a1Gw:gw1:gw-secret', '--device', 'a1Meter:m1:m1-secret', '--device', 'a1Meter:m2:', '--topology', 'a1Gw:gw1:a1Meter:m1']);
    expect(emulator.output()).toContain('devices: gw1 of a1Gw, m1 of a1Meter, m2 of a1Meter (registered, not activated)');
    expect(emulator.output()).toContain('topology of gw1 of a1Gw: m1 of a1Meter');
    const gateway = await connectGateway({ productKey: 'a1Gw', deviceName: 'gw1', deviceSecret: 'gw-secret', endpoint: { host: '::1', port: emulator.port }, ca: CA });
    try {
      const m1 = await gateway.login({ productKey: 'a1Meter', deviceName: 'm1', deviceSecret: 'm1-secret' });
      await emulator.waitFor('[1] m1 of a1Meter logged in through gw1 of a1Gw');
      const [m2] = await gateway.registerSubDevices([{ productKey: 'a1Meter', deviceName: 'm2' }]);
      await gateway.addTopology([m2!]);
      await gateway.login(m2!);
      await emulator.waitFor('[1] m2 of a1Meter logged in through gw1 of a1Gw');
      await m1.logout();
      await emulator.waitFor('[1] m1 of a1Meter logged out through gw1 of a1Gw: logout');
    } finally {
      await gateway.end();
    }
    await emulator.waitFor('[1] m2 of a1Meter logged out through gw1 of a1Gw: gateway-offline');
    const result = await emulator.stop();
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('m1-secret');
  });

  it.each([
    [['--device', 'a1Gw:gw1:s', '--topology', 'a1Gw:gw1:a1Meter'], '--topology number 1 is not GW_PK:GW_DN:PK:DN'],
    [['--device', 'a1Gw:gw1:s', '--topology', 'a1Gw:gw1:a1Meter:ghost'], 'topology[0].subDevices[0]: device ghost of product a1Meter is not in devices'],
    [['--device', 'a1Gw:gw1:s', '--topology', 'a1Gw:gw1:a1Gw:gw1'], 'a gateway cannot be its own sub-device'],
  ])('exits 1 for %j', async (argv, text) => {
    const result = await run(['emulator', ...argv]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(text);
  });
});
