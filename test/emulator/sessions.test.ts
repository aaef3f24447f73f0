/**
 * The sessions the stand-in keeps for Clean Session 0, seen from a bare MQTT client: Session
 * Present, subscriptions across connections, QoS 1 messages queued while the device is away, the
 * resend of unacknowledged deliveries with DUP 1, Clean Session 1 discarding, expiry in virtual
 * time, and every limit.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/shared/errors.js';
import { EmulatorError, startEmulator } from '../../src/emulator/index.js';
import type { Emulator, SessionEvent } from '../../src/emulator/index.js';
import type { PublishPacket } from '../../src/packet/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { connectDevice, connected, subscribe, sync } from './raw-client.js';
import type { ConnectOverrides, RawClient } from './raw-client.js';
import { emulatorPerTest, LAMP, SENSOR } from './fixtures.js';

const start = emulatorPerTest();

const STATUS = '/a1TestProduct/lamp/user/status';
/** Clean Session 0 with a fixed clientId: a device that wants its session kept. */
const KEEP: ConnectOverrides = { clean: false, sign: { clientId: 'lamp-1' } };

function publishPacket(topic: string, payload: string, qos: 0 | 1, packetId = 7): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...(qos === 1 ? { packetId } : {}) };
}

/** What a delivered PUBLISH says, the payload as text. */
function seen({ topic, payload, qos, dup, packetId }: PublishPacket): { topic: string; text: string; qos: number; dup: boolean; packetId: number | undefined } {
  return { topic, text: Buffer.from(payload).toString(), qos, dup, packetId };
}

/** Every `session` event the emulator emits from now on, as `action: message`. */
function sessionEvents(emulator: Emulator): SessionEvent[] {
  const events: SessionEvent[] = [];
  emulator.on('session', (event) => events.push(event));
  return events;
}

/** The emulator's `session` event of `action`, when it comes. */
function nextSession(emulator: Emulator, action: SessionEvent['action']): Promise<SessionEvent> {
  return new Promise((resolve) => {
    const listener = (event: SessionEvent): void => {
      if (event.action !== action) return;
      emulator.off('session', listener);
      resolve(event);
    };
    emulator.on('session', listener);
  });
}

/** Connects LAMP with Clean Session 0, subscribes to STATUS at QoS 1, and leaves with DISCONNECT; resolves once the session is kept. */
async function lampSubscribesAndLeaves(emulator: Emulator, filter = STATUS): Promise<void> {
  const lamp = await connected(emulator, LAMP, KEEP);
  await subscribe(lamp, 1, [filter, 1]);
  const kept = nextSession(emulator, 'kept');
  lamp.send({ type: 'disconnect' });
  await lamp.expectClosed();
  await kept;
}

/** Publishes from SENSOR at QoS 1 and waits for its PUBACK: by then the stand-in has routed it. */
async function sensorPublishes(sensor: RawClient, topic: string, payloads: string[], qos: 0 | 1 = 1): Promise<void> {
  for (const payload of payloads) sensor.send(publishPacket(topic, payload, qos));
  await sync(sensor);
}

/** The next `count` PUBLISHes `client` receives, in order. */
async function publishes(client: RawClient, count: number): Promise<PublishPacket[]> {
  const received: PublishPacket[] = [];
  for (let i = 0; i < count; i++) received.push(await client.next('publish'));
  return received;
}

/** What `promise` came to, caught at once: a session can reject it while the test awaits something else. */
function settled(promise: Promise<void>): Promise<'acknowledged' | EmulatorError> {
  return promise.then(
    () => 'acknowledged' as const,
    (error: EmulatorError) => error,
  );
}

async function expectNothingDelivered(client: RawClient): Promise<void> {
  await sync(client);
  expect(client.unread.filter((packet) => packet.type === 'publish')).toEqual([]);
}

describe('Session Present', () => {
  it('is 0 on the first Clean Session 0 CONNECT, and 1 on the next one with the same clientId [MQTT-3.2.2-2, MQTT-3.1.2-4]', async () => {
    const emulator = await start();
    const events = sessionEvents(emulator);
    const first = await connectDevice(emulator, LAMP, KEEP);
    expect(first.connack).toEqual({ type: 'connack', sessionPresent: false, returnCode: 0 });
    const kept = nextSession(emulator, 'kept');
    first.client.send({ type: 'disconnect' });
    await kept;
    const again = await connectDevice(emulator, LAMP, KEEP);
    expect(again.connack).toEqual({ type: 'connack', sessionPresent: true, returnCode: 0 });
    expect(events.map(({ action, clientId, deviceName }) => `${action} ${deviceName} ${clientId}`)).toEqual(['kept lamp lamp-1', 'resumed lamp lamp-1']);
    expect(Object.keys(events[0]!).sort()).toEqual(['action', 'clientId', 'deviceName', 'message', 'messages', 'productKey', 'subscriptions']);
  });

  it('is 0 with Clean Session 1, and the kept session is discarded: nothing of it is used later [MQTT-3.1.2-6, MQTT-3.2.2-1]', async () => {
    const emulator = await start();
    await lampSubscribesAndLeaves(emulator);
    const sensor = await connected(emulator, SENSOR);
    const waiting = settled(emulator.publish(STATUS, 'for the kept session', 1));
    const discarded = nextSession(emulator, 'discarded');
    const clean = await connectDevice(emulator, LAMP, { ...KEEP, clean: true });
    expect(clean.connack.sessionPresent).toBe(false);
    expect(await discarded).toMatchObject({ subscriptions: 1, messages: 1, message: expect.stringContaining('Clean Session 1') });
    expect(await waiting).toMatchObject({ code: 'not-acknowledged' });
    // Neither the queued message nor the subscription survived.
    await sensorPublishes(sensor, STATUS, ['after']);
    await expectNothingDelivered(clean.client);
    clean.client.send({ type: 'disconnect' });
    await clean.client.expectClosed();
    // A Clean Session 1 connection leaves nothing behind either.
    expect((await connectDevice(emulator, LAMP, KEEP)).connack.sessionPresent).toBe(false);
  });

  it('is 0 for another clientId of the same device: the clientId names the session [MQTT-3.1.3-2]', async () => {
    const emulator = await start();
    await lampSubscribesAndLeaves(emulator);
    const discarded = nextSession(emulator, 'discarded');
    const other = await connectDevice(emulator, LAMP, { clean: false, sign: { clientId: 'lamp-2' } });
    expect(other.connack.sessionPresent).toBe(false);
    expect((await discarded).message).toContain('not lamp-1');
  });

  it('moves the session to the newer connection when the same device connects again while connected', async () => {
    const emulator = await start();
    const older = await connected(emulator, LAMP, KEEP);
    await subscribe(older, 1, [STATUS, 1]);
    const sensor = await connected(emulator, SENSOR);
    await sensorPublishes(sensor, STATUS, ['unacknowledged']);
    const first = await older.next('publish'); // and no PUBACK
    const newer = await connectDevice(emulator, LAMP, KEEP);
    await older.expectClosed();
    expect(newer.connack.sessionPresent).toBe(true);
    expect(seen(await newer.client.next('publish'))).toEqual({ ...seen(first), dup: true });
  });

  it('keeps nothing for a refused CONNECT, and nothing once the emulator closes', async () => {
    const emulator = await start();
    const events = sessionEvents(emulator);
    const refused = await connectDevice(emulator, LAMP, { ...KEEP, sign: { ...KEEP.sign, deviceSecret: 'wrong' } });
    expect(refused.connack.returnCode).toBe(4);
    await refused.client.expectClosed();
    await lampSubscribesAndLeaves(emulator);
    const waiting = settled(emulator.publish(STATUS, 'never delivered', 1));
    await emulator.close();
    expect(await waiting).toMatchObject({ code: 'closed' });
    expect(events.map((event) => event.action)).toEqual(['kept']);
  });
});

describe('what a kept session holds', () => {
  it('keeps the subscriptions: after Session Present 1, messages arrive without a new SUBSCRIBE', async () => {
    const emulator = await start();
    await lampSubscribesAndLeaves(emulator, '/a1TestProduct/lamp/user/+');
    const lamp = await connected(emulator, LAMP, KEEP);
    const sensor = await connected(emulator, SENSOR);
    await sensorPublishes(sensor, STATUS, ['live'], 0);
    expect(seen(await lamp.next('publish'))).toMatchObject({ topic: STATUS, text: 'live', qos: 0 });
  });

  it('queues the QoS 1 messages that match while the device is away and delivers them in order after the reconnect; QoS 0 ones are not kept', async () => {
    const emulator = await start();
    await lampSubscribesAndLeaves(emulator);
    const sensor = await connected(emulator, SENSOR);
    await sensorPublishes(sensor, STATUS, ['one', 'two']);
    await sensorPublishes(sensor, STATUS, ['at most once'], 0);
    let done = false;
    const acknowledged = settled(emulator.publish(STATUS, 'three', 1)).finally(() => (done = true));

    const lamp = await connected(emulator, LAMP, KEEP);
    const delivered = await publishes(lamp, 3);
    expect(delivered.map(seen)).toEqual([
      { topic: STATUS, text: 'one', qos: 1, dup: false, packetId: 1 },
      { topic: STATUS, text: 'two', qos: 1, dup: false, packetId: 2 },
      { topic: STATUS, text: 'three', qos: 1, dup: false, packetId: 3 },
    ]);
    await expectNothingDelivered(lamp);
    // emulator.publish settles on the device's PUBACK, on the connection after the one it was published for.
    expect(done).toBe(false);
    for (const { packetId } of delivered) lamp.send({ type: 'puback', packetId: packetId! });
    expect(await acknowledged).toBe('acknowledged');
  });

  it('sends an unacknowledged delivery again with DUP 1 and its packet id, before what was queued [MQTT-4.4.0-1, MQTT-2.3.1-4, MQTT-4.6.0-1]', async () => {
    const emulator = await start();
    const lamp = await connected(emulator, LAMP, KEEP);
    await subscribe(lamp, 1, [STATUS, 1]);
    const sensor = await connected(emulator, SENSOR);
    await sensorPublishes(sensor, STATUS, ['first', 'second', 'third']);
    const [first, second, third] = await publishes(lamp, 3);
    lamp.send({ type: 'puback', packetId: second!.packetId! }); // the middle one is acknowledged
    await sync(lamp);
    const kept = nextSession(emulator, 'kept');
    lamp.destroy(); // lost, not ended: no DISCONNECT
    expect(await kept).toMatchObject({ messages: 2, subscriptions: 1 });
    await sensorPublishes(sensor, STATUS, ['while away']);

    const again = await connected(emulator, LAMP, KEEP);
    const resent = await publishes(again, 3);
    expect(resent.map(seen)).toEqual([
      { ...seen(first!), dup: true },
      { ...seen(third!), dup: true },
      { topic: STATUS, text: 'while away', qos: 1, dup: false, packetId: 4 },
    ]);
    // Acknowledged now, they are gone from the session: the next connection gets nothing.
    for (const { packetId } of resent) again.send({ type: 'puback', packetId: packetId! });
    await sync(again);
    again.send({ type: 'disconnect' });
    await again.expectClosed();
    const last = await connectDevice(emulator, LAMP, KEEP);
    expect(last.connack.sessionPresent).toBe(true);
    await expectNothingDelivered(last.client);
  });

  it('sends an unacknowledged delivery again on every reconnect until the device acknowledges it', async () => {
    const emulator = await start();
    await lampSubscribesAndLeaves(emulator);
    const waiting = settled(emulator.publish(STATUS, 'ack me', 1));
    for (const dup of [false, true, true]) {
      const lamp = await connected(emulator, LAMP, KEEP);
      expect(seen(await lamp.next('publish'))).toMatchObject({ text: 'ack me', dup, packetId: 1 });
      const kept = nextSession(emulator, 'kept');
      lamp.destroy();
      await kept;
    }
    const lamp = await connected(emulator, LAMP, KEEP);
    lamp.send({ type: 'puback', packetId: (await lamp.next('publish')).packetId! });
    expect(await waiting).toBe('acknowledged');
  });

  it('keeps a device that is not subscribed from getting anything, and keeps what it unsubscribed from out', async () => {
    const emulator = await start();
    const lamp = await connected(emulator, LAMP, KEEP);
    await subscribe(lamp, 1, [STATUS, 1], ['/a1TestProduct/lamp/user/other', 1]);
    lamp.send({ type: 'unsubscribe', packetId: 2, topicFilters: [STATUS] });
    await lamp.next('unsuback');
    const kept = nextSession(emulator, 'kept');
    lamp.send({ type: 'disconnect' });
    expect(await kept).toMatchObject({ subscriptions: 1 });
    const sensor = await connected(emulator, SENSOR);
    await sensorPublishes(sensor, STATUS, ['not for the lamp']);
    await sensorPublishes(sensor, '/a1TestProduct/sensor/user/other', ['nor this']);
    await expectNothingDelivered(await connected(emulator, LAMP, KEEP));
  });
});

describe('how long a session and a message live, in virtual time', () => {
  it('ends a session the device stays away from for sessions.expiry', async () => {
    const clock = new VirtualClock();
    const emulator = await start({ clock, sessions: { expiry: 60_000 } });
    await lampSubscribesAndLeaves(emulator);
    const waiting = settled(emulator.publish(STATUS, 'queued', 1));
    const events = sessionEvents(emulator);
    clock.advance(59_999);
    expect(events).toEqual([]);
    const expired = nextSession(emulator, 'expired');
    clock.advance(1);
    expect(await expired).toMatchObject({ deviceName: 'lamp', subscriptions: 1, messages: 1, message: expect.stringContaining('60000 ms') });
    expect(await waiting).toMatchObject({ code: 'not-acknowledged', message: expect.stringContaining('expired') });
    expect((await connectDevice(emulator, LAMP, KEEP)).connack.sessionPresent).toBe(false);
  });

  it('keeps a session the device comes back to in time, and counts its expiry again from the next end', async () => {
    const clock = new VirtualClock();
    const emulator = await start({ clock, sessions: { expiry: 60_000 } });
    await lampSubscribesAndLeaves(emulator);
    clock.advance(59_999);
    const lamp = await connected(emulator, LAMP, KEEP);
    const kept = nextSession(emulator, 'kept');
    lamp.send({ type: 'disconnect' });
    await kept;
    clock.advance(59_999);
    expect((await connectDevice(emulator, LAMP, KEEP)).connack.sessionPresent).toBe(true);
  });

  it('lets a message go once it is older than sessions.messageExpiry (the platform: seven days)', async () => {
    const clock = new VirtualClock();
    const emulator = await start({ clock, sessions: { messageExpiry: 10_000 } });
    await lampSubscribesAndLeaves(emulator);
    const old = settled(emulator.publish(STATUS, 'old', 1));
    clock.advance(5_000);
    const fresh = emulator.publish(STATUS, 'fresh', 1);
    clock.advance(5_000);
    const dropped = nextSession(emulator, 'dropped');
    const lamp = await connected(emulator, LAMP, KEEP);
    expect((await dropped).message).toContain('older than 10000 ms');
    expect(await old).toMatchObject({ code: 'not-acknowledged' });
    const [only] = await publishes(lamp, 1);
    expect(seen(only!).text).toBe('fresh');
    await expectNothingDelivered(lamp);
    lamp.send({ type: 'puback', packetId: only!.packetId! });
    await fresh;
  });

  it('defaults to seven days for both, the platform\'s figure for QoS 1 messages', async () => {
    const clock = new VirtualClock();
    const emulator = await start({ clock });
    await lampSubscribesAndLeaves(emulator);
    const week = 7 * 24 * 60 * 60 * 1000;
    clock.advance(week - 1);
    const expired = nextSession(emulator, 'expired');
    clock.advance(1);
    await expired;
  });
});

describe('limits', () => {
  it('keeps at most sessions.maxMessages per session, letting the newest go and saying so', async () => {
    const emulator = await start({ sessions: { maxMessages: 2 } });
    await lampSubscribesAndLeaves(emulator);
    const events = sessionEvents(emulator);
    const results = ['a', 'b', 'c'].map((text) => emulator.publish(STATUS, text, 1).then(() => 'ok', (error: EmulatorError) => error.code));
    await expect(results[2]).resolves.toBe('not-acknowledged');
    expect(events).toEqual([expect.objectContaining({ action: 'dropped', messages: 2, message: expect.stringContaining('sessions.maxMessages') })]);
    const lamp = await connected(emulator, LAMP, KEEP);
    const delivered = await publishes(lamp, 2);
    expect(delivered.map((p) => seen(p).text)).toEqual(['a', 'b']);
    for (const { packetId } of delivered) lamp.send({ type: 'puback', packetId: packetId! });
    expect(await Promise.all(results.slice(0, 2))).toEqual(['ok', 'ok']);
  });

  it('keeps at most sessions.maxBytes of topic and payload per session', async () => {
    const emulator = await start({ sessions: { maxBytes: 2 * (STATUS.length + 1000) } });
    await lampSubscribesAndLeaves(emulator);
    const big = 'x'.repeat(1000);
    const results = [1, 2, 3].map(() => emulator.publish(STATUS, big, 1).catch((error: EmulatorError) => error.message));
    expect(await results[2]).toContain('sessions.maxBytes');
    const lamp = await connected(emulator, LAMP, KEEP);
    await publishes(lamp, 2);
    await expectNothingDelivered(lamp);
  });

  it('holds at most sessions.maxTotalMessages for all offline devices together', async () => {
    const emulator = await start({ sessions: { maxTotalMessages: 3 } });
    await lampSubscribesAndLeaves(emulator, '/a1TestProduct/+/user/status');
    const sensor = await connected(emulator, SENSOR, { clean: false, sign: { clientId: 'sensor-1' } });
    await subscribe(sensor, 1, ['/a1TestProduct/+/user/status', 1]);
    sensor.send({ type: 'disconnect' });
    await nextSession(emulator, 'kept');
    const outcomes = ['m1', 'm2'].map((text) => emulator.publish(STATUS, text, 1).then(() => 'ok', (error: EmulatorError) => error.message));
    // m1 went to both sessions, m2 to the lamp's (kept first) only: the total was reached.
    expect(await outcomes[1]).toContain('sessions.maxTotalMessages');
    const lamp = await connected(emulator, LAMP, KEEP);
    expect((await publishes(lamp, 2)).map((p) => seen(p).text)).toEqual(['m1', 'm2']);
    const back = await connected(emulator, SENSOR, { clean: false, sign: { clientId: 'sensor-1' } });
    expect((await publishes(back, 1)).map((p) => seen(p).text)).toEqual(['m1']);
    await expectNothingDelivered(back);
  });

  it('holds at most sessions.maxTotalBytes for all offline devices together, trimming a session that ends over it', async () => {
    const size = STATUS.length + 100;
    const emulator = await start({ sessions: { maxTotalBytes: 2 * size } });
    const lamp = await connected(emulator, LAMP, KEEP);
    await subscribe(lamp, 1, [STATUS, 1]);
    const sensor = await connected(emulator, SENSOR);
    await sensorPublishes(sensor, STATUS, ['1'.repeat(100), '2'.repeat(100), '3'.repeat(100)]);
    await publishes(lamp, 3); // unacknowledged: online, the session holds all three
    const dropped = nextSession(emulator, 'dropped');
    const kept = nextSession(emulator, 'kept');
    lamp.destroy();
    expect((await dropped).message).toContain('sessions.maxTotalBytes');
    expect(await kept).toMatchObject({ messages: 2 });
    const again = await connected(emulator, LAMP, KEEP);
    expect((await publishes(again, 2)).map((p) => seen(p).text[0])).toEqual(['1', '2']);
    await expectNothingDelivered(again);
  });

  it('delivers to an online session over its limit without keeping the message, and resends only what it kept', async () => {
    const emulator = await start({ sessions: { maxMessages: 1 } });
    const lamp = await connected(emulator, LAMP, KEEP);
    await subscribe(lamp, 1, [STATUS, 1]);
    const dropped = nextSession(emulator, 'dropped');
    const results = ['kept', 'not kept'].map((text) => emulator.publish(STATUS, text, 1).catch((error: EmulatorError) => error.code));
    expect((await dropped).message).toContain('delivered, but not kept for a resend');
    expect((await publishes(lamp, 2)).map((p) => seen(p).text)).toEqual(['kept', 'not kept']);
    lamp.destroy();
    expect(await results[1]).toBe('not-acknowledged'); // it ended with the connection
    const again = await connected(emulator, LAMP, KEEP);
    const [resent] = await publishes(again, 1);
    expect(seen(resent!)).toMatchObject({ text: 'kept', dup: true });
    await expectNothingDelivered(again);
  });

  it('refuses bad sessions options before listening, naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      ['forever', 'sessions'],
      [{ expiry: 0 }, 'sessions.expiry'],
      [{ expiry: 2 ** 31 }, 'sessions.expiry'],
      [{ messageExpiry: 1.5 }, 'sessions.messageExpiry'],
      [{ maxMessages: 65_536 }, 'sessions.maxMessages'],
      [{ maxBytes: -1 }, 'sessions.maxBytes'],
      [{ maxTotalMessages: '10' }, 'sessions.maxTotalMessages'],
      [{ maxTotalBytes: Number.NaN }, 'sessions.maxTotalBytes'],
      [{ expiryMs: 1 }, 'sessions.expiryMs'],
    ];
    for (const [sessions, field] of cases) {
      const started = startEmulator({ devices: [LAMP], sessions: sessions as never });
      await expect(started).rejects.toBeInstanceOf(ConfigurationError);
      await expect(started).rejects.toMatchObject({ field });
    }
  });
});

describe('sub-devices behind a gateway', () => {
  it('keeps the gateway\'s own session; its sub-devices\' logins end with its connection and are not part of it', async () => {
    const { buildSubLogin } = await import('../../src/aliyun/index.js');
    const GW = { productKey: 'a1Gw', deviceName: 'gw', deviceSecret: 'gw-secret' };
    const SUB = { productKey: 'a1Sub', deviceName: 'sub', deviceSecret: 'sub-secret' };
    const emulator = await start({ devices: [GW, SUB], topology: [{ gateway: GW, subDevices: [SUB] }] });
    const keep: ConnectOverrides = { clean: false, sign: { clientId: 'gw-1' } };
    const gateway = await connected(emulator, GW, keep);
    await subscribe(gateway, 1, ['/ext/session/a1Gw/gw/combine/login_reply', 0], ['/sys/+/+/thing/service/#', 1]);
    gateway.send(publishPacket('/ext/session/a1Gw/gw/combine/login', buildSubLogin({ id: '1', subDevice: SUB, cleanSession: false }), 0));
    await gateway.next('publish');
    expect(emulator.gateway.subDevicesOnline('a1Gw', 'gw')).toEqual([{ productKey: 'a1Sub', deviceName: 'sub' }]);
    const kept = nextSession(emulator, 'kept');
    gateway.destroy();
    expect(await kept).toMatchObject({ deviceName: 'gw', subscriptions: 2 });
    // The sub-device went offline with the connection: the cloud cannot reach it, nothing is queued for it.
    expect(emulator.gateway.subDevicesOnline('a1Gw', 'gw')).toEqual([]);
    await expect(emulator.sendPropertySet('a1Sub', 'sub', { on: 1 })).rejects.toMatchObject({ code: 'not-connected' });
    await emulator.publish('/sys/a1Sub/sub/thing/service/property/set', '{}', 0);
    const again = await connectDevice(emulator, GW, keep);
    expect(again.connack.sessionPresent).toBe(true);
    expect(emulator.gateway.subDevicesOnline('a1Gw', 'gw')).toEqual([]);
    await expectNothingDelivered(again.client);
  });
});
