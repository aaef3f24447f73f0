/**
 * What the cloud tells a gateway about its sub-devices, and what the gateway does by itself:
 * logging them in again after a reconnect or a 520, following disable, enable, delete, topology
 * changes and a second login elsewhere. Against the stand-in over TLS on [::1].
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectDevice, GatewayError } from '../../src/device/index.js';
import type { Device, ReloginReport, SubDeviceNotice } from '../../src/device/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { gatewayRig, GATEWAY, id, meter, METERS, next, recordUp } from './fixtures.js';

const rig = gatewayRig();
const GW = [GATEWAY.productKey, GATEWAY.deviceName] as const;

const proxies: FaultProxy[] = [];
const devices: Device[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((device) => device.end({ force: true })));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

function notices(emitter: { on(event: 'notice', listener: (notice: SubDeviceNotice) => void): unknown }): SubDeviceNotice[] {
  const seen: SubDeviceNotice[] = [];
  emitter.on('notice', (notice) => seen.push(notice));
  return seen;
}

describe('after a reconnect', () => {
  it('logs every sub-device in again, in one batch, and holds posts made meanwhile until then', async () => {
    const { emulator, connect } = await rig();
    const proxy = await FaultProxy.start({ target: { host: '::1', port: emulator.port } });
    proxies.push(proxy);
    const gateway = await connect({ endpoint: { host: '::1', port: proxy.port }, reconnect: { initialDelay: 10, maxDelay: 50 } });
    const subs = await gateway.loginAll(METERS);
    const offline = vi.fn();
    const online = vi.fn();
    subs[0]!.on('offline', offline);
    subs[0]!.on('online', online);
    const up = recordUp(emulator);
    const relogin = next<[ReloginReport]>(gateway, 'relogin');
    // The way back stays shut until the test has looked at the sub-devices while the gateway is away.
    proxy.refuse(true);
    proxy.cutAll();
    await vi.waitFor(() => expect(offline).toHaveBeenCalledWith('gateway-offline'));
    expect(subs[0]!.offlineReason).toBe('gateway-offline');
    expect(gateway.onlineCount).toBe(0);
    // A post made while the gateway is away waits for its sub-device's new login.
    const post = subs[0]!.postProperties({ during: 'outage' });
    proxy.refuse(false);
    const [report] = await relogin;
    expect(report.loggedIn.map((s) => s.deviceName)).toEqual(['meter1', 'meter2', 'meter3']);
    expect(report.failed).toEqual([]);
    expect(online).toHaveBeenCalledTimes(1);
    expect((await post).code).toBe(200);
    const topics = up.map((m) => m.topic);
    const login = topics.indexOf('/ext/session/a1GatewayPk/gw1/combine/batch_login');
    expect(login).toBeGreaterThanOrEqual(0);
    expect(topics.indexOf('/sys/a1MeterPk/meter1/thing/event/property/post')).toBeGreaterThan(login);
    expect(topics.filter((t) => t.endsWith('/combine/batch_login'))).toHaveLength(1);
    expect(emulator.gateway.subDevicesOnline(...GW)).toEqual(METERS.map(id));
  });
});

describe('notices from the cloud', () => {
  it('520 for a dropped session: the post it names fails with no-session, and the gateway logs the sub-device in again', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const seen = notices(gateway);
    const [sub] = await gateway.loginAll([METERS[0]!]);
    expect(emulator.gateway.dropSession('a1MeterPk', 'meter1')).toBe(true);
    const relogin = next<[ReloginReport]>(gateway, 'relogin');
    const error = (await sub!.postProperties({ a: 1 }).catch((e: unknown) => e)) as GatewayError;
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.code).toBe('no-session');
    expect(error.message).toMatch(/520/);
    expect(seen).toContainEqual(expect.objectContaining({ kind: 'no-session', code: 520, ...id(METERS[0]!) }));
    const [report] = await relogin;
    expect(report.loggedIn.map((s) => s.deviceName)).toEqual(['meter1']);
    expect(sub!.online).toBe(true);
    expect((await sub!.postProperties({ a: 2 })).code).toBe(200);
  });

  it('disabled (522 and topology change 8): offline; enabled (topology change 2): logged in again by itself', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const seen = notices(gateway);
    const topology = vi.fn();
    gateway.on('topology', topology);
    const [sub] = await gateway.loginAll([METERS[0]!]);
    const offline = next<[string]>(sub!, 'offline');
    emulator.gateway.disable('a1MeterPk', 'meter1');
    expect((await offline)[0]).toBe('disabled');
    await vi.waitFor(() => expect(topology).toHaveBeenCalledWith({ status: 'disabled', subDevices: [id(METERS[0]!)] }));
    expect(seen.map((n) => [n.kind, n.code])).toEqual([['disabled', 522], ['disabled', undefined]]);
    await expect(sub!.postProperties({ a: 1 })).rejects.toMatchObject({ code: 'not-logged-in', message: expect.stringContaining('disabled') });
    await expect(gateway.login(METERS[0]!)).rejects.toMatchObject({ name: 'GatewayReplyError', code: 522, replyMessage: 'device forbidden' });

    const online = next<[]>(sub!, 'online');
    emulator.gateway.enable('a1MeterPk', 'meter1');
    await online;
    expect(sub!.online).toBe(true);
    expect((await sub!.postProperties({ back: true })).code).toBe(200);
  });

  it('deleted (521): offline for good; a later login gets 521', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const seen = notices(gateway);
    const [sub] = await gateway.loginAll([METERS[0]!]);
    const offline = next<[string]>(sub!, 'offline');
    emulator.gateway.delete('a1MeterPk', 'meter1');
    expect((await offline)[0]).toBe('deleted');
    await vi.waitFor(() => expect(seen.map((n) => n.kind)).toEqual(['deleted', 'topology-removed']));
    expect(sub!.offlineReason).toBe('topology-removed');
    await expect(gateway.login(METERS[0]!)).rejects.toMatchObject({ code: 521, replyMessage: 'device deleted' });
  });

  it('removed from the topology in the console (6401, topology change 1): offline; added (topology change 0): reported', async () => {
    const extra = meter(9);
    const { emulator, connect } = await rig({ extra: [extra] });
    const up = recordUp(emulator);
    const gateway = await connect();
    const topology = vi.fn();
    gateway.on('topology', topology);
    const [sub] = await gateway.loginAll([METERS[1]!]);
    const offline = next<[string]>(sub!, 'offline');
    emulator.gateway.removeTopology(...GW, [id(METERS[1]!)]);
    expect((await offline)[0]).toBe('topology-removed');
    emulator.gateway.addTopology(...GW, [id(extra)]);
    await vi.waitFor(() => expect(topology).toHaveBeenCalledWith({ status: 'created', subDevices: [id(extra)] }));
    expect(topology).toHaveBeenCalledWith({ status: 'deleted', subDevices: [id(METERS[1]!)] });
    // Each change is answered with 200 on its _reply.
    await vi.waitFor(() => expect(up.filter((m) => m.topic === '/sys/a1GatewayPk/gw1/thing/topo/change_reply').map((m) => m.json['code'])).toEqual([200, 200]));
    expect((await gateway.login(extra)).online).toBe(true);
  });

  it('the same sub-device connecting on its own (427): offline as kicked, and not logged in again behind its back', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const [sub] = await gateway.loginAll([METERS[0]!]);
    const offline = next<[string]>(sub!, 'offline');
    devices.push(await connectDevice({ ...METERS[0]!, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca }));
    expect((await offline)[0]).toBe('kicked');
    await new Promise((resolve) => setImmediate(resolve));
    expect(sub!.online).toBe(false);
    expect(emulator.connections().map((c) => c.deviceName)).toContain('meter1');
  });

  it('the older thing.disable / thing.enable notices on the sub-device\'s own topic are answered and followed', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const [sub] = await gateway.loginAll([METERS[2]!]);
    expect(await emulator.gateway.notify('a1MeterPk', 'meter3', 'disable')).toMatchObject({ code: 200 });
    expect(sub!.offlineReason).toBe('disabled');
  });

  it('with relogin: false, sub-devices stay offline after a 520', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect({}, { relogin: false });
    const [sub] = await gateway.loginAll([METERS[0]!]);
    emulator.gateway.dropSession('a1MeterPk', 'meter1');
    await expect(sub!.postProperties({ a: 1 })).rejects.toMatchObject({ code: 'no-session' });
    expect(sub!.online).toBe(false);
    expect(sub!.offlineReason).toBe('no-session');
    await expect(sub!.postProperties({ a: 1 })).rejects.toMatchObject({ code: 'not-logged-in' });
  });
});
