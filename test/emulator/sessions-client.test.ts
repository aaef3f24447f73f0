/**
 * The stand-in's kept sessions with this project's own MqttClient, as a device uses them: Session
 * Present 1 after a reconnect with clean: false, the subscriptions kept (the client sends no
 * SUBSCRIBE), messages queued while it was away, and the resends both ways: the client's
 * unacknowledged PUBLISH with DUP 1 [MQTT-3.3.1-1], the stand-in's with DUP 1 [MQTT-4.4.0-1].
 */
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceConnectionOptions } from '../../src/aliyun/index.js';
import { MqttClient } from '../../src/client/index.js';
import type { ConnectionInfo, MqttClientOptions } from '../../src/client/index.js';
import type { Emulator, PacketEvent } from '../../src/emulator/index.js';
import type { MqttMessage } from '../../src/client/messages.js';
import type { PublishPacket } from '../../src/packet/index.js';
import { openResolvedTransport } from '../../src/transport/open.js';
import { emulatorPerTest, LAMP, SENSOR } from './fixtures.js';

const start = emulatorPerTest();
const STATUS = '/a1TestProduct/lamp/user/status';

const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end({ force: true })));
});

/** A client of LAMP with Clean Session 0 and a fixed clientId; `sockets` gets each connection's socket, to cut it. */
function lampClient(emulator: Emulator, sockets: Duplex[] = [], overrides: Partial<MqttClientOptions> = {}): MqttClient {
  const connection = deviceConnectionOptions({
    ...LAMP,
    endpoint: { host: '::1', port: emulator.port },
    ca: emulator.ca,
    clientId: 'lamp-client',
    keepalive: 60,
    clean: false,
  });
  const client = new MqttClient({
    ...connection,
    reconnect: { initialDelay: 10, maxDelay: 20 },
    openSocket: async (options) => {
      const socket = await openResolvedTransport(options);
      sockets.push(socket);
      return socket;
    },
    ...overrides,
  });
  clients.push(client);
  return client;
}

/**
 * Every packet the stand-in traces from now on for LAMP, the only device that connects meanwhile
 * (a CONNECT is traced before the stand-in knows whose it is).
 */
function lampTrace(emulator: Emulator): PacketEvent[] {
  const events: PacketEvent[] = [];
  emulator.on('packet', (event) => {
    if (event.connection.deviceName === LAMP.deviceName || event.packet.type === 'connect') events.push(event);
  });
  return events;
}

function kinds(events: readonly PacketEvent[]): string[] {
  return events.map(({ direction, packet }) => `${direction} ${packet.type}`);
}

describe('MqttClient with clean: false against the stand-in', () => {
  it('gets Session Present 1 on its next connection, keeps its subscription without a SUBSCRIBE, and receives what was queued', async () => {
    const emulator = await start();
    const first = lampClient(emulator);
    expect(await first.connect()).toEqual({ sessionPresent: false });
    await first.subscribe(STATUS, { qos: 1 });
    const kept = once(emulator, 'session');
    await first.end();
    await kept;

    const acknowledged = emulator.publish(STATUS, 'while you were away', 1);
    const trace = lampTrace(emulator);
    const second = lampClient(emulator);
    const arrived = once(second, 'message') as Promise<[string, Buffer, MqttMessage]>;
    expect(await second.connect()).toEqual({ sessionPresent: true });
    const [topic, payload, message] = await arrived;
    expect([topic, payload.toString(), message.qos, message.dup]).toEqual([STATUS, 'while you were away', 1, false]);
    await acknowledged; // the client's PUBACK settled it
    expect(kinds(trace)).toEqual(['in connect', 'out connack', 'out publish', 'in puback']);

    // The subscription is live on the new connection: nobody subscribed again.
    const live = once(second, 'message') as Promise<[string, Buffer]>;
    await emulator.publish(STATUS, 'live', 1);
    expect((await live)[1].toString()).toBe('live');
  });

  it('sends its unacknowledged PUBLISH again with DUP 1 and the same packet id after a lost connection [MQTT-3.3.1-1, MQTT-4.4.0-1]', async () => {
    const emulator = await start();
    const sockets: Duplex[] = [];
    const client = lampClient(emulator, sockets);
    await client.connect();
    const trace = lampTrace(emulator);
    // The network fails the moment the stand-in has read the PUBLISH: its PUBACK never arrives.
    emulator.on('packet', function cut({ direction, packet }) {
      if (direction !== 'in' || packet.type !== 'publish') return;
      emulator.off('packet', cut);
      sockets[0]!.destroy();
    });
    const reconnected = once(client, 'connect') as Promise<[ConnectionInfo]>;
    await client.publish(STATUS, 'sent just before the network failed', { qos: 1 }); // resolves on the PUBACK of the resend
    expect((await reconnected)[0]).toEqual({ sessionPresent: true });

    const publishes = trace.filter(({ direction, packet }) => direction === 'in' && packet.type === 'publish').map(({ packet }) => packet as PublishPacket);
    expect(publishes.map(({ dup, packetId, topic }) => ({ dup, packetId, topic }))).toEqual([
      { dup: false, packetId: publishes[0]!.packetId, topic: STATUS },
      { dup: true, packetId: publishes[0]!.packetId, topic: STATUS },
    ]);
    // The first PUBACK went into the cut; on the new connection, Session Present 1: no SUBSCRIBE, the resend at once.
    expect(kinds(trace)).toEqual(['in publish', 'out puback', 'in connect', 'out connack', 'in publish', 'out puback']);
  });

  it('receives the stand-in\'s resend of a delivery it never acknowledged, with DUP 1, once', async () => {
    const emulator = await start();
    const sockets: Duplex[] = [];
    const client = lampClient(emulator, sockets);
    await client.connect();
    await client.subscribe(STATUS, { qos: 1 });
    const heard: MqttMessage[] = [];
    client.on('message', (_topic, _payload, message) => heard.push(message));
    // The connection is cut as the stand-in sends the delivery: the client never reads it.
    emulator.on('packet', function cut({ direction, packet }) {
      if (direction !== 'out' || packet.type !== 'publish') return;
      emulator.off('packet', cut);
      sockets[0]!.destroy();
    });
    const reconnected = once(client, 'connect') as Promise<[ConnectionInfo]>;
    await emulator.publish(STATUS, 'resent', 1); // settled by the PUBACK on the second connection
    expect((await reconnected)[0]).toEqual({ sessionPresent: true });
    expect(heard.map(({ payload, dup, qos }) => ({ text: payload.toString(), dup, qos }))).toEqual([{ text: 'resent', dup: true, qos: 1 }]);
  });

  it('with clean: true gets Session Present 0, and the kept session is gone for the next clean: false client [MQTT-3.1.2-6]', async () => {
    const emulator = await start();
    const first = lampClient(emulator);
    await first.connect();
    await first.subscribe(STATUS, { qos: 1 });
    await first.end();
    const clean = lampClient(emulator, [], { clean: true });
    expect(await clean.connect()).toEqual({ sessionPresent: false });
    await clean.end();
    const later = lampClient(emulator);
    expect(await later.connect()).toEqual({ sessionPresent: false });
    const heard: string[] = [];
    later.on('message', (_topic, payload) => heard.push(payload.toString()));
    const sensor = new MqttClient({
      ...deviceConnectionOptions({ ...SENSOR, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca, keepalive: 60 }),
      reconnect: false,
    });
    clients.push(sensor);
    await sensor.connect();
    await sensor.publish(STATUS, 'nobody subscribed', { qos: 1 });
    await later.ping(); // a round trip: anything routed to it before has arrived
    expect(heard).toEqual([]);
  });
});
