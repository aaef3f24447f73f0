/**
 * Outgoing PUBLISH: QoS 0 and 1 on the wire, packet identifiers, the in-flight window, topic
 * checks before anything is sent, and one socket write per tick.
 */
import { describe, expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/errors.js';
import { MqttProtocolError } from '../../src/packet/errors.js';
import { connectedSession, expectRejected, failOnUnhandledRejections, settle, settled, track } from './harness.js';

failOnUnhandledRejections();

describe('QoS 0', () => {
  it('has no packet id, DUP 0 and QoS 0 on the wire, and resolves once handed to the socket [MQTT-2.3.1-5, MQTT-3.3.1-2, MQTT-4.3.1-1]', async () => {
    const s = await connectedSession();
    const sent = track(s.client.publish('dev/telemetry', 'hello', { retain: true }));
    const publish = await s.connection.next('publish');
    expect(publish).toMatchObject({ topic: 'dev/telemetry', qos: 0, dup: false, retain: true });
    expect(publish.packetId).toBeUndefined();
    expect(Buffer.from(publish.payload).toString()).toBe('hello');
    await settled(sent);
    expect(sent.status).toBe('fulfilled');
  });

  it('sends a Uint8Array payload byte for byte', async () => {
    const s = await connectedSession();
    const payload = Uint8Array.of(0, 1, 2, 0xfe, 0xff);
    void track(s.client.publish('bin', payload));
    expect(Array.from((await s.connection.next('publish')).payload)).toEqual([0, 1, 2, 0xfe, 0xff]);
  });
});

describe('QoS 1', () => {
  it('carries a non-zero id, DUP 0, and resolves only on its PUBACK [MQTT-2.3.1-1, MQTT-4.3.2-1]', async () => {
    const s = await connectedSession();
    const sent = track(s.client.publish('t', 'x', { qos: 1 }));
    const publish = await s.connection.next('publish');
    expect(publish.qos).toBe(1);
    expect(publish.dup).toBe(false);
    expect(publish.packetId).toBeGreaterThan(0);
    await settle();
    expect(sent.status).toBe('pending');
    expect(s.client.inflightCount).toBe(1);
    // An ack for another id settles nothing.
    s.connection.send({ type: 'puback', packetId: publish.packetId! + 1 });
    await settle();
    expect(sent.status).toBe('pending');
    s.connection.send({ type: 'puback', packetId: publish.packetId! });
    await settled(sent);
    expect(sent.status).toBe('fulfilled');
    expect(s.client.inflightCount).toBe(0);
    expect(s.connection.isClosed).toBe(false);
  });

  it('ids are unique among unacknowledged messages and reused only after their ack [MQTT-2.3.1-2, MQTT-2.3.1-3]', async () => {
    const s = await connectedSession({ maxInflight: 3 });
    const unacked = new Set<number>();
    const released: number[] = [];
    const results: Array<ReturnType<typeof track>> = [];
    for (let i = 0; i < 12; i++) results.push(track(s.client.publish('t', String(i), { qos: 1 })));
    // Ack out of order, one at a time, checking each new id against those still unacknowledged.
    for (let round = 0; round < 12; round++) {
      await settle();
      for (const p of s.connection.unread.splice(0)) {
        if (p.type !== 'publish') continue;
        expect(unacked.has(p.packetId!), `id ${p.packetId} reused while unacknowledged`).toBe(false);
        unacked.add(p.packetId!);
      }
      expect(unacked.size).toBeLessThanOrEqual(3);
      if (unacked.size === 0) break;
      const ids = [...unacked];
      const pick = ids[(round * 2) % ids.length]!; // not the oldest first
      unacked.delete(pick);
      released.push(pick);
      s.connection.send({ type: 'puback', packetId: pick });
    }
    await settle();
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(s.connection.packets('publish')).toHaveLength(12);
  });

  it('maxInflight holds further QoS 1 publishes until a PUBACK makes room; QoS 0 behind them keeps its order', async () => {
    const s = await connectedSession({ maxInflight: 2 });
    const a = track(s.client.publish('t', 'a', { qos: 1 }));
    const b = track(s.client.publish('t', 'b', { qos: 1 }));
    const c = track(s.client.publish('t', 'c', { qos: 1 }));
    const d = track(s.client.publish('t', 'd', { qos: 0 }));
    await settle();
    const payloads = (): string[] => s.connection.packets('publish').map((p) => Buffer.from(p.payload).toString());
    expect(payloads()).toEqual(['a', 'b']);
    expect(s.client.inflightCount).toBe(2);
    expect(s.client.queuedCount).toBe(2);
    expect(d.status).toBe('pending');
    s.connection.send({ type: 'puback', packetId: s.connection.packets('publish')[1]!.packetId! });
    await settle();
    expect(payloads()).toEqual(['a', 'b', 'c', 'd']);
    expect(b.status).toBe('fulfilled');
    expect(d.status).toBe('fulfilled');
    expect([a.status, c.status]).toEqual(['pending', 'pending']);
  });

  it('QoS 2 is refused with unsupported, and nothing is sent', async () => {
    const s = await connectedSession();
    // @ts-expect-error publish's qos is typed 0 | 1: the mistake is caught by the compiler first
    const sent = track(s.client.publish('t', 'x', { qos: 2 }));
    await settle();
    expectRejected(sent, 'unsupported', MqttClientError);
    expect(s.connection.packets('publish')).toHaveLength(0);
  });
});

describe('topic names', () => {
  it.each([
    ['a wildcard +', 'dev/+/up'],
    ['a wildcard #', 'dev/#'],
    ['an empty topic', ''],
    ['U+0000', 'a\u0000b'],
  ])('with %s are refused with MqttProtocolError invalid-topic and nothing is sent [MQTT-3.3.2-2, MQTT-4.7.1-1, MQTT-4.7.3-1]', async (_what, topic) => {
    const s = await connectedSession();
    const sent = track(s.client.publish(topic, 'x', { qos: 1 }));
    await settle();
    expect(sent.status).toBe('rejected');
    expect(sent.error).toBeInstanceOf(MqttProtocolError);
    expect(['invalid-topic', 'invalid-utf8']).toContain((sent.error as MqttProtocolError).code);
    expect(s.connection.packets('publish')).toHaveLength(0);
    expect(s.client.inflightCount).toBe(0);
    expect(s.connection.isClosed).toBe(false);
  });

  it('wildcards and empty topics give invalid-topic', async () => {
    const s = await connectedSession();
    for (const topic of ['a/+', '#', '']) {
      const sent = track(s.client.publish(topic, 'x'));
      await settle(1);
      expectRejected(sent, 'invalid-topic', MqttProtocolError);
    }
  });
});

describe('writes', () => {
  it('coalesces the packets of one tick: 100 publishes reach the socket in one or two writes', async () => {
    const s = await connectedSession();
    await settle();
    const before = s.connection.clientWrites;
    const sent = Array.from({ length: 100 }, (_, i) => s.client.publish('telemetry/x', `message ${i}`, { qos: (i % 2) as 0 | 1 }));
    void sent.map(track);
    await settle();
    expect(s.connection.packets('publish')).toHaveLength(100);
    expect(s.connection.clientWrites - before).toBeLessThanOrEqual(2);
  });

  it('a batch too large for one write is split in few writes, not one per packet', async () => {
    const s = await connectedSession();
    await settle();
    const before = s.connection.clientWrites;
    const payload = new Uint8Array(1_000);
    for (let i = 0; i < 200; i++) void track(s.client.publish('bulk', payload));
    await settle();
    expect(s.connection.packets('publish')).toHaveLength(200);
    expect(s.connection.clientWrites - before).toBeLessThanOrEqual(10);
  });
});
