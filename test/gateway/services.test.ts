/**
 * The device services through a gateway: the gateway's own (its `device` handle), and a
 * logged-in sub-device's NTP and shadow topics carried over the gateway's connection, which the
 * stand-in answers as the sub-device's; a sub-device that is not logged in gets no answer.
 */
import { describe, expect, it } from 'vitest';
import { serviceTopic } from '../../src/aliyun/service-topics.js';
import { openShadow, syncTime, updateTags } from '../../src/device/index.js';
import { gatewayRig, GATEWAY, meter } from './fixtures.js';

const rig = gatewayRig();

function nextMessage(gateway: { client: { once: (event: 'message', listener: (topic: string, payload: Buffer) => void) => unknown } }): Promise<[string, Record<string, unknown>]> {
  return new Promise((resolve) => gateway.client.once('message', (topic, payload) => resolve([topic, JSON.parse(payload.toString()) as Record<string, unknown>])));
}

describe('device services through a gateway', () => {
  it('the gateway’s own: syncTime, tags and the shadow on its device handle', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    expect((await syncTime(gateway.device)).roundTrip).toBeGreaterThanOrEqual(0);
    await updateTags(gateway.device, { site: 'plant-7' });
    expect(emulator.tags(GATEWAY.productKey, GATEWAY.deviceName)).toEqual({ site: 'plant-7' });
    const shadow = await openShadow(gateway.device);
    expect(await shadow.report({ uptime: 5 })).toBe(1);
  });

  it('a logged-in sub-device’s NTP and shadow requests, over the gateway’s connection, are answered as its own', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const sub = meter(1);
    await gateway.login(sub);
    const ntpResponse = serviceTopic('ntp-response', sub);
    await gateway.client.subscribe([ntpResponse, serviceTopic('shadow-get', sub)], { qos: 1 });
    let answer = nextMessage(gateway);
    await gateway.client.publish(serviceTopic('ntp-request', sub), JSON.stringify({ deviceSendTime: '1000' }), { qos: 1 });
    expect(await answer).toMatchObject([ntpResponse, { deviceSendTime: '1000' }]);
    answer = nextMessage(gateway);
    await gateway.client.publish(serviceTopic('shadow-update', sub), JSON.stringify({ method: 'update', state: { reported: { kwh: 12 } }, version: 1 }), { qos: 1 });
    expect((await answer)[1]).toMatchObject({ method: 'reply', payload: { status: 'success', version: 1 } });
    expect(emulator.shadow(sub.productKey, sub.deviceName)).toMatchObject({ reported: { kwh: 12 }, version: 1 });
  });

  it('a sub-device that is not logged in gets no answer, and its shadow is left alone', async () => {
    const { emulator, connect } = await rig();
    const gateway = await connect();
    const sub = meter(2);
    await gateway.client.subscribe(serviceTopic('shadow-get', sub), { qos: 1 });
    await gateway.client.publish(serviceTopic('shadow-update', sub), JSON.stringify({ method: 'update', state: { reported: { kwh: 1 } }, version: 1 }), { qos: 1 });
    await syncTime(gateway.device); // a round trip after the stray request
    expect(emulator.shadow(sub.productKey, sub.deviceName)).toMatchObject({ reported: {}, version: 0 });
  });
});
