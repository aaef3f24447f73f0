/**
 * Connections that fail as a newcomer meets them, through `aliot` in-process: a server that
 * never answers, the wrong transport for the port, an untrusted certificate, an address with no
 * route, a device signed in twice. Each exits with its documented code, and the advice names the
 * command's own flags, never the library's options.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseArgs, optionsWithHelp } from '../../src/cli/args.js';
import { resolveConnection } from '../../src/cli/connection.js';
import { DEMO } from '../../src/cli/demo.js';
import { describeFailure } from '../../src/cli/failure.js';
import { PUB } from '../../src/cli/pub.js';
import { SUB } from '../../src/cli/sub.js';
import { connectDevice } from '../../src/device/index.js';
import { openTransport } from '../../src/transport/index.js';
import type { TransportError } from '../../src/transport/index.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';
import { familyLookup } from '../transport/helpers.js';
import { captureIo, run } from './helpers.js';

const startEmulator = emulatorPerTest();
const CAFILE = fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url));
const servers: Array<{ server: Server; sockets: Set<Socket> }> = [];
afterEach(() => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
});

/** A plain TCP server on [::1]; `onSocket` decides what it does with each connection. */
async function tcpServer(onSocket: (socket: Socket) => void = () => undefined): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  servers.push({ server, sockets });
  server.listen(0, '::1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

const device = (port: number): string[] => ['--product-key', LAMP.productKey, '--device-name', LAMP.deviceName, '--endpoint', `[::1]:${port}`];
const secret = { ALIOT_DEVICE_SECRET: LAMP.deviceSecret };
/** No option of the library spelled as the library spells it: the command names its flags. */
const LIBRARY_NAMES = /family: \d|the ca option|transport: '|connectTimeout|signCredentials/;

describe('a server that accepts TCP and never answers', () => {
  it('sub -W bounds connecting too: exit 3 at -W, with -W named as the way to more time', async () => {
    const port = await tcpServer();
    const started = performance.now();
    const result = await run(['sub', '-h', '::1', '-p', String(port), '-t', 'a', '-W', '1']);
    // The connect timeout's default is 30 s; -W 1 must end the run long before that.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^aliot sub: TLS handshake with \[::1\]:\d+ did not complete within 1000 ms/);
    expect(result.stderr).toContain('-W SECONDS');
    expect(result.stderr).not.toMatch(LIBRARY_NAMES);
  });

  it('pub --connect-timeout bounds the TLS handshake: exit 3, the flag named', async () => {
    const port = await tcpServer();
    const result = await run(['pub', '-h', '::1', '-p', String(port), '-t', 'a', '-m', 'x', '--connect-timeout', '0.3']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('within 300 ms');
    expect(result.stderr).toContain('--connect-timeout SECONDS');
    expect(result.stderr).toContain('--tcp'); // a plain MQTT port is the other way out
    expect(result.stderr).not.toMatch(LIBRARY_NAMES);
  });

  it('over plain TCP, --connect-timeout bounds the wait for CONNACK: exit 3', async () => {
    const port = await tcpServer();
    const result = await run(['pub', '-h', '::1', '-p', String(port), '--tcp', '-t', 'a', '-m', 'x', '--connect-timeout', '0.3']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^aliot pub: no CONNACK within 0\.3 s of connecting to \[::1\]:\d+ over TCP/);
    expect(result.stderr).toContain('--connect-timeout SECONDS');
  });

  it('sub with a --connect-timeout shorter than -W names --connect-timeout', async () => {
    const port = await tcpServer();
    const result = await run(['sub', '-h', '::1', '-p', String(port), '-t', 'a', '-W', '30', '--connect-timeout', '0.3']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('within 300 ms');
    expect(result.stderr).toContain('--connect-timeout SECONDS');
  });

  it.each([
    ['pub', '-h', '::1', '-t', 'a', '-m', 'x'],
    ['sub', '-h', '::1', '-t', 'a'],
    ['demo'],
  ])('%s takes --connect-timeout in seconds and refuses nonsense with exit 1', async (...argv) => {
    const help = await run([argv[0]!, '--help']);
    expect(help.stdout).toContain('--connect-timeout SECONDS');
    for (const value of ['soon', '0', '-1', '1e3', '3000000']) {
      const result = await run([...argv, '--connect-timeout', value]);
      expect(result.code, value).toBe(1);
      expect(result.stderr, value).toContain('--connect-timeout must be seconds');
    }
  });
});

describe('the wrong transport for the port', () => {
  it('plain TCP to the stand-in\'s TLS port: closed without a CONNACK, and the hint says --tls', async () => {
    const emulator = await startEmulator();
    const result = await run(['pub', ...device(emulator.port), '--tcp', '-t', 'a', '-m', 'x'], { env: secret });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^aliot pub: \[::1\]:\d+ over TCP closed the connection after CONNECT, without a CONNACK/);
    expect(result.stderr).toContain('a server that speaks TLS closes a plain MQTT connection this way');
    expect(result.stderr).toContain('--tls instead of --tcp');
  });

  it('a server that answers CONNECT with a TLS alert is named a TLS port', async () => {
    const alert = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
    const port = await tcpServer((socket) => socket.once('data', () => socket.end(alert)));
    const result = await run(['pub', '-h', '::1', '-p', String(port), '--tcp', '-t', 'a', '-m', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`hint: the server answered CONNECT with a TLS record (an alert): port ${port} speaks TLS`);
    expect(result.stderr).toContain('--tls instead of --tcp');
  });

  it('a server that sends MQTT and then closes gets no TLS hint', async () => {
    const port = await tcpServer((socket) => socket.once('data', () => socket.end(Buffer.from([0x20, 0x02, 0x00, 0x05]))));
    const result = await run(['pub', '-h', '::1', '-p', String(port), '--tcp', '-t', 'a', '-m', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONNACK 5');
    expect(result.stderr).not.toContain('TLS');
  });

  it('TLS to a plain port that hangs up on the hello: the hint says --tcp', async () => {
    const port = await tcpServer((socket) => socket.once('data', () => socket.destroy()));
    const result = await run(['pub', '-h', '::1', '-p', String(port), '-t', 'a', '-m', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/closed the connection during the TLS handshake/);
    expect(result.stderr).toContain('connect with --tcp');
    expect(result.stderr).not.toMatch(LIBRARY_NAMES);
  });

  it('an untrusted certificate: the hint names --cafile', async () => {
    const emulator = await startEmulator();
    const result = await run(['pub', '-h', '::1', '-p', String(emulator.port), '-t', 'a', '-m', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TLS certificate of');
    expect(result.stderr).toContain('hint: if the server is genuine, trust its CA certificate (PEM) with --cafile FILE');
    expect(result.stderr).not.toMatch(LIBRARY_NAMES);
  });
});

describe('addresses and names', () => {
  // The kernel refuses a TCP connect to multicast with ENETUNREACH before any packet leaves.
  it('an IPv6 literal with no route: about that address, with no advice to change the family', async () => {
    const result = await run(['pub', '-h', 'ff02::1', '-p', '1883', '-t', 'a', '-m', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no route to [ff02::1]:1883 (ENETUNREACH): that address cannot be reached from this machine');
    expect(result.stderr).not.toMatch(/family|connectivity/);
  });

  async function lookupFailure(host: string, table: Parameters<typeof familyLookup>[0]): Promise<TransportError> {
    return openTransport({ host, port: 1883, lookup: familyLookup(table) }).then(
      () => {
        throw new Error('connected');
      },
      (error: TransportError) => error,
    );
  }

  it('a platform host with IPv4 only: the flags for IPv4 and for the test endpoint, the ticket explained', async () => {
    const host = 'a1B2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com';
    const error = await lookupFailure(host, { [host]: { 4: '127.0.0.1' } });
    const described = describeFailure(error, optionsWithHelp(PUB));
    expect(described?.message).toBe(`${host} has no IPv6 address (no AAAA record), only IPv4 addresses`);
    expect(described?.hints).toEqual([
      'connect with --family 0 to allow IPv4; or give the name an AAAA record',
      expect.stringMatching(/support ticket: meanwhile verify IPv6 access with --endpoint ipv6-test/),
    ]);
  });

  it('a name that does not resolve at all: no AAAA record mentioned, no family advised', async () => {
    const error = await lookupFailure('nowhere.example', {});
    const described = describeFailure(error, optionsWithHelp(PUB));
    expect(error.code).toBe('host-not-found');
    expect([described?.message, ...(described?.hints ?? [])].join('\n')).not.toMatch(/AAAA|family/);
  });

  it('advice whose flag the command lacks is left out (the demo has no --family)', async () => {
    const error = await lookupFailure('localhost', { localhost: { 4: '127.0.0.1' } });
    expect(describeFailure(error, optionsWithHelp(PUB))?.hints).toEqual(['use -h ::1 for the IPv6 loopback; connect with --family 0 to allow IPv4']);
    expect(describeFailure(error, optionsWithHelp(DEMO))?.hints).toEqual([]);
  });
});

describe('a device signed in twice', () => {
  it('the first one, kicked off by the platform, exits 2 with the hint that the device signed in again', async () => {
    const emulator = await startEmulator();
    const granted = new Promise<void>((resolve) => emulator.on('packet', (e) => e.direction === 'out' && e.packet.type === 'suback' && resolve()));
    const sub = run(['sub', ...device(emulator.port), '--cafile', CAFILE, '-t', `/${LAMP.productKey}/${LAMP.deviceName}/user/#`], { env: secret });
    await granted;
    const second = await connectDevice({ ...LAMP, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca, reconnect: false });
    try {
      const result = await sub;
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('hint: the platform closes a device\'s connection when the same device signs in again elsewhere');
    } finally {
      await second.end();
    }
  });

  it('a broker connection without platform credentials gets no platform hint when it is lost', async () => {
    // A broker that accepts, grants the subscription, then hangs up.
    const port = await tcpServer((socket) => {
      socket.once('data', () => {
        socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
        socket.once('data', (subscribe: Buffer) => socket.end(Buffer.from([0x90, 0x03, subscribe[2]!, subscribe[3]!, 0x00])));
      });
    });
    const result = await run(['sub', '-h', '::1', '-p', String(port), '--tcp', '-t', 'a']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^aliot sub: .*closed/);
    expect(result.stderr).not.toContain('hint:');
  });
});

describe('resolveConnection and -W', () => {
  it('-W shorter than --connect-timeout bounds connecting, and is the flag to name', () => {
    const resolve = (argv: string[], wait?: number) => resolveConnection(parseArgs(SUB, argv), captureIo().io, 'sub', wait);
    expect(resolve(['-h', '::1', '-t', 'a']).facts).toMatchObject({ connectTimeout: 30_000, timeoutFlag: 'connect-timeout' });
    expect(resolve(['-h', '::1', '-t', 'a'], 2000).facts).toMatchObject({ connectTimeout: 2000, timeoutFlag: 'timeout' });
    expect(resolve(['-h', '::1', '-t', 'a', '--connect-timeout', '1.5'], 2000).facts).toMatchObject({ connectTimeout: 1500, timeoutFlag: 'connect-timeout' });
    expect(resolve(['-h', '::1', '-t', 'a', '--connect-timeout', '1.5'], 2000).options.connectTimeout).toBe(1500);
  });
});

describe('a library option refused before connecting', () => {
  it('exits 1 and names the flag that sets it', async () => {
    const result = await run(['pub', ...device(1), '-k', '10', '-t', 'a', '-m', 'x'], { env: secret });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('aliot pub: keepalive: got 10');
    expect(result.stderr).toContain('hint: keepalive is set with -k (--keepalive)');
  });
});
