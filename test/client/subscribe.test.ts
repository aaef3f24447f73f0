/**
 * SUBSCRIBE and UNSUBSCRIBE: the packets, the grants, refusals, and acks that match nothing.
 */
import { describe, expect, it } from 'vitest';
import { MqttClientError, SubscribeError } from '../../src/client/errors.js';
import { decode } from '../../src/packet/codec.js';
import { MqttProtocolError } from '../../src/packet/errors.js';
import { UnexpectedPacketError } from '../../src/client/errors.js';
import { connectedSession, expectRejected, failOnUnhandledRejections, settle, settled, track } from './harness.js';

failOnUnhandledRejections();

describe('SUBSCRIBE', () => {
  it('carries flags 0010, a fresh non-zero id and the filters with their QoS; resolves with the grants [MQTT-3.8.1-1, MQTT-2.3.1-1]', async () => {
    const s = await connectedSession();
    const granted = track(s.client.subscribe(['cmd/+', 'cfg/#'], { qos: 1 }));
    const subscribe = await s.connection.next('subscribe');
    expect(subscribe.packetId).toBeGreaterThan(0);
    expect(subscribe.subscriptions).toEqual([
      { topicFilter: 'cmd/+', qos: 1 },
      { topicFilter: 'cfg/#', qos: 1 },
    ]);
    s.connection.send({ type: 'suback', packetId: subscribe.packetId, returnCodes: [1, 0] });
    await settled(granted);
    expect(granted.value).toEqual([
      { topicFilter: 'cmd/+', qos: 1 },
      { topicFilter: 'cfg/#', qos: 0 },
    ]);
  });

  it('sends the fixed header byte 0x82 (SUBSCRIBE, flags 0010) on the wire [MQTT-3.8.1-1]', async () => {
    const s = await connectedSession();
    const chunks: Buffer[] = [];
    s.connection.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    void track(s.client.subscribe('a/b'));
    await s.connection.next('subscribe');
    const frame = Buffer.concat(chunks);
    expect(frame[0]).toBe(0x82);
    expect(decode(frame)).toMatchObject({ type: 'subscribe' });
  });

  it('gives concurrent requests distinct ids, and UNSUBSCRIBE flags 0010 with its own id [MQTT-2.3.1-2, MQTT-3.10.1-1]', async () => {
    const s = await connectedSession();
    const chunks: Buffer[] = [];
    s.connection.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const a = track(s.client.subscribe('a'));
    const b = track(s.client.subscribe('b'));
    const u = track(s.client.unsubscribe(['c', 'd']));
    const [sa, sb, un] = [await s.connection.next('subscribe'), await s.connection.next('subscribe'), await s.connection.next('unsubscribe')];
    expect(new Set([sa.packetId, sb.packetId, un.packetId]).size).toBe(3);
    expect(un.topicFilters).toEqual(['c', 'd']);
    expect(Buffer.concat(chunks).includes(Buffer.of(0xa2))).toBe(true);
    // Acks in another order than the requests.
    s.connection.send({ type: 'unsuback', packetId: un.packetId });
    s.connection.send({ type: 'suback', packetId: sb.packetId, returnCodes: [0] });
    s.connection.send({ type: 'suback', packetId: sa.packetId, returnCodes: [0] });
    await settle();
    expect([a.status, b.status, u.status]).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  });

  it('a SUBACK with 0x80 for one filter rejects with SubscribeError whose grants mark that filter', async () => {
    const s = await connectedSession();
    const granted = track(s.client.subscribe(['ok/1', 'denied/#', 'ok/2'], { qos: 1 }));
    const subscribe = await s.connection.next('subscribe');
    s.connection.send({ type: 'suback', packetId: subscribe.packetId, returnCodes: [1, 0x80, 0] });
    await settled(granted);
    expectRejected(granted, 'subscribe-failed', SubscribeError);
    expect((granted.error as SubscribeError).grants).toEqual([
      { topicFilter: 'ok/1', qos: 1 },
      { topicFilter: 'denied/#', qos: null },
      { topicFilter: 'ok/2', qos: 0 },
    ]);
    expect(s.connection.isClosed).toBe(false);
  });

  it('QoS 2 is refused with unsupported and nothing is sent', async () => {
    const s = await connectedSession();
    // @ts-expect-error subscribe's qos is typed 0 | 1: the mistake is caught by the compiler first
    const a = track(s.client.subscribe('x', { qos: 2 }));
    const b = track(s.client.subscribe([{ topicFilter: 'y', qos: 2 }]));
    await settle();
    expectRejected(a, 'unsupported', MqttClientError);
    expectRejected(b, 'unsupported', MqttClientError);
    expect(s.connection.packets('subscribe')).toHaveLength(0);
  });

  it('an invalid filter is refused before anything is sent [MQTT-4.7.1-2, MQTT-4.7.1-3]', async () => {
    const s = await connectedSession();
    const a = track(s.client.subscribe('a/#/b'));
    const b = track(s.client.subscribe('a+'));
    await settle();
    expectRejected(a, 'invalid-topic-filter', MqttProtocolError);
    expectRejected(b, 'invalid-topic-filter', MqttProtocolError);
    expect(s.connection.packets('subscribe')).toHaveLength(0);
  });
});

describe('acks that match nothing are protocol violations [MQTT-4.8.0-1]', () => {
  it.each([
    ['SUBACK', { type: 'suback', packetId: 777, returnCodes: [0] }],
    ['UNSUBACK', { type: 'unsuback', packetId: 777 }],
  ] as const)('a %s for an unknown id closes the connection with UnexpectedPacketError; pending requests settle', async (_name, ack) => {
    const s = await connectedSession();
    const pending = track(s.client.subscribe('a'));
    await s.connection.next('subscribe');
    s.connection.send(ack);
    await s.connection.closed;
    await settled(pending);
    expect(pending.status).toBe('rejected');
    const close = s.eventsNamed('close')[0]!;
    expect(close.args[0]).toBeInstanceOf(UnexpectedPacketError);
    expect((close.args[0] as UnexpectedPacketError).code).toBe('unexpected-packet');
    expect(s.errors[0]).toBeInstanceOf(UnexpectedPacketError);
  });

  it('an UNSUBACK answering a SUBSCRIBE id is a violation too', async () => {
    const s = await connectedSession();
    const pending = track(s.client.subscribe('a'));
    const subscribe = await s.connection.next('subscribe');
    s.connection.send({ type: 'unsuback', packetId: subscribe.packetId });
    await s.connection.closed;
    await settled(pending);
    expect(s.eventsNamed('close')[0]!.args[0]).toBeInstanceOf(UnexpectedPacketError);
  });

  it('a SUBACK with a different number of return codes than filters closes the connection [MQTT-3.9.3-1]', async () => {
    const s = await connectedSession();
    const pending = track(s.client.subscribe(['a', 'b']));
    const subscribe = await s.connection.next('subscribe');
    s.connection.send({ type: 'suback', packetId: subscribe.packetId, returnCodes: [0] });
    await s.connection.closed;
    await settled(pending);
    expect(pending.error).toBeInstanceOf(MqttProtocolError);
  });
});
