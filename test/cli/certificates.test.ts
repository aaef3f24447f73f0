/**
 * Client certificates on the command line: `--cert` and `--key` on pub, sub and demo (an
 * encrypted key's passphrase from ALIOT_KEY_PASSPHRASE, never a flag), for a platform device of an
 * X.509 product and for any broker that asks for one; `aliot emulator --x509` and
 * `aliot emulator issue`. In-process against the stand-in and mosquitto on [::1].
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, EmulatorCertificateDevice, PacketEvent } from '../../src/emulator/index.js';
import { describeWithBroker, startMosquitto } from '../support/mosquitto.js';
import type { Broker } from '../support/mosquitto.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';
import { run } from './helpers.js';

const CAFILE = fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/mtls/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);
const PASSPHRASE = 'aliot-test-passphrase';
const METER: EmulatorCertificateDevice = Object.freeze({ productKey: 'a1X509Product', deviceName: 'meter' });
const startEmulator = emulatorPerTest();
const directory = mkdtempSync(join(tmpdir(), 'aliot-cli-certificates-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Issues METER its certificate with `aliot emulator issue`, into a new directory; returns the files. */
async function issued(name: string): Promise<{ cert: string; key: string }> {
  const out = join(directory, name);
  const result = await run(['emulator', 'issue', '--device', `${METER.productKey}:${METER.deviceName}`, '--out', out]);
  expect(result.code, result.stderr).toBe(0);
  return { cert: join(out, 'device.pem'), key: join(out, 'device.key') };
}

const POST = ['-t', `/sys/${METER.productKey}/${METER.deviceName}/thing/event/property/post`, '-q', '1', '-m', '{"id":"1","version":"1.0","params":{"Reading":1},"method":"thing.event.property.post"}'];

function at(emulator: Emulator): string[] {
  return ['--endpoint', `[::1]:${emulator.port}`, '--cafile', CAFILE];
}

describe('aliot emulator issue', () => {
  it('writes a certificate naming the device and its key, the key readable by its owner only', async () => {
    const { cert, key } = await issued('meter');
    const certificate = new X509Certificate(readFileSync(cert));
    expect(certificate.subject).toBe('O=aliot-mqtt stand-in device\nOU=a1X509Product\nCN=meter');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('never overwrites, and prints both without --out', async () => {
    const { cert } = await issued('again');
    const before = readFileSync(cert, 'utf8');
    const second = await run(['emulator', 'issue', '--device', 'a1X509Product:meter', '--out', join(directory, 'again')]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('exists; it is not overwritten');
    expect(readFileSync(cert, 'utf8')).toBe(before);
    const printed = await run(['emulator', 'issue', '--device', 'a1X509Product:meter']);
    expect(printed.stdout).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----\n$/);
  });

  it('has its own help, and refuses a device that is not PK:DN', async () => {
    const help = await run(['emulator', 'issue', '--help']);
    expect(help.stdout).toContain('aliot emulator issue --device PK:DN [--out DIR]');
    const bad = await run(['emulator', 'issue', '--device', 'a1X509Product:meter:hunter2-value']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('aliot emulator issue: --device is not PK:DN');
    expect(bad.stderr).not.toContain('hunter2');
  });
});

describe('pub and sub with --cert, as a device of an X.509 product', () => {
  it('pub: the certificate alone signs the device in; the stand-in admits it by certificate', async () => {
    const emulator = await startEmulator({ x509: true, devices: [METER] });
    const { cert, key } = await issued('pub');
    const connects: string[] = [];
    emulator.on('connect', (c) => connects.push(`${c.deviceName} ${c.authentication} ${c.clientId}`));
    const result = await run(['pub', '--cert', cert, '--key', key, ...at(emulator), ...POST]);
    expect(result.code, result.stderr).toBe(0);
    expect(connects).toEqual(['meter certificate .']);
  });

  it('sub -v: prints the identity the platform sends', async () => {
    const emulator = await startEmulator({ x509: true, devices: [METER] });
    const { cert, key } = await issued('sub');
    const result = await run(['sub', '--cert', cert, '--key', key, ...at(emulator), '-t', '/sys/a1X509Product/meter/#', '-v', '-C', '1']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('/ext/auth/identity/response {"productKey":"a1X509Product","deviceName":"meter"}\n');
  });

  it('with --product-key and --device-name known: they go in the user name', async () => {
    const emulator = await startEmulator({ x509: true, devices: [METER] });
    const { cert, key } = await issued('known');
    const packets: PacketEvent[] = [];
    emulator.on('packet', (event) => packets.push(event));
    const result = await run(['pub', '--cert', cert, '--key', key, '--product-key', 'a1X509Product', '--device-name', 'meter', ...at(emulator), ...POST]);
    expect(result.code, result.stderr).toBe(0);
    expect(packets[0]!.packet).toMatchObject({ type: 'connect', username: 'meter&a1X509Product', clientId: 'a1X509Product.meter|securemode=2|' });
  });

  it('a certificate the stand-in did not issue: CONNACK 5, read for a certificate device', async () => {
    const emulator = await startEmulator({ x509: true, devices: [METER] });
    const result = await run(['pub', '--cert', fixture('client.pem'), '--key', fixture('client.key'), ...at(emulator), ...POST]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONNACK 5 (not authorized)');
    expect(result.stderr).toContain("the certificate's device is unknown to the platform");
  });

  it.each([
    [['--cert', 'c.pem'], '--cert needs --key'],
    [['--key', 'k.pem'], '--key needs --cert'],
    [['--cert', fixture('client.pem'), '--key', fixture('client.key'), '--device-secret', 's'], '--device-secret does not go with --cert'],
    [['--cert', fixture('client.pem'), '--key', fixture('client.key'), '--tcp'], '--cert needs TLS'],
    [['--cert', fixture('client.pem'), '--key', fixture('client.key'), '--product-key', 'pk'], 'give both --product-key and --device-name'],
    [['--cert', fixture('client.pem'), '--key', fixture('client.key'), '--endpoint', 'product'], "--endpoint product takes devices with a secret"],
    [['--product-key', 'pk', '--device-name', 'dn', '--endpoint', 'x509'], '--endpoint x509 authenticates devices by certificate'],
    [['--cert', join(directory, 'missing.pem'), '--key', fixture('client.key')], 'cannot read --cert'],
  ])('%j: usage error (exit 1)', async (argv, message) => {
    const result = await run(['pub', ...argv, '-t', 't', '-m', 'x'], { env: { ALIOT_DEVICE_SECRET: 'env-secret' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
  });

  it('an expired certificate is refused before connecting, with its dates (exit 1)', async () => {
    const result = await run(['pub', '--cert', fixture('expired.pem'), '--key', fixture('expired.key'), '--endpoint', '[::1]:1', '-t', 't', '-m', 'x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('expired on 2001-01-01 00:00:00 UTC');
    expect(result.stderr).toContain('cert is set with --cert');
  });

  it('an encrypted key: the passphrase from ALIOT_KEY_PASSPHRASE, said so when missing, never printed', async () => {
    const emulator = await startEmulator({ x509: true, devices: [LAMP] });
    const argv = ['pub', '--cert', fixture('client.pem'), '--key', fixture('client-encrypted.key'), '-h', '::1', '-p', String(emulator.port), '--cafile', CAFILE, '-t', 't', '-m', 'x'];
    const missing = await run(argv);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('passphrase: the key is encrypted: give its passphrase');
    expect(missing.stderr).toContain('passphrase is set with the environment variable ALIOT_KEY_PASSPHRASE');
    const wrong = await run(argv, { env: { ALIOT_KEY_PASSPHRASE: 'not-the-passphrase' } });
    expect(wrong.stderr).toContain('does not decrypt the key');
    expect(wrong.stderr).not.toContain('not-the-passphrase');
    // The stand-in refuses the foreign certificate at CONNACK: the passphrase opened the key.
    const right = await run(argv, { env: { ALIOT_KEY_PASSPHRASE: PASSPHRASE } });
    expect(right.code).toBe(2);
    expect(right.stderr).toContain('CONNACK 5');
    expect(right.stdout + right.stderr).not.toContain(PASSPHRASE);
  });
});

describe('aliot demo --x509', () => {
  it('connects the demo device by the certificate the stand-in issues it, and shows the identity it is told', async () => {
    const result = await run(['demo', '--x509']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/CONNECT +clientId=\.\|securemode=2\| keepalive=300 clean=1 user(name)?=& password=\[0 bytes\]/);
    expect(result.stdout).toContain('PUBLISH     /ext/auth/identity/response qos=0 {"productKey":"a1DemoProd","deviceName":"lamp"}');
    expect(result.stdout).toContain('the platform told the device who it is: lamp of product a1DemoProd');
    expect(result.stdout).toContain('reply: code 200');
  });

  it('with --cert and --key of its own: one issued for the demo device works, another is refused', async () => {
    const out = join(directory, 'demo');
    expect((await run(['emulator', 'issue', '--device', 'a1DemoProd:lamp', '--out', out])).code).toBe(0);
    const own = await run(['demo', '--cert', join(out, 'device.pem'), '--key', join(out, 'device.key')]);
    expect(own.code, own.stderr).toBe(0);
    expect(own.stdout).toContain('The device uses the certificate and key given with --cert and --key.');
    const foreign = await run(['demo', '--cert', fixture('client.pem'), '--key', fixture('client.key')]);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toContain('CONNACK 5');
  });
});

describeWithBroker('pub -h with --cert against mosquitto (require_certificate)', () => {
  let broker: Broker;
  beforeAll(async () => {
    // The broker's listener trusts the client CA (capath) beside the CA of its own certificate; a
    // copy keeps the config free of paths with spaces, wherever the checkout is.
    const capath = join(directory, 'capath');
    cpSync(join(FIXTURES, 'capath'), capath, { recursive: true });
    broker = await startMosquitto({ extraConfig: `capath ${capath}\nrequire_certificate true\nuse_identity_as_username true` });
  });
  afterAll(() => broker?.stop());

  it('presents the certificate and publishes; without one, the broker requires it, said in the command\'s flags', async () => {
    const base = ['pub', '-h', '::1', '-p', String(broker.tlsPort), '--cafile', CAFILE, '-t', 'cli/mtls', '-m', 'x'];
    const ok = await run([...base, '--cert', fixture('client.pem'), '--key', fixture('client.key')]);
    expect(ok.code, ok.stderr).toBe(0);
    const refused = await run(base);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/requires a client certificate|handshake failure/);
    expect(refused.stderr).toContain('--cert FILE and its key');
  });
});

describe('aliot emulator --x509', () => {
  it('says it is in X.509 mode and how to issue, admits a device by certificate and logs so', async () => {
    const controller = new AbortController();
    let output = '';
    const waiters: Array<{ text: string; resolve: () => void }> = [];
    const waitFor = (text: string): Promise<void> =>
      output.includes(text) ? Promise.resolve() : new Promise((resolve) => waiters.push({ text, resolve }));
    const result = run(['emulator', '--x509', '--device', 'a1X509Product:meter'], {
      signal: controller.signal,
      onStdout: (_text, all) => {
        output = all;
        for (const waiter of waiters.filter((w) => all.includes(w.text))) waiter.resolve();
      },
    });
    await waitFor('Ctrl-C stops it');
    expect(output).toContain('devices: meter of a1X509Product (certificate only)');
    expect(output).toContain('aliot emulator issue --device a1X509Product:meter --out ./meter');
    const port = /listening on mqtts:\/\/\[::1\]:(\d+)/.exec(output)![1]!;
    const { cert, key } = await issued('emulator');
    const pub = await run(['pub', '--cert', cert, '--key', key, '--endpoint', `[::1]:${port}`, '--cafile', CAFILE, ...POST]);
    expect(pub.code, pub.stderr).toBe(0);
    await waitFor('[1] meter of a1X509Product connected (clientId ., keepalive 300 s, by certificate)');
    controller.abort();
    expect((await result).code).toBe(0);
  });

  it('refuses --x509 with --tcp, and a device without a secret without --x509', async () => {
    expect((await run(['emulator', '--x509', '--tcp', '--device', 'a:b'])).stderr).toContain('--x509 needs TLS');
    const noSecret = await run(['emulator', '--device', 'a:b']);
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain('or run with --x509 for a device that authenticates by certificate');
  });
});
