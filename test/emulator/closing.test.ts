/**
 * How the stand-in ends a connection it refuses or throws out: cleanly (TLS close_notify, then a
 * FIN), so that a TLS client can tell a deliberate close from a lost connection, and within a
 * bounded time when the peer never closes its side.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connect as netConnect } from 'node:net';
import { CLOSE_GRACE_MS } from '../../src/emulator/index.js';
import type { DisconnectEvent, Emulator } from '../../src/emulator/index.js';
import { encode } from '../../src/packet/index.js';
import type { Packet } from '../../src/packet/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { connectPacket, connected } from './raw-client.js';
import { emulatorPerTest, eventually, LAMP } from './fixtures.js';

const start = emulatorPerTest();

const CA_PATH = fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url));
const CONNACK_0 = '20020000';
const CONNACK_4 = '20020004';

const publish = (qos: 0 | 2, retain: boolean): Packet => ({
  type: 'publish',
  topic: '/a1TestProduct/lamp/user/update',
  payload: Buffer.from('on'),
  qos,
  retain,
  dup: false,
  ...(qos === 2 ? { packetId: 1 } : {}),
});

/**
 * Sends `packets` through `openssl s_client` and resolves with its exit code and what it printed
 * of the server's bytes, once the server has closed. OpenSSL exits 1 ("unexpected eof while
 * reading") when the close comes without a close_notify, 0 after a clean one.
 */
async function throughOpenssl(server: Emulator, packets: Packet[], version: '-tls1_2' | '-tls1_3'): Promise<{ code: number | null; received: string }> {
  const child = spawn('openssl', ['s_client', version, '-connect', `[::1]:${server.port}`, '-CAfile', CA_PATH, '-verify_return_error', '-quiet'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const received: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => received.push(chunk));
  // -quiet implies -ign_eof: the end of the input does not end the connection, the server's close does.
  child.stdin.end(Buffer.concat(packets.map((packet) => encode(packet))));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, received: Buffer.concat(received).toString('hex') };
}

describe('a clean close, as an OpenSSL client sees it', () => {
  it.each(['-tls1_2', '-tls1_3'] as const)('after a retained PUBLISH (%s)', async (version) => {
    const server = await start();
    const ended = once(server, 'disconnect') as Promise<[DisconnectEvent]>;
    const { code, received } = await throughOpenssl(server, [connectPacket(LAMP), publish(0, true)], version);
    expect((await ended)[0]).toMatchObject({ reason: 'unsupported-feature' });
    expect(received).toBe(CONNACK_0);
    expect(code).toBe(0);
  });

  it('after a QoS 2 PUBLISH', async () => {
    const server = await start();
    const { code, received } = await throughOpenssl(server, [connectPacket(LAMP), publish(2, false)], '-tls1_3');
    expect(received).toBe(CONNACK_0);
    expect(code).toBe(0);
  });

  it('after a refusing CONNACK', async () => {
    const server = await start();
    const { code, received } = await throughOpenssl(server, [connectPacket(LAMP, { sign: { deviceSecret: 'wrong' } })], '-tls1_3');
    expect(received).toBe(CONNACK_4);
    expect(code).toBe(0);
  });

  it('after a protocol violation', async () => {
    const server = await start();
    const { code, received } = await throughOpenssl(server, [connectPacket(LAMP), { type: 'connack', sessionPresent: false, returnCode: 0 }], '-tls1_3');
    expect(received).toBe(CONNACK_0);
    expect(code).toBe(0);
  });
});

describe('the wait for the peer to close', () => {
  // Plain TCP, where what the emulator's side does shows: once its socket is destroyed, the
  // kernel answers the peer's next bytes with a reset. (Over TLS the same timer runs, but the
  // peer's TLS layer sends nothing after the emulator's close_notify.)
  it('destroys the connection CLOSE_GRACE_MS after ending it when the peer keeps its side open, in virtual time', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock, tls: false });
    const socket = netConnect({ host: '::1', port: server.port, allowHalfOpen: true });
    socket.on('error', () => {});
    socket.resume(); // reads what comes, so that the end of the stream is seen
    await once(socket, 'connect');
    const ended = once(server, 'disconnect');
    socket.write(Buffer.concat([encode(connectPacket(LAMP, { sign: { secureMode: 3 } })), encode(publish(0, true))]));
    await ended;
    await once(socket, 'end'); // the emulator's FIN; this peer does not answer with its own
    expect(clock.pending()).toBe(1); // the grace timer, and nothing else
    expect(clock.advance(CLOSE_GRACE_MS - 1)).toBe(0);
    expect(clock.advance(1)).toBe(1);
    // Its first byte draws the reset, a later write learns of it (the read side saw EOF already).
    await eventually(() => {
      if (!socket.destroyed) socket.write('x');
      return socket.destroyed;
    }, 'the peer sees the emulator socket gone');
  });

  it('stops waiting as soon as the peer closes its side', async () => {
    const clock = new VirtualClock();
    const server = await start({ clock });
    const lamp = await connected(server, LAMP);
    lamp.send(publish(0, true));
    await lamp.expectClosed(); // this peer closes its side when the emulator ends the connection
    // The grace timer goes once the emulator's socket has seen that close too.
    await eventually(() => clock.pending() === 0, 'the grace timer cleared');
  });
});
