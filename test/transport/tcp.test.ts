import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { TLSSocket } from 'node:tls';
import { openTransport } from '../../src/transport/index.js';
import { closedPort, failingLookup, failureOf, familyLookup, startTcpServer, tableLookup } from './helpers.js';
import type { LookupCall, TestServer } from './helpers.js';
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

  it('a name with IPv4 addresses only is no-aaaa-record: a second lookup, through the same resolver, found them', async () => {
    const calls: LookupCall[] = [];
    const lookup = familyLookup({ 'v4only.example': { 4: '127.0.0.1' } }, calls);
    const error = await failureOf(openTransport({ host: 'v4only.example', port: 1883, lookup }));
    expect(error).toMatchObject({ code: 'no-aaaa-record', phase: 'lookup' });
    expect(error.advice.map((a) => a.code)).toContain('allow-other-family');
    expect(calls.map((c) => c.family)).toEqual([6, 4]);
    expect((error.cause as { code?: string }).code).toBe('ENOTFOUND');
  });

  it.each(['ENOTFOUND', 'ENODATA'])('a name the resolver answers %s for in both families is host-not-found, not a missing AAAA record', async (code) => {
    const error = await failureOf(openTransport({ host: 'nowhere.example', port: 1883, lookup: failingLookup(code) }));
    expect(error).toMatchObject({ code: 'host-not-found', phase: 'lookup' });
    expect(error.message).not.toMatch(/AAAA|family/);
    expect((error.cause as { code?: string }).code).toBe(code);
  });

  it('a name with IPv6 addresses only, looked up with family 4, is no-a-record', async () => {
    const lookup = familyLookup({ 'v6only.example': { 6: '::1' } });
    const error = await failureOf(openTransport({ host: 'v6only.example', port: 1883, family: 4, lookup }));
    expect(error).toMatchObject({ code: 'no-a-record', phase: 'lookup' });
  });

  it('with family 0 one lookup asks for both families: nothing found is host-not-found, with no second lookup', async () => {
    const calls: LookupCall[] = [];
    const error = await failureOf(openTransport({ host: 'h.invalid', port: 1883, family: 0, lookup: familyLookup({}, calls) }));
    expect(error).toMatchObject({ code: 'host-not-found', phase: 'lookup' });
    expect(calls).toHaveLength(1);
  });

  it('a second lookup that never answers is bounded by the connect timeout', async () => {
    let calls = 0;
    const lookup: Parameters<typeof openTransport>[0]['lookup'] = (hostname, _options, callback) => {
      if (calls++ === 0) setImmediate(() => callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0));
    };
    const error = await failureOf(openTransport({ host: 'slow.example', port: 1883, lookup, connectTimeout: 100 }));
    expect(error).toMatchObject({ code: 'connect-timeout', phase: 'lookup' });
  });

  // TCP to a multicast address is refused by the kernel with ENETUNREACH before any packet is
  // sent, which makes it a safe stand-in for a machine without an IPv6 route. The other
  // unreachable errnos are covered by the mapping's unit tests. The table resolver answers
  // synchronously, which once made tls.connect() throw before any listener was attached.
  it('an IPv6 address the kernel cannot route to is no-ipv6-route', async () => {
    const error = await failureOf(openTransport({ host: 'broker.invalid', port: 1883, lookup: tableLookup({ 'broker.invalid': 'ff02::1' }) }));
    expect(error).toMatchObject({ code: 'no-ipv6-route', phase: 'tcp' });
    expect((error.cause as { code?: string }).code).toBe('ENETUNREACH');
    expect(error.advice.map((a) => a.code)).toEqual(['check-ipv6-connectivity', 'allow-other-family']);
  });

  it('an IPv6 literal the kernel cannot route to gets no advice to change the family: a literal has one', async () => {
    const error = await failureOf(openTransport({ host: 'ff02::1', port: 1883 }));
    expect(error).toMatchObject({ code: 'no-ipv6-route', phase: 'tcp' });
    expect(error.advice.map((a) => a.code)).toEqual(['check-address']);
    expect(error.message).not.toMatch(/family|connectivity/);
  });
});

describe('the second lookup, with a resolver that misbehaves', () => {
  const notFound = (hostname: string): Error => Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });

  it('one that throws on the second question: the first answer stands, as a DNS failure', async () => {
    let calls = 0;
    const lookup: Parameters<typeof openTransport>[0]['lookup'] = (hostname, _options, callback) => {
      if (calls++ > 0) throw new Error('no family 4 here');
      setImmediate(() => callback(notFound(hostname), '', 0));
    };
    const error = await failureOf(openTransport({ host: 'odd.example', port: 1883, lookup }));
    expect(error).toMatchObject({ code: 'dns-failed', phase: 'lookup' });
    expect((error.cause as { code?: string }).code).toBe('ENOTFOUND');
  });

  it('one that calls back twice: answered once', async () => {
    const lookup: Parameters<typeof openTransport>[0]['lookup'] = (hostname, options, callback) => {
      if (options.family === 4) {
        callback(null, '127.0.0.1', 4);
        callback(notFound(hostname), '', 0);
        return;
      }
      setImmediate(() => callback(notFound(hostname), '', 0));
    };
    const error = await failureOf(openTransport({ host: 'twice.example', port: 1883, lookup }));
    expect(error.code).toBe('no-aaaa-record');
  });
});
