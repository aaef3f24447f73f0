/**
 * The fault proxy itself, against a plain TCP target on [::1]: what the session's fault tests
 * rely on it to do, byte for byte.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits for `condition` to hold (an event that must happen), failing after `ms`: never a bare sleep. */
async function eventually(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened within ${ms} ms: ${what}`);
    await sleep(2);
  }
}
import { FaultProxy, seededRandom } from '../support/fault-proxy.js';
import type { FaultProxyOptions } from '../support/fault-proxy.js';

interface Target {
  readonly server: Server;
  readonly port: number;
  /** Server-side sockets in the order they were accepted. */
  readonly sockets: Socket[];
  next(): Promise<Socket>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startTarget(onSocket: (socket: Socket) => void = () => undefined): Promise<Target> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    sockets.push(socket);
    onSocket(socket);
  });
  server.listen({ host: '::1', port: 0 });
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    sockets,
    next: async () => ((await once(server, 'connection')) as [Socket])[0],
  };
}

async function startProxy(target: Target, plan?: FaultProxyOptions['plan']): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ target: { host: '::1', port: target.port }, plan });
  cleanups.push(() => proxy.close());
  return proxy;
}

async function dial(proxy: FaultProxy): Promise<Socket> {
  const socket = connect({ host: '::1', port: proxy.port });
  socket.on('error', () => undefined);
  cleanups.push(() => void socket.destroy());
  await once(socket, 'connect');
  return socket;
}

/** Everything a socket reads until it closes, and how it closed. */
async function readAll(socket: Socket): Promise<{ bytes: Buffer; error: string | undefined }> {
  const chunks: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
  if (!socket.closed) await new Promise((resolve) => socket.once('close', resolve));
  return { bytes: Buffer.concat(chunks), error };
}

const pattern = (length: number, seed: number): Buffer => {
  const random = seededRandom(seed);
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
};

describe('FaultProxy', () => {
  it('forwards both ways unchanged, with backpressure, 1 MiB each way', async () => {
    const target = await startTarget((socket) => socket.pipe(socket)); // echo
    const proxy = await startProxy(target);
    const client = await dial(proxy);
    const data = pattern(1 << 20, 1);

    const echoed = (async () => {
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of client) {
        chunks.push(chunk as Buffer);
        length += (chunk as Buffer).length;
        if (length >= data.length) break;
      }
      return Buffer.concat(chunks);
    })();
    client.write(data);

    expect((await echoed).equals(data)).toBe(true);
    expect(proxy.connections[0]!.clientBytes).toBe(data.length);
    expect(proxy.connections[0]!.serverBytes).toBe(data.length);
    expect(proxy.cuts).toBe(0);
  });

  it('cutAfterClientBytes with a FIN: the target gets exactly that many bytes, then the end; the client is closed', async () => {
    const target = await startTarget();
    const proxy = await startProxy(target, () => ({ cutAfterClientBytes: 1000 }));
    const arriving = target.next();
    const client = await dial(proxy);
    const serverSide = await arriving;
    const received = readAll(serverSide);
    const clientClosed = readAll(client);

    client.write(pattern(600, 2));
    client.write(pattern(600, 3));

    const { bytes } = await received;
    expect(bytes.equals(Buffer.concat([pattern(600, 2), pattern(400, 3)]))).toBe(true);
    expect((await clientClosed).error).toBeUndefined();
    expect(proxy.cuts).toBe(1);
    expect(proxy.connections[0]!.cutReason).toBe('after 1000 bytes from the client');
  });

  it('cutAfterServerBytes with a FIN: the client gets exactly that many bytes', async () => {
    const target = await startTarget((socket) => socket.write(pattern(5000, 4)));
    const proxy = await startProxy(target, () => ({ cutAfterServerBytes: 4321 }));
    const client = await dial(proxy);

    const { bytes } = await readAll(client);

    expect(bytes.equals(pattern(5000, 4).subarray(0, 4321))).toBe(true);
  });

  it('a reset cut: the client sees ECONNRESET', async () => {
    const target = await startTarget();
    const proxy = await startProxy(target, () => ({ cutAfterClientBytes: 10, how: 'reset' }));
    const client = await dial(proxy);
    const closed = readAll(client);

    client.write(pattern(100, 5));

    expect((await closed).error).toBe('ECONNRESET');
  });

  it('cutAfterMs cuts an idle connection after that time', async () => {
    const target = await startTarget();
    const proxy = await startProxy(target, () => ({ cutAfterMs: 50 }));
    const started = Date.now();
    const client = await dial(proxy);

    await readAll(client);

    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(proxy.connections[0]!.cutReason).toBe('after 50 ms');
  });

  it('stall: nothing passes either way and both sockets stay open; new connections forward', async () => {
    const target = await startTarget((socket) => socket.pipe(socket));
    const proxy = await startProxy(target);
    const stalled = await dial(proxy);
    const heard: Buffer[] = [];
    stalled.on('data', (chunk: Buffer) => heard.push(chunk));
    stalled.write('before');
    await once(stalled, 'data');

    proxy.stall();
    stalled.write('during');
    target.sockets[0]!.write('from the server');
    const fresh = await dial(proxy);
    fresh.write('fresh');
    const [echo] = (await once(fresh, 'data')) as [Buffer];
    // The proxy has read both and dropped them: they cannot be forwarded any more.
    const connection = proxy.connections[0]!;
    await eventually(() => connection.dropped.client >= 'during'.length && connection.dropped.server >= 'from the server'.length, 'the stalled bytes reach the proxy');

    expect(echo.toString()).toBe('fresh');
    expect(Buffer.concat(heard).toString()).toBe('before');
    expect(stalled.closed).toBe(false);
    expect(target.sockets[0]!.closed).toBe(false);
    expect(proxy.connections[0]!.stalled).toBe(true);
    // Not even a close passes: the target never hears that the client went away.
    stalled.destroy();
    await eventually(() => connection.closedSides.has('client'), 'the proxy sees the client close');
    expect(target.sockets[0]!.closed).toBe(false);
  });

  it('stallNew: a new connection connects at TCP level and then hears nothing', async () => {
    const target = await startTarget((socket) => socket.write('hello'));
    const proxy = await startProxy(target);
    proxy.stallNew(true);
    const client = await dial(proxy);
    const heard: Buffer[] = [];
    client.on('data', (chunk: Buffer) => heard.push(chunk));

    await target.next();
    // The target's greeting reached the proxy, which dropped it.
    await eventually(() => proxy.connections[0]!.dropped.server >= 'hello'.length, "the target's hello reaches the proxy");

    expect(heard).toEqual([]);
    expect(client.closed).toBe(false);
  });

  it('delay: each direction waits, order is kept', async () => {
    const target = await startTarget((socket) => socket.pipe(socket));
    const proxy = await startProxy(target);
    proxy.delayMs = 100;
    const client = await dial(proxy);
    const chunks: string[] = [];
    const started = Date.now();

    for (const word of ['one ', 'two ', 'three']) client.write(word);
    for await (const chunk of client) {
      chunks.push((chunk as Buffer).toString());
      if (chunks.join('') === 'one two three') break;
    }

    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('inject: bytes reach the client after what was forwarded before', async () => {
    const target = await startTarget((socket) => socket.write('forwarded;'));
    const proxy = await startProxy(target);
    const client = await dial(proxy);
    await once(client, 'data');

    proxy.inject(Buffer.from('injected'));
    const [chunk] = (await once(client, 'data')) as [Buffer];

    expect(chunk.toString()).toBe('injected');
    expect(target.sockets[0]!.bytesRead).toBe(0); // nothing went to the target
  });

  it('refuse: new connections are reset at once and never reach the target', async () => {
    const target = await startTarget();
    const proxy = await startProxy(target);
    proxy.refuse(true);

    const client = connect({ host: '::1', port: proxy.port });
    const { error } = await readAll(client);

    expect(error).toBe('ECONNRESET');
    expect(proxy.refusedCount).toBe(1);
    expect(proxy.connections).toEqual([]);
    expect(target.sockets).toEqual([]);
  });
});
