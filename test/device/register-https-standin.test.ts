/**
 * Dynamic registration over HTTPS against the stand-in's own registration endpoint (a route on its
 * HTTPS server), and a configuration file the stand-in serves, fetched and checked end to end.
 */
import { describe, expect, it } from 'vitest';
import { getConfig, onConfigPush, fetchConfigFile, registerDevice, RegistrationError } from '../../src/device/index.js';
import type { ConfigFile } from '../../src/aliyun/index.js';
import type { Emulator, RegisterEvent } from '../../src/emulator/index.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';
import { connect, rejection } from './service-support.js';

const PRODUCT = { productKey: 'a1HttpsProduct', productSecret: 'HttpsProductS3cret' };
const start = emulatorPerTest();

function options(emulator: Emulator, deviceName: string, productSecret = PRODUCT.productSecret): Parameters<typeof registerDevice>[0] {
  return { productKey: PRODUCT.productKey, deviceName, productSecret, host: '::1', port: emulator.https!.port, ca: emulator.ca };
}

describe('registerDevice against the stand-in', () => {
  it('the endpoint is up from the start for a product open to registration; the secret is the device’s until it connects', async () => {
    const emulator = await start({
      devices: [LAMP, { productKey: PRODUCT.productKey, deviceName: 'meter-1', deviceSecret: '' }, { productKey: PRODUCT.productKey, deviceName: 'meter-2', deviceSecret: '' }],
      products: [PRODUCT],
    });
    expect(emulator.https).toBeDefined();
    const registered: RegisterEvent[] = [];
    emulator.on('register', (event) => registered.push(event));
    const credentials = await registerDevice(options(emulator, 'meter-1'));
    expect(credentials.deviceSecret).toMatch(/^[0-9a-f]{32}$/);
    expect(registered).toEqual([{ productKey: PRODUCT.productKey, deviceName: 'meter-1', authType: 'https' }]);
    expect((await registerDevice(options(emulator, 'meter-1'))).deviceSecret).toBe(credentials.deviceSecret);
    const device = await connect(emulator, {}, { ...credentials });
    expect(await device.postProperties({ n: 1 })).toMatchObject({ code: 200 });
    const again = await rejection(registerDevice(options(emulator, 'meter-1')));
    expect(again).toMatchObject({ code: 'refused', platformCode: 460 });
    expect(again.message).toContain('already activated');

    const wrong = await rejection(registerDevice(options(emulator, 'meter-2', 'WrongProductSecret')));
    expect(wrong).toBeInstanceOf(RegistrationError);
    expect(wrong).toMatchObject({ code: 'refused', platformCode: 401 });
    expect(wrong.message).not.toMatch(/WrongProductSecret|HttpsProductS3cret/);
    expect(await rejection(registerDevice(options(emulator, 'never-added')))).toMatchObject({ platformCode: 6100 });
    emulator.gateway.disable(PRODUCT.productKey, 'meter-2');
    expect(await rejection(registerDevice(options(emulator, 'meter-2')))).toMatchObject({ platformCode: 6204 });
  });

  it('a form that cannot be read is 460; a product closed to registration 401', async () => {
    const emulator = await start({ products: [PRODUCT], devices: [LAMP] });
    const closed = await rejection(registerDevice({ ...options(emulator, LAMP.deviceName), productKey: LAMP.productKey }));
    expect(closed).toMatchObject({ platformCode: 401 });
    expect(closed.message).toContain('not open to dynamic registration');
  });
});

describe('a configuration file the stand-in serves', () => {
  it('publishConfig serves it; getConfig, fetchConfigFile and a push handler get it, size and digest checked', async () => {
    const emulator = await start();
    const device = await connect(emulator);
    const published = await emulator.publishConfig(LAMP.productKey, '{"sampleRate":10}\n');
    expect(published).toMatchObject({ configSize: 18, signMethod: 'sha256', getType: 'file', url: expect.stringMatching(/^https:\/\/\[::1\]:\d+\/config\/[0-9a-f]{32}$/) as string });
    const config = (await getConfig(device))!;
    expect(config).toEqual(published);
    expect((await fetchConfigFile(config, { ca: emulator.ca })).toString()).toBe('{"sampleRate":10}\n');

    const fetched: string[] = [];
    await onConfigPush(device, async (file: ConfigFile) => {
      fetched.push((await fetchConfigFile(file, { ca: emulator.ca })).toString());
    });
    const next = await emulator.publishConfig(LAMP.productKey, Buffer.from('rate=20'), { signMethod: 'md5', configId: 'v2' });
    expect(await emulator.pushConfig(LAMP.productKey, LAMP.deviceName)).toMatchObject({ code: 200 });
    expect(fetched).toEqual(['rate=20']);
    expect(next).toMatchObject({ configId: 'v2', signMethod: 'md5' });
  });
});
