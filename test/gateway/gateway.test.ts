/**
 * A gateway and its sub-devices end to end against the stand-in over TLS on [::1]: topology,
 * logins, a sub-device used as a device, the shared subscription set, batch posts.
 */
import { describe, expect, it } from 'vitest';
import { ALINK_REPLY_CODES } from '../../src/device/index.js';
import { gatewayRig, GATEWAY, id, meter, METERS, recordSubscriptions, recordUp } from './fixtures.js';

const rig = gatewayRig();

describe('gateway: sub-devices as devices', () => {
  it('logs sub-devices in with one batch and posts, answers and publishes for them over its connection', async () => {
    const { emulator, connect } = await rig();
    const subscribes = recordSubscriptions(emulator);
    const up = recordUp(emulator);
    const gateway = await connect();
    const subs = await gateway.loginAll(METERS);
    expect(subs.map((s) => s.deviceName)).toEqual(['meter1', 'meter2', 'meter3']);
    expect(subs.every((s) => s.online)).toBe(true);
    expect(gateway.onlineCount).toBe(3);
    expect(emulator.gateway.subDevicesOnline(GATEWAY.productKey, GATEWAY.deviceName)).toEqual(METERS.map(id));
    const logins = up.filter((m) => m.topic.endsWith('/combine/batch_login'));
    expect(logins).toHaveLength(1);
    expect(logins[0]!.qos).toBe(0);

    const reply = await subs[0]!.postProperties({ Power: 12.5 });
    expect(reply.code).toBe(ALINK_REPLY_CODES.success);
    subs[1]!.onPropertySet((params) => ({ applied: params }));
    const set = await emulator.sendPropertySet('a1MeterPk', 'meter2', { Relay: 1 });
    expect(set).toMatchObject({ code: 200, data: { applied: { Relay: 1 } } });
    subs[2]!.onService('reset', () => ({ ok: true }));
    const call = await emulator.callService('a1MeterPk', 'meter3', 'reset', {});
    expect(call).toMatchObject({ code: 200, data: { ok: true } });
    // One SUBSCRIBE for everything, whatever the number of sub-devices.
    expect(subscribes).toHaveLength(1);
  });
});
