/**
 * connectDevice for a device that authenticates by the X.509 certificate the platform issued it:
 * against the stand-in in X.509 mode, a device with its certificate only connects, learns who it
 * is from the platform and posts properties; against an in-memory server, in virtual time, every
 * way the identity message can fail to come or to agree; and the options that cannot go together.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { X509_ENDPOINT } from '../../src/aliyun/index.js';
import { encode } from '../../src/packet/index.js';
import { connectDevice, DeviceError } from '../../src/device/index.js';
import type { ConnectCertificateDeviceOptions, Device } from '../../src/device/index.js';
import type { DeviceIdentity } from '../../src/aliyun/index.js';
import type { EmulatorCertificateDevice, PacketEvent } from '../../src/emulator/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { FakeServer } from '../support/fake-server.js';
import type { ServerConnection } from '../support/fake-server.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';

const start = emulatorPerTest();
const METER: EmulatorCertificateDevice = Object.freeze({ productKey: 'a1X509Product', deviceName: 'meter' });
const IDENTITY_TOPIC = '/ext/auth/identity/response';
const fixture = (name: string): string => readFileSync(new URL(`../fixtures/mtls/${name}`, import.meta.url), 'latin1');
/** Any valid certificate will do where the server is in memory: the TLS handshake never happens. */
const ANY_CERTIFICATE = { cert: fixture('client.pem'), key: fixture('client.key') };

const devices: Device[] = [];
afterEach(async () => {
  await Promise.all(devices.splice(0).map((device) => device.end({ force: true })));
});

async function connected(options: ConnectCertificateDeviceOptions): Promise<Device> {
  const device = await connectDevice(options);
  devices.push(device);
  return device;
}

describe('a certificate device against the stand-in in X.509 mode', () => {
  it('connects with its certificate only, learns its identity, and posts properties', async () => {
    const emulator = await start({ x509: true, devices: [LAMP, METER] });
    const { cert, key } = emulator.issueCertificate('a1X509Product', 'meter');
    const trace: PacketEvent[] = [];
    emulator.on('packet', (event) => trace.push(event));
    const identities: DeviceIdentity[] = [];

    const device = await connected({ cert, key, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca });
    device.on('identity', (identity) => identities.push(identity));

    expect(device.authentication).toBe('certificate');
    expect(device.identity).toEqual({ productKey: 'a1X509Product', deviceName: 'meter' });
    expect(device.productKey).toBe('a1X509Product');
    expect(device.topics.propertyPost()).toBe('/sys/a1X509Product/meter/thing/event/property/post');
    const connect = trace.find((event) => event.packet.type === 'connect')!.packet;
    expect(connect).toMatchObject({ clientId: '.|securemode=2|', username: '&' });
    expect((connect as { password?: Uint8Array }).password).toEqual(new Uint8Array(0));

    const reply = await device.postProperties({ Reading: 42.5 });
    expect(reply.code).toBe(200);

    device.onPropertySet(() => ({ applied: true }));
    const answer = await emulator.sendPropertySet('a1X509Product', 'meter', { Interval: 60 });
    expect(answer).toMatchObject({ code: 200, data: { applied: true } });
    expect(identities).toEqual([]); // the first identity came before connectDevice resolved
  });

  it('with its identity known from before: the identity in the user name, no wait, the same answer', async () => {
    const emulator = await start({ x509: true, devices: [METER] });
    const trace: PacketEvent[] = [];
    emulator.on('packet', (event) => trace.push(event));
    const device = await connected({
      ...emulator.issueCertificate('a1X509Product', 'meter'),
      productKey: 'a1X509Product',
      deviceName: 'meter',
      clientId: 'SN-0042',
      endpoint: { host: '::1', port: emulator.port },
      ca: emulator.ca,
    });
    expect(trace.find((event) => event.packet.type === 'connect')!.packet).toMatchObject({
      clientId: 'SN-0042|securemode=2|',
      username: 'meter&a1X509Product',
    });
    expect((await device.postProperties({ Reading: 1 })).code).toBe(200);
  });

  it('a known identity that is another device\'s is refused by the stand-in (CONNACK 5)', async () => {
    const emulator = await start({ x509: true, devices: [LAMP, METER] });
    const attempt = connectDevice({
      ...emulator.issueCertificate('a1X509Product', 'meter'),
      productKey: 'a1TestProduct',
      deviceName: 'lamp',
      endpoint: { host: '::1', port: emulator.port },
      ca: emulator.ca,
    });
    await expect(attempt).rejects.toMatchObject({ name: 'ConnectionRefusedError', returnCode: 5 });
    await expect(attempt).rejects.toThrow("the certificate's device is unknown to the platform");
  });
});

/** A device against the in-memory server, on a virtual clock, and the server's first connection. */
async function fakePlatform(options: Partial<ConnectCertificateDeviceOptions> = {}): Promise<{
  server: FakeServer;
  clock: VirtualClock;
  attempt: Promise<Device>;
  connection: ServerConnection;
}> {
  const clock = new VirtualClock();
  const server = new FakeServer({ clock });
  const attempt = connectDevice({ ...ANY_CERTIFICATE, openSocket: server.openSocket, clock, reconnect: false, ...options } as ConnectCertificateDeviceOptions);
  attempt.then((device) => devices.push(device), () => undefined);
  const connection = await server.connection(1);
  await connection.next('connect');
  return { server, clock, attempt, connection };
}

function identityPublish(payload: string): Uint8Array {
  return encode({ type: 'publish', topic: IDENTITY_TOPIC, payload: Buffer.from(payload), qos: 0, retain: false, dup: false });
}

const CONNACK = encode({ type: 'connack', sessionPresent: false, returnCode: 0 });

describe('the identity message, in virtual time', () => {
  it('connects to the X.509 endpoint by default: its host and port, TLS, IPv6, the platform roots', async () => {
    const { server, connection } = await fakePlatform();
    expect(server.opens[0]).toMatchObject({ host: X509_ENDPOINT.host, port: 1883, transport: 'tls', family: 6, servername: X509_ENDPOINT.host });
    expect(server.opens[0]!.clientCertificate?.subject).toContain('CN=aliot-test-client');
    connection.close();
  });

  it('arriving in the same chunk as the CONNACK, it is not missed', async () => {
    const { connection, attempt } = await fakePlatform();
    connection.sendBytes(Buffer.concat([CONNACK, identityPublish('{"productKey":"pk","deviceName":"dn"}')]));
    await connection.next('subscribe').then((s) => connection.send({ type: 'suback', packetId: s.packetId, returnCodes: [1, 1, 1] }));
    const device = await attempt;
    expect(device.identity).toEqual({ productKey: 'pk', deviceName: 'dn' });
  });

  it('not arriving within replyTimeout: identity-timeout, and the client ends', async () => {
    const { connection, attempt, clock } = await fakePlatform({ replyTimeout: 5000 });
    connection.send({ type: 'connack', sessionPresent: false, returnCode: 0 });
    await clock.nextSchedule();
    clock.advance(4999);
    let settled = false;
    attempt.then(() => (settled = true), () => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceError);
    expect((error as DeviceError).code).toBe('identity-timeout');
    expect((error as Error).message).toContain('within 5000 ms');
  });

  it('that cannot be read: malformed-identity', async () => {
    const { connection, attempt } = await fakePlatform();
    connection.sendBytes(Buffer.concat([CONNACK, identityPublish('{"productKey":"pk"}')]));
    await expect(attempt).rejects.toMatchObject({ code: 'malformed-identity' });
  });

  it('naming another device than the one given: identity-mismatch fails connectDevice', async () => {
    const { connection, attempt } = await fakePlatform({ productKey: 'pk', deviceName: 'dn' });
    connection.sendBytes(Buffer.concat([CONNACK, identityPublish('{"productKey":"pk","deviceName":"other"}')]));
    await connection.next('subscribe').then((s) => connection.send({ type: 'suback', packetId: s.packetId, returnCodes: [1, 1, 1] }));
    const error = await attempt.catch((e: unknown) => e);
    expect((error as DeviceError).code).toBe('identity-mismatch');
    expect((error as Error).message).toContain('device other of product pk, not dn of pk');
  });

  it('on every later connection: the same identity is an identity event, another an identity-mismatch error', async () => {
    const clock = new VirtualClock();
    const server = new FakeServer({ clock });
    const attempt = connectDevice({ ...ANY_CERTIFICATE, openSocket: server.openSocket, clock, reconnect: { initialDelay: 1, maxDelay: 1 }, subscribe: false });
    const first = await server.connection(1);
    await first.next('connect');
    first.sendBytes(Buffer.concat([CONNACK, identityPublish('{"productKey":"pk","deviceName":"dn"}')]));
    const device = await attempt;
    devices.push(device);
    const identities: DeviceIdentity[] = [];
    const errors: Error[] = [];
    device.on('identity', (identity) => identities.push(identity));
    device.on('error', (error) => errors.push(error));

    first.close();
    await clock.nextSchedule();
    clock.advance(1);
    const second = await server.connection(2);
    await second.next('connect');
    second.sendBytes(Buffer.concat([CONNACK, identityPublish('{"productKey":"pk","deviceName":"dn"}')]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(identities).toEqual([{ productKey: 'pk', deviceName: 'dn' }]);

    second.sendBytes(identityPublish('{"productKey":"pk","deviceName":"elsewhere"}'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors.map((e) => (e as DeviceError).code)).toEqual(['identity-mismatch']);
    expect(device.identity).toEqual({ productKey: 'pk', deviceName: 'dn' });
  });
});

describe('what a certificate device cannot be given', () => {
  it.each([
    ['a secret as well', { deviceSecret: 's' }, 'deviceSecret'],
    ['a sign method', { signMethod: 'hmacsha1' }, 'signMethod'],
    ['the product endpoint', { endpoint: 'product' }, 'endpoint'],
    ['plain TCP', { transport: 'tcp' }, 'transport'],
    ['a productKey without a deviceName', { productKey: 'pk' }, 'deviceName'],
    ['a certificate that has expired', { cert: fixture('expired.pem'), key: fixture('expired.key') }, 'cert'],
  ])('%s: ConfigurationError before any I/O', async (_what, options, field) => {
    const server = new FakeServer();
    const attempt = connectDevice({ ...ANY_CERTIFICATE, openSocket: server.openSocket, ...options } as unknown as ConnectCertificateDeviceOptions);
    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(attempt).rejects.toMatchObject({ field });
    expect(server.opens).toHaveLength(0);
  });

  it('a device with a secret cannot ask for the X.509 endpoint', async () => {
    const server = new FakeServer();
    const attempt = connectDevice({ ...LAMP, endpoint: 'x509' as 'product', openSocket: server.openSocket });
    await expect(attempt).rejects.toMatchObject({ name: 'ConfigurationError', field: 'endpoint' });
    expect(server.opens).toHaveLength(0);
  });
});
