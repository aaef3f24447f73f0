/**
 * Reconnecting, in virtual time: backoff with full jitter, its cap and reset; the events; what a
 * session carries over to the next connection (re-sent QoS 1 messages, restored subscriptions,
 * the offline queue); and a server that keeps dropping the client.
 */
import { describe, expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/errors.js';
import type { PublishPacket } from '../../src/packet/types.js';
import type { ServerConnection } from '../support/fake-server.js';
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
import type { Session } from './harness.js';

failOnUnhandledRejections();

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED ::1:8883'), { code: 'ECONNREFUSED' });

/** The delays of the `reconnect` events so far. */
const delays = (s: Session): number[] => s.eventsNamed('reconnect').map((e) => e.args[1] as number);

/** Drops the current connection and brings the next one up with `connack`; returns it. */
async function reconnect(s: Session, connack = CONNACK_OK, wait = 60_000): Promise<ServerConnection> {
  const index = s.server.connectionCount + 1;
  s.server.current!.close();
  await s.server.current!.closed;
  const next = track(s.server.connection(index));
  for (let waited = 0; next.status === 'pending' && waited < wait; waited += 100) await elapse(s.clock, 100);
  expectSettled(next, `connection ${index}`);
  const connection = next.value!;
  await connection.next('connect');
  connection.send(connack);
  await settle();
  return connection;
}

describe('backoff [full jitter]', () => {
  it('with random() just under 1, each delay is just under min(maxDelay, initialDelay * 2^n)', async () => {
    const s = session({ random: () => 0.999_999, reconnect: { initialDelay: 1_000, maxDelay: 30_000 } });
    const failure = refused();
    s.server.failAllOpens(failure);
    const connected = track(s.client.connect());
    await elapse(s.clock, 200_000);
    expect(connected.error).toBe(failure);
    const ceilings = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000];
    expect(delays(s).slice(0, ceilings.length)).toEqual(ceilings.map((c) => c - 1));
    // Each attempt starts when its delay has passed: the events' times advance by the delays.
    const times = s.eventsNamed('reconnect').map((e) => e.at);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(delays(s)[i]);
    expect(s.eventsNamed('reconnect').map((e) => e.args[0])).toEqual(times.map((_, i) => i + 1));
  });

  it('with random() = 0, every delay is 0 (the lower bound), and attempts still go one at a time', async () => {
    const s = session({ random: () => 0, reconnect: { initialDelay: 1_000, maxDelay: 30_000 } });
    s.server.failAllOpens(refused());
    void track(s.client.connect());
    for (let i = 0; i < 6; i++) {
      await settle();
      s.clock.advance(0);
    }
    await settle();
    expect(delays(s).length).toBeGreaterThanOrEqual(4);
    expect(new Set(delays(s))).toEqual(new Set([0]));
    expect(s.server.opens).toHaveLength(delays(s).length + 1);
  });

  it('stays within [0, ceiling) for any random() in [0, 1)', async () => {
    const values = [0.1, 0.73, 0.5, 0.999, 0.01, 0.42, 0.88, 0.3];
    let i = 0;
    const s = session({ random: () => values[i++ % values.length]!, reconnect: { initialDelay: 500, maxDelay: 10_000 } });
    s.server.failAllOpens(refused());
    void track(s.client.connect());
    await elapse(s.clock, 100_000);
    const ceilings = [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000];
    expect(delays(s).slice(0, 8)).toEqual(ceilings.map((c, n) => Math.floor(values[n]! * c)));
  });

  it('resets to the first delay after a connection stayed up resetAfter, and not before', async () => {
    const s = session({ random: () => 0.999_999, reconnect: { initialDelay: 1_000, maxDelay: 60_000, resetAfter: 10_000 } });
    s.server.autoConnack(CONNACK_OK);
    s.server.failOpen(refused(), 3);
    void track(s.client.connect());
    await elapse(s.clock, 999 + 1_999 + 3_999);
    expect(delays(s)).toEqual([999, 1_999, 3_999]);
    expect(s.client.state).toBe('connected');
    const upAt = (): number => s.eventsNamed('connect').at(-1)!.at;

    // Up for 9,999 ms: not long enough, the sequence goes on.
    await elapse(s.clock, upAt() + 9_999 - s.clock.now());
    s.server.current!.close();
    await elapse(s.clock, 8_000);
    expect(delays(s)).toEqual([999, 1_999, 3_999, 7_999]);
    expect(s.client.state).toBe('connected');

    // Up for 10,000 ms: the next delay is the first again.
    await elapse(s.clock, upAt() + 10_000 - s.clock.now());
    s.server.current!.close();
    await elapse(s.clock, 1_000);
    expect(delays(s)).toEqual([999, 1_999, 3_999, 7_999, 999]);
    // The attempt number counts from the last connection, whatever the delay did.
    expect(s.eventsNamed('reconnect').map((e) => e.args[0])).toEqual([1, 2, 3, 1, 1]);
  });
});

describe('events', () => {
  it("a lost connection emits close, offline, then reconnect(attempt, delay), then connect", async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 2_000 } });
    s.server.autoConnack(CONNACK_OK);
    s.connection.close();
    await s.connection.closed;
    await settle();
    expect(s.client.state).toBe('waiting');
    expect(s.client.connected).toBe(false);
    await elapse(s.clock, 1_000);
    expect(s.events.map((e) => e.name)).toEqual(['connect', 'close', 'offline', 'reconnect', 'connect']);
    expect(s.eventsNamed('reconnect')[0]!.args).toEqual([1, 1_000]);
    expect((s.eventsNamed('close')[0]!.args[0] as MqttClientError).code).toBe('connection-closed');
    expect(s.client.state).toBe('connected');
  });

  it('connect() during the wait tries at once', async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 60_000 } });
    s.connection.close();
    await s.connection.closed;
    await settle();
    const again = track(s.client.connect());
    const second = await s.server.connection(2);
    await second.next('connect');
    second.send(CONNACK_OK);
    await settled(again);
    expect(again.status).toBe('fulfilled');
    expect(s.eventsNamed('reconnect').map((e) => e.args)).toEqual([[1, 0]]);
  });
});

describe('the session across connections (clean: false)', () => {
  it('re-sends unacknowledged QoS 1 publishes first after the new CONNACK: original order, DUP 1, original ids [MQTT-4.4.0-1, MQTT-3.3.1-1, MQTT-4.6.0-1, MQTT-2.3.1-3]', async () => {
    const s = await connectedSession({ clean: false, reconnect: { initialDelay: 1_000 } });
    const sent = ['a', 'b', 'c', 'd'].map((p) => track(s.client.publish('t', p, { qos: 1 })));
    await settle();
    const original = s.connection.packets('publish');
    expect(original.map((p) => p.dup)).toEqual([false, false, false, false]);
    // 'b' is acknowledged; 'a', 'c' and 'd' are not.
    s.connection.send({ type: 'puback', packetId: original[1]!.packetId! });
    await settle();
    s.connection.close();
    await s.connection.closed;
    // Offline: new traffic queues behind the re-sends.
    const later = track(s.client.publish('t', 'e', { qos: 1 }));
    const later0 = track(s.client.publish('t', 'f'));
    const second = await (async () => {
      await elapse(s.clock, 1_000);
      return s.server.connection(2);
    })();
    await second.next('connect');
    await settle();
    // Nothing but the CONNECT before the CONNACK.
    expect(second.log.map((r) => r.packet.type)).toEqual(['connect']);
    second.send({ type: 'connack', sessionPresent: true, returnCode: 0 });
    await settle();
    // The server closed the connection with 'a' the oldest unacknowledged message: 'a' goes out
    // alone first, in case it is what the server refuses, and the rest wait for its PUBACK.
    const probe = second.log.slice(1).map((r) => r.packet as PublishPacket);
    expect(probe.map((p) => [Buffer.from(p.payload).toString(), p.dup, p.packetId])).toEqual([['a', true, original[0]!.packetId]]);
    second.send({ type: 'puback', packetId: original[0]!.packetId! });
    await settle();
    const after = second.log.slice(2).map((r) => r.packet as PublishPacket).filter((p) => p.type === 'publish');
    const summary = after.map((p) => [Buffer.from(p.payload).toString(), p.dup, p.packetId]);
    expect(summary).toEqual([
      ['c', true, original[2]!.packetId],
      ['d', true, original[3]!.packetId],
      ['e', false, expect.any(Number)],
      ['f', false, undefined],
    ]);
    // The new message got an id none of the unacknowledged ones holds.
    expect([original[0], original[2], original[3]].map((p) => p!.packetId)).not.toContain(after[2]!.packetId);
    for (const p of after.slice(0, 3)) second.send({ type: 'puback', packetId: p.packetId! });
    await settle();
    expect([...sent, later, later0].map((t) => t.status)).toEqual(Array(6).fill('fulfilled'));
  });

  it('with clean: true the unacknowledged messages go out again as new messages (DUP 0)', async () => {
    const s = await connectedSession({ clean: true, reconnect: { initialDelay: 1_000 } });
    const sent = track(s.client.publish('t', 'a', { qos: 1 }));
    await s.connection.next('publish');
    const second = await reconnect(s);
    const again = await second.next('publish');
    expect(again.dup).toBe(false);
    second.send({ type: 'puback', packetId: again.packetId! });
    await settled(sent);
    expect(sent.status).toBe('fulfilled');
  });

  it('re-sends a SUBSCRIBE still awaiting its SUBACK, with its id', async () => {
    const s = await connectedSession({ clean: false, reconnect: { initialDelay: 1_000 } });
    const granted = track(s.client.subscribe('cmd/#', { qos: 1 }));
    const first = await s.connection.next('subscribe');
    const second = await reconnect(s, { type: 'connack', sessionPresent: true, returnCode: 0 });
    const again = await second.next('subscribe');
    expect(again).toEqual(first);
    second.send({ type: 'suback', packetId: again.packetId, returnCodes: [1] });
    await settled(granted);
    expect(granted.status).toBe('fulfilled');
  });

  it('restores subscriptions when CONNACK says the session is not present, not when it is', async () => {
    const s = await connectedSession({ clean: false, reconnect: { initialDelay: 1_000 } });
    const granted = track(s.client.subscribe(['keep/1', 'keep/2', 'refused', 'dropped'], { qos: 1 }));
    const subscribe = await s.connection.next('subscribe');
    s.connection.send({ type: 'suback', packetId: subscribe.packetId, returnCodes: [1, 0, 0x80, 1] });
    await settled(granted);
    const unsubscribed = track(s.client.unsubscribe('dropped'));
    const unsubscribe = await s.connection.next('unsubscribe');
    s.connection.send({ type: 'unsuback', packetId: unsubscribe.packetId });
    await settled(unsubscribed);

    // Session present: the server kept the subscriptions; nothing to send.
    const second = await reconnect(s, { type: 'connack', sessionPresent: true, returnCode: 0 });
    await settle();
    expect(second.packets('subscribe')).toHaveLength(0);

    // Session not present: subscribe again to what was granted and not unsubscribed.
    const third = await reconnect(s, { type: 'connack', sessionPresent: false, returnCode: 0 });
    const restore = await third.next('subscribe');
    expect(restore.subscriptions).toEqual([
      { topicFilter: 'keep/1', qos: 1 },
      { topicFilter: 'keep/2', qos: 1 },
    ]);
    third.send({ type: 'suback', packetId: restore.packetId, returnCodes: [1, 1] });
    await settle();
    expect(third.isClosed).toBe(false);
    expect(s.errors).toEqual([]);
  });

  it("a restored subscription the server now refuses is reported on 'error' as SubscribeError", async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 1_000 } });
    const granted = track(s.client.subscribe('a'));
    const subscribe = await s.connection.next('subscribe');
    s.connection.send({ type: 'suback', packetId: subscribe.packetId, returnCodes: [0] });
    await settled(granted);
    const second = await reconnect(s);
    const restore = await second.next('subscribe');
    second.send({ type: 'suback', packetId: restore.packetId, returnCodes: [0x80] });
    await settle();
    expect(s.errors.map((e) => (e as MqttClientError).code)).toEqual(['subscribe-failed']);
  });
});

describe('offline', () => {
  it('publishes queue while offline, in order, bounded by offlineQueueSize: a full queue rejects at once with queue-full', async () => {
    const s = await connectedSession({ offlineQueueSize: 3, reconnect: { initialDelay: 5_000 } });
    s.connection.close();
    await s.connection.closed;
    const queued = [track(s.client.publish('t', '1', { qos: 1 })), track(s.client.publish('t', '2')), track(s.client.publish('t', '3', { qos: 1 }))];
    const overflow = track(s.client.publish('t', '4'));
    await settle();
    expectRejected(overflow, 'queue-full', MqttClientError);
    expect(s.client.queuedCount).toBe(3);
    expect(queued.map((t) => t.status)).toEqual(['pending', 'pending', 'pending']);
    await elapse(s.clock, 2_500);
    const second = await s.server.connection(2);
    await second.next('connect');
    second.send(CONNACK_OK);
    await settle();
    expect(second.packets('publish').map((p) => Buffer.from(p.payload).toString())).toEqual(['1', '2', '3']);
    expect(queued[1]!.status).toBe('fulfilled');
  });

  it("offlineQoS0: 'reject' rejects QoS 0 at once while offline (connection-closed); QoS 1 still queues", async () => {
    const s = await connectedSession({ offlineQoS0: 'reject', reconnect: { initialDelay: 5_000 } });
    s.connection.close();
    await s.connection.closed;
    const qos0 = track(s.client.publish('t', 'x'));
    const qos1 = track(s.client.publish('t', 'y', { qos: 1 }));
    await settle();
    expectRejected(qos0, 'connection-closed', MqttClientError);
    expect(qos1.status).toBe('pending');
    expect(s.client.queuedCount).toBe(1);
  });

  it('publishes before the first connect() queue too, and go out after the CONNACK', async () => {
    const s = session();
    const early = track(s.client.publish('t', 'early'));
    const connected = track(s.client.connect());
    const connect = await s.server.next('connect');
    expect(connect.type).toBe('connect');
    s.server.send(CONNACK_OK);
    await settled(connected);
    await settled(early);
    expect(s.server.current!.log.map((r) => r.packet.type)).toEqual(['connect', 'publish']);
  });
});

describe('a server that drops the client right after CONNACK', () => {
  it('does not cause a tight loop: delays grow, and after 3 quick drops an error names a possible duplicate client id', async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 1_000, maxDelay: 64_000 } });
    s.server.reply((packet, connection) => {
      if (packet.type !== 'connect') return;
      connection.send(CONNACK_OK);
      connection.close();
    });
    s.connection.close();
    await elapse(s.clock, 120_000);
    // random() is 0.5: the ceiling doubles each time.
    expect(delays(s).slice(0, 6)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(s.server.connectionCount).toBeLessThan(10);
    const duplicate = s.errors.filter((e) => (e as MqttClientError).code === 'connection-closed');
    expect(duplicate).toHaveLength(1);
    // It appears at the third quick drop.
    const errorAt = s.eventsNamed('error')[0]!.at;
    const offlineTimes = s.eventsNamed('offline').map((e) => e.at);
    expect(offlineTimes.filter((t) => t <= errorAt)).toHaveLength(3);
  });

  it('a connection that lasts resets the count of quick drops', async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 1_000 } });
    s.server.autoConnack(CONNACK_OK);
    for (let i = 0; i < 2; i++) {
      s.server.current!.close();
      await elapse(s.clock, 10_000);
    }
    await elapse(s.clock, 10_000); // this connection lasts
    for (let i = 0; i < 2; i++) {
      s.server.current!.close();
      await elapse(s.clock, 10_000);
    }
    expect(s.errors).toEqual([]);
  });
});
