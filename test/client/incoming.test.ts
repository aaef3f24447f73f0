/**
 * Incoming PUBLISH: acknowledged per QoS whether or not anybody listens, in arrival order;
 * delivered to 'message' listeners and to async iterators; iterator backpressure; a throwing
 * listener; QoS 2 delivered once.
 */
import { describe, expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/errors.js';
import { encode } from '../../src/packet/codec.js';
import { MqttProtocolError } from '../../src/packet/errors.js';
import type { PublishPacket, QoS } from '../../src/packet/types.js';
import { CONNACK_OK, connectedSession, elapse, failOnUnhandledRejections, session, settle, settled, track } from './harness.js';

failOnUnhandledRejections();

function publish(packetId: number | undefined, qos: QoS, text: string, topic = 'cmd/x', dup = false): PublishPacket {
  return { type: 'publish', topic, payload: Buffer.from(text), qos, retain: false, dup, packetId };
}

const text = (payload: Uint8Array): string => Buffer.from(payload).toString();

describe('acknowledgements', () => {
  it('a QoS 1 PUBLISH gets its PUBACK even with no message listener [MQTT-4.5.0-2, MQTT-4.3.2-2, MQTT-2.3.1-6]', async () => {
    const s = await connectedSession();
    s.client.removeAllListeners('message');
    s.connection.send(publish(42, 1, 'a'));
    expect(await s.connection.next('puback')).toEqual({ type: 'puback', packetId: 42 });
  });

  it('a QoS 0 PUBLISH gets no answer [MQTT-3.3.4-1]', async () => {
    const s = await connectedSession();
    s.connection.send(publish(undefined, 0, 'a'));
    await settle();
    expect(s.eventsNamed('message')).toHaveLength(1);
    expect(s.connection.log.slice(1)).toEqual([]);
  });

  it('PUBACKs go out in the order the PUBLISHes arrived, within one chunk and across chunks [MQTT-4.6.0-2]', async () => {
    const s = await connectedSession();
    const ids = [9, 3, 65_535, 1, 7];
    s.connection.sendBytes(Buffer.concat(ids.map((id) => encode(publish(id, 1, `m${id}`)))));
    for (const id of [200, 100, 300]) s.connection.send(publish(id, 1, `m${id}`));
    await settle();
    expect(s.connection.packets('puback').map((p) => p.packetId)).toEqual([...ids, 200, 100, 300]);
  });
});

describe('delivery', () => {
  it("emits 'message' with topic, payload and packet, and an async iterator sees the same messages", async () => {
    const s = await connectedSession();
    const iterator = s.client.messages();
    s.connection.send(publish(5, 1, 'one', 'cmd/a'));
    s.connection.send(publish(undefined, 0, 'two', 'cmd/b'));
    await settle();
    const events = s.eventsNamed('message').map((e) => e.args);
    expect(events.map(([topic, payload]) => [topic, text(payload as Uint8Array)])).toEqual([
      ['cmd/a', 'one'],
      ['cmd/b', 'two'],
    ]);
    expect(events[0]![2]).toMatchObject({ type: 'publish', topic: 'cmd/a', qos: 1, packetId: 5 });
    const first = await iterator.next();
    const second = await iterator.next();
    expect([first.value?.topic, text(first.value!.payload)]).toEqual(['cmd/a', 'one']);
    expect([second.value?.topic, text(second.value!.payload)]).toEqual(['cmd/b', 'two']);
    await iterator.return();
  });

  it('an iterator waiting for a message gets it when it arrives, and ends when the client ends', async () => {
    const s = await connectedSession();
    const received: string[] = [];
    const consumed = track(
      (async () => {
        for await (const message of s.client.messages()) received.push(text(message.payload));
      })(),
    );
    await settle();
    s.connection.send(publish(undefined, 0, 'late'));
    await settle();
    expect(received).toEqual(['late']);
    expect(consumed.status).toBe('pending');
    await s.client.end();
    await settled(consumed);
    expect(consumed.status).toBe('fulfilled');
  });

  it('iterator backpressure: reading pauses after messageBuffer unconsumed messages and resumes as the consumer catches up', async () => {
    const s = await connectedSession({ messageBuffer: 4 });
    const iterator = s.client.messages();
    for (let i = 1; i <= 20; i++) s.connection.send(publish(i, 1, `m${i}`));
    await settle();
    // Four delivered (and acknowledged); the rest wait, unread, in the socket.
    expect(s.connection.packets('puback')).toHaveLength(4);
    expect(s.eventsNamed('message')).toHaveLength(4);
    await settle();
    expect(s.connection.packets('puback')).toHaveLength(4);
    // Taking two brings the buffer down to half: reading resumes until it is full again.
    expect(text((await iterator.next()).value!.payload)).toBe('m1');
    expect(text((await iterator.next()).value!.payload)).toBe('m2');
    await settle();
    expect(s.connection.packets('puback')).toHaveLength(6);
    const rest: string[] = [];
    for (let i = 3; i <= 20; i++) rest.push(text((await iterator.next()).value!.payload));
    expect(rest).toEqual(Array.from({ length: 18 }, (_, i) => `m${i + 3}`));
    await settle();
    expect(s.connection.packets('puback').map((p) => p.packetId)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await iterator.return();
  });

  it('an iterator that stops (return) releases the backpressure it applied', async () => {
    const s = await connectedSession({ messageBuffer: 2 });
    const iterator = s.client.messages();
    for (let i = 1; i <= 6; i++) s.connection.send(publish(i, 1, `m${i}`));
    await settle();
    expect(s.connection.packets('puback')).toHaveLength(2);
    await iterator.return();
    await settle();
    expect(s.connection.packets('puback')).toHaveLength(6);
  });

  it("a consumer that is behind does not leave a new connection's CONNACK unread; reading pauses again after it", async () => {
    const s = await connectedSession({ messageBuffer: 2, reconnect: { initialDelay: 1_000 }, connectTimeout: 5_000 });
    const iterator = s.client.messages();
    for (let i = 1; i <= 3; i++) s.connection.send(publish(i, 1, `m${i}`));
    await settle();
    expect(s.connection.packets('puback')).toHaveLength(2);
    s.connection.destroy();
    await s.connection.closed;
    await elapse(s.clock, 1_000);
    const second = await s.server.connection(2);
    await second.next('connect');
    second.send(CONNACK_OK);
    await settle();
    expect(s.client.state).toBe('connected');
    // Still behind: the new connection's messages wait unread.
    second.send(publish(10, 1, 'n'));
    await settle();
    expect(second.packets('puback')).toHaveLength(0);
    await elapse(s.clock, 10_000);
    expect(s.eventsNamed('close')).toHaveLength(1);
    await iterator.next();
    await iterator.next();
    await settle();
    expect(second.packets('puback').map((p) => p.packetId)).toEqual([10]);
    await iterator.return();
  });

  it('a consumer slower than Keep Alive + pingTimeout does not cost the connection (the PINGRESP waits unread)', async () => {
    const s = await connectedSession({ keepalive: 10, pingTimeout: 5_000, messageBuffer: 2 });
    s.server.autoPingresp();
    const iterator = s.client.messages();
    for (let i = 1; i <= 5; i++) s.connection.send(publish(i, 1, `m${i}`));
    await settle();
    // The consumer is busy for a minute: reading stays paused, the server answers every PINGREQ.
    await elapse(s.clock, 60_000);
    expect(s.eventsNamed('close')).toEqual([]);
    expect(s.connection.packets('pingreq').length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i <= 5; i++) await iterator.next();
    await settle();
    expect(s.connection.packets('puback')).toHaveLength(5);
    await iterator.return();
  });

  it("a listener that throws does not stop the acks or deliveries of the rest of the chunk, and surfaces on 'error'", async () => {
    const s = await connectedSession();
    const boom = new Error('listener bug');
    const seen: string[] = [];
    s.client.on('message', (_topic, payload) => {
      seen.push(text(payload));
      if (text(payload) === 'b') throw boom;
    });
    s.connection.sendBytes(Buffer.concat([1, 2, 3, 4].map((id) => encode(publish(id, 1, 'abcd'[id - 1]!)))));
    await settle();
    expect(s.connection.packets('puback').map((p) => p.packetId)).toEqual([1, 2, 3, 4]);
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
    expect(s.errors).toEqual([boom]);
    expect(s.connection.isClosed).toBe(false);
    expect(s.client.state).toBe('connected');
  });
});

describe("listeners that throw the library's own errors", () => {
  it("a 'message' listener's MqttClientError is the application's, not the server's violation: the connection stays", async () => {
    const s = await connectedSession();
    const mistake = new MqttClientError('unsupported', 'a listener asked for QoS 2');
    s.client.on('message', () => {
      throw mistake;
    });
    s.connection.send(publish(1, 1, 'a'));
    s.connection.send(publish(2, 1, 'b'));
    await settle();
    expect(s.connection.isClosed).toBe(false);
    expect(s.connection.packets('puback').map((p) => p.packetId)).toEqual([1, 2]);
    expect(s.errors).toEqual([mistake, mistake]);
    expect(s.eventsNamed('close')).toHaveLength(0);
  });

  it("a 'connect' listener's MqttProtocolError does not close the connection it announces", async () => {
    const s = session();
    const mistake = new MqttProtocolError('invalid-topic', 'a listener built a bad topic');
    s.client.on('connect', () => {
      throw mistake;
    });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.send(CONNACK_OK);
    await settled(connected);
    expect(connected.status).toBe('fulfilled');
    await settle();
    expect(s.server.current!.isClosed).toBe(false);
    expect(s.client.state).toBe('connected');
    expect(s.errors).toEqual([mistake]);
  });
});

describe('QoS 2 from the server [MQTT-4.3.3-2, MQTT-4.6.0-3]', () => {
  it('answers PUBREC, delivers a duplicate once, answers PUBREL with PUBCOMP; after PUBCOMP the id is new again', async () => {
    const s = await connectedSession();
    s.connection.send(publish(11, 2, 'once'));
    expect(await s.connection.next('pubrec')).toEqual({ type: 'pubrec', packetId: 11 });
    s.connection.send(publish(11, 2, 'once', 'cmd/x', true));
    expect(await s.connection.next('pubrec')).toEqual({ type: 'pubrec', packetId: 11 });
    await settle();
    expect(s.eventsNamed('message')).toHaveLength(1);
    s.connection.send({ type: 'pubrel', packetId: 11 });
    expect(await s.connection.next('pubcomp')).toEqual({ type: 'pubcomp', packetId: 11 });
    s.connection.send(publish(11, 2, 'again'));
    await s.connection.next('pubrec');
    await settle();
    expect(s.eventsNamed('message').map((e) => text(e.args[1] as Uint8Array))).toEqual(['once', 'again']);
    expect(s.connection.isClosed).toBe(false);
  });
  it('forgets QoS 2 ids awaiting PUBREL when the server has no session: a new message with such an id is delivered [MQTT-3.1.2-6]', async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 1_000 } });
    s.server.autoConnack(CONNACK_OK);
    s.connection.send(publish(11, 2, 'first'));
    await s.connection.next('pubrec');
    // The connection drops before the PUBREL; the server starts a clean session.
    s.connection.close();
    await s.connection.closed;
    await elapse(s.clock, 1_000);
    const second = await s.server.connection(2);
    second.send(publish(11, 2, 'second'));
    await second.next('pubrec');
    await settle();
    expect(s.eventsNamed('message').map((e) => text(e.args[1] as Uint8Array))).toEqual(['first', 'second']);
  });

  it('keeps them when the session is present, so a re-sent duplicate is not delivered twice', async () => {
    const s = await connectedSession({ clean: false, reconnect: { initialDelay: 1_000 } });
    s.server.autoConnack({ type: 'connack', sessionPresent: true, returnCode: 0 });
    s.connection.send(publish(11, 2, 'first'));
    await s.connection.next('pubrec');
    s.connection.close();
    await s.connection.closed;
    await elapse(s.clock, 1_000);
    const second = await s.server.connection(2);
    second.send(publish(11, 2, 'first', 'cmd/x', true));
    await second.next('pubrec');
    await settle();
    expect(s.eventsNamed('message')).toHaveLength(1);
  });
});
