/**
 * The limits a publisher meets, and what each says when it refuses: a burst while connected is
 * not an offline queue; offline, `offlineQueueSize`; in any state, `maxQueuedBytes`; for one
 * message, `maxOutgoingPacketSize`; and a message the server keeps refusing is dropped with
 * `message-refused` instead of looping forever.
 */
import { describe, expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/index.js';
import type { PublishPacket } from '../../src/packet/types.js';
import {
  CONNACK_OK,
  connectedSession,
  elapse,
  expectRejected,
  failOnUnhandledRejections,
  session,
  settle,
  settled,
  track,
} from './harness.js';

failOnUnhandledRejections();

const text = (p: PublishPacket): string => Buffer.from(p.payload).toString();

describe('a burst while connected', () => {
  it('10,000 QoS 1 publishes fired at once with default options all succeed (they wait for in-flight room, not in an offline queue)', async () => {
    const s = await connectedSession();
    s.server.reply((packet, connection) => {
      if (packet.type === 'publish' && packet.qos === 1) connection.send({ type: 'puback', packetId: packet.packetId! });
    });
    const burst = Array.from({ length: 10_000 }, (_, i) => s.client.publish('burst', `m${i}`, { qos: 1 }));
    const outcomes = await Promise.allSettled(burst);
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect(s.client.inflightCount).toBe(0);
    expect(s.client.queuedCount).toBe(0);
  });

  it('beyond maxQueuedBytes a publish is refused with queue-full, naming the limit and the state', async () => {
    const s = await connectedSession({ maxInflight: 1, maxQueuedBytes: 100 });
    const first = track(s.client.publish('t', 'x'.repeat(10), { qos: 1 })); // in flight
    const queued = Array.from({ length: 9 }, () => track(s.client.publish('t', 'x'.repeat(10), { qos: 1 }))); // 9 x 11 bytes
    const refused = track(s.client.publish('t', 'x'.repeat(10), { qos: 1 }));
    await settle();
    expectRejected(refused, 'queue-full', MqttClientError);
    expect((refused.error as Error).message).toContain('maxQueuedBytes 100');
    expect((refused.error as Error).message).toContain('state connected');
    expect(first.status).toBe('pending');
    expect(queued.map((q) => q.status)).toEqual(Array(9).fill('pending'));
    expect(s.client.queuedCount).toBe(9);
  });
});

describe('offline', () => {
  it('offlineQueueSize counts only while not connected, and the error says so', async () => {
    const s = session({ offlineQueueSize: 2 });
    const a = track(s.client.publish('t', 'a'));
    const b = track(s.client.publish('t', 'b'));
    const c = track(s.client.publish('t', 'c'));
    await settle();
    expectRejected(c, 'queue-full', MqttClientError);
    expect((c.error as Error).message).toContain('offlineQueueSize 2');
    expect((c.error as Error).message).toContain('state new');
    expect([a.status, b.status]).toEqual(['pending', 'pending']);
  });

  it('a message accepted while connected stays accepted when the connection drops', async () => {
    const s = await connectedSession({ offlineQueueSize: 1, maxInflight: 1, reconnect: { initialDelay: 1000 } });
    const sent = Array.from({ length: 5 }, (_, i) => track(s.client.publish('t', `m${i}`, { qos: 1 })));
    await settle();
    expect(s.client.queuedCount).toBe(4);
    s.connection.close();
    await s.connection.closed;
    await settle();
    expect(s.client.state).toBe('waiting');
    expect(sent.map((t) => t.status)).toEqual(Array(5).fill('pending'));
    // A new one while offline finds the queue over offlineQueueSize: refused.
    const late = track(s.client.publish('t', 'late', { qos: 1 }));
    await settle();
    expectRejected(late, 'queue-full', MqttClientError);
  });
});

describe('maxOutgoingPacketSize', () => {
  it('a larger publish is refused at once with packet-too-large, and nothing is sent', async () => {
    const s = await connectedSession({ maxOutgoingPacketSize: 1000 });
    const big = track(s.client.publish('t', Buffer.alloc(2000), { qos: 1 }));
    const fits = track(s.client.publish('t', Buffer.alloc(900), { qos: 1 }));
    await settle();
    expectRejected(big, 'packet-too-large', MqttClientError);
    expect((big.error as Error).message).toContain('maxOutgoingPacketSize');
    expect(s.connection.packets('publish').map((p) => p.payload.length)).toEqual([900]);
    expect(fits.status).toBe('pending');
  });

  it('is checked for queued messages too', async () => {
    const s = session({ maxOutgoingPacketSize: 1000 });
    const big = track(s.client.publish('t', Buffer.alloc(2000)));
    await settle();
    expectRejected(big, 'packet-too-large', MqttClientError);
    expect(s.client.queuedCount).toBe(0);
  });
});

describe('a message the server keeps refusing', () => {
  /** A server that closes the connection whenever it reads a PUBLISH larger than `limit`. */
  function refusing(s: ReturnType<typeof session>, limit: number): void {
    s.server.autoConnack(CONNACK_OK);
    s.server.reply((packet, connection) => {
      if (packet.type !== 'publish') return;
      if (packet.payload.length > limit) connection.close();
      else if (packet.qos === 1) connection.send({ type: 'puback', packetId: packet.packetId! });
    });
  }

  it('is sent alone after the first close, rejected with message-refused after two closes right after it alone, and the rest go on', async () => {
    const s = session({ reconnect: { initialDelay: 10, maxDelay: 10 } });
    refusing(s, 100);
    await s.client.connect();
    const before = track(s.client.publish('t', 'small-1', { qos: 1 }));
    const big = track(s.client.publish('t', Buffer.alloc(2000, 0x62), { qos: 1 }));
    const after = track(s.client.publish('t', 'small-2', { qos: 1 }));
    for (let i = 0; i < 10 && big.status === 'pending'; i++) await elapse(s.clock, 10);
    await settled(big);
    expectRejected(big, 'message-refused', MqttClientError);
    await elapse(s.clock, 10);
    await settled(after);
    expect([before.status, after.status]).toEqual(['fulfilled', 'fulfilled']);
    // Three connections closed by the server, and the fourth carries the rest: no endless loop.
    expect(s.server.connectionCount).toBe(4);
    // On the second and third connections the suspect went out alone, nothing after it.
    for (const probe of s.server.connections.slice(1, 3)) expect(probe.packets('publish').map((p) => p.payload.length)).toEqual([2000]);
    expect(s.errors.some((e) => (e as MqttClientError).code === 'message-refused')).toBe(true);
    // The "same client id" diagnosis does not fit this evidence and is not given.
    expect(s.errors.some((e) => e.message.includes('same client id'))).toBe(false);
  });

  it('a connection cut while a message is in flight costs a probe, not the message', async () => {
    const s = session({ reconnect: { initialDelay: 10, maxDelay: 10 } });
    s.server.autoConnack(CONNACK_OK);
    await s.client.connect();
    const m = track(s.client.publish('t', 'fine', { qos: 1 }));
    await s.server.connections[0]!.next('publish');
    s.server.connections[0]!.close(); // a network cut: the PUBACK never came
    await elapse(s.clock, 10);
    const second = await s.server.connection(2);
    const probe = await second.next('publish');
    expect(text(probe)).toBe('fine');
    second.send({ type: 'puback', packetId: probe.packetId! });
    await settled(m);
    expect(m.status).toBe('fulfilled');
  });
});

describe('after a drop with reconnect off', () => {
  it('the state is disconnected, what was pending is rejected with the reason, and nothing new is held', async () => {
    const s = await connectedSession({ reconnect: false });
    const inflight = track(s.client.publish('t', 'a', { qos: 1 }));
    await s.connection.next('publish');
    s.connection.close();
    await s.connection.closed;
    await settled(inflight);
    expectRejected(inflight, 'connection-closed', MqttClientError);
    expect(s.client.state).toBe('disconnected');
    const q0 = track(s.client.publish('t', 'b'));
    const q1 = track(s.client.publish('t', 'c', { qos: 1 }));
    const sub = track(s.client.subscribe('x'));
    await settle();
    for (const t of [q0, q1, sub]) expectRejected(t, 'connection-closed', MqttClientError);
    expect(s.client.queuedCount).toBe(0);
    // Nothing waits on a clock either.
    expect(s.clock.pending()).toBe(0);
  });

  it('connect() starts again from disconnected', async () => {
    const s = await connectedSession({ reconnect: false });
    s.connection.close();
    await s.connection.closed;
    await settle();
    const again = track(s.client.connect());
    const second = await s.server.connection(2);
    await second.next('connect');
    second.send(CONNACK_OK);
    await settled(again);
    expect(s.client.state).toBe('connected');
  });
});
