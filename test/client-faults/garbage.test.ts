/**
 * Bytes that are not MQTT, injected by the fault proxy towards a client connected to a real
 * mosquitto. In front of the plain TCP listener they reach the client's MQTT decoder: each must
 * close the connection with an MqttProtocolError [MQTT-4.8.0-1], after which the client
 * reconnects and works. Inside TLS any injected byte is a TLS failure instead.
 */
import { expect, it } from 'vitest';
import { MqttClientError } from '../../src/client/index.js';
import type { MqttClient, MqttClientOptions } from '../../src/client/index.js';
import { MqttProtocolError } from '../../src/packet/index.js';
import { UnexpectedPacketError } from '../../src/client/index.js';
import type { MqttProtocolErrorCode } from '../../src/packet/index.js';
import { useFaultProxy } from '../support/fault-proxy.js';
import type { FaultProxy } from '../support/fault-proxy.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { SocketSpy, brokerOptions, logShows, next, uniqueId, useBroker } from '../client-broker/support.js';

interface Garbage {
  readonly name: string;
  readonly bytes: number[];
  readonly code: MqttProtocolErrorCode;
}

const GARBAGE: Garbage[] = [
  { name: 'packet type 0 (reserved)', bytes: [0x00, 0x00], code: 'reserved-packet-type' },
  { name: 'packet type 15 (reserved)', bytes: [0xf0, 0x00], code: 'reserved-packet-type' },
  { name: 'PINGRESP with flag bits set [MQTT-2.2.2-2]', bytes: [0xd1, 0x00], code: 'invalid-flags' },
  { name: 'PUBLISH with QoS 3 [MQTT-3.3.1-4]', bytes: [0x36, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01], code: 'invalid-qos' },
  { name: 'PUBACK with remaining length 3', bytes: [0x40, 0x03, 0x00, 0x01, 0x00], code: 'invalid-remaining-length' },
  { name: 'Remaining Length with a fifth byte', bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], code: 'remaining-length-overflow' },
  {
    name: 'PUBLISH topic that is not UTF-8 [MQTT-1.5.3-1]',
    bytes: [0x30, 0x06, 0x00, 0x02, 0xc3, 0x28, 0x68, 0x69],
    code: 'invalid-utf8',
  },
  { name: 'PUBLISH topic with U+0000 [MQTT-1.5.3-2]', bytes: [0x30, 0x05, 0x00, 0x01, 0x00, 0x68, 0x69], code: 'invalid-utf8' },
  { name: 'a frame larger than maxPacketSize (4 KiB), refused from its header', bytes: [0x30, 0x88, 0x27], code: 'packet-too-large' },
];

describeWithBroker('MqttClient and garbage from the network', () => {
  const suite = useBroker();
  const { pool } = suite;
  const tcp = useFaultProxy(() => ({ host: '::1', port: suite.broker.tcpPort }));
  const tls = useFaultProxy(() => ({ host: '::1', port: suite.broker.tlsPort }));

  /** A client through `proxy`, a subscriber straight to the broker, and the client's errors. */
  async function setUp(
    proxy: FaultProxy,
    options: Partial<MqttClientOptions>,
  ): Promise<{ client: MqttClient; spy: SocketSpy; errors: Error[]; clientId: string }> {
    const spy = new SocketSpy();
    const clientId = uniqueId('garbled');
    const client = pool.track(
      brokerOptions(suite.broker, {
        port: proxy.port,
        clientId,
        maxPacketSize: 4096,
        reconnect: { initialDelay: 20, maxDelay: 100 },
        openSocket: spy.openSocket,
        ...options,
      }),
    );
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    return { client, spy, errors, clientId };
  }

  /** After the failure: a new connection and a QoS 1 message that reaches a subscriber. */
  async function worksAgain(client: MqttClient): Promise<void> {
    const sink = pool.track(brokerOptions(suite.broker));
    await sink.connect();
    const topic = `faults/garbage/${uniqueId('t')}`;
    await sink.subscribe(topic, { qos: 1 });
    if (!client.connected) await next(client, 'connect');
    const arrived = next<[string, Uint8Array]>(sink, 'message');
    await client.publish(topic, 'still here', { qos: 1 });
    expect(Buffer.from((await arrived)[1]).toString()).toBe('still here');
  }

  it.each(GARBAGE)('plain TCP, $name: $code, connection closed, reconnect, publish works', async ({ bytes, code }) => {
    const { client, spy, errors, clientId } = await setUp(tcp.proxy, { transport: 'tcp' });
    await client.connect();
    const closed = next<[Error | undefined]>(client, 'close');

    tcp.proxy.connections.at(-1)!.inject(Buffer.from(bytes));
    const [error] = await closed;

    expect(error).toBeInstanceOf(MqttProtocolError);
    expect((error as MqttProtocolError).code).toBe(code);
    expect(errors).toEqual([error]);
    expect(spy.socket(spy.connections[0]!).destroyed).toBe(true);
    // The client's close reaches the broker through the proxy: it drops that connection too.
    await logShows(suite.broker, new RegExp(`Client ${clientId} closed its connection\\.`));
    await worksAgain(client);
    expect(spy.connections).toHaveLength(2);
  });

  it('plain TCP, a PUBLISH before the CONNACK [MQTT-3.2.0-1]: the attempt fails with a protocol error, the next one works', async () => {
    const { client, errors } = await setUp(tcp.proxy, { transport: 'tcp' });
    const publishFirst = (connection: { inject(bytes: Uint8Array): void }): void =>
      connection.inject(Buffer.from([0x30, 0x03, 0x00, 0x01, 0x74]));
    tcp.proxy.once('connection', publishFirst);

    const error = await client.connect().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnexpectedPacketError);
    expect((error as UnexpectedPacketError).packetType).toBe('publish');
    expect((error as UnexpectedPacketError).code).toBe('unexpected-packet');
    expect(errors[0]).toBe(error);
    await worksAgain(client);
  });

  it('inside TLS, injected bytes are a TLS failure: connection-closed with the TLS error as cause, reconnect, publish works', async () => {
    const { client, errors } = await setUp(tls.proxy, {});
    await client.connect();
    const closed = next<[Error | undefined]>(client, 'close');

    // A well-formed TLS 1.2 application-data record header with a body that cannot decrypt.
    tls.proxy.connections.at(-1)!.inject(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20, ...new Array<number>(0x20).fill(0x42)]));
    const [error] = await closed;

    expect(error).toBeInstanceOf(MqttClientError);
    expect((error as MqttClientError).code).toBe('connection-closed');
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toMatch(/^ERR_SSL_/);
    expect(errors).toEqual([error]);
    await worksAgain(client);
  });
});
