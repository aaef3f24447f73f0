/**
 * The stand-in's X.509 mode, as the platform's X.509 endpoint behaves: a device CA issues a
 * registered device its certificate; a device that presents it is admitted as the device it
 * names, whatever its password, and is told who it is on /ext/auth/identity/response right after
 * CONNACK; anything else a certificate device can get wrong is refused with a reason that says so.
 */
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MqttClient } from '../../src/client/index.js';
import type { MqttClientOptions } from '../../src/client/index.js';
import { EmulatorError } from '../../src/emulator/index.js';
import type { Emulator, EmulatorCertificateDevice, EmulatorConnection, RefuseEvent } from '../../src/emulator/index.js';
import { DEVICE_ORGANIZATION, DeviceCa } from '../../src/emulator/x509/ca.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { ConnectionRefusedError } from '../../src/client/errors.js';
import { emulatorPerTest, LAMP, SENSOR } from './fixtures.js';

const start = emulatorPerTest();
/** A device of an X.509 product: no secret at all. */
const METER: EmulatorCertificateDevice = Object.freeze({ productKey: 'a1X509Product', deviceName: 'meter' });
const fixture = (name: string): string => readFileSync(new URL(`../fixtures/mtls/${name}`, import.meta.url), 'latin1');

const x509Emulator = (): Promise<Emulator> => start({ x509: true, devices: [LAMP, SENSOR, METER] });

/** A client of `emulator` over TLS on [::1]; ended by the caller. */
function client(emulator: Emulator, options: Partial<MqttClientOptions>): MqttClient {
  return new MqttClient({
    host: '::1',
    port: emulator.port,
    ca: emulator.ca,
    clientId: '.|securemode=2|',
    username: '&',
    password: '',
    keepalive: 300,
    reconnect: false,
    ...options,
  });
}

/** What the client receives in its first `ms` after connecting, by topic. */
async function connectAndListen(c: MqttClient): Promise<Array<[string, string]>> {
  const received: Array<[string, string]> = [];
  c.on('message', (topic, payload) => received.push([topic, payload.toString('utf8')]));
  await c.connect();
  await c.ping(); // the identity comes right after CONNACK: by the PINGRESP it is in
  return received;
}

describe('issuing device certificates', () => {
  it("issues a registered device a certificate under the device CA, naming it, for client authentication, valid while the CA is", async () => {
    const emulator = await x509Emulator();
    const { cert, key } = emulator.issueCertificate('a1X509Product', 'meter');
    const certificate = new X509Certificate(cert);
    expect(certificate.subject).toBe(`O=${DEVICE_ORGANIZATION}\nOU=a1X509Product\nCN=meter`);
    expect(certificate.issuer).toContain('aliot-mqtt stand-in device CA\\, never trust elsewhere');
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(certificate.ca).toBe(false);
    expect(new Date(certificate.validFrom).toISOString()).toBe('2020-01-01T00:00:00.000Z');
    expect(new Date(certificate.validTo).toISOString()).toBe('2120-01-01T00:00:00.000Z');
    const shipped = new X509Certificate(readFileSync(new URL('../../certs/emulator/device-ca.pem', import.meta.url)));
    expect(certificate.checkIssued(shipped)).toBe(true);
    expect(certificate.verify(shipped.publicKey)).toBe(true);
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    // Each issue is a new key and serial.
    const again = new X509Certificate(emulator.issueCertificate('a1X509Product', 'meter').cert);
    expect(again.serialNumber).not.toBe(certificate.serialNumber);
    expect(again.publicKey.export({ format: 'jwk' })).not.toEqual(certificate.publicKey.export({ format: 'jwk' }));
  });

  it('refuses a device that is not registered, and an emulator without X.509 mode', async () => {
    const emulator = await x509Emulator();
    expect(() => emulator.issueCertificate('a1X509Product', 'stranger')).toThrow(expect.objectContaining({ code: 'not-registered' }));
    const plain = await start();
    expect(() => plain.issueCertificate('a1TestProduct', 'lamp')).toThrow(EmulatorError);
    expect(() => plain.issueCertificate('a1TestProduct', 'lamp')).toThrow(expect.objectContaining({ code: 'x509-off' }));
  });

  it('issues with a device CA of your own, one with an RSA key too, and the stand-in admits by it', async () => {
    const emulator = await start({ x509: { cert: fixture('rsa-device-ca.pem'), key: fixture('rsa-device-ca.key') }, devices: [METER] });
    const issued = emulator.issueCertificate('a1X509Product', 'meter');
    const certificate = new X509Certificate(issued.cert);
    expect(certificate.verify(new X509Certificate(fixture('rsa-device-ca.pem')).publicKey)).toBe(true);
    const c = client(emulator, issued);
    try {
      expect(await connectAndListen(c)).toEqual([['/ext/auth/identity/response', '{"productKey":"a1X509Product","deviceName":"meter"}']]);
    } finally {
      await c.end();
    }
  });

  it("refuses a device CA that is no CA, or whose key is not its key, naming the field", () => {
    expect(() => DeviceCa.fromPem(fixture('client.pem'), fixture('client.key'))).toThrow(expect.objectContaining({ field: 'x509.cert' }));
    expect(() => DeviceCa.fromPem(fixture('rsa-device-ca.pem'), fixture('client.key'))).toThrow(expect.objectContaining({ field: 'x509.key' }));
    expect(() => DeviceCa.fromPem('not a certificate', fixture('client.key'))).toThrow(expect.objectContaining({ field: 'x509.cert' }));
    expect(() => DeviceCa.fromPem(fixture('rsa-device-ca.pem'), 'not a key')).toThrow(expect.objectContaining({ field: 'x509.key' }));
  });

  it('X.509 mode needs TLS, and a device without a secret needs X.509 mode', async () => {
    await expect(start({ x509: true, tls: false })).rejects.toMatchObject({ name: 'ConfigurationError', field: 'x509' });
    await expect(start({ devices: [METER] })).rejects.toMatchObject({ name: 'ConfigurationError', field: 'devices[0].deviceSecret' });
    await expect(start({ x509: { cert: 'x', key: 42 as unknown as string } })).rejects.toBeInstanceOf(ConfigurationError);
  });
});

describe('a device that presents its certificate', () => {
  it('is admitted as the device the certificate names, with an empty triple, and told who it is right after CONNACK', async () => {
    const emulator = await x509Emulator();
    const packets: string[] = [];
    emulator.on('packet', ({ direction, packet }) => packets.push(`${direction} ${packet.type}`));
    const connected = once(emulator, 'connect') as Promise<[EmulatorConnection]>;
    const c = client(emulator, emulator.issueCertificate('a1X509Product', 'meter'));
    try {
      const received = await connectAndListen(c);
      const [connection] = await connected;
      expect(connection).toMatchObject({ productKey: 'a1X509Product', deviceName: 'meter', clientId: '.', authentication: 'certificate' });
      expect(received).toEqual([['/ext/auth/identity/response', '{"productKey":"a1X509Product","deviceName":"meter"}']]);
      expect(packets.slice(0, 3)).toEqual(['in connect', 'out connack', 'out publish']);
    } finally {
      await c.end();
    }
  });

  it('is admitted with its known identity as the user name, and any password (the platform checks none)', async () => {
    const emulator = await x509Emulator();
    const c = client(emulator, { ...emulator.issueCertificate('a1TestProduct', 'lamp'), username: 'lamp&a1TestProduct', password: 'anything', clientId: 'SN1|securemode=2|' });
    try {
      const received = await connectAndListen(c);
      expect(received[0]![0]).toBe('/ext/auth/identity/response');
      expect(emulator.connections()[0]).toMatchObject({ deviceName: 'lamp', clientId: 'SN1', authentication: 'certificate' });
    } finally {
      await c.end();
    }
  });

  const refusals: Array<[string, (emulator: Emulator) => Partial<MqttClientOptions>, 2 | 3 | 5, string, RegExp]> = [
    ['a certificate from another CA', () => ({ cert: fixture('client.pem'), key: fixture('client.key') }), 5, 'certificate-rejected', /not issued by the stand-in's device CA/],
    ['a user name of another device', (e) => ({ ...e.issueCertificate('a1TestProduct', 'lamp'), username: 'sensor&a1TestProduct' }), 5, 'certificate-rejected', /names another device/],
    ['securemode 3', (e) => ({ ...e.issueCertificate('a1TestProduct', 'lamp'), clientId: '.|securemode=3|' }), 3, 'securemode-mismatch', /securemode=2/],
  ];
  it.each(refusals)('is refused for %s, saying why', async (_what, options, returnCode, reason, message) => {
    const emulator = await x509Emulator();
    const refused = once(emulator, 'refuse') as Promise<[RefuseEvent]>;
    const c = client(emulator, options(emulator));
    const error = await c.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionRefusedError);
    expect((error as ConnectionRefusedError).returnCode).toBe(returnCode);
    const [event] = await refused;
    expect(event.reason).toBe(reason);
    expect(event.message).toMatch(message);
    await c.end({ force: true });
  });

  it('a certificate of a device no longer registered is refused', async () => {
    const issuer = await x509Emulator();
    const certificate = issuer.issueCertificate('a1X509Product', 'meter');
    const emulator = await start({ x509: true, devices: [LAMP] });
    const refused = once(emulator, 'refuse') as Promise<[RefuseEvent]>;
    const c = client(emulator, certificate);
    await expect(c.connect()).rejects.toMatchObject({ returnCode: 5 });
    expect((await refused)[0].message).toMatch(/device meter of product a1X509Product, which is not registered/);
    await c.end({ force: true });
  });
});

describe('a device without a certificate, in X.509 mode', () => {
  it('signs in with its secret as usual, and is told nothing', async () => {
    const emulator = await x509Emulator();
    const { signCredentials } = await import('../../src/sign/index.js');
    const c = client(emulator, { ...signCredentials(LAMP) });
    try {
      expect(await connectAndListen(c)).toEqual([]);
      expect(emulator.connections()[0]).toMatchObject({ deviceName: 'lamp', authentication: 'secret' });
    } finally {
      await c.end();
    }
  });

  it('is refused when it has no secret: it authenticates by certificate only', async () => {
    const emulator = await x509Emulator();
    const refused = once(emulator, 'refuse') as Promise<[RefuseEvent]>;
    const c = client(emulator, { username: 'meter&a1X509Product' });
    await expect(c.connect()).rejects.toMatchObject({ returnCode: 5 });
    const [event] = await refused;
    expect(event.reason).toBe('certificate-required');
    expect(event.message).toContain('device meter of a1X509Product has no secret');
    await c.end({ force: true });
  });
});
