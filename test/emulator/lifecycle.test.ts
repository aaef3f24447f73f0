import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { ConfigurationError } from '../../src/shared/errors.js';
import { MAX_INBOUND_PACKET, startEmulator } from '../../src/emulator/index.js';
import type { DisconnectEvent, EmulatorOptions, PacketEvent, RefuseEvent } from '../../src/emulator/index.js';
import { AlinkTopics, PLATFORM_LIMITS } from '../../src/aliyun/index.js';
import { encode } from '../../src/packet/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { connectPacket, connected, RawClient, subscribe, sync } from './raw-client.js';
import { emulatorPerTest, eventually, LAMP, SENSOR } from './fixtures.js';

const start = emulatorPerTest();

describe('one connection per device', () => {
  it('kicks the older connection when the same device connects again', async () => {
    const server = await start();
    const older = await connected(server, LAMP);
    const [first] = server.connections();
    const kicked = once(server, 'disconnect') as Promise<[DisconnectEvent]>;
    const newer = await connected(server, LAMP);
    await older.expectClosed();
    expect((await kicked)[0]).toMatchObject({ deviceName: 'lamp', reason: 'kicked', connection: { id: first!.id } });
    expect(server.connections().map((c) => c.id)).toEqual([first!.id + 1]);
    // Requests now go to the newer connection.
    const topics = new AlinkTopics(LAMP);
    await subscribe(newer, 1, [topics.serviceFilter(), 0]);
    const replied = server.sendPropertySet(LAMP.productKey, LAMP.deviceName, {});
    const request = JSON.parse(Buffer.from((await newer.next('publish')).payload).toString()) as { id: string };
    newer.send({ type: 'publish', topic: topics.propertySetReply(), payload: Buffer.from(`{"id":"${request.id}","code":200}`), qos: 0, retain: false, dup: false });
    expect((await replied).code).toBe(200);
  });
});

describe('keepalive', () => {
  it('disconnects a device silent for 1.5 times its keepalive, in virtual time', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const lamp = await connected(server, LAMP, { keepalive: 30 });
    const timedOut = once(server, 'disconnect') as Promise<[DisconnectEvent]>;
    clock.advance(44_999);
    expect(server.connections()).toHaveLength(1);
    clock.advance(1);
    expect(server.connections()).toEqual([]);
    await lamp.expectClosed();
    expect((await timedOut)[0]).toMatchObject({ deviceName: 'lamp', reason: 'keepalive-timeout' });
  });

  it('counts from the last packet received', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const lamp = await connected(server, LAMP, { keepalive: 30 });
    clock.advance(40_000);
    await sync(lamp); // a PINGREQ at 40 s
    clock.advance(44_999);
    expect(server.connections()).toHaveLength(1);
    await sync(lamp); // and one at 84.999 s
    clock.advance(44_999);
    expect(server.connections()).toHaveLength(1);
    clock.advance(1);
    await lamp.expectClosed();
  });
});

describe('bad input', () => {
  it('closes a connection that sends bytes that are not MQTT and keeps serving the others [MQTT-4.8.0-1]', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    const sensor = await connected(server, SENSOR);
    const broken = once(server, 'disconnect') as Promise<[DisconnectEvent]>;
    lamp.sendBytes(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await lamp.expectClosed();
    expect((await broken)[0]).toMatchObject({ deviceName: 'lamp', reason: 'protocol-error' });
    await sync(sensor);
    expect((await connected(server, LAMP)).isClosed).toBe(false);
  });

  it('closes, without CONNACK, a connection whose first bytes are not MQTT', async () => {
    const server = await start();
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    const client = await RawClient.open(server);
    client.sendBytes(Uint8Array.of(0x00, 0x00));
    await client.expectClosed();
    expect(client.unread).toEqual([]);
    expect((await refused)[0]).toMatchObject({ returnCode: undefined, reason: 'protocol-error' });
  });

  it('survives plain text on its TLS port', async () => {
    const server = await start();
    const socket = netConnect({ host: '::1', port: server.port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.end('GET / HTTP/1.1\r\n\r\n');
    await once(socket, 'close');
    (await connected(server, LAMP)).destroy();
  });

  it('refuses a frame over 256 KiB plus headroom from its fixed header, and routes one at the limit', async () => {
    const server = await start();
    const lamp = await connected(server, LAMP);
    const sensor = await connected(server, SENSOR);
    await subscribe(sensor, 1, ['/a1TestProduct/lamp/user/big', 0]);
    const payload = new Uint8Array(PLATFORM_LIMITS.maxPayloadBytes).fill(0x61);
    lamp.send({ type: 'publish', topic: '/a1TestProduct/lamp/user/big', payload, qos: 0, retain: false, dup: false });
    expect((await sensor.next('publish')).payload).toHaveLength(PLATFORM_LIMITS.maxPayloadBytes);
    // Only the fixed header of a too-large PUBLISH: 0x30, then Remaining Length MAX_INBOUND_PACKET.
    const length = MAX_INBOUND_PACKET;
    lamp.sendBytes(Uint8Array.of(0x30, (length & 0x7f) | 0x80, ((length >> 7) & 0x7f) | 0x80, length >> 14));
    await lamp.expectClosed();
  });

  it('never crashes on random bytes after CONNECT, and serves a new connection after each', async () => {
    const server = await start();
    const endings: string[] = [];
    server.on('disconnect', (event) => endings.push(event.reason));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 64 }), async (bytes) => {
        const client = await connected(server, LAMP);
        const ended = once(server, 'disconnect');
        client.sendBytes(bytes);
        // Whatever the bytes were, the connection ends: broken by them, or by this end of the stream.
        client.socket.end();
        await client.expectClosed();
        await ended;
      }),
      { numRuns: 40 },
    );
    expect(endings).toHaveLength(40);
    for (const reason of endings) expect(['protocol-error', 'connection-lost', 'unsupported-feature', 'client-disconnect']).toContain(reason);
    (await connected(server, SENSOR)).destroy();
  });
});

describe('close()', () => {
  it('ends every connection, including one still in its TLS handshake, and resolves', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const lamp = await connected(server, LAMP);
    const waiting = await RawClient.open(server); // no CONNECT yet
    const handshaking = netConnect({ host: '::1', port: server.port });
    handshaking.on('error', () => {});
    // Each holds one deadline on the clock once the emulator has it: keepalive, CONNECT, handshake.
    await eventually(() => clock.pending() === 3, 'three connections accepted');
    const events: string[] = [];
    server.on('disconnect', (event) => events.push(`disconnect ${event.reason}`));
    server.on('refuse', (event) => events.push(`refuse ${event.reason}`));
    const closing = server.close();
    expect(server.close()).toBe(closing);
    await closing;
    await lamp.expectClosed();
    await waiting.expectClosed();
    if (!handshaking.closed) await once(handshaking, 'close');
    // One event for each: the device, the connection without CONNECT, and the one in its handshake.
    expect(events.sort()).toEqual(['disconnect server-closed', 'refuse server-closed', 'refuse server-closed']);
    expect(server.connections()).toEqual([]);
  });
});

describe('packet trace', () => {
  it('reports every packet in and out with its exact bytes, however the stream is split', async () => {
    const server = await start();
    const trace: PacketEvent[] = [];
    server.on('packet', (event) => trace.push(event));
    const client = await RawClient.open(server);
    const connect = Buffer.from(encode(connectPacket(LAMP)));
    const subscribePacket = encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: '#', qos: 1 }] });
    const ping = encode({ type: 'pingreq' });
    // CONNECT one byte at a time, then SUBSCRIBE and half a PINGREQ in one chunk, then the rest.
    for (const byte of connect) {
      client.sendBytes(Uint8Array.of(byte));
      await new Promise((resolve) => setImmediate(resolve)); // separate socket writes, so separate chunks
    }
    await client.next('connack');
    client.sendBytes(Buffer.concat([subscribePacket, ping.subarray(0, 1)]));
    await client.next('suback');
    client.sendBytes(ping.subarray(1));
    await client.next('pingresp');
    const summary = trace.map((event) => [event.direction, event.packet.type, Buffer.from(event.bytes).toString('hex')]);
    expect(summary).toEqual([
      ['in', 'connect', connect.toString('hex')],
      ['out', 'connack', '20020000'],
      ['in', 'subscribe', Buffer.from(subscribePacket).toString('hex')],
      ['out', 'suback', '9003000101'],
      ['in', 'pingreq', 'c000'],
      ['out', 'pingresp', 'd000'],
    ]);
    expect(trace[0]!.connection).toEqual({ id: trace[0]!.connection.id, remoteAddress: '::1' });
    expect(trace[1]!.connection).toMatchObject({ productKey: 'a1TestProduct', deviceName: 'lamp', clientId: 'raw-client' });
  });
});

describe('options', () => {
  it.each([
    ['devices', { devices: 'lamp' }],
    ['devices[0]', { devices: [null] }],
    ['devices[0].productKey', { devices: [{ ...LAMP, productKey: '' }] }],
    ['devices[0].deviceName', { devices: [{ ...LAMP, deviceName: 'a/b' }] }],
    ['devices[0].deviceName', { devices: [{ ...LAMP, deviceName: 'a&b' }] }],
    ['devices[0].deviceSecret', { devices: [{ ...LAMP, deviceSecret: 42 }] }],
    ['devices[1]', { devices: [LAMP, { ...LAMP }] }],
    ['port', { devices: [], port: 70_000 }],
    ['host', { devices: [], host: '' }],
    ['clock', { devices: [], clock: { now: () => 0 } }],
    ['autoReplyPropertyPost', { devices: [], autoReplyPropertyPost: 'yes' }],
    ['autoReplyEventPost', { devices: [], autoReplyEventPost: 1 }],
    ['tls', { devices: [], tls: 'on' }],
    ['tls.key', { devices: [], tls: { cert: 'PEM' } }],
    ['tls', { devices: [], tls: { cert: 'not PEM', key: 'not PEM' } }],
    ['connectTimeout', { devices: [], connectTimeout: 0 }],
    ['connectTimeout', { devices: [], connectTimeout: 1.5 }],
  ])('refuses a bad %s with a ConfigurationError', async (field, options) => {
    const error = await startEmulator(options as unknown as EmulatorOptions).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).field).toBe(field);
  });
});
