import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { openTransport } from '../../src/transport/index.js';
import { brokerSuitePlan, describeWithBroker, findMosquitto, startMosquitto } from './mosquitto.js';
import type { Broker } from './mosquitto.js';

// Hand-written MQTT 3.1.1 frames, so that this test depends on no codec.
const CONNECT_CLEAN = Buffer.from([
  0x10, 0x0c, //                 CONNECT, remaining length 12
  0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
  0x04, //                       protocol level 4 (3.1.1)
  0x02, //                       flags: clean session
  0x00, 0x3c, //                 keep alive 60 s
  0x00, 0x00, //                 client id: empty
]);
const connectPersistent = (clientId: string): Buffer =>
  Buffer.from([
    0x10, 12 + clientId.length, // CONNECT, remaining length
    0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // "MQTT"
    0x04, //                       level 4
    0x00, //                       flags: clean session 0
    0x00, 0x3c, //                 keep alive 60 s
    0x00, clientId.length, ...Buffer.from(clientId, 'latin1'),
  ]);
const CONNACK_ACCEPTED = [0x20, 0x02, 0x00, 0x00];
const CONNACK_ACCEPTED_SESSION_PRESENT = [0x20, 0x02, 0x01, 0x00];
const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** Reads `count` bytes, however the stream splits them, and leaves the socket open. */
function readBytes(socket: Socket, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const received: number[] = [];
    const onData = (chunk: Buffer): void => {
      received.push(...chunk);
      if (received.length >= count) {
        done();
        resolve(received);
      }
    };
    const onEnd = (): void => {
      done();
      reject(new Error(`connection ended after ${received.length} of ${count} bytes`));
    };
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', reject);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', reject);
  });
}

/** Sends one CONNECT, returns the CONNACK bytes and disconnects politely. */
async function connack(socket: Socket, connect: Buffer): Promise<number[]> {
  socket.write(connect);
  const reply = await readBytes(socket, 4);
  socket.end(DISCONNECT);
  return reply;
}

/** Handshakes with the broker using at most `maxVersion`: the protocol agreed, or the error code. */
async function handshake(broker: Broker, maxVersion: 'TLSv1.2'): Promise<string> {
  const socket = tlsConnect({ host: broker.host, port: broker.tlsPort, ca: broker.ca, maxVersion });
  try {
    return await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve(socket.getProtocol() ?? 'unknown'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  } finally {
    socket.destroy();
  }
}

describe('brokerSuitePlan', () => {
  it.each([
    [true, {}, 'run'],
    [true, { CI: 'true' }, 'run'],
    [false, { CI: 'true' }, 'fail'],
    [false, { CI: '1' }, 'fail'],
    [false, {}, 'skip'],
    [false, { CI: '' }, 'skip'],
    [false, { CI: 'false' }, 'skip'],
  ] as const)('available=%s env=%o -> %s', (available, env, plan) => {
    expect(brokerSuitePlan(available, env)).toBe(plan);
  });
});

describe('findMosquitto', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aliot-find-'));
  const candidate = join(dir, 'mosquitto');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes only an executable file', () => {
    expect(findMosquitto({ PATH: dir }, [])).toBeUndefined();
    mkdirSync(candidate);
    expect(findMosquitto({ PATH: dir }, [])).toBeUndefined(); // a directory of that name
    rmSync(candidate, { recursive: true });
    writeFileSync(candidate, '#!/bin/sh\n');
    expect(findMosquitto({ PATH: dir }, [])).toBeUndefined(); // not executable yet
    chmodSync(candidate, 0o755);
    expect(findMosquitto({ PATH: dir }, [])).toBe(candidate);
  });

  it('looks on PATH in order, then at the fallback locations', () => {
    expect(findMosquitto({ PATH: `/nonexistent${delimiter}${dir}` }, ['/nonexistent/mosquitto'])).toBe(candidate);
    expect(findMosquitto({}, [join(dir, 'nope'), candidate])).toBe(candidate);
    expect(findMosquitto({ PATH: '' }, [])).toBeUndefined();
  });
});

describeWithBroker('mosquitto harness', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(() => broker.stop());

  it('accepts MQTT over TLS on [::1] through openTransport', async () => {
    const socket = await openTransport({ host: broker.host, port: broker.tlsPort, family: 6, ca: broker.ca });
    expect(await connack(socket, CONNECT_CLEAN)).toEqual(CONNACK_ACCEPTED);
  });

  it('accepts MQTT over plain TCP on [::1]', async () => {
    const socket = await openTransport({ host: broker.host, port: broker.tcpPort, transport: 'tcp' });
    expect(await connack(socket, CONNECT_CLEAN)).toEqual(CONNACK_ACCEPTED);
  });

  it('completes a TLS 1.2 handshake, the version the platform speaks', async () => {
    expect(await handshake(broker, 'TLSv1.2')).toBe('TLSv1.2');
  });

  it('keeps its log', () => {
    expect(broker.log()).toContain('running');
  });
});

describeWithBroker('mosquitto harness lifecycle', () => {
  it('stop() ends the broker, frees its port and removes its directory', async () => {
    const broker = await startMosquitto();
    expect(existsSync(broker.directory)).toBe(true);
    await broker.stop();
    expect(existsSync(broker.directory)).toBe(false);
    const probe = netConnect({ host: '::1', port: broker.tlsPort });
    const [error] = (await once(probe, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
    await broker.stop(); // a second stop is harmless
  });

  it.each([
    [true, CONNACK_ACCEPTED_SESSION_PRESENT],
    [false, CONNACK_ACCEPTED],
  ])('persistence=%s decides whether a session survives restart()', async (persistence, expected) => {
    const broker = await startMosquitto({ persistence });
    try {
      const first = await openTransport({ host: broker.host, port: broker.tcpPort, transport: 'tcp' });
      expect(await connack(first, connectPersistent('keeps-state'))).toEqual(CONNACK_ACCEPTED);
      await once(first, 'close');
      await broker.restart();
      const second = await openTransport({ host: broker.host, port: broker.tlsPort, ca: broker.ca });
      expect(await connack(second, connectPersistent('keeps-state'))).toEqual(expected);
    } finally {
      await broker.stop();
    }
  });

  it('passes tlsVersion to the TLS listener', async () => {
    const broker = await startMosquitto({ tlsVersion: 'tlsv1.3' });
    try {
      expect(await handshake(broker, 'TLSv1.2')).toMatch(/^ERR_SSL_/);
    } finally {
      await broker.stop();
    }
  });

  it('reports a broker that will not start, with its log', async () => {
    await expect(startMosquitto({ extraConfig: 'no_such_option 1' })).rejects.toThrow(/exited[\s\S]*no_such_option/);
  });
});
