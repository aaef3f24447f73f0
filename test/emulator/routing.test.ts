import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { ConfigurationError } from '../../src/shared/errors.js';
import { EmulatorError, startEmulator } from '../../src/emulator/index.js';
import type { DisconnectEvent, Emulator } from '../../src/emulator/index.js';
import { MqttProtocolError } from '../../src/packet/index.js';
import type { PublishPacket } from '../../src/packet/index.js';
import { connected, subscribe, sync } from './raw-client.js';
import { LAMP, SENSOR } from './fixtures.js';
import type { RawClient } from './raw-client.js';

let emulator: Emulator;
let lamp: RawClient;
let sensor: RawClient;

beforeEach(async () => {
  emulator = await startEmulator({ devices: [LAMP, SENSOR] });
  lamp = await connected(emulator, LAMP);
  sensor = await connected(emulator, SENSOR);
});
afterEach(async () => {
  await emulator.close();
});

const STATUS = '/a1TestProduct/lamp/user/status';

function publish(topic: string, payload: string, qos: 0 | 1 | 2, extra: Partial<PublishPacket> = {}): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...(qos > 0 ? { packetId: 7 } : {}), ...extra };
}

/** The fields of a delivered PUBLISH that matter here, with the payload as text. */
function seen(packet: PublishPacket): { topic: string; text: string; qos: number; retain: boolean; dup: boolean } {
  return { topic: packet.topic, text: Buffer.from(packet.payload).toString(), qos: packet.qos, retain: packet.retain, dup: packet.dup };
}

/** Publishes from LAMP at QoS 1 and waits for its PUBACK: by then the emulator has routed it. */
async function lampPublishes(topic: string, payload: string): Promise<void> {
  lamp.send(publish(topic, payload, 1));
  expect(await lamp.next('puback')).toEqual({ type: 'puback', packetId: 7 });
}

/** Asserts `client` was sent no PUBLISH so far (a PINGREQ round trip flushes what is on its way). */
async function expectNothingDelivered(client: RawClient): Promise<void> {
  await sync(client);
  expect(client.unread.filter((packet) => packet.type === 'publish')).toEqual([]);
}

describe('SUBSCRIBE and UNSUBSCRIBE', () => {
  it('grants the requested QoS up to 1, in order, with the request id [MQTT-3.9.3-1]', async () => {
    expect(await subscribe(sensor, 3, ['a/#', 0], ['b/+', 1], ['c', 2])).toEqual([0, 1, 1]);
  });

  it('stops deliveries after UNSUBSCRIBE, answered with UNSUBACK of the same id', async () => {
    await subscribe(sensor, 1, [STATUS, 0]);
    sensor.send({ type: 'unsubscribe', packetId: 9, topicFilters: [STATUS, 'never/subscribed'] });
    expect(await sensor.next('unsuback')).toEqual({ type: 'unsuback', packetId: 9 });
    await lampPublishes(STATUS, 'on');
    await expectNothingDelivered(sensor);
  });

  it('replaces the grant of a filter subscribed again [MQTT-3.8.4-3]', async () => {
    await subscribe(sensor, 1, [STATUS, 1]);
    await subscribe(sensor, 2, [STATUS, 0]);
    await lampPublishes(STATUS, 'on');
    expect((await sensor.next('publish')).qos).toBe(0);
  });
});

describe('PUBLISH routing', () => {
  it('delivers a QoS 0 publish to a "+" subscription of another device', async () => {
    await subscribe(sensor, 1, ['/a1TestProduct/+/user/status', 0]);
    lamp.send(publish(STATUS, 'on', 0));
    expect(seen(await sensor.next('publish'))).toEqual({ topic: STATUS, text: 'on', qos: 0, retain: false, dup: false });
  });

  it('acknowledges QoS 1 and delivers at QoS 1 with a packet id of its own, awaiting the PUBACK', async () => {
    await subscribe(sensor, 1, ['/a1TestProduct/lamp/#', 1]);
    await lampPublishes(STATUS, 'on');
    const delivered = await sensor.next('publish');
    expect(seen(delivered)).toEqual({ topic: STATUS, text: 'on', qos: 1, retain: false, dup: false });
    expect(delivered.packetId).toBeGreaterThan(0);
    sensor.send({ type: 'puback', packetId: delivered.packetId! });
    await sync(sensor);
  });

  it('lets "#" match the parent level (section 4.7.1.2)', async () => {
    await subscribe(sensor, 1, ['/a1TestProduct/lamp/user/#', 0]);
    await lampPublishes('/a1TestProduct/lamp/user', 'parent');
    expect(Buffer.from((await sensor.next('publish')).payload).toString()).toBe('parent');
  });

  it('delivers at the lower of the published QoS and the grant', async () => {
    await subscribe(sensor, 1, [STATUS, 0]);
    await lampPublishes(STATUS, 'on');
    const delivered = await sensor.next('publish');
    expect(seen(delivered)).toEqual({ topic: STATUS, text: 'on', qos: 0, retain: false, dup: false });
    expect(delivered.packetId).toBeUndefined();
  });

  it('delivers once, at the highest grant, when several filters match [MQTT-3.3.5-1]', async () => {
    await subscribe(sensor, 1, ['#', 0], ['/a1TestProduct/+/user/+', 1], [STATUS, 0]);
    await lampPublishes(STATUS, 'on');
    const delivered = await sensor.next('publish');
    expect(delivered.qos).toBe(1);
    await expectNothingDelivered(sensor);
  });

  it('does not deliver to filters that do not match', async () => {
    await subscribe(sensor, 1, ['/a1TestProduct/sensor/#', 1], ['/a1TestProduct/lamp/user/status/+', 1]);
    await lampPublishes(STATUS, 'on');
    await expectNothingDelivered(sensor);
  });

  it('never delivers a device its own message, even to a matching subscription of its own', async () => {
    // The platform takes a device's message in; it reaches a subscription only through a route
    // between two different custom topics (CreateTopicRouteTable), never back to its sender.
    await subscribe(lamp, 1, [STATUS, 1], ['#', 1]);
    await subscribe(sensor, 1, [STATUS, 0]);
    await lampPublishes(STATUS, 'no echo');
    expect(Buffer.from((await sensor.next('publish')).payload).toString()).toBe('no echo');
    await expectNothingDelivered(lamp);
  });

  it('answers the vendor Node.js SDK 1.2.8 config push without handing it its own push_reply', async () => {
    // The SDK's exact packets (lib/thing.js _subscribePresetTopic, onConfig): it subscribes to its
    // own upstream push_reply at QoS 1, and its onConfig gets every message under thing/config/
    // but get_reply, so an echoed push_reply reads as a new push, is answered, and loops.
    const push = '/sys/a1TestProduct/lamp/thing/config/push';
    expect(await subscribe(lamp, 1, [push, 1], [`${push}_reply`, 1])).toEqual([1, 1]);
    emulator.setConfig('a1TestProduct', {
      configId: 'c0ffee',
      configSize: 4,
      sign: 'a'.repeat(64),
      signMethod: 'sha256',
      url: 'https://[::1]:8443/config/c0ffee',
      getType: 'file',
    });
    const replied = emulator.pushConfig('a1TestProduct', 'lamp');
    const request = await lamp.next('publish');
    expect(request.topic).toBe(push);
    lamp.send({ type: 'puback', packetId: request.packetId! });
    const { id } = JSON.parse(Buffer.from(request.payload).toString()) as { id: string };
    lamp.send(publish(`${push}_reply`, JSON.stringify({ id, code: 200, data: {} }), 0));
    expect(await replied).toMatchObject({ id, code: 200 });
    await expectNothingDelivered(lamp);
  });

  it.each([
    ['a QoS 2 PUBLISH', publish(STATUS, 'x', 2)],
    ['a retained PUBLISH', publish(STATUS, 'x', 0, { retain: true })],
    ['a retained QoS 1 PUBLISH', publish(STATUS, 'x', 1, { retain: true })],
    ['a PUBREL', { type: 'pubrel', packetId: 1 } as const],
    ['a PUBREC', { type: 'pubrec', packetId: 1 } as const],
  ])('refuses %s by closing the connection, delivering nothing', async (_, packet) => {
    await subscribe(sensor, 1, ['#', 1]);
    const disconnected = once(emulator, 'disconnect') as Promise<[DisconnectEvent]>;
    lamp.send(packet);
    await lamp.expectClosed();
    expect(lamp.unread).toEqual([]); // no PUBACK, no PUBREC
    expect((await disconnected)[0]).toMatchObject({ deviceName: 'lamp', reason: 'unsupported-feature' });
    await expectNothingDelivered(sensor);
  });

  it.each([
    ['CONNACK', { type: 'connack', sessionPresent: false, returnCode: 0 } as const],
    ['SUBACK', { type: 'suback', packetId: 1, returnCodes: [0] } as const],
    ['PINGRESP', { type: 'pingresp' } as const],
  ])('closes a connection that sends %s, a server-to-client packet [MQTT-4.8.0-1]', async (_, packet) => {
    const disconnected = once(emulator, 'disconnect') as Promise<[DisconnectEvent]>;
    lamp.send(packet);
    await lamp.expectClosed();
    expect((await disconnected)[0]).toMatchObject({ reason: 'protocol-error' });
  });

  it('closes quietly on DISCONNECT', async () => {
    const disconnected = once(emulator, 'disconnect') as Promise<[DisconnectEvent]>;
    lamp.send({ type: 'disconnect' });
    await lamp.expectClosed();
    expect(lamp.unread).toEqual([]);
    expect((await disconnected)[0]).toMatchObject({ productKey: 'a1TestProduct', deviceName: 'lamp', reason: 'client-disconnect' });
    expect(emulator.connections().map((c) => c.deviceName)).toEqual(['sensor']);
  });

  it('reports a device that drops the connection without DISCONNECT', async () => {
    const disconnected = once(emulator, 'disconnect') as Promise<[DisconnectEvent]>;
    lamp.destroy();
    expect((await disconnected)[0]).toMatchObject({ deviceName: 'lamp', reason: 'connection-lost' });
  });
});

describe('emulator.publish (as the cloud)', () => {
  it('sends QoS 0 to every matching subscription', async () => {
    await subscribe(lamp, 1, ['/broadcast/#', 0]);
    await subscribe(sensor, 1, ['/broadcast/+', 1]);
    await emulator.publish('/broadcast/news', 'hello');
    const expected = { topic: '/broadcast/news', text: 'hello', qos: 0, retain: false, dup: false };
    expect(seen(await lamp.next('publish'))).toEqual(expected);
    expect(seen(await sensor.next('publish'))).toEqual(expected);
  });

  it('resolves a QoS 1 publish only once the device acknowledges it', async () => {
    await subscribe(sensor, 1, ['/broadcast/+', 1]);
    let settled = false;
    const published = emulator.publish('/broadcast/news', Buffer.from('hello'), 1).then(() => {
      settled = true;
    });
    const delivered = await sensor.next('publish');
    expect(delivered.qos).toBe(1);
    expect(settled).toBe(false);
    sensor.send({ type: 'puback', packetId: delivered.packetId! });
    await published;
    expect(settled).toBe(true);
  });

  it('rejects with not-acknowledged when the subscriber goes before its PUBACK', async () => {
    await subscribe(sensor, 1, ['/broadcast/+', 1]);
    const published = emulator.publish('/broadcast/news', 'hello', 1);
    await sensor.next('publish');
    sensor.destroy();
    const error = await published.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EmulatorError);
    expect((error as EmulatorError).code).toBe('not-acknowledged');
  });

  it('resolves at once when nobody subscribes', async () => {
    await emulator.publish('/nobody/listens', 'x', 1);
  });

  it('refuses a topic with a wildcard and a QoS other than 0 or 1', async () => {
    await expect(emulator.publish('/a/+', 'x')).rejects.toBeInstanceOf(MqttProtocolError);
    await expect(emulator.publish('/a', 'x', 2 as 1)).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('never gives a delivery a packet id still in flight, and says so when none is left [MQTT-2.3.1-2]', async () => {
    await subscribe(sensor, 1, ['/flood', 1]);
    const all = 65_535;
    const deliveries = Array.from({ length: all }, () => emulator.publish('/flood', 'x', 1));
    const ids = new Set<number>();
    for (let i = 0; i < all; i++) ids.add((await sensor.next('publish')).packetId!);
    expect(ids.size).toBe(all);

    const refused = await emulator.publish('/flood', 'x', 1).catch((caught: unknown) => caught);
    expect((refused as EmulatorError).code).toBe('no-free-packet-id');

    sensor.send({ type: 'puback', packetId: 5 });
    await deliveries[4];
    const next = emulator.publish('/flood', 'x', 1);
    expect((await sensor.next('publish')).packetId).toBe(5); // 1..4 are still in flight
    sensor.destroy();
    await expect(next).rejects.toBeInstanceOf(EmulatorError);
    await Promise.allSettled(deliveries);
  });
});
