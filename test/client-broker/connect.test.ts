/**
 * MqttClient against a real mosquitto over TLS on [::1]: connecting, refusals (CONNACK and TLS)
 * that must not turn into a reconnect loop, and a clean end.
 */
import { afterAll, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ConnectionRefusedError } from '../../src/client/index.js';
import type { MqttClient } from '../../src/client/index.js';
import { TransportError } from '../../src/transport/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { DISCONNECT, SocketSpy, brokerOptions, logShows, next, uniqueId, useBroker } from './support.js';

const otherCa = readFileSync(new URL('../fixtures/tls/other-ca.pem', import.meta.url), 'utf8');

/** A mosquitto password file line (`$6$`: SHA-512 over password then salt, as mosquitto checks it). */
function passwordLine(username: string, password: string): string {
  const salt = randomBytes(12);
  const hash = createHash('sha512').update(password, 'utf8').update(salt).digest();
  return `${username}:$6$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * Waits for the client's 'end' event, then shows that no retry can follow: the client (on a
 * virtual clock) has no timer left, and an hour of virtual time starts no attempt.
 */
async function endsWithoutRetrying(client: MqttClient, spy: SocketSpy, ended: Promise<unknown>, clock: VirtualClock): Promise<void> {
  await ended;
  expect(client.state).toBe('ended');
  expect(clock.pending()).toBe(0);
  clock.advance(3_600_000);
  expect(spy.attempts).toBe(1);
}

describeWithBroker('MqttClient against mosquitto: connecting', () => {
  const suite = useBroker();
  const { pool } = suite;

  it.each(['::1', '[::1]'])('connects over TLS with family 6 to %s, certificate verified', async (host) => {
    const spy = new SocketSpy();
    const clientId = uniqueId('v6');
    const client = pool.track(brokerOptions(suite.broker, { host, clientId, openSocket: spy.openSocket }));

    await expect(client.connect()).resolves.toEqual({ sessionPresent: false });

    expect(client.state).toBe('connected');
    const socket = spy.socket(spy.connections[0]!) as TLSSocket;
    expect(socket.encrypted).toBe(true);
    expect(socket.authorized).toBe(true);
    expect(socket.getProtocol()).toMatch(/^TLSv1\.[23]$/);
    expect(socket.remoteFamily).toBe('IPv6');
    expect(socket.remoteAddress).toBe('::1');
    expect(spy.connections[0]!.received[0]!.bytes).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    await logShows(suite.broker, new RegExp(`New client connected from ::1:\\d+ as ${clientId} \\(p2, c1, k60\\)`));
  });

  it('resolves a host name with family 6 and checks the certificate against the name', async () => {
    const asked: unknown[] = [];
    const lookup: LookupFunction = (hostname, options, callback) => {
      asked.push({ hostname, family: options.family });
      callback(null, '::1', 6);
    };
    const client = pool.track(brokerOptions(suite.broker, { host: 'localhost', lookup }));

    await client.connect();

    expect(asked).toEqual([{ hostname: 'localhost', family: 6 }]);
  });

  it('refuses a server whose certificate the CA did not sign: tls-verification-failed, no retry', async () => {
    const spy = new SocketSpy();
    const clock = new VirtualClock();
    const client = pool.track(
      brokerOptions(suite.broker, { ca: otherCa, openSocket: spy.openSocket, clock, reconnect: { initialDelay: 1, maxDelay: 1 } }),
    );
    const ended = next(client, 'end');

    const error = await client.connect().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).code).toBe('tls-verification-failed');
    expect((error as TransportError).phase).toBe('tls');
    await endsWithoutRetrying(client, spy, ended, clock);
    expect(spy.connections).toHaveLength(0); // no socket ever reached the session
    await expect(client.publish('t', 'x')).rejects.toBe(error);
  });

  it('refuses a certificate for another name: tls-verification-failed (altname), no retry', async () => {
    const spy = new SocketSpy();
    const clock = new VirtualClock();
    const client = pool.track(
      brokerOptions(suite.broker, {
        servername: 'broker.invalid',
        openSocket: spy.openSocket,
        clock,
        reconnect: { initialDelay: 1, maxDelay: 1 },
      }),
    );
    const ended = next(client, 'end');

    const error = (await client.connect().catch((e: unknown) => e)) as TransportError;

    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe('tls-verification-failed');
    expect(error.certificateProblem).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    await endsWithoutRetrying(client, spy, ended, clock);
  });

  it('end(): waits for the PUBACK, sends DISCONNECT last, and the broker logs a clean disconnect', async () => {
    const spy = new SocketSpy();
    const clientId = uniqueId('ender');
    const client = pool.track(brokerOptions(suite.broker, { clientId, openSocket: spy.openSocket }));
    await client.connect();
    const closed = next<[Error | undefined]>(client, 'close');

    const published = client.publish('end/ack', 'last words', { qos: 1 });
    const report = await client.end();

    await expect(published).resolves.toBeUndefined();
    expect(report.unacknowledged).toEqual([]);
    expect(await closed).toEqual([undefined, { accepted: true, received: new Uint8Array(0) }]);
    const sent = spy.connections[0]!.sent;
    expect(sent.at(-1)!.bytes).toEqual(DISCONNECT);
    expect(sent.filter((f) => f.bytes.equals(DISCONNECT))).toHaveLength(1);
    // The PUBACK (type 4) arrived before the DISCONNECT left.
    const puback = spy.connections[0]!.received.find((f) => f.bytes[0] === 0x40)!;
    expect(puback.at).toBeLessThanOrEqual(sent.at(-1)!.at);
    expect(spy.connections[0]!.closed).toBe(true);
    await logShows(suite.broker, new RegExp(`Client ${clientId} disconnected\\.`));
    expect(client.state).toBe('ended');
  });
});

describeWithBroker('MqttClient against mosquitto: the will on end() and on a lost connection', () => {
  const suite = useBroker();
  const { pool } = suite;

  /** A client with a will on `topic`, and a watcher subscribed to it. */
  async function setUp(topic: string): Promise<{ client: MqttClient; spy: SocketSpy; clientId: string; heard: string[]; watcher: MqttClient }> {
    const watcher = pool.track(brokerOptions(suite.broker));
    await watcher.connect();
    await watcher.subscribe(topic, { qos: 1 });
    const heard: string[] = [];
    watcher.on('message', (_topic, payload) => heard.push(Buffer.from(payload).toString('utf8')));
    const spy = new SocketSpy();
    const clientId = uniqueId('will');
    const client = pool.track(
      brokerOptions(suite.broker, {
        clientId,
        openSocket: spy.openSocket,
        will: { topic, payload: Buffer.from('the will'), qos: 1, retain: false },
      }),
    );
    await client.connect();
    return { client, spy, clientId, heard, watcher };
  }

  it('end() discards the will: the broker does not publish it', async () => {
    const { client, clientId, heard, watcher } = await setUp('will/end');

    await client.end();
    await logShows(suite.broker, new RegExp(`Client ${clientId} disconnected\\.`));
    // The broker has dealt with the DISCONNECT; a will would be on its way before this marker.
    const marker = next(watcher, 'message');
    await watcher.publish('will/end', 'marker', { qos: 1 });
    await marker;

    expect(heard).toEqual(['marker']);
  });

  it('a connection lost without DISCONNECT makes the broker publish the will (the test above can fail)', async () => {
    const { spy, clientId, heard, watcher } = await setUp('will/lost');

    const will = next(watcher, 'message');
    spy.socket(spy.connections[0]!).destroy();
    await will;

    expect(heard).toEqual(['the will']);
    await logShows(suite.broker, new RegExp(`Client ${clientId} closed its connection\\.`));
  });
});

describeWithBroker('MqttClient against mosquitto: CONNACK refusals', () => {
  let directory = '';
  const suite = useBroker(() => {
    directory = mkdtempSync(join(tmpdir(), 'aliot-passwords-'));
    const passwords = join(directory, 'passwords');
    writeFileSync(passwords, `${passwordLine('alice', 'right horse')}\n`);
    return { extraConfig: `allow_anonymous false\npassword_file ${passwords}` };
  });
  const { pool } = suite;
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('accepts the right user name and password (the refusals below are about credentials)', async () => {
    const client = pool.track(brokerOptions(suite.broker, { username: 'alice', password: 'right horse' }));
    await expect(client.connect()).resolves.toEqual({ sessionPresent: false });
  });

  it.each([
    { name: 'no credentials', credentials: {} },
    { name: 'a wrong password', credentials: { username: 'alice', password: 'wrong horse' } },
    { name: 'an unknown user', credentials: { username: 'mallory', password: 'right horse' } },
  ])('$name: CONNACK 5 -> ConnectionRefusedError, the client ends, one attempt only', async ({ credentials }) => {
    const spy = new SocketSpy();
    const clock = new VirtualClock();
    const client = pool.track(
      brokerOptions(suite.broker, { ...credentials, openSocket: spy.openSocket, clock, reconnect: { initialDelay: 1, maxDelay: 1 } }),
    );
    const ended = next(client, 'end');
    const closes: Array<Error | undefined> = [];
    client.on('close', (error) => closes.push(error));

    const error = (await client.connect().catch((e: unknown) => e)) as ConnectionRefusedError;

    expect(error).toBeInstanceOf(ConnectionRefusedError);
    expect(error.code).toBe('connection-refused');
    // mosquitto answers 5 (not authorized) for 3.1.1 clients, whatever was wrong with the credentials.
    expect(error.returnCode).toBe(5);
    expect(error.retryable).toBe(false);
    expect(spy.connections[0]!.received.map((f) => [...f.bytes])).toEqual([[0x20, 0x02, 0x00, 0x05]]);
    expect(closes).toEqual([error]);
    await endsWithoutRetrying(client, spy, ended, clock);
    await expect(client.connect()).rejects.toBe(error);
  });
});

