/**
 * Limits against a real mosquitto: a burst that waits for in-flight room while connected is not
 * an offline queue, and a message the broker refuses (its `max_packet_size`) is dropped with
 * `message-refused` after a bounded number of connections instead of being resent forever,
 * while the messages around it get through.
 */
import { expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/index.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { brokerOptions, next, uniqueId, useBroker } from './support.js';

describeWithBroker('MqttClient against mosquitto: limits', () => {
  // mosquitto closes the connection of a client that sends a packet over this size.
  const suite = useBroker({ extraConfig: 'max_packet_size 1000\n' });

  it('10,000 QoS 1 publishes fired without awaiting, default options: all acknowledged', async () => {
    const client = suite.pool.track(brokerOptions(suite.broker, { clientId: uniqueId('burst') }));
    await client.connect();
    const outcomes = await Promise.allSettled(Array.from({ length: 10_000 }, (_, i) => client.publish('limits/burst', `m${i}`, { qos: 1 })));
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect([client.inflightCount, client.queuedCount]).toEqual([0, 0]);
  });

  it('a 2,000-byte QoS 1 message over the broker\'s max_packet_size is refused after a few connections; the others arrive', async () => {
    const subscriber = suite.pool.track(brokerOptions(suite.broker, { clientId: uniqueId('sub') }));
    await subscriber.connect();
    await subscriber.subscribe('limits/refused', { qos: 1 });
    const arrived: string[] = [];
    subscriber.on('message', (_topic, payload) => arrived.push(payload.length > 20 ? `${payload.length} bytes` : payload.toString()));

    const publisher = suite.pool.track(
      brokerOptions(suite.broker, { clientId: uniqueId('pub'), reconnect: { initialDelay: 20, maxDelay: 50 } }),
    );
    const errors: Error[] = [];
    publisher.on('error', (e) => errors.push(e));
    await publisher.connect();
    const before = publisher.publish('limits/refused', 'before', { qos: 1 });
    const big = publisher.publish('limits/refused', Buffer.alloc(2000, 0x61), { qos: 1 }).then(
      () => 'sent',
      (e: unknown) => e,
    );
    const after = publisher.publish('limits/refused', 'after', { qos: 1 });
    const outcome = await big;
    expect(outcome).toBeInstanceOf(MqttClientError);
    expect((outcome as MqttClientError).code).toBe('message-refused');
    await Promise.all([before, after]);
    while (arrived.length < 2) await next(subscriber, 'message');
    expect(arrived).toEqual(['before', 'after']);
    // Bounded: the first connection, two probes, and the one that carries the rest.
    expect(publisher.inflightCount).toBe(0);
    const connects = errors.filter((e) => (e as MqttClientError).code === 'message-refused');
    expect(connects).toHaveLength(1);
    expect(errors.some((e) => e.message.includes('same client id'))).toBe(false);
  });

  it('maxOutgoingPacketSize refuses such a message at once, before the broker has to', async () => {
    const client = suite.pool.track(brokerOptions(suite.broker, { clientId: uniqueId('max'), maxOutgoingPacketSize: 1000 }));
    await client.connect();
    const error = await client.publish('limits/max', Buffer.alloc(2000), { qos: 1 }).catch((e: unknown) => e);
    expect((error as MqttClientError).code).toBe('packet-too-large');
    expect(client.state).toBe('connected');
    await client.publish('limits/max', 'small', { qos: 1 });
  });
});
