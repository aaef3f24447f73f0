/**
 * What the session shows and checks on the wire: the packet events with each packet's bytes,
 * message payloads as Buffers, and two server mistakes a client must not believe: Session Present
 * on a clean session [MQTT-3.2.2-1], and a SUBACK of the automatic re-subscribe with the wrong
 * number of return codes [MQTT-3.9.3-1].
 */
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/packet/codec.js';
import { MqttProtocolError } from '../../src/packet/errors.js';
import type { Packet } from '../../src/packet/types.js';
import { hex } from '../support/hex.js';
import { CONNACK_OK, connectedSession, elapse, failOnUnhandledRejections, session, settle, settled, track } from './harness.js';

failOnUnhandledRejections();

describe('packetsend and packetreceive', () => {
  it('carry every packet with the exact bytes that crossed the wire, in order', async () => {
    const s = session();
    const seen: Array<[string, string, string]> = [];
    s.client.on('packetsend', (packet, frame) => seen.push(['send', packet.type, Buffer.from(frame).toString('hex')]));
    s.client.on('packetreceive', (packet, frame) => seen.push(['receive', packet.type, Buffer.from(frame).toString('hex')]));
    const connected = track(s.client.connect());
    const connect = await s.server.next('connect');
    s.server.send(CONNACK_OK);
    await settled(connected);
    const published = track(s.client.publish('a/b', 'hi', { qos: 1 }));
    const publish = await s.server.next('publish');
    s.server.sendBytes(hex`40 02 00 01`);
    await settled(published);
    expect(seen).toEqual([
      ['send', 'connect', Buffer.from(encode(connect)).toString('hex')],
      ['receive', 'connack', '20020000'],
      ['send', 'publish', Buffer.from(encode(publish)).toString('hex')],
      ['receive', 'puback', '40020001'],
    ]);
  });

  it('stop when the last listener goes, and start again with a new one', async () => {
    const s = await connectedSession();
    const types: string[] = [];
    const listener = (packet: Packet): void => {
      types.push(packet.type);
    };
    s.client.on('packetsend', listener);
    await s.client.publish('t', 'one');
    s.client.off('packetsend', listener);
    await s.client.publish('t', 'two');
    s.client.once('packetsend', listener);
    await s.client.publish('t', 'three');
    await s.client.publish('t', 'four');
    expect(types).toEqual(['publish', 'publish']);
  });
});

describe('message payloads', () => {
  it('are Node Buffers viewing the received bytes: payload.toString() is the text', async () => {
    const s = await connectedSession();
    const got: unknown[] = [];
    s.client.on('message', (topic, payload, message) => got.push([topic, Buffer.isBuffer(payload), payload.toString(), Buffer.isBuffer(message.payload)]));
    const stream = s.client.messages();
    s.connection.send({ type: 'publish', topic: 't', payload: Buffer.from('hi'), qos: 0, retain: false, dup: false });
    const next = await stream.next();
    expect(got).toEqual([['t', true, 'hi', true]]);
    expect(next.value!.payload.toString()).toBe('hi');
    expect(Buffer.isBuffer(next.value!.payload)).toBe(true);
  });
});

describe('server mistakes the session must not believe', () => {
  it('Session Present 1 on a Clean Session connection is a protocol error [MQTT-3.2.2-1]', async () => {
    const s = session({ clean: true });
    const connected = track(s.client.connect());
    await s.server.next('connect');
    s.server.send({ type: 'connack', sessionPresent: true, returnCode: 0 });
    await settled(connected);
    expect(connected.error).toBeInstanceOf(MqttProtocolError);
    expect((connected.error as MqttProtocolError).code).toBe('invalid-connack-flags');
    expect(s.client.state).not.toBe('connected');
  });

  it('the automatic re-subscribe is checked too: a SUBACK with too few return codes closes the connection [MQTT-3.9.3-1]', async () => {
    const s = await connectedSession({ reconnect: { initialDelay: 10, maxDelay: 10 } });
    const granted = track(s.client.subscribe(['a', 'b']));
    const subscribe = await s.connection.next('subscribe');
    s.connection.send({ type: 'suback', packetId: subscribe.packetId, returnCodes: [0, 0] });
    await settled(granted);
    s.connection.close();
    await elapse(s.clock, 10);
    const second = await s.server.connection(2);
    await second.next('connect');
    second.send(CONNACK_OK);
    const restore = await second.next('subscribe');
    expect(restore.subscriptions.map((x) => x.topicFilter)).toEqual(['a', 'b']);
    second.send({ type: 'suback', packetId: restore.packetId, returnCodes: [0] });
    await second.closed;
    await settle();
    const closes = s.eventsNamed('close');
    const error = closes[closes.length - 1]!.args[0] as MqttProtocolError;
    expect(error).toBeInstanceOf(MqttProtocolError);
    expect(error.code).toBe('invalid-remaining-length');
  });
});
