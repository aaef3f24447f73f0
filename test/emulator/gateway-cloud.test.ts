/**
 * The stand-in's device registry and gateway side seen from a bare MQTT client: devices without a
 * secret, disabled devices, the topology option, the `subdevice` event, QoS 0 to sub-devices.
 */
import { describe, expect, it } from 'vitest';
import { buildBatchLogin, buildSubLogin, parseBatchSessionReply } from '../../src/aliyun/index.js';
import { EmulatorError, startEmulator } from '../../src/emulator/index.js';
import type { EmulatorDevice, SubDeviceEvent } from '../../src/emulator/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { connectDevice, connected, subscribe } from './raw-client.js';
import { emulatorPerTest, LAMP } from './fixtures.js';

const start = emulatorPerTest();
const GW: EmulatorDevice = { productKey: 'a1Gw', deviceName: 'gw', deviceSecret: 'gw-secret' };
const SUB: EmulatorDevice = { productKey: 'a1Sub', deviceName: 'sub', deviceSecret: 'sub-secret' };
const identity = (d: EmulatorDevice): { productKey: string; deviceName: string } => ({ productKey: d.productKey, deviceName: d.deviceName });

function publish(client: Awaited<ReturnType<typeof connected>>, topic: string, payload: string): void {
  client.send({ type: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false });
}

describe('the device registry', () => {
  it('refuses a device registered without a secret with CONNACK 5, saying it is not activated', async () => {
    const emulator = await start({ devices: [LAMP, { ...SUB, deviceSecret: '' }] });
    const refused = new Promise<string>((resolve) => emulator.once('refuse', (event) => resolve(event.message)));
    const { connack } = await connectDevice(emulator, SUB);
    expect(connack.returnCode).toBe(5);
    expect(await refused).toContain('registered but not activated');
  });

  it('disconnects a device the console disables, and refuses it with CONNACK 5 until it is enabled', async () => {
    const emulator = await start();
    const client = await connected(emulator, LAMP);
    const left = new Promise<string>((resolve) => emulator.once('disconnect', (event) => resolve(event.reason)));
    emulator.gateway.disable(LAMP.productKey, LAMP.deviceName);
    expect(await left).toBe('kicked');
    await client.expectClosed();
    const refused = new Promise<string>((resolve) => emulator.once('refuse', (event) => resolve(event.message)));
    expect((await connectDevice(emulator, LAMP)).connack.returnCode).toBe(5);
    expect(await refused).toContain('is disabled in the console');
    emulator.gateway.enable(LAMP.productKey, LAMP.deviceName);
    expect((await connectDevice(emulator, LAMP)).connack.returnCode).toBe(0);
  });

  it('checks the devices and topology options', async () => {
    await expect(startEmulator({ devices: [GW, SUB], topology: [{ gateway: identity(GW), subDevices: [{ productKey: 'a1Sub', deviceName: 'ghost' }] }] })).rejects.toMatchObject({ field: 'topology[0].subDevices[0]' });
    await expect(startEmulator({ devices: [GW, SUB], topology: [{ gateway: identity(GW), subDevices: [identity(GW)] }] })).rejects.toThrow('a gateway cannot be its own sub-device');
    const twice = [{ gateway: identity(GW), subDevices: [identity(SUB)] }, { gateway: identity(LAMP), subDevices: [identity(SUB)] }];
    await expect(startEmulator({ devices: [GW, SUB, LAMP], topology: twice })).rejects.toThrow('a sub-device has one gateway');
    await expect(startEmulator({ devices: [{ ...GW, deviceSecret: 7 as unknown as string }] })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(startEmulator({ devices: [GW], topology: 'gw' as unknown as [] })).rejects.toMatchObject({ field: 'topology' });
  });

  it('throws not-connected from the console API for a device never registered', async () => {
    const emulator = await start();
    expect(() => emulator.gateway.disable('a1Nope', 'x')).toThrow(EmulatorError);
    expect(() => emulator.gateway.addTopology(LAMP.productKey, LAMP.deviceName, [{ productKey: 'a1Nope', deviceName: 'x' }])).toThrow(/not registered/);
    expect(emulator.gateway.topology('a1Nope', 'x')).toEqual([]);
  });
});

describe('sub-device sessions', () => {
  it('reports logins and logouts as subdevice events, and sends to a sub-device at QoS 0 whatever the grant', async () => {
    const emulator = await start({ devices: [GW, SUB], topology: [{ gateway: identity(GW), subDevices: [identity(SUB)] }] });
    const events: SubDeviceEvent[] = [];
    emulator.on('subdevice', (event) => events.push(event));
    const gateway = await connected(emulator, GW);
    await subscribe(gateway, 1, ['/ext/session/a1Gw/gw/combine/login_reply', 1], ['/sys/+/+/thing/service/#', 1]);
    publish(gateway, '/ext/session/a1Gw/gw/combine/login', buildSubLogin({ id: '1', subDevice: SUB }));
    const reply = await gateway.next('publish');
    expect(reply.topic).toBe('/ext/session/a1Gw/gw/combine/login_reply');
    expect(reply.qos).toBe(0);
    expect(JSON.parse(Buffer.from(reply.payload).toString())).toEqual({ id: '1', code: 200, data: identity(SUB) });
    expect(events).toEqual([expect.objectContaining({ action: 'login', reason: 'login', ...identity(SUB), gateway: identity(GW) })]);

    const set = emulator.sendPropertySet(SUB.productKey, SUB.deviceName, { on: 1 });
    const request = await gateway.next('publish');
    expect(request.topic).toBe('/sys/a1Sub/sub/thing/service/property/set');
    expect(request.qos).toBe(0);
    const { id } = JSON.parse(Buffer.from(request.payload).toString()) as { id: string };
    publish(gateway, '/sys/a1Sub/sub/thing/service/property/set_reply', JSON.stringify({ id, code: 200, data: {} }));
    expect(await set).toMatchObject({ id, code: 200 });

    gateway.destroy();
    await new Promise<void>((resolve) => emulator.on('subdevice', (event) => event.action === 'logout' && resolve()));
    expect(events.at(-1)).toMatchObject({ action: 'logout', reason: 'gateway-offline' });
  });

  it('refuses a batch as a whole, naming the sub-devices at fault, and counts no login of it', async () => {
    const emulator = await start({ devices: [GW, SUB, LAMP], topology: [{ gateway: identity(GW), subDevices: [identity(SUB)] }] });
    const gateway = await connected(emulator, GW);
    await subscribe(gateway, 1, ['/ext/session/a1Gw/gw/combine/batch_login_reply', 0]);
    publish(gateway, '/ext/session/a1Gw/gw/combine/batch_login', buildBatchLogin({ id: '2', subDevices: [SUB, LAMP] }));
    const reply = parseBatchSessionReply((await gateway.next('publish')).payload);
    expect(reply).toEqual({ ok: false, id: '2', code: 6401, message: 'topo relation not exist', data: [identity(LAMP)] });
    expect(emulator.gateway.subDevicesOnline(GW.productKey, GW.deviceName)).toEqual([]);
  });
});
