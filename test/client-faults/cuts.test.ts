/**
 * 5,000 QoS 1 messages through a proxy that keeps cutting the connection, against a real
 * mosquitto over TLS on [::1]. What MQTT 3.1.1 promises, and what is checked:
 *
 * - QoS 1 is at least once: every message reaches the subscriber, some more than once (a message
 *   whose PUBACK was lost in a cut is sent again and delivered again; the broker cannot tell).
 * - The client re-sends every unacknowledged PUBLISH on the next connection, first, with its
 *   packet id and DUP set, in the original order [MQTT-4.4.0-1, MQTT-2.3.1-3, MQTT-3.3.1-1,
 *   MQTT-4.6.0-1]; a first send has DUP 0. The broker does not pass DUP on [MQTT-3.3.1-3], so this
 *   is checked on the publisher's side of the wire, not at the subscriber.
 * - The broker delivers one publisher's messages on a topic in the order it received them
 *   [MQTT-4.6.0-6]. Each connection carries a prefix of what the client wrote to it, and the next
 *   one starts over from the oldest unacknowledged message, so the first arrivals at the
 *   subscriber are exactly 0, 1, 2, ... 4999: no message is ever seen before one published
 *   earlier. Duplicates come after their first arrival.
 */
import { expect, it } from 'vitest';
import type { MqttClient } from '../../src/client/index.js';
import { TransportError } from '../../src/transport/index.js';
import { MqttClientError } from '../../src/client/index.js';
import { seededRandom, useFaultProxy } from '../support/fault-proxy.js';
import type { ConnectionFaults } from '../support/fault-proxy.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { SocketSpy, brokerOptions, next, packetType, parsePublish, uniqueId, until, useBroker } from '../client-broker/support.js';
import type { SpiedConnection } from '../client-broker/support.js';

const MESSAGES = 5000;
const TOPIC = 'faults/cuts';
/** No connection carries more than this from the client: 125 kB of PUBLISHes need 25 connections or more. */
const MAX_CLIENT_BYTES = 5000;
const CONNECT = 1;
const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;

/** Every connection is cut: after 1,500..5,000 bytes from the client, and some sooner, by time or server bytes. */
function randomCuts(random: () => number): (index: number) => ConnectionFaults {
  return () => ({
    cutAfterClientBytes: Math.floor(1500 + random() * (MAX_CLIENT_BYTES - 1500)),
    ...(random() < 0.3 ? { cutAfterServerBytes: Math.floor(300 + random() * 4000) } : {}),
    ...(random() < 0.3 ? { cutAfterMs: Math.floor(20 + random() * 250) } : {}),
    how: random() < 0.5 ? 'reset' : 'close',
  });
}

const seqOf = (payload: Uint8Array): number => Number(Buffer.from(payload).toString('ascii'));

/**
 * Replays the publisher's side of the wire, connection by connection, and checks the re-sends.
 *
 * What the client holds in flight is what it has *encoded*, and a connection can die before the
 * batch reaches the socket: such a message is first seen on the wire as a re-send, DUP set, on
 * the next connection. MQTT allows that (DUP 1 means "might be a re-delivery", section 3.3.1.1);
 * the replay takes it into account: a re-send is either a message seen on the wire and not
 * acknowledged, or one never seen before, next in publish order.
 */
function checkResends(connections: readonly SpiedConnection[]): { dupSends: number; connacks: number } {
  const unacked = new Map<number, number>(); // packet id -> sequence number, in first-send order
  const idOf = new Map<number, number>(); // sequence number -> packet id, for every message seen
  let nextNew = 0; // the next sequence number never seen on the wire
  let dupSends = 0;
  let connacks = 0;
  let sessionPresent = false;
  const firstSeen = (id: number, seq: number): void => {
    expect(seq, 'messages first seen in publish order, each once').toBe(nextNew);
    nextNew += 1;
    expect(unacked.has(id), `packet id ${id} reused while in flight`).toBe(false);
    unacked.set(id, seq);
    idOf.set(seq, id);
  };
  for (const connection of connections) {
    const events = [
      ...connection.sent.map((frame) => ({ frame, sent: true })),
      ...connection.received.map((frame) => ({ frame, sent: false })),
    ].sort((a, b) => a.frame.order - b.frame.order);
    const expectedResend = [...unacked.entries()];
    let resent = 0;
    let accepted = false;
    let newSends = 0;
    for (const { frame, sent } of events) {
      const type = packetType(frame);
      if (!sent) {
        if (type === CONNACK) {
          // Accepted; no session the first time, the broker's session ever after (the first
          // CONNACK the client sees may already say 1: an earlier one can be lost in a cut).
          expect([...frame.bytes].slice(0, 2).concat(frame.bytes[3]!)).toEqual([0x20, 0x02, 0x00]);
          const present = frame.bytes[2] === 1;
          expect(present || !sessionPresent, 'session present went back to 0').toBe(true);
          sessionPresent = present;
          accepted = true;
          connacks += 1;
        } else if (type === PUBACK) {
          const id = frame.bytes.readUInt16BE(2);
          expect(unacked.has(id), `PUBACK ${id} for nothing in flight`).toBe(true);
          unacked.delete(id);
        }
        continue;
      }
      if (type === CONNECT) continue;
      expect(type).toBe(PUBLISH);
      expect(accepted, 'PUBLISH before CONNACK').toBe(true);
      const p = parsePublish(frame);
      const seq = seqOf(p.payload);
      const id = p.packetId!;
      expect([p.topic, p.qos]).toEqual([TOPIC, 1]);
      if (!p.dup) {
        // A first send [MQTT-4.3.2-1]: never seen before, after all the re-sends.
        newSends += 1;
        firstSeen(id, seq);
        continue;
      }
      dupSends += 1;
      expect(newSends, 'a re-send after new traffic on the same connection [MQTT-4.6.0-1]').toBe(0);
      const expected = expectedResend[resent];
      resent += 1;
      if (expected !== undefined) {
        // Unacknowledged when the connection was lost: same id, same order [MQTT-4.4.0-1, MQTT-2.3.1-3].
        expect([id, seq]).toEqual(expected);
      } else if (idOf.has(seq)) {
        expect.fail(`message ${seq} re-sent again on connection ${connection.index}, after its PUBACK`);
      } else {
        firstSeen(id, seq); // encoded on an earlier connection that died before writing it
      }
    }
    // A connection that died right after its CONNACK may have written only part of the re-sends
    // (none when the batch never reached the socket); new traffic only after all of them.
    if (newSends > 0) expect(resent).toBeGreaterThanOrEqual(expectedResend.length);
  }
  return { dupSends, connacks };
}

/** The sequence numbers a subscriber receives, in order, and the distinct ones. */
function recordArrivals(subscriber: MqttClient): { arrivals: number[]; seen: Set<number> } {
  const arrivals: number[] = [];
  const seen = new Set<number>();
  subscriber.on('message', (_topic, payload) => {
    const seq = seqOf(payload);
    arrivals.push(seq);
    seen.add(seq);
  });
  return { arrivals, seen };
}

/** Each sequence number where it first arrived, in arrival order. */
function firstArrivals(arrivals: readonly number[]): number[] {
  const seen = new Set<number>();
  return arrivals.filter((seq) => !seen.has(seq) && seen.add(seq) !== undefined);
}

/** What went wrong along the way: lost connections and cut handshakes, nothing else. */
function onlyConnectionLosses(errors: readonly Error[], context: string): void {
  for (const error of errors) {
    if (error instanceof TransportError) expect(['connection-reset', 'socket-error'], `${context}: ${error.message}`).toContain(error.code);
    else expect(error instanceof MqttClientError && error.code === 'connection-closed', `${context}: ${error.message}`).toBe(true);
  }
}

describeWithBroker('MqttClient through a proxy that cuts the connection at random points', () => {
  const suite = useBroker();
  const { pool } = suite;
  const tls = useFaultProxy(() => ({ host: '::1', port: suite.broker.tlsPort }));

  it(`delivers all ${MESSAGES} QoS 1 messages at least once, first arrivals in order, through 20+ cuts`, { timeout: 60_000 }, async () => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
    const context = `seed ${seed} (FAULT_SEED=${seed} repeats the plan)`;
    const broker = suite.broker;
    const proxy = tls.proxy;

    const subscriber = pool.track(brokerOptions(broker, { clientId: uniqueId('sink'), clean: false }));
    await subscriber.connect();
    await subscriber.subscribe(TOPIC, { qos: 1 });
    const { arrivals, seen } = recordArrivals(subscriber);

    proxy.plan = randomCuts(seededRandom(seed));
    const spy = new SocketSpy();
    const publisher: MqttClient = pool.track(
      brokerOptions(broker, {
        port: proxy.port,
        clientId: uniqueId('source'),
        clean: false,
        maxInflight: 100,
        offlineQueueSize: MESSAGES,
        reconnect: { initialDelay: 20, maxDelay: 200 },
        openSocket: spy.openSocket,
      }),
    );
    const errors: Error[] = [];
    publisher.on('error', (error) => errors.push(error));
    // The first attempt may be cut too; connect() then rejects and the client keeps trying.
    await publisher.connect().catch(() => undefined);

    const settled = await Promise.allSettled(
      Array.from({ length: MESSAGES }, (_, seq) => publisher.publish(TOPIC, String(seq).padStart(8, '0'), { qos: 1 })),
    );
    const rejected = settled.filter((s) => s.status === 'rejected');
    expect(rejected, context).toEqual([]);
    expect(publisher.inflightCount).toBe(0);
    expect(publisher.queuedCount).toBe(0);

    await until(subscriber, 'message', () => seen.size === MESSAGES, 15_000).catch(() => undefined);
    expect(seen.size, `${context}: distinct messages received`).toBe(MESSAGES);
    expect(firstArrivals(arrivals), context).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    expect(proxy.cuts, context).toBeGreaterThanOrEqual(20);

    const { dupSends, connacks } = checkResends(spy.connections);
    expect(connacks).toBeGreaterThan(20);
    // Each re-send may be delivered again; nothing else is duplicated.
    expect(arrivals.length - MESSAGES).toBeLessThanOrEqual(dupSends);
    onlyConnectionLosses(errors, context);
    console.log(
      `${context}: ${proxy.cuts} cuts, ${spy.attempts} attempts, ${connacks} sessions, ` +
        `${dupSends} re-sent, ${arrivals.length - MESSAGES} duplicates delivered`,
    );
  });

  it('receiving through 20+ cuts (clean: false): every message reaches the application, first arrivals in order, PUBACKs in arrival order', { timeout: 60_000 }, async () => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
    const context = `seed ${seed} (FAULT_SEED=${seed} repeats the plan)`;
    const proxy = tls.proxy;
    const random = seededRandom(seed);
    // Cut by time: a cut by server bytes lands in the burst the broker re-sends on reconnect,
    // before any PUBACK can leave, and no connection would ever get further than the last.
    proxy.plan = () => ({ cutAfterMs: Math.floor(20 + random() * 150), how: random() < 0.5 ? 'reset' : 'close' });
    const cutsBefore = proxy.cuts;
    const topic = `${TOPIC}/receiving`;
    const spy = new SocketSpy();
    const subscriber = pool.track(
      brokerOptions(suite.broker, {
        port: proxy.port,
        clientId: uniqueId('sink'),
        clean: false,
        reconnect: { initialDelay: 20, maxDelay: 200 },
        openSocket: spy.openSocket,
      }),
    );
    const errors: Error[] = [];
    subscriber.on('error', (error) => errors.push(error));
    // The first attempt may be cut too; the client keeps trying.
    await subscriber.connect().catch(() => next(subscriber, 'connect'));
    await subscriber.subscribe(topic, { qos: 1 });
    const { arrivals, seen } = recordArrivals(subscriber);

    // Published straight to the broker, paced so that the cuts fall all along the stream; on
    // until at least 2,000 messages and 20 cuts.
    const publisher = pool.track(brokerOptions(suite.broker, { maxInflight: 100 }));
    await publisher.connect();
    const published: Array<Promise<void>> = [];
    for (let seq = 0; seq < 2000 || proxy.cuts - cutsBefore < 20; seq++) {
      published.push(publisher.publish(topic, String(seq).padStart(8, '0'), { qos: 1 }));
      if (seq % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(published);
    const total = published.length;
    await until(subscriber, 'message', () => seen.size === total, 15_000).catch(() => undefined);

    expect(seen.size, `${context}: distinct messages received`).toBe(total);
    expect(firstArrivals(arrivals), context).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(proxy.cuts - cutsBefore, context).toBeGreaterThanOrEqual(20);
    // Every PUBLISH on the wire reached the application, duplicates included: QoS 1 is at least
    // once and the client does not drop re-deliveries [MQTT-4.3.2-2].
    const received = spy.connections.flatMap((c) => c.received.filter((f) => packetType(f) === PUBLISH));
    expect(arrivals.length).toBe(received.length);
    // PUBACKs in the order the PUBLISHes came, on each connection [MQTT-4.6.0-2, MQTT-4.3.2-2].
    for (const connection of spy.connections) {
      const ids = connection.received.filter((f) => packetType(f) === PUBLISH).map((f) => parsePublish(f).packetId);
      const acks = connection.sent.filter((f) => packetType(f) === PUBACK).map((f) => f.bytes.readUInt16BE(2));
      expect(acks, context).toEqual(ids.slice(0, acks.length));
    }
    onlyConnectionLosses(errors, context);
  });
});
