/**
 * Logging sub-devices in again by itself: in batches of 50 after a reconnect, and within the
 * platform's five logins a minute (a 429 waits a minute, in virtual time shared by the client and
 * the stand-in).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ReloginReport } from '../../src/device/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { gatewayRig, GATEWAY, id, meter, METERS, next, recordUp } from './fixtures.js';

const rig = gatewayRig();
const proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

describe('relogin', () => {
  it('after a reconnect, logs 120 sub-devices in again with batches of 50, 50 and 20', async () => {
    const meters = Array.from({ length: 120 }, (_, i) => meter(i + 1));
    const { emulator, connect } = await rig({ extra: meters.slice(3), topology: [{ gateway: id(GATEWAY), subDevices: meters.map(id) }] });
    const proxy = await FaultProxy.start({ target: { host: '::1', port: emulator.port } });
    proxies.push(proxy);
    const gateway = await connect({ endpoint: { host: '::1', port: proxy.port }, reconnect: { initialDelay: 10, maxDelay: 50 } });
    await gateway.loginAll(meters);
    const up = recordUp(emulator);
    const relogin = next<[ReloginReport]>(gateway, 'relogin');
    proxy.cutAll();
    const [report] = await relogin;
    expect(report.loggedIn).toHaveLength(120);
    expect(up.filter((m) => m.topic.endsWith('/combine/batch_login')).map((m) => (m.json['params'] as { deviceList: unknown[] }).deviceList.length)).toEqual([50, 50, 20]);
    expect(gateway.onlineCount).toBe(120);
    expect(emulator.gateway.subDevicesOnline(GATEWAY.productKey, GATEWAY.deviceName)).toHaveLength(120);
  });

  it('a relogin refused with 429 (a sixth login in a minute) is tried again a minute later', async () => {
    const clock = new VirtualClock(1_000_000);
    const { emulator, connect } = await rig({ clock });
    const gateway = await connect({ clock });
    for (let i = 0; i < 4; i++) {
      await gateway.login(METERS[0]!);
      await gateway.logout(METERS[0]!);
    }
    const sub = await gateway.login(METERS[0]!); // the fifth login this minute
    const online = vi.fn();
    sub.on('online', online);
    emulator.gateway.dropSession('a1MeterPk', 'meter1');
    const relogin = next<[ReloginReport]>(gateway, 'relogin');
    await expect(sub.postProperties({ a: 1 })).rejects.toMatchObject({ code: 'no-session' });
    const [refused] = await relogin;
    expect(refused.failed).toEqual([{ ...id(METERS[0]!), error: expect.objectContaining({ code: 429 }) }]);
    expect(sub.online).toBe(false);
    expect(sub.offlineReason).toBe('no-session');
    const again = next<[ReloginReport]>(gateway, 'relogin');
    clock.advance(59_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(online).not.toHaveBeenCalled();
    clock.advance(1);
    const [report] = await again;
    expect(report.loggedIn.map((s) => s.deviceName)).toEqual(['meter1']);
    expect(online).toHaveBeenCalledTimes(1);
    expect((await sub.postProperties({ a: 2 })).code).toBe(200);
  });
});
