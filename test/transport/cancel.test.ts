import { afterEach, describe, expect, it, vi } from 'vitest';
import { getEventListeners, once } from 'node:events';
import type { Socket } from 'node:net';
import { openTransport } from '../../src/transport/index.js';
import type { TransportError } from '../../src/transport/index.js';
import { activeResources, failureOf, loopback, silentLookup, startTcpServer, startTlsServer } from './helpers.js';
import type { TestServer } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/** A server that accepts TCP and then never says a word: a TLS handshake to it never ends. */
async function silentServer(): Promise<TestServer<Socket>> {
  const server = await startTcpServer();
  cleanups.push(() => server.close());
  return server;
}

/**
 * Resolves with the server's end of the next connection once the client's ClientHello has
 * arrived: from then on the client is certainly in its TLS phase.
 */
async function handshakeStarted(server: TestServer<Socket>): Promise<Socket> {
  const serverSide = await server.nextConnection();
  await once(serverSide, 'data');
  return serverSide;
}

/** Resolves when the client's side of this connection is gone (its close follows what it sent). */
function clientGone(serverSide: Socket): Promise<unknown> {
  serverSide.resume();
  return once(serverSide, 'close');
}

/** Settles microtasks and pending I/O callbacks once, so an early rejection would have shown. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * With fake timers: checks that the attempt is still pending 1 ms before `timeout` and has failed
 * at `timeout`, and returns its error.
 */
async function failsAfter(attempt: Promise<Socket>, timeout: number): Promise<TransportError> {
  let settled = false;
  void attempt.then(
    () => (settled = true),
    () => (settled = true),
  );
  vi.advanceTimersByTime(timeout - 1);
  await turn();
  expect(settled).toBe(false);
  vi.advanceTimersByTime(1);
  return failureOf(attempt);
}

describe('connect timeout', () => {
  it('gives up on a TLS handshake that never completes, names the phase and closes the socket', async () => {
    const server = await silentServer();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const started = handshakeStarted(server);
    const attempt = openTransport({ host: '::1', port: server.port, ca: loopback.ca, connectTimeout: 200 });
    const serverSide = await started;
    const error = await failsAfter(attempt, 200);
    expect(error.code).toBe('connect-timeout');
    expect(error.phase).toBe('tls');
    expect(error.message).toContain('TLS handshake');
    expect(error.message).toContain('200 ms');
    // The client really destroyed its socket: the server sees it go.
    await clientGone(serverSide);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does so with a real timer as well', async () => {
    const server = await silentServer();
    const started = handshakeStarted(server);
    const attempt = openTransport({ host: '::1', port: server.port, ca: loopback.ca, connectTimeout: 200 });
    const serverSide = await started;
    const error = await failureOf(attempt);
    expect(error).toMatchObject({ code: 'connect-timeout', phase: 'tls' });
    await clientGone(serverSide);
  });

  it('covers the name lookup too, with 30 s by default', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const error = await failsAfter(openTransport({ host: 'h.invalid', port: 1883, lookup: silentLookup }), 30_000);
    expect(error.code).toBe('connect-timeout');
    expect(error.phase).toBe('lookup');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('abort', () => {
  it('rejects at once for an already aborted signal, without resolving or connecting', async () => {
    const lookup = vi.fn();
    const reason = new Error('shutting down');
    const error = await failureOf(openTransport({ host: 'h.invalid', port: 1883, lookup, signal: AbortSignal.abort(reason) }));
    expect(error.code).toBe('aborted');
    expect(error.cause).toBe(reason);
    expect(lookup).not.toHaveBeenCalled();
  });

  it('opens no socket for an already aborted signal, also for an IP literal', async () => {
    const socketsBefore = activeResources('TCPSocketWrap');
    const attempt = openTransport({ host: '::1', port: 1883, signal: AbortSignal.abort() });
    expect(activeResources('TCPSocketWrap')).toBe(socketsBefore);
    expect((await failureOf(attempt)).code).toBe('aborted');
  });

  it('cancels a TLS handshake in progress, with the reason as cause, and leaves nothing behind', async () => {
    const server = await silentServer();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const started = handshakeStarted(server);
    const controller = new AbortController();
    const attempt = openTransport({ host: '::1', port: server.port, ca: loopback.ca, signal: controller.signal });
    const serverSide = await started;
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('user pressed stop');
    controller.abort(reason);
    const error = await failureOf(attempt);
    expect(error.code).toBe('aborted');
    expect(error.phase).toBe('tls');
    expect(error.cause).toBe(reason);
    await clientGone(serverSide);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cancels a name lookup in progress', async () => {
    const controller = new AbortController();
    const attempt = openTransport({ host: 'h.invalid', port: 1883, lookup: silentLookup, signal: controller.signal });
    controller.abort();
    const error = await failureOf(attempt);
    expect(error.code).toBe('aborted');
    expect(error.phase).toBe('lookup');
    expect(error.cause).toBe(controller.signal.reason);
  });

  it('stops listening to the signal after any failure', async () => {
    const controller = new AbortController();
    const server = await silentServer();
    await failureOf(
      openTransport({ host: '::1', port: server.port, ca: loopback.ca, connectTimeout: 50, signal: controller.signal }),
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('after success the socket belongs to the caller', () => {
  it('is not destroyed by a later abort or by the connect timeout, and no timer is left', async () => {
    const server = await startTlsServer();
    cleanups.push(() => server.close());
    const controller = new AbortController();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const socket = await openTransport({
      host: '::1',
      port: server.port,
      ca: loopback.ca,
      connectTimeout: 1_000,
      signal: controller.signal,
    });
    cleanups.push(() => {
      socket.destroy();
    });
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort();
    vi.advanceTimersByTime(5_000);
    await turn();
    expect(socket.destroyed).toBe(false);
    expect(socket.writable).toBe(true);
  });
});
