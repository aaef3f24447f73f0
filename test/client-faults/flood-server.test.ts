/**
 * A hostile server that floods QoS 1 PUBLISHes and never reads: every one asks for a PUBACK, and
 * a client that kept reading would queue PUBACKs in its socket's write buffer without limit. The
 * client stops reading while that buffer is above its high-water mark, so TCP holds the server
 * back instead, and the client's memory stays bounded for as long as the flood lasts.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { MqttClient } from '../../src/client/index.js';
import { encode } from '../../src/packet/codec.js';
import { openTransport } from '../../src/transport/index.js';
import type { TransportOptions } from '../../src/transport/index.js';

const servers: Server[] = [];
const clients: MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.end({ force: true });
  for (const s of servers.splice(0)) s.close();
});

/** A server that answers CONNECT with CONNACK, then floods and stops reading. */
async function floodingServer(): Promise<{ port: number; flood: Promise<{ written: number; blocked: boolean }> }> {
  let start!: (socket: Socket) => void;
  const connected = new Promise<Socket>((resolve) => (start = resolve));
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.pause(); // never reads again
      socket.write(encode({ type: 'connack', sessionPresent: false, returnCode: 0 }));
      start(socket);
    });
  });
  servers.push(server);
  server.listen(0, '::1');
  await once(server, 'listening');
  const frame = Buffer.from(encode({ type: 'publish', topic: 'flood', payload: Buffer.alloc(16), qos: 1, retain: false, dup: false, packetId: 1 }));
  const batch = Buffer.concat(Array.from({ length: 256 }, () => frame));
  const flood = connected.then(async (socket) => {
    let written = 0;
    const limit = 64 * 1024 * 1024;
    const deadline = Date.now() + 8000;
    while (written < limit && Date.now() < deadline) {
      written += batch.length;
      if (!socket.write(batch)) {
        // Respect backpressure: a client that is not reading holds the flood back.
        const drained = await Promise.race([once(socket, 'drain').then(() => true), new Promise((r) => setTimeout(() => r(false), 500))]);
        if (!drained) return { written, blocked: true };
      }
    }
    return { written, blocked: false };
  });
  return { port: (server.address() as AddressInfo).port, flood };
}

it('a server that floods QoS 1 and never reads: the client stops reading, its write buffer stays bounded', async () => {
  const { port, flood } = await floodingServer();
  let socket: Duplex | undefined;
  const client = new MqttClient({
    host: '::1',
    port,
    transport: 'tcp',
    clientId: 'flooded',
    reconnect: false,
    openSocket: async (options: TransportOptions) => (socket = await openTransport(options)),
  });
  clients.push(client);
  const closes: unknown[] = [];
  client.on('close', (error) => closes.push(error));
  await client.connect();
  const result = await flood;
  // The server could not push 64 MB through: the client held it back by not reading.
  expect(result.blocked).toBe(true);
  expect(result.written).toBeLessThan(64 * 1024 * 1024);
  // What the client holds for the server that will not read: its socket's buffer, bounded
  // near the high-water mark (16 KiB) plus one batch of PUBACKs, not megabytes.
  expect(socket!.writableLength).toBeLessThan(1024 * 1024);
  // A slow peer is not a dead one: the connection is still up.
  expect(client.state).toBe('connected');
  expect(closes).toEqual([]);
}, 20_000);
