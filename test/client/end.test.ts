/**
 * Ending the session: end() and the signal, in every state; DISCONNECT last [MQTT-3.14.4-1/-2];
 * in-flight messages waited for, then reported; every public promise settles.
 */
import { describe, expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/errors.js';
import type { Tracked } from './harness.js';
import {
  CONNACK_OK,
  connectedSession,
  elapse,
  expectRejected,
  expectSettled,
  failOnUnhandledRejections,
  session,
  settle,
  settled,
  track,
} from './harness.js';

failOnUnhandledRejections();

const text = (payload: Uint8Array): string => Buffer.from(payload).toString();

/** Asserts every promise has settled (after whatever time the test advanced). */
function expectAllSettled(promises: Record<string, Tracked<unknown>>): void {
  for (const [name, t] of Object.entries(promises)) expectSettled(t, name);
}

describe('end() on a connected client', () => {
  it('sends DISCONNECT, closes, and sends nothing after it [MQTT-3.14.4-1, MQTT-3.14.4-2]', async () => {
    const s = await connectedSession({ keepalive: 5 });
    void track(s.client.publish('t', 'before'));
    const ended = track(s.client.end());
    // A PUBLISH from the server after the DISCONNECT must not be acknowledged on this connection.
    s.connection.send({ type: 'publish', topic: 'cmd', payload: Buffer.from('late'), qos: 1, retain: false, dup: false, packetId: 9 });
    await s.connection.closed;
    await settled(ended);
    expect(ended.value).toEqual({ unacknowledged: [] });
    const types = s.connection.log.map((r) => r.packet.type);
    expect(types).toEqual(['connect', 'publish', 'disconnect']);
    // Nor later, when keepalive would have pinged.
    await elapse(s.clock, 60_000);
    expect(s.connection.log.map((r) => r.packet.type)).toEqual(types);
    expect(s.client.state).toBe('ended');
    expect(s.eventsNamed('end')).toHaveLength(1);
    expect(s.clock.pending()).toBe(0);
  });

  it('waits for the PUBACKs of QoS 1 messages in flight, and resolves as soon as they arrive', async () => {
    const s = await connectedSession();
    const sent = [track(s.client.publish('t', 'a', { qos: 1 })), track(s.client.publish('t', 'b', { qos: 1 }))];
    await settle();
    const ended = track(s.client.end({ timeout: 10_000 }));
    await elapse(s.clock, 3_000);
    expect(ended.status).toBe('pending');
    expect(s.connection.packets('disconnect')).toHaveLength(0);
    for (const p of s.connection.packets('publish')) s.connection.send({ type: 'puback', packetId: p.packetId! });
    await s.connection.closed;
    await settled(ended);
    expect(ended.value).toEqual({ unacknowledged: [] });
    expect(sent.map((t) => t.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(s.connection.log.at(-1)!.packet.type).toBe('disconnect');
  });

  it('after timeout reports the unacknowledged messages in order and rejects their promises with client-ended', async () => {
    const s = await connectedSession();
    const sent = ['a', 'b', 'c'].map((p) => track(s.client.publish('t', p, { qos: 1 })));
    await settle();
    const ids = s.connection.packets('publish').map((p) => p.packetId);
    s.connection.send({ type: 'puback', packetId: ids[1]! });
    const ended = track(s.client.end({ timeout: 5_000 }));
    await elapse(s.clock, 4_999);
    expect(ended.status).toBe('pending');
    await elapse(s.clock, 1);
    await settled(ended);
    const report = ended.value!;
    expect(report.unacknowledged.map((m) => [m.topic, text(m.payload), m.qos, m.packetId])).toEqual([
      ['t', 'a', 1, ids[0]],
      ['t', 'c', 1, ids[2]],
    ]);
    expectRejected(sent[0]!, 'client-ended', MqttClientError);
    expect(sent[1]!.status).toBe('fulfilled');
    expectRejected(sent[2]!, 'client-ended', MqttClientError);
    await s.connection.closed;
    expect(s.connection.log.at(-1)!.packet.type).toBe('disconnect');
  });

  it('force: true does not wait', async () => {
    const s = await connectedSession();
    const sent = track(s.client.publish('t', 'a', { qos: 1 }));
    await settle();
    const ended = track(s.client.end({ force: true }));
    await settled(ended);
    expect(ended.value!.unacknowledged).toHaveLength(1);
    expectRejected(sent, 'client-ended');
  });

  it('sends messages held back by maxInflight while it waits, instead of giving them up', async () => {
    const s = await connectedSession({ maxInflight: 1 });
    const sent = [track(s.client.publish('t', 'a', { qos: 1 })), track(s.client.publish('t', 'b', { qos: 1 }))];
    await settle();
    expect(s.client.queuedCount).toBe(1);
    const ended = track(s.client.end({ timeout: 10_000 }));
    s.server.reply((packet, connection) => {
      if (packet.type === 'publish') connection.send({ type: 'puback', packetId: packet.packetId! });
    });
    s.connection.send({ type: 'puback', packetId: s.connection.packets('publish')[0]!.packetId! });
    await settle();
    await settled(ended);
    expect(ended.value).toEqual({ unacknowledged: [] });
    expect(sent.map((t) => t.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(s.connection.log.map((r) => r.packet.type)).toEqual(['connect', 'publish', 'publish', 'disconnect']);
  });

  it('flushes QoS 0 messages queued behind a saturated socket while it waits, and resolves once they are out', async () => {
    const s = await connectedSession({ server: { highWaterMark: 1_024 } });
    s.connection.stall();
    const payload = new Uint8Array(40_000);
    const sent = [0, 1, 2].map(() => track(s.client.publish('t', payload)));
    await settle();
    expect(s.client.queuedCount).toBe(2);
    const ended = track(s.client.end({ timeout: 60_000 }));
    await settle();
    s.connection.resume();
    await settled(ended);
    expect(ended.value).toEqual({ unacknowledged: [] });
    expect(sent.map((t) => t.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    await s.connection.closed;
    expect(s.connection.log.map((r) => r.packet.type)).toEqual(['connect', 'publish', 'publish', 'publish', 'disconnect']);
  });

  it('a connection lost while end() waits for acks ends the wait at once', async () => {
    const s = await connectedSession();
    const sent = track(s.client.publish('t', 'a', { qos: 1 }));
    await settle();
    const ended = track(s.client.end({ timeout: 30_000 }));
    await settle();
    s.connection.close();
    await s.connection.closed;
    await settled(ended);
    expect(ended.value!.unacknowledged.map((m) => text(m.payload))).toEqual(['a']);
    expectRejected(sent, 'client-ended');
  });

  it('is idempotent: a second call returns the same report', async () => {
    const s = await connectedSession();
    const a = s.client.end();
    const b = s.client.end();
    expect(a).toBe(b);
    await a;
  });

  it('rejects a timeout that is not a whole number of milliseconds', async () => {
    const s = await connectedSession();
    const bad = track(s.client.end({ timeout: -1 }));
    await settle();
    expect(bad.status).toBe('rejected');
    expect(s.client.state).toBe('connected');
  });

  it('then every call fails at once with client-ended', async () => {
    const s = await connectedSession();
    await s.client.end();
    const calls = {
      connect: track(s.client.connect()),
      publish: track(s.client.publish('t', 'x')),
      subscribe: track(s.client.subscribe('a')),
      unsubscribe: track(s.client.unsubscribe('a')),
    };
    await settle();
    for (const t of Object.values(calls)) expectRejected(t, 'client-ended', MqttClientError);
  });
});

describe('end() in other states', () => {
  it('during a reconnect wait cancels it: no further openSocket call, ever', async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 10_000 } });
    const queued = track(s.client.publish('t', 'q', { qos: 1 }));
    s.connection.close();
    await s.connection.closed;
    await settle();
    expect(s.client.state).toBe('waiting');
    const ended = track(s.client.end());
    await settled(ended);
    expect(ended.value!.unacknowledged.map((m) => text(m.payload))).toEqual(['q']);
    await elapse(s.clock, 24 * 3600_000);
    expect(s.server.opens).toHaveLength(1);
    expect(s.eventsNamed('reconnect')).toHaveLength(0);
    expect(s.clock.pending()).toBe(0);
    expectRejected(queued, 'client-ended');
  });

  it('while openSocket is still opening: the socket that comes back is closed, connect() rejects', async () => {
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const s = session({
      openSocket: async (options) => {
        await gate;
        return s.server.openSocket(options);
      },
    });
    const connected = track(s.client.connect());
    await settle();
    const ended = track(s.client.end());
    await settled(ended);
    release();
    await settle();
    expectRejected(connected, 'client-ended');
    expect(s.server.connectionCount).toBe(1);
    await s.server.current!.closed;
    expect(s.server.current!.log).toEqual([]);
  });

  it('while waiting for CONNACK: the connection closes without DISCONNECT, connect() rejects', async () => {
    const s = session();
    const connected = track(s.client.connect());
    await s.server.next('connect');
    const ended = track(s.client.end());
    await s.server.current!.closed;
    await settled(ended);
    expectRejected(connected, 'client-ended');
    expect(s.server.current!.log.map((r) => r.packet.type)).toEqual(['connect']);
    expect(s.clock.pending()).toBe(0);
  });

  it('on a client never connected resolves at once', async () => {
    const s = session();
    const queued = track(s.client.publish('t', 'x'));
    const ended = track(s.client.end());
    await settled(ended);
    expect(ended.value!.unacknowledged.map((m) => m.packetId)).toEqual([undefined]);
    expectRejected(queued, 'client-ended');
    expect(s.server.opens).toHaveLength(0);
  });
});

describe('the signal option', () => {
  it('ends a connected client: DISCONNECT, end event, pending work rejected', async () => {
    const controller = new AbortController();
    const s = await connectedSession({ signal: controller.signal });
    const pending = {
      publish: track(s.client.publish('t', 'x', { qos: 1 })),
      subscribe: track(s.client.subscribe('a')),
    };
    await settle();
    controller.abort();
    await s.connection.closed;
    await settle();
    expectAllSettled(pending);
    expectRejected(pending.publish, 'client-ended');
    expectRejected(pending.subscribe, 'client-ended');
    expect(s.connection.log.at(-1)!.packet.type).toBe('disconnect');
    expect(s.eventsNamed('end')).toHaveLength(1);
    expect(s.client.state).toBe('ended');
  });

  it('ends a client waiting to reconnect', async () => {
    const controller = new AbortController();
    const s = await connectedSession({ signal: controller.signal, reconnect: { initialDelay: 1_000 } });
    s.connection.close();
    await s.connection.closed;
    controller.abort();
    await settle();
    await elapse(s.clock, 60_000);
    expect(s.server.opens).toHaveLength(1);
    expect(s.client.state).toBe('ended');
  });

  it('already aborted: connect() rejects at once and nothing is opened', async () => {
    const s = session({ signal: AbortSignal.abort() });
    const connected = track(s.client.connect());
    await settled(connected);
    expectRejected(connected, 'client-ended');
    expect(s.server.opens).toHaveLength(0);
  });
});

describe('every public promise settles', () => {
  it('when the server vanishes and reconnecting is off', async () => {
    const s = await connectedSession({ reconnect: false });
    const calls = {
      qos0: track(s.client.publish('t', 'x')),
      qos1: track(s.client.publish('t', 'y', { qos: 1 })),
      subscribe: track(s.client.subscribe('a')),
      unsubscribe: track(s.client.unsubscribe('b')),
    };
    await settle();
    s.connection.destroy();
    await s.connection.closed;
    await settle();
    expectAllSettled(calls);
    expect(calls.qos0.status).toBe('fulfilled');
    expectRejected(calls.qos1, 'connection-closed');
    expectRejected(calls.subscribe, 'connection-closed');
    expectRejected(calls.unsubscribe, 'connection-closed');
    // And when offline afterwards, publish does not hang either.
    const later = track(s.client.publish('t', 'z', { qos: 1 }));
    const end = track(s.client.end());
    await settle();
    expectAllSettled({ later, end });
  });

  it('when the server stalls: ping timeout, reconnect attempts, then end()', async () => {
    const s = await connectedSession({ keepalive: 10, pingTimeout: 2_000, reconnect: { initialDelay: 1_000 }, connectTimeout: 5_000 });
    const calls = {
      qos1: track(s.client.publish('t', 'y', { qos: 1 })),
      subscribe: track(s.client.subscribe('a')),
      connect: track(s.client.connect()),
    };
    await settle();
    s.connection.stall();
    await elapse(s.clock, 30_000);
    expect(s.eventsNamed('close').length).toBeGreaterThanOrEqual(1);
    // The new connections get no CONNACK: each attempt times out.
    expect(s.server.connectionCount).toBeGreaterThan(1);
    const ended = track(s.client.end({ timeout: 1_000 }));
    await elapse(s.clock, 5_000);
    expectAllSettled({ ...calls, ended });
    expect(calls.connect.status).toBe('fulfilled');
    expectRejected(calls.qos1, 'client-ended');
    expectRejected(calls.subscribe, 'client-ended');
    expect(s.clock.pending()).toBe(0);
  });

  it('when a CONNACK refusal ends the client while work is queued', async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 1_000 } });
    const queued = track(s.client.publish('t', 'x', { qos: 1 }));
    const subscribe = track(s.client.subscribe('a'));
    await settle();
    s.server.autoConnack({ type: 'connack', sessionPresent: false, returnCode: 4 });
    s.connection.close();
    await elapse(s.clock, 5_000);
    expectAllSettled({ queued, subscribe });
    expectRejected(queued, 'connection-refused');
    expectRejected(subscribe, 'connection-refused');
    expect(s.client.state).toBe('ended');
    // end() afterwards returns the same shutdown: one 'end' event, not a second run.
    const report = track(s.client.end());
    await settled(report);
    expect(report.status).toBe('fulfilled');
    expect(s.eventsNamed('end')).toHaveLength(1);
  });

  it('a message iterator ends when the client ends', async () => {
    const s = await connectedSession();
    const iterator = s.client.messages();
    const next = track(iterator.next());
    await s.client.end();
    await settled(next);
    expect(next.value).toEqual({ value: undefined, done: true });
  });
});

describe('connect() after the first connection', () => {
  it('resolves at once while connected, with the last connection info', async () => {
    const s = await connectedSession();
    const again = track(s.client.connect());
    await settled(again);
    expect(again.value).toEqual({ sessionPresent: false });
    expect(s.server.opens).toHaveLength(1);
  });

  it('with reconnect off, connect() after a lost connection opens a new one', async () => {
    const s = await connectedSession({ reconnect: false });
    s.connection.close();
    await s.connection.closed;
    await settle();
    const again = track(s.client.connect());
    const second = await s.server.connection(2);
    await second.next('connect');
    second.send(CONNACK_OK);
    await settled(again);
    expect(again.status).toBe('fulfilled');
  });
});
