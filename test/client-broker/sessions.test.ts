/**
 * MqttClient against a real mosquitto over TLS on [::1]: clean and persistent sessions, across a
 * new client instance and across a reconnect of the same one.
 */
import { expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { MqttClientError } from '../../src/client/index.js';
import type { ConnectionInfo, MqttClient } from '../../src/client/index.js';
import { openTransport } from '../../src/transport/index.js';
import type { TransportOptions } from '../../src/transport/index.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { SocketSpy, brokerOptions, logShows, next, packetType, parsePublish, uniqueId, useBroker } from './support.js';

/**
 * Opens sockets only while open: a closed gate holds reconnect attempts, so the test decides
 * what happens while the client is offline.
 */
class Gate {
  private waiting: Array<() => void> = [];
  private open = true;

  close(): void {
    this.open = false;
  }

  release(): void {
    this.open = true;
    for (const go of this.waiting.splice(0)) go();
  }

  readonly openSocket = async (options: TransportOptions): Promise<Duplex> => {
    if (!this.open) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return openTransport(options);
  };
}

const SUBSCRIBE = 8;
const PUBLISH = 3;

describeWithBroker('MqttClient against mosquitto: sessions', () => {
  const suite = useBroker();
  const { pool } = suite;
  let publisher: MqttClient;

  async function startPublisher(): Promise<void> {
    publisher = pool.track(brokerOptions(suite.broker));
    await publisher.connect();
  }

  it('clean: false keeps the subscription and the QoS 1 messages sent while the client was away', async () => {
    await startPublisher();
    const clientId = uniqueId('persistent');
    const topic = `sessions/stored/${clientId}`;
    const first = pool.track(brokerOptions(suite.broker, { clientId, clean: false }));
    expect(await first.connect()).toEqual({ sessionPresent: false });
    await first.subscribe(topic, { qos: 1 });
    await first.end();

    await publisher.publish(topic, 'while you were away', { qos: 1 }); // the broker's PUBACK: it has it
    await publisher.publish(topic, 'and a QoS 0 one', { qos: 0 }); // not stored for an offline client

    const spy = new SocketSpy();
    const second = pool.track(brokerOptions(suite.broker, { clientId, clean: false, openSocket: spy.openSocket }));
    const arrived = next<[string, Uint8Array]>(second, 'message');
    expect(await second.connect()).toEqual({ sessionPresent: true });
    const [gotTopic, payload] = await arrived;

    expect(gotTopic).toBe(topic);
    expect(Buffer.from(payload).toString()).toBe('while you were away');
    const publish = parsePublish(spy.connections[0]!.received.find((f) => packetType(f) === PUBLISH)!);
    expect(publish.qos).toBe(1);
    // The new instance had no subscriptions to restore and sent no SUBSCRIBE: the broker kept it.
    expect(spy.connections[0]!.sent.map(packetType)).not.toContain(SUBSCRIBE);
    // And the subscription is live: a message published now arrives too.
    const live = next<[string, Uint8Array]>(second, 'message');
    await publisher.publish(topic, 'live', { qos: 1 });
    expect(Buffer.from((await live)[1]).toString()).toBe('live');
  });

  it('clean: false across a reconnect of the same client: session present, nothing re-subscribed, stored message delivered', async () => {
    await startPublisher();
    const clientId = uniqueId('reconnecting');
    const topic = `sessions/reconnect/${clientId}`;
    const gate = new Gate();
    const spy = new SocketSpy(gate.openSocket);
    const client = pool.track(
      brokerOptions(suite.broker, { clientId, clean: false, openSocket: spy.openSocket, reconnect: { initialDelay: 1, maxDelay: 1 } }),
    );
    await client.connect();
    await client.subscribe(topic, { qos: 1 });

    gate.close();
    const offline = next(client, 'offline');
    spy.socket(spy.connections[0]!).destroy(); // lost, not ended: no DISCONNECT
    await offline;
    await publisher.publish(topic, 'stored', { qos: 1 });
    const reconnected = next<[ConnectionInfo]>(client, 'connect');
    const arrived = next<[string, Uint8Array]>(client, 'message');
    gate.release();

    expect(await reconnected).toEqual([{ sessionPresent: true }]);
    expect(Buffer.from((await arrived)[1]).toString()).toBe('stored');
    expect(spy.connections).toHaveLength(2);
    expect(spy.connections[1]!.sent.map(packetType)).not.toContain(SUBSCRIBE);
  });

  it('clean: true across a reconnect: no session, the client re-subscribes, and what was sent meanwhile is gone', async () => {
    await startPublisher();
    const topic = `sessions/clean/${uniqueId('t')}`;
    const gate = new Gate();
    const spy = new SocketSpy(gate.openSocket);
    const client = pool.track(brokerOptions(suite.broker, { clean: true, openSocket: spy.openSocket, reconnect: { initialDelay: 1, maxDelay: 1 } }));
    await client.connect();
    await client.subscribe(topic, { qos: 1 });
    const heard: string[] = [];
    client.on('message', (_t, payload) => heard.push(Buffer.from(payload).toString()));

    gate.close();
    const offline = next(client, 'offline');
    spy.socket(spy.connections[0]!).destroy();
    await offline;
    await publisher.publish(topic, 'lost with the session', { qos: 1 });
    const reconnected = next<[ConnectionInfo]>(client, 'connect');
    const resubscribed = spy.nextFrame('received', (f) => packetType(f) === 9); // SUBACK
    gate.release();

    expect(await reconnected).toEqual([{ sessionPresent: false }]);
    await resubscribed;
    expect(spy.connections[1]!.sent.map(packetType)).toEqual([1, SUBSCRIBE]);
    const arrived = next(client, 'message');
    await publisher.publish(topic, 'after the re-subscribe', { qos: 1 });
    await arrived;
    expect(heard).toEqual(['after the re-subscribe']);
  });

  it('two clients with one client id kick each other off: each reports it after three quick drops, and keeps trying', async () => {
    const clientId = uniqueId('twin');
    const twins = [0, 1].map(() => pool.track(brokerOptions(suite.broker, { clientId, reconnect: { initialDelay: 10, maxDelay: 50 } })));
    const reported = twins.map((twin) => next<[MqttClientError]>(twin, 'error', 5000));

    await twins[0]!.connect();
    await twins[1]!.connect();

    for (const [error] of await Promise.all(reported)) {
      expect(error).toBeInstanceOf(MqttClientError);
      expect(error.code).toBe('connection-closed');
      expect(error.cause).toBeUndefined(); // not a socket error: the server closed, right after CONNACK
    }
    expect(twins.map((t) => t.state)).not.toContain('ended');
    await logShows(suite.broker, new RegExp(`Client ${clientId} already connected, closing old connection\\.`));
  });

  it('clean: true discards a persistent session kept by the broker [MQTT-3.1.2-6]', async () => {
    const clientId = uniqueId('discarded');
    const persistent = pool.track(brokerOptions(suite.broker, { clientId, clean: false }));
    await persistent.connect();
    await persistent.subscribe(`sessions/discarded/${clientId}`, { qos: 1 });
    await persistent.end();

    const clean = pool.track(brokerOptions(suite.broker, { clientId, clean: true }));
    expect(await clean.connect()).toEqual({ sessionPresent: false });
    await clean.end();
    const again = pool.track(brokerOptions(suite.broker, { clientId, clean: false }));
    expect(await again.connect()).toEqual({ sessionPresent: false });
  });
});

describeWithBroker('MqttClient against mosquitto: a broker that lost the session', () => {
  const suite = useBroker({ persistence: false });
  const { pool } = suite;

  it('clean: false, broker restarted without persistence: session present 0, the client restores its subscriptions', async () => {
    const clientId = uniqueId('restored');
    const topic = `sessions/restored/${clientId}`;
    const spy = new SocketSpy();
    const client = pool.track(
      brokerOptions(suite.broker, { clientId, clean: false, openSocket: spy.openSocket, reconnect: { initialDelay: 10, maxDelay: 50 } }),
    );
    await client.connect();
    await client.subscribe([{ topicFilter: topic, qos: 1 }, { topicFilter: `${topic}/zero`, qos: 0 }]);

    const reconnected = next<[ConnectionInfo]>(client, 'connect');
    const suback = spy.nextFrame('received', (f) => packetType(f) === 9);
    await suite.broker.restart();
    expect(await reconnected).toEqual([{ sessionPresent: false }]);
    await suback;

    const last = spy.connections.at(-1)!;
    const subscribe = last.sent.find((f) => packetType(f) === SUBSCRIBE)!;
    // Both filters with their QoS, in one SUBSCRIBE: 0x82, length, id, then filter + QoS pairs.
    const body = subscribe.bytes.subarray(4);
    expect(body).toEqual(
      Buffer.concat([
        Buffer.from([0, topic.length]),
        Buffer.from(topic),
        Buffer.from([1]),
        Buffer.from([0, topic.length + 5]),
        Buffer.from(`${topic}/zero`),
        Buffer.from([0]),
      ]),
    );
    const publisher = pool.track(brokerOptions(suite.broker));
    await publisher.connect();
    const arrived = next<[string]>(client, 'message');
    await publisher.publish(topic, 'after the restart', { qos: 1 });
    expect((await arrived)[0]).toBe(topic);
  });
});
