/**
 * A slow consumer of `messages()` against a real mosquitto. When the iterator falls
 * `messageBuffer` messages behind, the client stops reading the socket so that TCP slows the
 * broker down. Unread bytes then include the broker's PINGRESPs and, on a new connection, its
 * CONNACK: neither may be taken for a dead connection.
 */
import { expect, it } from 'vitest';
import type { MqttClient } from '../../src/client/index.js';
import type { MessageStream } from '../../src/client/index.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { PINGREQ, SocketSpy, brokerOptions, isFrame, next, uniqueId, useBroker } from './support.js';

const MESSAGES = 20;

describeWithBroker('MqttClient against mosquitto: a consumer that falls behind', () => {
  const suite = useBroker();
  const { pool } = suite;

  /** A client whose iterator is full (messageBuffer 5, 20 messages unread), and its spy. */
  async function fallBehind(topic: string): Promise<{ client: MqttClient; spy: SocketSpy; stream: MessageStream; closes: unknown[] }> {
    const spy = new SocketSpy();
    const client = pool.track(
      brokerOptions(suite.broker, {
        clientId: uniqueId('slow'),
        clean: false,
        keepalive: 2,
        pingTimeout: 1000,
        connectTimeout: 5000,
        messageBuffer: 5,
        reconnect: { initialDelay: 10, maxDelay: 50 },
        openSocket: spy.openSocket,
      }),
    );
    const closes: unknown[] = [];
    client.on('close', (error) => closes.push(error));
    await client.connect();
    await client.subscribe(topic, { qos: 1 });
    const stream = client.messages();
    const peer = pool.track(brokerOptions(suite.broker));
    await peer.connect();
    for (let i = 0; i < MESSAGES; i++) await peer.publish(topic, String(i), { qos: 1 });
    return { client, spy, stream, closes };
  }

  async function readAll(stream: MessageStream): Promise<string[]> {
    const got: string[] = [];
    for await (const message of stream) {
      got.push(Buffer.from(message.payload).toString());
      if (got.length === MESSAGES) break;
    }
    return got;
  }

  const inOrder = Array.from({ length: MESSAGES }, (_, i) => String(i));

  it('reading paused for longer than keepalive + pingTimeout is not a dead connection', async () => {
    const { spy, stream, closes } = await fallBehind(`backpressure/keepalive/${uniqueId('t')}`);
    const connection = spy.connections[0]!;

    // The first PINGREQ's answer waits unread; a second PINGREQ, more than pingTimeout later on
    // the same connection, means the first one's timeout passed without closing it.
    const first = await spy.nextFrame('sent', isFrame(PINGREQ), 4000);
    const second = await spy.nextFrame('sent', isFrame(PINGREQ), 4000);
    expect(second.at - first.at).toBeGreaterThanOrEqual(1000);

    expect(closes).toEqual([]);
    expect(await readAll(stream)).toEqual(inOrder);
    expect(spy.connections).toEqual([connection]);
  });

  it('a connection lost while the consumer is behind: the new one still reads its CONNACK', async () => {
    const { client, spy, stream } = await fallBehind(`backpressure/reconnect/${uniqueId('t')}`);

    const reconnected = next(client, 'connect', 3000);
    spy.socket(spy.connections[0]!).destroy();
    expect(await reconnected).toEqual([{ sessionPresent: true }]);

    // Nothing lost: what the old connection had not read yet, the broker sends again.
    const got = await readAll(stream);
    expect([...new Set(got)].sort((a, b) => Number(a) - Number(b))).toEqual(inOrder);
  });
});
