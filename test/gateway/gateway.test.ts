/**
 * A gateway and its sub-devices end to end against the stand-in over TLS on [::1]: topology,
 * registration, logins, a sub-device used as a device, the shared subscription set, batch posts.
 */
import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { signSubDevice } from '../../src/aliyun/index.js';
import { ALINK_REPLY_CODES, GatewayError } from '../../src/device/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { gatewayRig, GATEWAY, id, meter, METERS, recordSubscriptions, recordUp, tag } from './fixtures.js';

const rig = gatewayRig();
const GW = [GATEWAY.productKey, GATEWAY.deviceName] as const;

describe('sub-devices as devices', () => {
  it('logs sub-devices in with one batch and posts, answers and publishes for them over its connection', async () => {
    const { emulator, connect } = await rig();
    const up = recordUp(emulator);
    const gateway = await connect();
    const subs = await gateway.loginAll(METERS);
    expect(subs.map((s) => s.deviceName)).toEqual(['meter1', 'meter2', 'meter3']);
    expect(subs.every((s) => s.online && s.offlineReason === undefined)).toBe(true);
    expect(gateway.onlineCount).toBe(3);
    expect(emulator.gateway.subDevicesOnline(...GW)).toEqual(METERS.map(id));
    const logins = up.filter((m) => m.topic === '/ext/session/a1GatewayPk/gw1/combine/batch_login');
    expect(logins).toHaveLength(1);
    expect(logins[0]!.qos).toBe(0); // session topics are QoS 0 only (page 89300)
    const params = logins[0]!.json['params'] as { signMethod: string; deviceList: Array<Record<string, unknown>> };
    expect(params.signMethod).toBe('hmacSha256');
    expect(params.deviceList.map((d) => d['deviceName'])).toEqual(['meter1', 'meter2', 'meter3']);
    expect(params.deviceList[0]).toMatchObject({ productKey: 'a1MeterPk', clientId: 'a1MeterPk&meter1', cleanSession: 'true' });

    const reply = await subs[0]!.postProperties({ Power: 12.5 });
    expect(reply.code).toBe(ALINK_REPLY_CODES.success);
    const post = up.find((m) => m.topic === '/sys/a1MeterPk/meter1/thing/event/property/post')!;
    expect(post.qos).toBe(0); // sub-device messages are QoS 0 (page 89300)
    expect(post.json).toMatchObject({ id: reply.id, params: { Power: 12.5 }, method: 'thing.event.property.post' });

    const event = await subs[0]!.postEvent('overload', { current: 31 }, { time: 1_700_000_000_000 });
    expect(event.code).toBe(200);
    expect(up.find((m) => m.topic === '/sys/a1MeterPk/meter1/thing/event/overload/post')!.json['params']).toEqual({ value: { current: 31 }, time: 1_700_000_000_000 });

    subs[1]!.onPropertySet((values) => ({ applied: values }));
    expect(await emulator.sendPropertySet('a1MeterPk', 'meter2', { Relay: 1 })).toMatchObject({ code: 200, data: { applied: { Relay: 1 } } });
    subs[2]!.onService('reset', () => ({ ok: true }));
    expect(await emulator.callService('a1MeterPk', 'meter3', 'reset', {})).toMatchObject({ code: 200, data: { ok: true } });
    // Over RRPC: an Alink service request goes to its handler, anything else to onRrpc.
    const viaRrpc = await emulator.rrpc('a1MeterPk', 'meter3', JSON.stringify({ id: '9', version: '1.0', params: {}, method: 'thing.service.reset' }));
    expect(JSON.parse(Buffer.from(viaRrpc).toString())).toMatchObject({ id: '9', code: 200, data: { ok: true } });
    subs[2]!.onRrpc((payload) => `echo ${Buffer.from(payload).toString()}`);
    expect(Buffer.from(await emulator.rrpc('a1MeterPk', 'meter3', 'ping')).toString()).toBe('echo ping');

    await subs[0]!.publish('/a1MeterPk/meter1/user/update', 'raw bytes');
    // QoS 0 resolves once written: the stand-in reads it a moment later.
    await vi.waitFor(() => expect(up.some((m) => m.topic === '/a1MeterPk/meter1/user/update')).toBe(true));
  });

  it('answers a request without a handler with notSupported and reports it on the sub-device', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const [sub] = await gateway.loginAll([METERS[0]!]);
    const errors: Error[] = [];
    sub!.on('error', (error) => errors.push(error));
    expect(await emulator.callService('a1MeterPk', 'meter1', 'nothing', {})).toMatchObject({ code: ALINK_REPLY_CODES.notSupported });
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['no-handler']);
  });

  it('keeps the gateway a device of its own: its posts and property sets still work beside its sub-devices', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    await gateway.login(METERS[0]!);
    expect((await gateway.device.postProperties({ Uptime: 5 })).code).toBe(200);
    gateway.device.onPropertySet(() => ({ gateway: true }));
    expect(await emulator.sendPropertySet(...GW, { Mode: 2 })).toMatchObject({ code: 200, data: { gateway: true } });
  });

  it('refuses, before sending, a publish on a topic that is not the sub-device\'s own, and one while it is offline', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const up = recordUp(emulator);
    const sub = await gateway.login(METERS[0]!);
    await expect(sub.publish('/a1MeterPk/meter2/user/update', 'x')).rejects.toBeInstanceOf(ConfigurationError);
    await expect(sub.publish('/sys/a1GatewayPk/gw1/thing/event/property/post', 'x')).rejects.toMatchObject({ field: 'topic' });
    await expect(sub.postProperties([] as unknown as Record<string, unknown>)).rejects.toMatchObject({ field: 'params' });
    await sub.logout();
    expect(sub.online).toBe(false);
    expect(sub.offlineReason).toBe('logout');
    await expect(sub.postProperties({ a: 1 })).rejects.toMatchObject({ name: 'GatewayError', code: 'not-logged-in' });
    await expect(sub.publish('/a1MeterPk/meter1/user/update', 'x')).rejects.toBeInstanceOf(GatewayError);
    expect(up.filter((m) => m.topic.startsWith('/a1MeterPk/') || m.topic.endsWith('property/post'))).toEqual([]);
  });
});

describe('one shared subscription set', () => {
  it("'wildcard': one SUBSCRIBE at start, the same for 1 or 120 sub-devices, and the device subscribes nothing of its own", async () => {
    const meters = Array.from({ length: 120 }, (_, i) => meter(i + 1));
    const { emulator, connect } = await rig({ extra: meters.slice(3), topology: [{ gateway: id(GATEWAY), subDevices: meters.map(id) }] });
    const subscribes = recordSubscriptions(emulator);
    const up = recordUp(emulator);
    const gateway = await connect();
    await gateway.loginAll(meters);
    expect(subscribes).toHaveLength(1);
    expect(subscribes[0]).toEqual([
      '/sys/a1GatewayPk/gw1/thing/topo/add_reply',
      '/sys/a1GatewayPk/gw1/thing/topo/get_reply',
      '/sys/a1GatewayPk/gw1/thing/topo/delete_reply',
      '/sys/a1GatewayPk/gw1/thing/sub/register_reply',
      '/ext/session/a1GatewayPk/gw1/combine/login_reply',
      '/ext/session/a1GatewayPk/gw1/combine/batch_login_reply',
      '/ext/session/a1GatewayPk/gw1/combine/logout_reply',
      '/ext/session/a1GatewayPk/gw1/combine/batch_logout_reply',
      '/sys/a1GatewayPk/gw1/thing/event/property/pack/post_reply',
      '/sys/a1GatewayPk/gw1/thing/event/property/history/post_reply',
      '/sys/a1GatewayPk/gw1/thing/topo/change',
      '/ext/error/a1GatewayPk/gw1',
      '/sys/+/+/thing/service/#',
      '/sys/+/+/thing/event/+/post_reply',
      '/sys/+/+/rrpc/request/+',
      '/sys/+/+/thing/disable',
      '/sys/+/+/thing/enable',
      '/sys/+/+/thing/delete',
    ]);
    // 120 sub-devices: three batch logins of 50, 50 and 20, in the order given.
    const batches = up.filter((m) => m.topic.endsWith('/combine/batch_login')).map((m) => (m.json['params'] as { deviceList: unknown[] }).deviceList.length);
    expect(batches).toEqual([50, 50, 20]);
    expect(gateway.onlineCount).toBe(120);
    const last = gateway.subDevice('a1MeterPk', 'meter120')!;
    expect((await last.postProperties({ n: 120 })).code).toBe(200);
  });

  it("'per-product': the gateway's own filters at start, then one SUBSCRIBE per new product of sub-devices", async () => {
    const tags = [tag(1), tag(2)];
    const { emulator, connect } = await rig({ extra: tags, topology: [{ gateway: id(GATEWAY), subDevices: [...METERS, ...tags].map(id) }] });
    const subscribes = recordSubscriptions(emulator);
    const gateway = await connect({}, { subscriptions: 'per-product' });
    expect(gateway.subscriptions).toBe('per-product');
    await gateway.loginAll([METERS[0]!, tags[0]!]);
    await gateway.login(METERS[1]!);
    await gateway.login(tags[1]!);
    // The device's own three filters, the gateway's twelve, and one set for both products.
    expect(subscribes.map((s) => s.length)).toEqual([3, 12, 12]);
    expect(subscribes[2]).toContain('/sys/a1MeterPk/+/thing/service/#');
    expect(subscribes[2]).toContain('/sys/a1TagPk/+/thing/service/#');
    gateway.subDevice('a1TagPk', 'tag2')!.onPropertySet(() => ({ tag: 2 }));
    expect(await emulator.sendPropertySet('a1TagPk', 'tag2', { Beep: 1 })).toMatchObject({ code: 200, data: { tag: 2 } });
  });
});

describe('topology and registration', () => {
  it('adds sub-devices (each signed with its own secret), lists and deletes them', async () => {
    const { emulator, connect } = await rig({ emptyTopology: true });
    const up = recordUp(emulator);
    const gateway = await connect();
    expect(await gateway.getTopology()).toEqual([]);
    expect(await gateway.addTopology(METERS)).toEqual(METERS.map(id));
    const add = up.find((m) => m.topic === '/sys/a1GatewayPk/gw1/thing/topo/add')!;
    const entries = add.json['params'] as Array<Record<string, string>>;
    expect(add.json['method']).toBe('thing.topo.add');
    // Each entry verifies with its own sub-device's secret, and no secret is on the wire.
    for (const [i, entry] of entries.entries()) {
      const expected = signSubDevice(METERS[i]!, { timestamp: Number(entry['timestamp']), signMethod: 'hmacsha256' });
      expect(entry).toEqual({ productKey: expected.productKey, deviceName: expected.deviceName, clientId: expected.clientId, timestamp: expected.timestamp, signmethod: 'hmacSha256', sign: expected.sign });
    }
    expect(JSON.stringify(add.json)).not.toContain('-secret');
    expect(await gateway.getTopology()).toEqual(METERS.map(id));
    expect(emulator.gateway.topology(...GW)).toEqual(METERS.map(id));

    const sub = await gateway.login(METERS[0]!);
    expect(await gateway.deleteTopology([id(METERS[0]!)])).toEqual([id(METERS[0]!)]);
    expect(sub.online).toBe(false);
    expect(sub.offlineReason).toBe('topology-removed');
    expect(emulator.gateway.subDevicesOnline(...GW)).toEqual([]);
    expect(await gateway.getTopology()).toEqual(METERS.slice(1).map(id));
  });

  it('adds 70 sub-devices in messages of at most 30', async () => {
    const meters = Array.from({ length: 70 }, (_, i) => meter(i + 1));
    const { emulator, connect } = await rig({ extra: meters.slice(3), emptyTopology: true });
    const up = recordUp(emulator);
    const gateway = await connect();
    expect(await gateway.addTopology(meters)).toHaveLength(70);
    expect(up.filter((m) => m.topic.endsWith('/thing/topo/add')).map((m) => (m.json['params'] as unknown[]).length)).toEqual([30, 30, 10]);
  });

  it('registers a sub-device that has no secret yet (thing.sub.register) and uses the secret it gets', async () => {
    const fresh = { productKey: 'a1MeterPk', deviceName: 'fresh', deviceSecret: '' };
    const { emulator, connect } = await rig({ extra: [fresh] });
    const gateway = await connect();
    const [registered] = await gateway.registerSubDevices([id(fresh)]);
    expect(registered).toMatchObject({ productKey: 'a1MeterPk', deviceName: 'fresh' });
    expect(registered!.deviceSecret).toMatch(/^[0-9a-f]{32}$/);
    expect(registered!.iotId).toEqual(expect.any(String));
    expect(inspect(registered)).not.toContain(registered!.deviceSecret);
    await gateway.addTopology([registered!]);
    const sub = await gateway.login(registered!);
    expect((await sub.postProperties({ first: true })).code).toBe(200);
    expect(emulator.gateway.subDevicesOnline(...GW)).toContainEqual(id(fresh));
  });
});

describe('sessions', () => {
  it('uses combine/login for one and batch_logout for many, and the handle survives a logout and a new login', async () => {
    const { emulator, connect } = await rig();
    const up = recordUp(emulator);
    const gateway = await connect();
    const sub = await gateway.login(METERS[0]!);
    expect(up.filter((m) => m.topic.endsWith('/combine/login'))).toHaveLength(1);
    const set = vi.fn(() => ({}));
    sub.onPropertySet(set);
    expect(await gateway.login(METERS[0]!)).toBe(sub); // online already: no second login
    expect(up.filter((m) => m.topic.endsWith('/combine/login'))).toHaveLength(1);
    await gateway.loginAll(METERS);
    await gateway.logoutAll(METERS.map(id));
    expect(up.filter((m) => m.topic.endsWith('/combine/batch_logout'))).toHaveLength(1);
    expect(gateway.onlineCount).toBe(0);
    expect(gateway.subDevices()).toEqual([]);
    expect(emulator.gateway.subDevicesOnline(...GW)).toEqual([]);
    const again = await gateway.login(METERS[0]!);
    expect(again.online).toBe(true);
    await gateway.logout(again);
    expect(up.filter((m) => m.topic.endsWith('/combine/logout')).map((m) => m.json['params'])).toEqual([id(METERS[0]!)]);
  });

  it('refuses a 2,001st sub-device online before sending anything', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const up = recordUp(emulator);
    const many = Array.from({ length: 2001 }, (_, i) => meter(i + 1));
    await expect(gateway.loginAll(many)).rejects.toThrow(/at most 2000 sub-devices online/);
    await expect(gateway.loginAll([METERS[0]!, METERS[0]!])).rejects.toMatchObject({ field: 'subDevices[1]' });
    await expect(gateway.loginAll([{ ...METERS[0]!, deviceSecret: '' }])).rejects.toMatchObject({ field: 'deviceSecret' });
    await expect(gateway.login({ ...METERS[0]!, deviceName: 'a/b' })).rejects.toBeInstanceOf(ConfigurationError);
    expect(up).toEqual([]);
  });
});

describe('batch posts', () => {
  it('posts the gateway\'s and sub-devices\' values in one packed message', async () => {
    const { emulator, connect } = await rig();
    const up = recordUp(emulator);
    const gateway = await connect();
    await gateway.loginAll(METERS.slice(0, 2));
    const reply = await gateway.postPack({
      properties: { Uptime: { value: 5, time: 1_700_000_000_000 } },
      subDevices: [
        { ...id(METERS[0]!), properties: { Power: { value: 1.5 } } },
        { ...id(METERS[1]!), events: { overload: { value: { current: 31 }, time: 1_700_000_000_001 } } },
      ],
    });
    expect(reply.code).toBe(200);
    const pack = up.find((m) => m.topic === '/sys/a1GatewayPk/gw1/thing/event/property/pack/post')!;
    expect(pack.json).toMatchObject({ id: reply.id, method: 'thing.event.property.pack.post' });
    expect((pack.json['params'] as { subDevices: unknown[] }).subDevices).toEqual([
      { identity: id(METERS[0]!), properties: { Power: { value: 1.5 } } },
      { identity: id(METERS[1]!), events: { overload: { value: { current: 31 }, time: 1_700_000_000_001 } } },
    ]);
    // Over the limits, or for a sub-device that is not online: refused before sending.
    const many = Array.from({ length: 21 }, (_, i) => ({ productKey: 'a1MeterPk', deviceName: `m${i}`, properties: { a: { value: 1 } } }));
    await expect(gateway.postPack({ subDevices: many })).rejects.toMatchObject({ field: 'subDevices' });
    await expect(gateway.postPack({ subDevices: [{ ...id(METERS[2]!), properties: { a: { value: 1 } } }] })).rejects.toMatchObject({ code: 'not-logged-in' });
    expect(up.filter((m) => m.topic.endsWith('/pack/post'))).toHaveLength(1);
  });

  it('posts history: values recorded while offline, each with its time', async () => {
    const { emulator, connect } = await rig();
    const up = recordUp(emulator);
    const gateway = await connect();
    const reply = await gateway.postHistory([
      { ...id(METERS[0]!), properties: [{ Power: { value: 1, time: 1_700_000_000_000 } }, { Power: { value: 2, time: 1_700_000_060_000 } }] },
    ]);
    expect(reply.code).toBe(200);
    expect(up.find((m) => m.topic.endsWith('/history/post'))!.json['method']).toBe('thing.event.property.history.post');
    await expect(gateway.postHistory([{ ...id(METERS[0]!), properties: [{ Power: { value: 1 } }] }])).rejects.toMatchObject({ field: expect.stringContaining('time') });
  });
});
