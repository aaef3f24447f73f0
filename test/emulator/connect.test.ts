import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { EmulatorError, startEmulator } from '../../src/emulator/index.js';
import type { Emulator, EmulatorConnection, RefuseEvent } from '../../src/emulator/index.js';
import { encode } from '../../src/packet/index.js';
import { connectDevice, connectPacket, connected, RawClient } from './raw-client.js';
import { emulatorPerTest, LAMP, SENSOR } from './fixtures.js';
import { VirtualClock } from '../support/virtual-clock.js';

const start = emulatorPerTest();

/** Connects with `overrides`, expects CONNACK `code`, the close that must follow it, and the matching `refuse` event. */
async function expectRefused(
  server: Emulator,
  code: number,
  reason: RefuseEvent['reason'],
  overrides: Parameters<typeof connectDevice>[2] = {},
): Promise<void> {
  const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
  const { client, connack } = await connectDevice(server, LAMP, overrides);
  expect(connack).toEqual({ type: 'connack', sessionPresent: false, returnCode: code });
  await client.expectClosed(); // [MQTT-3.2.2-5]
  const [event] = await refused;
  expect(event).toMatchObject({ returnCode: code, reason });
  expect(server.connections()).toEqual([]);
}

/** A CONNECT frame with any protocol name and level, the rest valid for LAMP. */
function connectWithProtocol(name: string, level: number): Uint8Array {
  const valid = Buffer.from(encode(connectPacket(LAMP)));
  const protocol = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04]); // 00 04 'MQTT' 04
  const rest = valid.subarray(valid.indexOf(protocol) + protocol.length);
  const body = Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name, 'latin1'), Buffer.from([level]), rest]);
  const remainingLength: number[] = [];
  for (let n = body.length; ; ) {
    const digit = n % 128;
    n = Math.floor(n / 128);
    remainingLength.push(n > 0 ? digit | 0x80 : digit);
    if (n === 0) break;
  }
  return Buffer.concat([Buffer.from([0x10, ...remainingLength]), body]);
}

describe('startEmulator', () => {
  it('listens with TLS on the IPv6 loopback by default and says where', async () => {
    const server = await start();
    expect(server.host).toBe('::1');
    expect(isIP(server.host)).toBe(6);
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`mqtts://[::1]:${server.port}`);
    expect(server.ca).toContain('-----BEGIN CERTIFICATE-----');
  });

  it('serves plain TCP with tls: false, where securemode must be 3', async () => {
    const server = await start({ tls: false });
    expect(server.url).toBe(`mqtt://[::1]:${server.port}`);
    expect(server.ca).toBe('');
    const client = await connected(server, LAMP); // connectDevice signs securemode 3 for mqtt://
    const gone = once(server, 'disconnect');
    client.destroy();
    await gone;
    await expectRefused(server, 3, 'securemode-mismatch', { sign: { secureMode: 2 } });
  });

  it('accepts its own certificate and key', async () => {
    const read = (name: string): string => readFileSync(new URL(`../../certs/loopback/${name}`, import.meta.url), 'utf8');
    const ca = read('ca.pem');
    const server = await start({ tls: { cert: read('server.pem'), key: read('server.key'), ca } });
    expect(server.ca).toBe(ca);
    (await connected(server, LAMP)).destroy();
  });

  it('refuses to start on an address in use, with a typed error', async () => {
    const first = await start();
    const error = await startEmulator({ devices: [], port: first.port }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EmulatorError);
    expect((error as EmulatorError).code).toBe('listen-failed');
    expect((error as EmulatorError).message).toContain('EADDRINUSE');
  });
});

describe('CONNECT', () => {
  it('accepts a correctly signed device over TLS on [::1] with CONNACK 0 and lists it', async () => {
    const server = await start();
    const connectEvent = once(server, 'connect') as Promise<[EmulatorConnection]>;
    const { client, connack } = await connectDevice(server, LAMP, { keepalive: 300 });
    expect(connack).toEqual({ type: 'connack', sessionPresent: false, returnCode: 0 });
    const [event] = await connectEvent;
    expect(event).toMatchObject({ productKey: LAMP.productKey, deviceName: LAMP.deviceName, clientId: 'raw-client', keepalive: 300 });
    expect(server.connections()).toEqual([
      { id: event.id, productKey: 'a1TestProduct', deviceName: 'lamp', clientId: 'raw-client', keepalive: 300, remoteAddress: '::1', authentication: 'secret' },
    ]);
    client.destroy();
  });

  it.each([
    ['hmacmd5', 30],
    ['hmacsha1', 1200],
    ['hmacsha256', 300],
  ] as const)('accepts sign method %s and keepalive %i', async (signMethod, keepalive) => {
    const server = await start();
    const { connack, client } = await connectDevice(server, SENSOR, { keepalive, sign: { signMethod } });
    expect(connack.returnCode).toBe(0);
    client.destroy();
  });

  it('refuses a bad signature with 4', async () => {
    await expectRefused(await start(), 4, 'bad-signature', { sign: { deviceSecret: 'not-the-secret' } });
  });

  it('refuses a missing password with 4', async () => {
    await expectRefused(await start(), 4, 'bad-signature', { password: undefined });
  });

  it('refuses an unknown device with 5', async () => {
    await expectRefused(await start(), 5, 'unknown-device', { sign: { deviceName: 'ghost' } });
  });

  it('refuses a clientId without its extension with 2', async () => {
    await expectRefused(await start(), 2, 'malformed-extension', { clientId: 'raw-client' });
  });

  it('refuses an empty clientId with 2 [MQTT-3.1.3-8]', async () => {
    await expectRefused(await start(), 2, 'empty-client-id', { clientId: '' });
  });

  it('refuses securemode 3 over TLS with 3', async () => {
    await expectRefused(await start(), 3, 'securemode-mismatch', { sign: { secureMode: 3 } });
  });

  it.each([0, 29, 1201, 65_535])('refuses keepalive %i with 3', async (keepalive) => {
    await expectRefused(await start(), 3, 'keepalive-out-of-range', { keepalive });
  });

  it('refuses a will message with 3', async () => {
    const will = { topic: '/a1TestProduct/lamp/user/offline', payload: Buffer.from('bye'), qos: 0 as const, retain: false };
    await expectRefused(await start(), 3, 'will-not-supported', { will });
  });

  it.each([
    ['MQTT', 3, 'MQTT 3.1 level with the 3.1.1 name'],
    ['MQIsdp', 3, 'MQTT 3.1'],
    ['MQTT', 5, 'MQTT 5'],
  ])('answers protocol %s level %i (%s) with CONNACK 1 [MQTT-3.1.2-2]', async (name, level) => {
    const server = await start();
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    const client = await RawClient.open(server);
    client.sendBytes(connectWithProtocol(name, level));
    expect(await client.next('connack')).toEqual({ type: 'connack', sessionPresent: false, returnCode: 1 });
    await client.expectClosed();
    expect((await refused)[0]).toMatchObject({ returnCode: 1, reason: 'unsupported-protocol' });
  });

  it('ignores what the device sent after a refused CONNECT [MQTT-3.1.4-5]', async () => {
    const server = await start();
    const subscribed: unknown[] = [];
    server.on('packet', (event) => {
      if (event.direction === 'out' && event.packet.type === 'suback') subscribed.push(event);
    });
    const client = await RawClient.open(server);
    client.sendBytes(
      Buffer.concat([
        encode(connectPacket(LAMP, { sign: { deviceSecret: 'wrong' } })),
        encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: '#', qos: 0 }] }),
      ]),
    );
    expect((await client.next('connack')).returnCode).toBe(4);
    await client.expectClosed();
    expect(subscribed).toEqual([]);
    expect(client.unread).toEqual([]);
  });

  it('closes, without CONNACK, a connection whose first packet is not CONNECT [MQTT-3.1.0-1]', async () => {
    const server = await start();
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    const client = await RawClient.open(server);
    client.send({ type: 'pingreq' });
    await client.expectClosed();
    expect(client.unread).toEqual([]);
    expect((await refused)[0]).toMatchObject({ returnCode: undefined, reason: 'first-packet-not-connect' });
  });

  it('closes a second CONNECT on an accepted connection as a protocol violation [MQTT-3.1.0-2]', async () => {
    const server = await start();
    const client = await connected(server, LAMP);
    const disconnected = once(server, 'disconnect');
    client.send(connectPacket(LAMP));
    await client.expectClosed();
    expect((await disconnected)[0]).toMatchObject({ deviceName: 'lamp', reason: 'protocol-error' });
  });

  it('closes a connection that sends no CONNECT within 10 s, in virtual time', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const deadlineSet = clock.nextSchedule();
    const client = await RawClient.open(server);
    await deadlineSet;
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    clock.advance(9_999);
    expect(client.isClosed).toBe(false);
    clock.advance(1);
    await client.expectClosed();
    expect((await refused)[0]).toMatchObject({ returnCode: undefined, reason: 'connect-timeout' });
  });

  it('clears the CONNECT deadline once CONNECT arrives', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const client = await connected(server, LAMP, { keepalive: 1200 });
    clock.advance(60_000);
    client.send({ type: 'pingreq' });
    expect(await client.next('pingresp')).toEqual({ type: 'pingresp' });
    client.destroy();
  });
});
