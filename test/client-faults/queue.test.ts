/**
 * The offline queue while the network refuses every connection: a real mosquitto behind the fault
 * proxy, which resets each connection as it is accepted. The client keeps trying (a reset may
 * pass), holds at most `offlineQueueSize` publishes, refuses the next with `queue-full` at once,
 * and sends what it held, in order, once a connection gets through.
 */
import { expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/index.js';
import { TransportError } from '../../src/transport/index.js';
import { useFaultProxy } from '../support/fault-proxy.js';
import type { Duplex } from 'node:stream';
import { openTransport } from '../../src/transport/index.js';
import type { TransportOptions } from '../../src/transport/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { brokerOptions, next, uniqueId, until, useBroker } from '../client-broker/support.js';

describeWithBroker('MqttClient offline queue while the proxy refuses connections', () => {
  const suite = useBroker();
  const { pool } = suite;
  const tls = useFaultProxy(() => ({ host: '::1', port: suite.broker.tlsPort }));

  it('holds offlineQueueSize messages, refuses the next with queue-full, then delivers the held ones in order', async () => {
    const proxy = tls.proxy;
    const topic = `faults/queue/${uniqueId('t')}`;
    const sink = pool.track(brokerOptions(suite.broker));
    await sink.connect();
    await sink.subscribe(topic, { qos: 1 });
    const heard: string[] = [];
    sink.on('message', (_topic, payload) => heard.push(Buffer.from(payload).toString()));

    proxy.refuse(true);
    const client = pool.track(
      brokerOptions(suite.broker, {
        port: proxy.port,
        offlineQueueSize: 5,
        reconnect: { initialDelay: 10, maxDelay: 50 },
      }),
    );
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    const refused = await client.connect().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as TransportError).code).toBe('connection-reset');

    const held = [1, 2, 3, 4, 5].map((n) => client.publish(topic, `held ${n}`, { qos: n % 2 === 0 ? 0 : 1 }));
    expect(client.queuedCount).toBe(5);
    const overflow = await client.publish(topic, 'one too many', { qos: 1 }).catch((e: unknown) => e);
    expect(overflow).toBeInstanceOf(MqttClientError);
    expect((overflow as MqttClientError).code).toBe('queue-full');
    const overflowQoS0 = await client.publish(topic, 'one too many, QoS 0').catch((e: unknown) => e);
    expect((overflowQoS0 as MqttClientError).code).toBe('queue-full');
    expect(client.queuedCount).toBe(5);

    // It keeps trying while refused: a reset is no reason to give up.
    await until(proxy, 'refused', () => proxy.refusedCount >= 4);
    expect(client.state).not.toBe('ended');
    expect(errors.every((e) => e instanceof TransportError && e.code === 'connection-reset')).toBe(true);

    const connected = next(client, 'connect');
    proxy.refuse(false);
    await connected;
    await Promise.all(held);
    await until(sink, 'message', () => heard.length === 5);

    expect(heard).toEqual(['held 1', 'held 2', 'held 3', 'held 4', 'held 5']);
    expect(client.queuedCount).toBe(0);
    expect(client.inflightCount).toBe(0);
    // And room again for new messages.
    const later = next(sink, 'message');
    await client.publish(topic, 'after', { qos: 1 });
    await later;
    expect(heard.at(-1)).toBe('after');
  });

  it("offlineQoS0: 'reject' refuses a QoS 0 message at once while offline (connection-closed); QoS 1 still queues", async () => {
    const proxy = tls.proxy;
    proxy.refuse(true);
    const client = pool.track(
      brokerOptions(suite.broker, { port: proxy.port, offlineQoS0: 'reject', reconnect: { initialDelay: 10, maxDelay: 50 } }),
    );
    await client.connect().catch(() => undefined);

    const qos0 = await client.publish('faults/queue/qos0', 'now or never').catch((e: unknown) => e);
    const qos1 = client.publish('faults/queue/qos1', 'later', { qos: 1 });

    expect((qos0 as MqttClientError).code).toBe('connection-closed');
    expect(client.queuedCount).toBe(1);
    const connected = next(client, 'connect');
    proxy.refuse(false);
    await connected;
    await qos1;
  });

  it('end() while the proxy refuses: queued messages come back in the report, their promises reject with client-ended, no attempt after', async () => {
    const proxy = tls.proxy;
    proxy.refuse(true);
    // A virtual clock: the retries wait for the test to move time, and the end shows in the timers.
    const clock = new VirtualClock();
    let attempts = 0;
    const openSocket = (options: TransportOptions): Promise<Duplex> => {
      attempts++;
      return openTransport(options);
    };
    const client = pool.track(brokerOptions(suite.broker, { port: proxy.port, clock, openSocket, reconnect: { initialDelay: 10, maxDelay: 20 } }));
    await client.connect().catch(() => undefined);
    const published = [client.publish('faults/queue/end', 'one', { qos: 1 }), client.publish('faults/queue/end', 'two')];
    const subscribed = client.subscribe('faults/queue/end/#', { qos: 1 });
    const outcomes = Promise.allSettled([...published, subscribed]);
    const connectionsBefore = proxy.connections.length;

    const report = await client.end();
    const refusedAtEnd = proxy.refusedCount;
    const attemptsAtEnd = attempts;
    proxy.refuse(false);

    expect(report.unacknowledged.map((m) => [m.topic, Buffer.from(m.payload).toString(), m.qos, m.packetId])).toEqual([
      ['faults/queue/end', 'one', 1, undefined],
      ['faults/queue/end', 'two', 0, undefined],
    ]);
    for (const outcome of await outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(((outcome as PromiseRejectedResult).reason as MqttClientError).code).toBe('client-ended');
    }
    expect(client.state).toBe('ended');
    // No timer is left that could start an attempt, and an hour of virtual time starts none.
    expect(clock.pending()).toBe(0);
    clock.advance(3_600_000);
    expect(attempts).toBe(attemptsAtEnd);
    expect(proxy.refusedCount).toBe(refusedAtEnd);
    expect(proxy.connections).toHaveLength(connectionsBefore);
  });
});
