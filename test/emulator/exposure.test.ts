/**
 * The stand-in as a server people point tools at: connections that never handshake or never send
 * CONNECT are closed at the connect deadline, whichever transport.
 */
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { CONNECT_TIMEOUT_MS, MAX_CONNECT_BYTES } from '../../src/emulator/index.js';
import type { Emulator, RefuseEvent } from '../../src/emulator/index.js';
import { encode, encodedLength } from '../../src/packet/index.js';
import type { ConnectPacket } from '../../src/packet/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { connectPacket, connected, RawClient, subscribe } from './raw-client.js';
import { emulatorPerTest, LAMP, SENSOR } from './fixtures.js';

const start = emulatorPerTest();

/** A TCP connection to the emulator's port that says nothing, and resolves once it is open. */
async function rawTcp(server: Emulator): Promise<Socket> {
  const socket = netConnect({ host: '::1', port: server.port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Resolves when `socket` has closed, however (a reset included). */
function closed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Every `refuse` event from now on. */
function refusals(server: Emulator): RefuseEvent[] {
  const events: RefuseEvent[] = [];
  server.on('refuse', (event) => events.push(event));
  return events;
}

describe('the connect deadline', () => {
  it('closes a TCP connection to the TLS port that never starts the handshake, in virtual time', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const refused = refusals(server);
    const armed = clock.nextSchedule();
    const socket = await rawTcp(server);
    await armed; // the deadline runs from TCP accept
    clock.advance(CONNECT_TIMEOUT_MS - 1);
    expect(refused).toEqual([]);
    clock.advance(1);
    expect(refused).toMatchObject([{ reason: 'connect-timeout', returnCode: undefined, connection: { remoteAddress: '::1' } }]);
    await closed(socket);
  });

  it('counts the TLS handshake against the same deadline as the CONNECT, in virtual time', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const refused = refusals(server);
    const handshakeArmed = clock.nextSchedule();
    const socket = await rawTcp(server);
    await handshakeArmed;
    clock.advance(6_000); // a slow handshake: it starts 6 s in
    const sessionArmed = clock.nextSchedule();
    const tls = tlsConnect({ socket, host: '::1', ca: server.ca });
    tls.on('error', () => {});
    await once(tls, 'secureConnect');
    await sessionArmed; // the session took over the rest of the deadline
    clock.advance(CONNECT_TIMEOUT_MS - 6_000 - 1);
    expect(refused).toEqual([]);
    clock.advance(1);
    expect(refused).toMatchObject([{ reason: 'connect-timeout', returnCode: undefined }]);
    await closed(tls);
  });

  it('closes a plain TCP connection that sends no CONNECT, counted from TCP accept, in virtual time', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock, tls: false });
    const refused = refusals(server);
    const armed = clock.nextSchedule();
    const socket = await rawTcp(server);
    await armed;
    socket.write(encode(connectPacket(LAMP)).subarray(0, 10)); // a CONNECT that never completes
    clock.advance(CONNECT_TIMEOUT_MS - 1);
    expect(refused).toEqual([]);
    clock.advance(1);
    expect(refused).toMatchObject([{ reason: 'connect-timeout' }]);
    await closed(socket);
  });

  it('takes its length from the connectTimeout option', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock, connectTimeout: 500 });
    const refused = refusals(server);
    const armed = clock.nextSchedule();
    const socket = await rawTcp(server);
    await armed;
    clock.advance(499);
    expect(refused).toEqual([]);
    clock.advance(1);
    expect(refused).toMatchObject([{ reason: 'connect-timeout' }]);
    await closed(socket);
  });

  it('closes hundreds of silent connections at their deadline, and a device still gets in', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const refused = refusals(server);
    const sockets: Socket[] = [];
    for (let i = 0; i < 300; i++) {
      const armed = clock.nextSchedule();
      sockets.push(await rawTcp(server));
      await armed;
    }
    clock.advance(CONNECT_TIMEOUT_MS);
    expect(refused).toHaveLength(300);
    expect(new Set(refused.map((event) => event.reason))).toEqual(new Set(['connect-timeout']));
    await Promise.all(sockets.map(closed));
    (await connected(server, LAMP)).destroy();
  });

  it('closes a silent TCP connection to the TLS port on real sockets and real time', async () => {
    const server = await start({ connectTimeout: 200 });
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    const socket = await rawTcp(server);
    const opened = Date.now();
    await closed(socket);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(150);
    expect((await refused)[0]).toMatchObject({ reason: 'connect-timeout', returnCode: undefined });
  });
});

describe('the TLS handshake', () => {
  it('refuses plain MQTT on the TLS port as a failed handshake, and goes on serving', async () => {
    const server = await start();
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    const socket = await rawTcp(server);
    socket.write(encode(connectPacket(LAMP, { sign: { secureMode: 3 } })));
    await closed(socket);
    expect((await refused)[0]).toMatchObject({ reason: 'tls-handshake-failed', returnCode: undefined });
    (await connected(server, LAMP)).destroy();
  });

  it('reports a peer that leaves during the handshake as connection-lost', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    const armed = clock.nextSchedule();
    const socket = await rawTcp(server);
    await armed;
    socket.end();
    expect((await refused)[0]).toMatchObject({ reason: 'connection-lost', returnCode: undefined });
    expect(clock.pending()).toBe(0); // its deadline went with it
  });
});

/** LAMP's valid CONNECT, padded with an unknown extension field (which the platform ignores) to `size` bytes on the wire. */
function connectOfSize(size: number, secureMode: 2 | 3 = 2): ConnectPacket {
  const base = connectPacket(LAMP, { sign: { secureMode } });
  const padded = (n: number): ConnectPacket => ({ ...base, clientId: base.clientId.replace(/\|$/, `,_pad=${'x'.repeat(n)}|`) });
  // Grows by one byte per padding character, except where the Remaining Length gains a byte.
  let n = size - encodedLength(padded(0));
  while (encodedLength(padded(n)) > size) n--;
  const packet = padded(n);
  expect(encodedLength(packet)).toBe(size);
  return packet;
}

describe('what a connection may send before its CONNECT is accepted', () => {
  it('closes a connection once its first packet passes MAX_CONNECT_BYTES, without waiting for the rest', async () => {
    const server = await start({ tls: false });
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    const socket = await rawTcp(server);
    // A PUBLISH announcing 200 KiB as the first packet: only MAX_CONNECT_BYTES of it are ever read.
    const length = 200 * 1024;
    const header = Uint8Array.of(0x30, (length & 0x7f) | 0x80, ((length >> 7) & 0x7f) | 0x80, length >> 14);
    socket.write(header);
    socket.write(new Uint8Array(MAX_CONNECT_BYTES - header.length).fill(0x61));
    expect((await refused)[0]).toMatchObject({ reason: 'connect-too-large', returnCode: undefined });
    await closed(socket);
  });

  it('accepts a CONNECT of exactly MAX_CONNECT_BYTES, and closes one a byte larger', async () => {
    const server = await start();
    const client = await RawClient.open(server);
    client.send(connectOfSize(MAX_CONNECT_BYTES));
    expect((await client.next('connack')).returnCode).toBe(0);
    client.destroy();
    const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
    const larger = await RawClient.open(server);
    larger.send(connectOfSize(MAX_CONNECT_BYTES + 1));
    await larger.expectClosed();
    expect(larger.unread).toEqual([]);
    expect((await refused)[0]).toMatchObject({ reason: 'connect-too-large', returnCode: undefined });
  });

  it('reads a large PUBLISH sent right behind the CONNECT, in the same write [MQTT-3.1.4-5]', async () => {
    const server = await start();
    const sensor = await connected(server, SENSOR);
    await subscribe(sensor, 1, ['/a1TestProduct/lamp/user/big', 0]);
    const client = await RawClient.open(server);
    const payload = new Uint8Array(10 * MAX_CONNECT_BYTES).fill(0x62);
    const publish = encode({ type: 'publish', topic: '/a1TestProduct/lamp/user/big', payload, qos: 0, retain: false, dup: false });
    client.sendBytes(Buffer.concat([encode(connectPacket(LAMP)), publish]));
    expect((await client.next('connack')).returnCode).toBe(0);
    expect((await sensor.next('publish')).payload).toEqual(payload);
  });
});
