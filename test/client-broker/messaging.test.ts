/**
 * MqttClient against a real mosquitto over TLS on [::1]: publish and subscribe at QoS 0 and 1 in
 * both directions (exact topics and payload bytes), and the keepalive's PINGREQ/PINGRESP on the
 * wire.
 */
import { expect, it } from 'vitest';
import type { MqttClient } from '../../src/client/index.js';
import type { PublishPacket, QoS } from '../../src/packet/types.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { PINGREQ, PINGRESP, SocketSpy, brokerOptions, isFrame, logShows, next, packetType, uniqueId, useBroker } from './support.js';

interface Heard {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
}

function listen(client: MqttClient): Heard[] {
  const heard: Heard[] = [];
  client.on('message', (topic, payload, packet: PublishPacket) =>
    heard.push({ topic, payload: Buffer.from(payload), qos: packet.qos, retain: packet.retain }),
  );
  return heard;
}

/** Every byte value, and UTF-8 beyond ASCII: nothing may be re-encoded on the way. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('☃ 雪 🌨', 'utf8')]);

describeWithBroker('MqttClient against mosquitto: publish and subscribe', () => {
  const suite = useBroker();
  const { pool } = suite;
  let device: MqttClient;
  let peer: MqttClient;

  async function pair(): Promise<void> {
    device = pool.track(brokerOptions(suite.broker, { clientId: uniqueId('device') }));
    peer = pool.track(brokerOptions(suite.broker, { clientId: uniqueId('peer') }));
    await Promise.all([device.connect(), peer.connect()]);
  }

  it.each([0, 1] as const)('QoS %i both ways: device to peer and back, topics and bytes exact', async (qos) => {
    await pair();
    const base = `pubsub/q${qos}/${uniqueId('run')}`;
    expect(await peer.subscribe(`${base}/up/+`, { qos })).toEqual([{ topicFilter: `${base}/up/+`, qos }]);
    expect(await device.subscribe(`${base}/down/#`, { qos })).toEqual([{ topicFilter: `${base}/down/#`, qos }]);
    const peerHeard = listen(peer);
    const deviceHeard = listen(device);

    const up = next(peer, 'message');
    await device.publish(`${base}/up/telemetry`, BINARY, { qos });
    await up;
    const down = next(device, 'message');
    await peer.publish(`${base}/down/cmd/1`, 'reply: ☃', { qos });
    await down;

    expect(peerHeard).toEqual([{ topic: `${base}/up/telemetry`, payload: BINARY, qos, retain: false }]);
    expect(deviceHeard).toEqual([{ topic: `${base}/down/cmd/1`, payload: Buffer.from('reply: ☃'), qos, retain: false }]);
  });

  it('delivers at the lower of the published and the subscribed QoS, in order', async () => {
    await pair();
    const topic = `pubsub/downgrade/${uniqueId('t')}`;
    await peer.subscribe(topic, { qos: 0 });
    const stream = peer.messages();

    await device.publish(topic, 'one', { qos: 1 });
    await device.publish(topic, 'two', { qos: 0 });
    await device.publish(topic, 'three', { qos: 1 });

    const got: Array<[string, QoS]> = [];
    for await (const message of stream) {
      got.push([Buffer.from(message.payload).toString(), message.qos]);
      if (got.length === 3) break;
    }
    expect(got).toEqual([
      ['one', 0],
      ['two', 0],
      ['three', 0],
    ]);
  });

  it('a retained message reaches a later subscriber with RETAIN set; an empty one clears it', async () => {
    await pair();
    const topic = `pubsub/retained/${uniqueId('t')}`;
    await device.publish(topic, 'state: on', { qos: 1, retain: true });
    const heard = listen(peer);

    const retained = next(peer, 'message');
    await peer.subscribe(topic, { qos: 1 });
    await retained;
    await device.publish(topic, new Uint8Array(0), { qos: 1, retain: true });
    const late = pool.track(brokerOptions(suite.broker));
    await late.connect();
    const lateHeard = listen(late);
    await late.subscribe(topic, { qos: 1 });
    const marker = next(late, 'message');
    await device.publish(topic, 'marker', { qos: 1 });
    await marker;

    expect(heard[0]).toEqual({ topic, payload: Buffer.from('state: on'), qos: 1, retain: true });
    expect(lateHeard).toEqual([{ topic, payload: Buffer.from('marker'), qos: 1, retain: false }]);
  });

  it('unsubscribe stops delivery', async () => {
    await pair();
    const topic = `pubsub/unsub/${uniqueId('t')}`;
    await peer.subscribe([topic, `${topic}/marker`], { qos: 1 });
    const heard = listen(peer);

    await peer.unsubscribe(topic);
    const marker = next(peer, 'message');
    await device.publish(topic, 'after unsubscribe', { qos: 1 });
    await device.publish(`${topic}/marker`, 'marker', { qos: 1 });
    await marker;

    expect(heard.map((h) => h.topic)).toEqual([`${topic}/marker`]);
  });

  it('keepalive 2 s: an idle client sends PINGREQ (c0 00) within the period and mosquitto answers PINGRESP (d0 00)', async () => {
    const spy = new SocketSpy();
    const clientId = uniqueId('pinger');
    const client = pool.track(brokerOptions(suite.broker, { clientId, keepalive: 2, pingTimeout: 1000, openSocket: spy.openSocket }));
    const closes: unknown[] = [];
    client.on('close', (error) => closes.push(error));
    await client.connect();
    const connection = spy.connections[0]!;

    for (let round = 0; round < 2; round++) {
      const ping = await spy.nextFrame('sent', isFrame(PINGREQ), 4000);
      const pong = await spy.nextFrame('received', isFrame(PINGRESP), 2000);
      const index = connection.sent.indexOf(ping);
      const before = connection.sent[index - 1]!;
      // Never more than Keep Alive between two packets the client sends [MQTT-3.1.2-23]; an idle
      // client waits most of the period first (1.6 s for 2 s).
      expect(ping.at - before.at).toBeGreaterThanOrEqual(1500);
      expect(ping.at - before.at).toBeLessThanOrEqual(2000);
      expect(pong.at).toBeGreaterThanOrEqual(ping.at);
      expect(index).toBe(round + 1); // CONNECT, then only PINGREQs
    }
    expect(connection.sent.map(packetType)).toEqual([1, 12, 12]);
    expect(connection.received.map(packetType)).toEqual([2, 13, 13]);
    expect(closes).toEqual([]);
    expect(client.state).toBe('connected');
    await logShows(suite.broker, new RegExp(`as ${clientId} \\(p2, c1, k2\\)`));
  });

  it('ping() sends a PINGREQ at once and resolves with the round trip on the PINGRESP', async () => {
    const spy = new SocketSpy();
    const client = pool.track(brokerOptions(suite.broker, { openSocket: spy.openSocket }));
    await client.connect();

    const sent = spy.nextFrame('sent', isFrame(PINGREQ));
    const answered = spy.nextFrame('received', isFrame(PINGRESP));
    const rtt = await client.ping();

    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(1000);
    expect((await answered).at).toBeGreaterThanOrEqual((await sent).at);
  });
});
