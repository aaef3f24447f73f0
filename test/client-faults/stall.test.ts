/**
 * A connection that goes silent (a black hole: no data, no FIN, no RST) against a real mosquitto
 * through the fault proxy. Only the keepalive can find it: PINGREQ after at most Keep Alive of
 * silence, then `pingTimeout` for the PINGRESP. With keepalive 2 s and pingTimeout 1 s the client
 * must give up within 3 s of the stall (plus timer slack), reconnect, and carry on.
 */
import { expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/index.js';
import type { MqttClient } from '../../src/client/index.js';
import { TransportError } from '../../src/transport/index.js';
import { useFaultProxy } from '../support/fault-proxy.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { PINGREQ, PINGRESP, SocketSpy, brokerOptions, isFrame, next, uniqueId, useBroker } from '../client-broker/support.js';

const KEEPALIVE_S = 2;
const PING_TIMEOUT_MS = 1000;
/** Keep Alive + ping timeout, and room for late timers on a loaded machine. */
const DETECTION_LIMIT_MS = KEEPALIVE_S * 1000 + PING_TIMEOUT_MS + 500;

describeWithBroker('MqttClient and a connection that stalls', () => {
  const suite = useBroker();
  const { pool } = suite;
  const tls = useFaultProxy(() => ({ host: '::1', port: suite.broker.tlsPort }));
  const tcp = useFaultProxy(() => ({ host: '::1', port: suite.broker.tcpPort }));

  /** A client through the TLS proxy, and a subscriber straight to the broker on `topic`. */
  async function setUp(topic: string): Promise<{ client: MqttClient; spy: SocketSpy; sink: MqttClient }> {
    const sink = pool.track(brokerOptions(suite.broker));
    await sink.connect();
    await sink.subscribe(topic, { qos: 1 });
    const spy = new SocketSpy();
    const client = pool.track(
      brokerOptions(suite.broker, {
        port: tls.proxy.port,
        clientId: uniqueId('stalled'),
        keepalive: KEEPALIVE_S,
        pingTimeout: PING_TIMEOUT_MS,
        reconnect: { initialDelay: 20, maxDelay: 200 },
        openSocket: spy.openSocket,
      }),
    );
    await client.connect();
    return { client, spy, sink };
  }

  /** Stalls every connection now; resolves with the error of the close that follows and when. */
  async function stallAndWaitForClose(client: MqttClient): Promise<{ error: unknown; stalledAt: number; closedAt: number }> {
    const closed = next<[Error | undefined]>(client, 'close', DETECTION_LIMIT_MS + 2000);
    const stalledAt = Date.now();
    tls.proxy.stall();
    const [error] = await closed;
    return { error, stalledAt, closedAt: Date.now() };
  }

  /** After the stall: a new connection, and a QoS 1 message that gets to the subscriber. */
  async function recovers(client: MqttClient, sink: MqttClient, topic: string): Promise<void> {
    if (!client.connected) await next(client, 'connect');
    const arrived = next<[string, Uint8Array]>(sink, 'message');
    await client.publish(topic, 'after the stall', { qos: 1 });
    const [gotTopic, payload] = await arrived;
    expect([gotTopic, Buffer.from(payload).toString()]).toEqual([topic, 'after the stall']);
  }

  it('an idle client: ping-timeout within keepalive + pingTimeout of the stall, then it reconnects and publishes', async () => {
    const topic = `faults/stall/idle/${uniqueId('t')}`;
    const { client, spy, sink } = await setUp(topic);
    const connection = spy.connections[0]!;

    const { error, stalledAt, closedAt } = await stallAndWaitForClose(client);

    expect(error).toBeInstanceOf(MqttClientError);
    expect((error as MqttClientError).code).toBe('ping-timeout');
    expect(closedAt - stalledAt).toBeLessThanOrEqual(DETECTION_LIMIT_MS);
    // The PINGREQ that went unanswered was sent into the black hole, pingTimeout before the close.
    const ping = connection.sent.filter(isFrame(PINGREQ)).at(-1)!;
    expect(ping.at).toBeGreaterThanOrEqual(stalledAt);
    expect(closedAt - ping.at).toBeGreaterThanOrEqual(PING_TIMEOUT_MS - 5);
    expect(closedAt - ping.at).toBeLessThanOrEqual(PING_TIMEOUT_MS + 400);
    expect(connection.received.filter((f) => f.order > ping.order)).toEqual([]); // no PINGRESP, nothing
    await recovers(client, sink, topic);
    expect(spy.connections).toHaveLength(2);
  });

  it('a client that keeps publishing still notices: it pings when it has heard nothing for Keep Alive', async () => {
    const topic = `faults/stall/busy/${uniqueId('t')}`;
    const { client, spy, sink } = await setUp(topic);
    const connection = spy.connections[0]!;
    // QoS 0 every 100 ms: the client is never idle on the sending side.
    let sent = 0;
    const ticker = setInterval(() => {
      sent += 1;
      client.publish(`${topic}/noise`, String(sent)).catch(() => undefined);
    }, 100);

    try {
      const { error, stalledAt, closedAt } = await stallAndWaitForClose(client);

      expect((error as MqttClientError).code).toBe('ping-timeout');
      expect(closedAt - stalledAt).toBeLessThanOrEqual(DETECTION_LIMIT_MS);
      const ping = connection.sent.filter(isFrame(PINGREQ)).at(-1)!;
      expect(ping.at).toBeGreaterThanOrEqual(stalledAt);
      // Publishes kept going out until the end: the ping was for the silence, not for idleness.
      const lastPublish = connection.sent.filter((f) => f.bytes[0] === 0x30).at(-1)!;
      expect(lastPublish.at).toBeGreaterThan(ping.at);
    } finally {
      clearInterval(ticker);
    }
    await recovers(client, sink, topic);
  });

  it('a slow link is not a dead one: 300 ms each way, pings answered, the connection stays up', async () => {
    const topic = `faults/stall/slow/${uniqueId('t')}`;
    const { client, spy, sink } = await setUp(topic);
    const closes: unknown[] = [];
    client.on('close', (error) => closes.push(error));
    tls.proxy.delayMs = 300;
    try {
      const rtt = await client.ping();
      expect(rtt).toBeGreaterThanOrEqual(590);
      expect(rtt).toBeLessThan(PING_TIMEOUT_MS);
      // And the keepalive's own PINGREQ, answered in time as well.
      await spy.nextFrame('sent', isFrame(PINGREQ), KEEPALIVE_S * 1000 + 500);
      await spy.nextFrame('received', isFrame(PINGRESP), PING_TIMEOUT_MS);
      const started = Date.now();
      await recovers(client, sink, topic);
      expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    } finally {
      tls.proxy.delayMs = 0;
    }
    expect(closes).toEqual([]);
    expect(spy.connections).toHaveLength(1);
  });

  it('end() on a black-holed connection: waits its timeout for the PUBACK, then reports the message with its packet id', async () => {
    const topic = `faults/stall/end/${uniqueId('t')}`;
    const { client, spy } = await setUp(topic);
    tls.proxy.stall();
    const published = client.publish(topic, 'into the void', { qos: 1 }).catch((e: unknown) => e);
    const sent = await spy.nextFrame('sent', (f) => f.bytes[0] === 0x32);

    const started = Date.now();
    const report = await client.end({ timeout: 300 });

    expect(Date.now() - started).toBeGreaterThanOrEqual(295);
    expect(Date.now() - started).toBeLessThan(2500); // the socket closes without the peer's help
    expect(report.unacknowledged).toEqual([
      { topic, payload: Buffer.from('into the void'), qos: 1, packetId: sent.bytes.readUInt16BE(2 + 2 + topic.length) },
    ]);
    expect(await published).toMatchObject({ name: 'MqttClientError', code: 'client-ended' });
    expect(spy.connections[0]!.sent.at(-1)!.bytes).toEqual(Buffer.from([0xe0, 0x00])); // DISCONNECT, unheard
    expect(client.state).toBe('ended');
  });

  it.each([
    {
      transport: 'tls' as const,
      where: 'during the TLS handshake: connect-timeout (TransportError, phase tls)',
      refusal: (error: unknown): void => {
        expect(error).toBeInstanceOf(TransportError);
        expect([(error as TransportError).code, (error as TransportError).phase]).toEqual(['connect-timeout', 'tls']);
      },
      sessionSockets: 1, // the stalled attempt never became a session's socket
    },
    {
      transport: 'tcp' as const,
      where: 'after TCP connects (plain TCP), CONNECT sent: connack-timeout',
      refusal: (error: unknown): void => {
        expect(error).toBeInstanceOf(MqttClientError);
        expect((error as MqttClientError).code).toBe('connack-timeout');
      },
      sessionSockets: 2,
    },
  ])('a stall $where, at connectTimeout; the next attempt gets through', async ({ transport, refusal, sessionSockets }) => {
    const proxy = transport === 'tls' ? tls.proxy : tcp.proxy;
    proxy.stallNew(true);
    const spy = new SocketSpy();
    const client = pool.track(
      brokerOptions(suite.broker, {
        port: proxy.port,
        transport,
        connectTimeout: 500,
        reconnect: { initialDelay: 20, maxDelay: 50 },
        openSocket: spy.openSocket,
      }),
    );
    const started = Date.now();
    const first = await client.connect().catch((e: unknown) => e);
    proxy.stallNew(false);

    refusal(first);
    expect(Date.now() - started).toBeGreaterThanOrEqual(490);
    await next(client, 'connect');
    expect(spy.connections).toHaveLength(sessionSockets);
    // Over TCP the CONNECT went into the void, and nothing after it.
    if (transport === 'tcp') expect(spy.connections[0]!.sent.map((f) => f.bytes[0])).toEqual([0x10]);
  });
});
