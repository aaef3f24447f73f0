/**
 * A server that breaks the protocol: the client closes the connection [MQTT-4.8.0-1], reports an
 * MqttProtocolError (bytes the wire format forbids) or an UnexpectedPacketError (a well-formed
 * packet the session does not allow now), does not crash, and settles every promise it was holding.
 */
import { describe, expect, it } from 'vitest';
import { MqttProtocolError } from '../../src/packet/errors.js';
import { UnexpectedPacketError } from '../../src/client/errors.js';
import { hex } from '../support/hex.js';
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

const afterConnack: Array<[string, Uint8Array, string | undefined]> = [
  ['garbage bytes (reserved packet type 0)', hex`00 02 ff ff`, 'reserved-packet-type'],
  ['garbage bytes (reserved packet type 15)', hex`f0 00`, 'reserved-packet-type'],
  ['a second CONNACK', hex`20 02 00 00`, 'unexpected-packet'],
  ['a SUBSCRIBE (a server never sends one)', hex`82 06 00 01 00 01 61 00`, 'unexpected-packet'],
  ['a PINGREQ (a server never sends one)', hex`c0 00`, 'unexpected-packet'],
  ['a SUBACK for an id nobody sent', hex`90 03 7f 7f 00`, 'unexpected-packet'],
  ['a PUBLISH with QoS 3 [MQTT-3.3.1-4]', hex`36 06 00 01 61 00 01 78`, 'invalid-qos'],
  ['a PUBACK with wrong flags [MQTT-2.2.2-2]', hex`42 02 00 01`, 'invalid-flags'],
  ['a PUBLISH topic with a wildcard [MQTT-4.7.1-1]', hex`30 04 00 01 23 78`, 'invalid-topic'],
  ['a PUBLISH topic with ill-formed UTF-8 [MQTT-1.5.3-1]', hex`30 04 00 01 c3 78`, 'invalid-utf8'],
  ['a Remaining Length of 5 bytes', hex`30 ff ff ff ff 01`, 'remaining-length-overflow'],
];

describe('after CONNACK', () => {
  it.each(afterConnack)('%s: a typed error with its code, connection closed, pending work settles', async (_what, bytes, code) => {
    const s = await connectedSession();
    const publish = track(s.client.publish('t', 'x', { qos: 1 }));
    const subscribe = track(s.client.subscribe('a'));
    await s.connection.next('subscribe');
    s.connection.sendBytes(bytes);
    await s.connection.closed;
    await settle();
    const close = s.eventsNamed('close');
    expect(close).toHaveLength(1);
    const error = close[0]!.args[0] as MqttProtocolError | UnexpectedPacketError;
    expect(error).toBeInstanceOf(code === 'unexpected-packet' ? UnexpectedPacketError : MqttProtocolError);
    if (code !== undefined) expect(error.code).toBe(code);
    expect(s.errors).toEqual([error]);
    // Reconnecting is off: what was pending fails with the reason.
    await settled(publish);
    await settled(subscribe);
    expect(publish.error).toBe(error);
    expect(subscribe.error).toBe(error);
    expect(s.client.state).not.toBe('connected');
  });

  it('a packet larger than maxPacketSize is refused from its header (packet-too-large)', async () => {
    const s = await connectedSession({ maxPacketSize: 64 });
    s.connection.sendBytes(hex`30 c8 01`); // PUBLISH, 200 bytes to follow
    await s.connection.closed;
    expect((s.eventsNamed('close')[0]!.args[0] as MqttProtocolError).code).toBe('packet-too-large');
  });

  it('with reconnect on, the client comes back and re-sends what was pending', async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 1_000 } });
    const publish = track(s.client.publish('t', 'x', { qos: 1 }));
    const first = await s.connection.next('publish');
    s.connection.sendBytes(hex`f0 00`);
    await s.connection.closed;
    await elapse(s.clock, 1_000);
    const second = await s.server.connection(2);
    await second.next('connect');
    second.send(CONNACK_OK);
    const again = await second.next('publish');
    expect(again.packetId).toBe(first.packetId);
    second.send({ type: 'puback', packetId: again.packetId! });
    await settled(publish);
    expect(publish.status).toBe('fulfilled');
  });
});

describe('before CONNACK', () => {
  it.each([
    ['a PUBLISH [MQTT-3.2.0-1]', hex`30 03 00 01 61`, UnexpectedPacketError],
    ['a PINGRESP', hex`d0 00`, UnexpectedPacketError],
    ['garbage', hex`00 00`, MqttProtocolError],
    ['a CONNACK with reserved bits set', hex`20 02 02 00`, MqttProtocolError],
    ['a CONNACK with return code 6', hex`20 02 00 06`, MqttProtocolError],
  ])('%s rejects connect() with a typed error and closes', async (_what, bytes, type) => {
    const s = session();
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.sendBytes(bytes);
    await s.server.current!.closed;
    await settled(connected);
    expect(connected.error).toBeInstanceOf(type);
    expect(s.client.state).not.toBe('connected');
    // Nothing was left waiting on a clock.
    await elapse(s.clock, 3600_000);
    expect(s.server.opens).toHaveLength(1);
  });

  it('a CONNACK split across chunks is still one CONNACK', async () => {
    const s = session();
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.sendBytes(hex`20`);
    await settle();
    s.server.sendBytes(hex`02 00`);
    await settle();
    s.server.sendBytes(hex`00`);
    await settled(connected);
    expect(connected.status).toBe('fulfilled');
  });
});

describe('the client survives', () => {
  it('a violation while end() waits for acks: end() still resolves and reports what was not acknowledged', async () => {
    const s = await connectedSession();
    const publish = track(s.client.publish('t', 'x', { qos: 1 }));
    await s.connection.next('publish');
    const ended = track(s.client.end({ timeout: 10_000 }));
    await settle();
    s.connection.sendBytes(hex`f0 00`);
    await s.connection.closed;
    await elapse(s.clock, 10_000);
    await settled(ended);
    expect(ended.status).toBe('fulfilled');
    expectRejected(publish, 'client-ended');
  });
});
