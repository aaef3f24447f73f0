import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { TLSSocket } from 'node:tls';
import { openTransport } from '../../src/transport/index.js';
import { closedPort, failingLookup, failureOf, startTcpServer, tableLookup } from './helpers.js';
import type { TestServer } from './helpers.js';
import type { Socket } from 'node:net';

let peer: TestServer<Socket> | undefined;
const opened: Socket[] = [];
afterEach(async () => {
  for (const socket of opened.splice(0)) {
    socket.destroy();
  }
  await peer?.close();
  peer = undefined;
});

describe('openTransport over plain TCP', () => {
  it.each([
    ['::1', undefined],
    ['[::1]', undefined],
    ['localhost', tableLookup({ localhost: '::1' })],
  ])('connects to %s when asked for tcp, without TLS', async (host, lookup) => {
    peer = await startTcpServer();
    const accepted = peer.nextConnection();
    const socket = await openTransport({ host, port: peer.port, transport: 'tcp', lookup });
    opened.push(socket);
    expect(socket).not.toBeInstanceOf(TLSSocket);
    expect(socket.remoteFamily).toBe('IPv6');
    const serverSide = await accepted;
    socket.write('MQTT');
    const [data] = await once(serverSide, 'data');
    expect(String(data)).toBe('MQTT');
  });

  it('leaves no listener of its own on the socket it returns', async () => {
    peer = await startTcpServer();
    const socket = await openTransport({ host: '::1', port: peer.port, transport: 'tcp' });
    opened.push(socket);
    for (const event of ['error', 'close', 'connect', 'lookup', 'timeout']) {
      expect(socket.listenerCount(event), event).toBe(0);
    }
  });
});

describe('connection failures', () => {
  it.each(['tcp', 'tls'] as const)('a port nobody listens on is connection-refused (%s)', async (transport) => {
    const port = await closedPort();
    const error = await failureOf(openTransport({ host: '::1', port, transport }));
    expect(error).toMatchObject({ code: 'connection-refused', phase: 'tcp', host: '::1', port });
    expect(error.message).toContain(`[::1]:${port}`);
    expect((error.cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it.each(['ENOTFOUND', 'ENODATA'])('a resolver answering %s with family 6 means the AAAA record is missing', async (code) => {
    const error = await failureOf(openTransport({ host: 'pk.iot-as-mqtt.cn-shanghai.aliyuncs.com', port: 1883, lookup: failingLookup(code) }));
    expect(error).toMatchObject({ code: 'no-aaaa-record', phase: 'lookup' });
    expect(error.message).toContain('support ticket');
    expect((error.cause as { code?: string }).code).toBe(code);
  });

  it('a resolver answering ENOTFOUND with family 0 is a plain DNS failure', async () => {
    const error = await failureOf(openTransport({ host: 'h.invalid', port: 1883, family: 0, lookup: failingLookup('ENOTFOUND') }));
    expect(error).toMatchObject({ code: 'dns-failed', phase: 'lookup' });
  });

  // TCP to a multicast address is refused by the kernel with ENETUNREACH before any packet is
  // sent, which makes it a safe stand-in for a machine without an IPv6 route. The other
  // unreachable errnos are covered by the mapping's unit tests. The table resolver answers
  // synchronously, which once made tls.connect() throw before any listener was attached.
  it('an IPv6 address the kernel cannot route to is no-ipv6-route', async () => {
    const error = await failureOf(openTransport({ host: 'broker.invalid', port: 1883, lookup: tableLookup({ 'broker.invalid': 'ff02::1' }) }));
    expect(error).toMatchObject({ code: 'no-ipv6-route', phase: 'tcp' });
    expect((error.cause as { code?: string }).code).toBe('ENETUNREACH');
  });
});
