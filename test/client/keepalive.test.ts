/**
 * Keepalive in virtual time [MQTT-3.1.2-23, section 3.1.2.10]: every gap between packets the
 * client sends stays within Keep Alive; silence from the server is noticed; a PINGREQ without
 * PINGRESP ends the connection; sending does not touch timers.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { MqttClientError } from '../../src/client/errors.js';
import type { Received } from '../support/fake-server.js';
import { CONNACK_OK, connectedSession, elapse, expectRejected, failOnUnhandledRejections, session, settle, settled, track } from './harness.js';

failOnUnhandledRejections();

/** Largest gap between consecutive packets the client sent, the last one up to `until`. */
function largestGap(log: readonly Received[], until: number): number {
  let gap = 0;
  for (let i = 1; i < log.length; i++) gap = Math.max(gap, log[i]!.at - log[i - 1]!.at);
  return Math.max(gap, until - log[log.length - 1]!.at);
}

describe('an idle client [MQTT-3.1.2-23]', () => {
  it('sends PINGREQ before Keep Alive elapses: no gap between sent packets exceeds it over 10 periods', async () => {
    const s = await connectedSession({ keepalive: 30 });
    s.server.autoPingresp();
    await elapse(s.clock, 10 * 30_000);
    const log = s.connection.log;
    expect(log[0]!.packet.type).toBe('connect');
    expect(log.filter((r) => r.packet.type === 'pingreq').length).toBeGreaterThanOrEqual(10);
    expect(largestGap(log, s.clock.now())).toBeLessThanOrEqual(30_000);
    expect(s.connection.isClosed).toBe(false);
  });

  it('keeps every gap within Keep Alive for any keepalive, ping timeout and CONNACK delay', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 0, max: 900 }),
        async (keepalive, pingTimeout, connackDelay) => {
          const s = session({ keepalive, pingTimeout, connectTimeout: 60_000 });
          s.server.autoPingresp();
          const connected = track(s.client.connect());
          await s.server.next('connect');
          // The CONNECT counts: the server measures Keep Alive from it.
          await elapse(s.clock, connackDelay);
          s.server.send(CONNACK_OK);
          await settled(connected);
          await elapse(s.clock, 5 * keepalive * 1000);
          const log = s.server.current!.log;
          expect(largestGap(log, s.clock.now())).toBeLessThanOrEqual(keepalive * 1000);
          await s.client.end({ force: true });
        },
      ),
      { numRuns: 25 },
    );
  });

  it('counts Keep Alive from the CONNECT, not from a CONNACK that came late', async () => {
    const s = session({ keepalive: 10 });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    await elapse(s.clock, 2_000);
    s.server.send(CONNACK_OK);
    await settled(connected);
    const ping = track(s.server.next('pingreq'));
    await elapse(s.clock, 8_000);
    await settled(ping);
    expect(largestGap(s.server.current!.log, s.clock.now())).toBeLessThanOrEqual(10_000);
  });

  it('keeps the gap within Keep Alive when pingTimeout is longer than Keep Alive', async () => {
    // keepalive 5 s with the default 10 s ping timeout: the next PINGREQ may not wait for it.
    const s = await connectedSession({ keepalive: 5 });
    s.server.autoPingresp();
    await elapse(s.clock, 10 * 5_000);
    expect(largestGap(s.connection.log, s.clock.now())).toBeLessThanOrEqual(5_000);
    expect(s.connection.isClosed).toBe(false);
  });

  it('with keepalive 0 never pings', async () => {
    const s = await connectedSession({ keepalive: 0 });
    await elapse(s.clock, 24 * 3600_000);
    expect(s.connection.packets('pingreq')).toHaveLength(0);
    expect(s.clock.pending()).toBe(0);
    expect(s.connection.isClosed).toBe(false);
  });
});

describe('a client that only sends', () => {
  it('pings within one Keep Alive of the last packet it received, though it is never idle', async () => {
    const s = await connectedSession({ keepalive: 10, pingTimeout: 60_000 });
    const start = s.clock.now();
    // A QoS 0 publish every second for 25 s; the server answers nothing.
    for (let t = 1; t <= 25; t++) {
      await elapse(s.clock, 1_000);
      void track(s.client.publish('telemetry', `t=${t}`));
    }
    await settle();
    const pings = s.connection.log.filter((r) => r.packet.type === 'pingreq');
    expect(pings.length).toBeGreaterThanOrEqual(1);
    // Last received: the CONNACK at `start`.
    expect(pings[0]!.at - start).toBeLessThanOrEqual(10_000);
  });
});

describe('PINGRESP', () => {
  it('missing for pingTimeout closes the connection with ping-timeout, reported on close', async () => {
    const s = await connectedSession({ keepalive: 10, pingTimeout: 3_000 });
    const ping = track(s.connection.next('pingreq'));
    await elapse(s.clock, 10_000);
    await settled(ping);
    const sentAt = s.connection.log.find((r) => r.packet.type === 'pingreq')!.at;
    await elapse(s.clock, sentAt + 2_999 - s.clock.now());
    expect(s.connection.isClosed).toBe(false);
    await elapse(s.clock, 1);
    await s.connection.closed;
    const closes = s.eventsNamed('close');
    expect(closes).toHaveLength(1);
    expect(closes[0]!.args[0]).toBeInstanceOf(MqttClientError);
    expect((closes[0]!.args[0] as MqttClientError).code).toBe('ping-timeout');
    expect(s.errors.map((e) => (e as MqttClientError).code)).toEqual(['ping-timeout']);
    expect(s.eventsNamed('offline')).toHaveLength(1);
  });

  it('arriving in time keeps the connection open', async () => {
    const s = await connectedSession({ keepalive: 10, pingTimeout: 3_000 });
    // The server answers each PINGREQ 2,999 ms late: still in time.
    s.server.reply((packet, connection) => {
      if (packet.type === 'pingreq') s.clock.setTimeout(() => connection.send({ type: 'pingresp' }), 2_999);
    });
    await elapse(s.clock, 10 * 10_000);
    expect(s.connection.isClosed).toBe(false);
    expect(s.eventsNamed('close')).toHaveLength(0);
    expect(s.connection.packets('pingreq').length).toBeGreaterThanOrEqual(10);
  });

  it('longer than Keep Alive: unanswered, the client pings again to keep the gap, and times out from the first PINGREQ', async () => {
    const s = await connectedSession({ keepalive: 5, pingTimeout: 12_000 });
    await elapse(s.clock, 20_000);
    const pings = s.connection.log.filter((r) => r.packet.type === 'pingreq').map((r) => r.at);
    expect(pings[0]).toBe(4_000);
    const close = s.eventsNamed('close')[0]!;
    expect((close.args[0] as MqttClientError).code).toBe('ping-timeout');
    expect(close.at).toBe(pings[0]! + 12_000);
    expect(largestGap(s.connection.log, close.at)).toBeLessThanOrEqual(5_000);
  });

  it('a connection whose server answers nothing at all is declared dead within Keep Alive + pingTimeout', async () => {
    const s = await connectedSession({ keepalive: 20, pingTimeout: 5_000 });
    s.connection.stall();
    await elapse(s.clock, 25_000);
    expect(s.eventsNamed('close')).toHaveLength(1);
    expect((s.eventsNamed('close')[0]!.args[0] as MqttClientError).code).toBe('ping-timeout');
  });
});

describe('ping()', () => {
  it('sends a PINGREQ now and resolves with the round trip in virtual milliseconds', async () => {
    const s = await connectedSession({ keepalive: 60 });
    await elapse(s.clock, 1_000);
    const rtt = track(s.client.ping());
    await s.connection.next('pingreq');
    await elapse(s.clock, 250);
    s.connection.send({ type: 'pingresp' });
    await settled(rtt);
    expect(rtt.value).toBe(250);
    expect(s.clock.pending()).toBe(1); // the keepalive timer alone
  });

  it('rejects with ping-timeout and closes the connection when no PINGRESP comes within pingTimeout', async () => {
    const s = await connectedSession({ keepalive: 60, pingTimeout: 4_000 });
    const rtt = track(s.client.ping());
    await s.connection.next('pingreq');
    await elapse(s.clock, 3_999);
    expect(rtt.status).toBe('pending');
    await elapse(s.clock, 1);
    expectRejected(rtt, 'ping-timeout', MqttClientError);
    await s.connection.closed;
    expect((s.eventsNamed('close')[0]!.args[0] as MqttClientError).code).toBe('ping-timeout');
  });

  it('rejects with connection-closed when offline, and when the connection closes first', async () => {
    const s = await connectedSession();
    const waiting = track(s.client.ping());
    await s.connection.next('pingreq');
    s.connection.close();
    await s.connection.closed;
    await settle();
    expectRejected(waiting, 'connection-closed', MqttClientError);
    const offline = track(s.client.ping());
    await settle();
    expectRejected(offline, 'connection-closed', MqttClientError);
  });
});

describe('the hot path', () => {
  it('sending touches no timer: 1,000 publishes make no setTimeout or clearTimeout call', async () => {
    const s = await connectedSession({ keepalive: 30 });
    const set = vi.spyOn(s.clock, 'setTimeout');
    const clear = vi.spyOn(s.clock, 'clearTimeout');
    const sent: Array<Promise<void>> = [];
    for (let i = 0; i < 1_000; i++) sent.push(s.client.publish('telemetry', 'x', { qos: (i % 2) as 0 | 1 }));
    await settle();
    // Acks received do not touch timers either.
    for (const p of s.connection.packets('publish')) if (p.qos === 1) s.connection.send({ type: 'puback', packetId: p.packetId! });
    await Promise.all(sent);
    expect(set).not.toHaveBeenCalled();
    expect(clear).not.toHaveBeenCalled();
  });
});
