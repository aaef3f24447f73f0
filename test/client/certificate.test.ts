/**
 * A client certificate is checked when the client is built, before any I/O: each thing that
 * makes it unusable is a ConfigurationError naming the option, with no socket opened. Its key,
 * passphrase and pfx never show: not in errors, not in an inspection of the client or of its
 * options, however deep.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MqttClient } from '../../src/client/index.js';
import type { MqttClientOptions } from '../../src/client/index.js';
import { connectDevice } from '../../src/device/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { FakeServer } from '../support/fake-server.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { failOnUnhandledRejections } from './harness.js';

failOnUnhandledRejections();

const bytes = (name: string): Buffer => readFileSync(new URL(`../fixtures/mtls/${name}`, import.meta.url));
const text = (name: string): string => bytes(name).toString('latin1');
const PASSPHRASE = 'aliot-test-passphrase';
const cert = text('client.pem');
const key = text('client.key');

/** Every piece of key material the fixtures hold: none may ever appear in a message or an inspection. */
const SECRETS: readonly string[] = [
  ...['client.key', 'client-encrypted.key', 'foreign.key', 'expired.key', 'not-yet-valid.key', 'server-only.key'].flatMap(pemBodyLines),
  PASSPHRASE,
  'wrong-passphrase',
  bytes('client.p12').toString('base64').slice(40, 80),
  bytes('client.p12').toString('hex').slice(80, 140),
];

function pemBodyLines(name: string): string[] {
  return text(name)
    .split('\n')
    .filter((line) => line.length > 20 && !line.startsWith('-----') && !line.includes(':'));
}

function expectNoSecret(shown: string): void {
  for (const secret of SECRETS) expect(shown, 'a secret was shown').not.toContain(secret);
}

function construct(options: Record<string, unknown>): { client: MqttClient | undefined; error: unknown; opens: number } {
  const server = new FakeServer({ clock: new VirtualClock() });
  try {
    const client = new MqttClient({ host: '::1', clientId: 'c', openSocket: server.openSocket, clock: new VirtualClock(), ...options } as MqttClientOptions);
    return { client, error: undefined, opens: server.opens.length };
  } catch (error) {
    return { client: undefined, error, opens: server.opens.length };
  }
}

function refused(options: Record<string, unknown>, field: string): ConfigurationError {
  const { error, opens } = construct(options);
  expect(error, `${field} should be refused`).toBeInstanceOf(ConfigurationError);
  expect((error as ConfigurationError).field).toBe(field);
  expect(opens).toBe(0);
  expectNoSecret((error as Error).message);
  expectNoSecret(inspect(error, { showHidden: true, depth: 10 }));
  return error as ConfigurationError;
}

describe('a client certificate that is usable', () => {
  it.each([
    ['cert and key as text', { cert, key }],
    ['cert and key as Buffers', { cert: bytes('client.pem'), key: bytes('client.key') }],
    ['cert and key as plain Uint8Arrays', { cert: new Uint8Array(bytes('client.pem')), key: new Uint8Array(bytes('client.key')) }],
    ['an encrypted key with its passphrase', { cert, key: text('client-encrypted.key'), passphrase: PASSPHRASE }],
    ['a chain, the client certificate first', { cert: cert + text('client-ca.pem'), key }],
    ['a pfx with its passphrase', { pfx: bytes('client.p12'), passphrase: PASSPHRASE }],
  ])('%s: built, its public facts in options.socket', (_what, options) => {
    const { client, error, opens } = construct(options);
    expect(error).toBeUndefined();
    expect(opens).toBe(0);
    const summary = client!.options.socket.clientCertificate!;
    expect(summary.subject).toContain('CN=aliot-test-client');
    expect(summary.issuer).toContain('CN=aliot-mqtt client test CA');
    expect(summary.validFrom.toISOString()).toBe('2020-01-01T00:00:00.000Z');
    expect(summary.validTo.toISOString()).toBe('2120-01-01T00:00:00.000Z');
    expect(summary.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(client!.options.socket.secureContext).toBeDefined();
    void client!.end({ force: true });
  });

  it('a client without one has neither', () => {
    const { client } = construct({});
    expect(client!.options.socket.clientCertificate).toBeUndefined();
    expect(client!.options.socket.secureContext).toBeUndefined();
    void client!.end({ force: true });
  });
});

describe('what makes a client certificate unusable is refused at construction', () => {
  it.each([
    ['a certificate that is not PEM', { cert: 'certificate', key }, 'cert', /no PEM certificate/],
    ['a path instead of the certificate', { cert: 'test/fixtures/mtls/client.pem', key }, 'cert', /readFileSync\(path\), not its path/],
    ['a damaged certificate', { cert: cert.replace(/\n[A-Za-z0-9+/]{30}/, '\n'), key }, 'cert', /does not parse/],
    ['the key given as the certificate', { cert: key, key }, 'cert', /holds a private key, not a certificate/],
    ['a certificate as a number', { cert: 42, key }, 'cert', /expected PEM text/],
    ['a chain given as a list', { cert: [cert], key }, 'cert', /not a list/],
    ['a key that is not PEM', { cert, key: 'secret' }, 'key', /no PEM private key/],
    ['the certificate given as the key', { cert, key: cert }, 'key', /holds a certificate, not a private key/],
    ['a damaged key', { cert, key: key.replace(/\n[A-Za-z0-9+/]{40}/, '\nAAAA') }, 'key', /does not parse|is not the private key/],
    ['a key that belongs to another certificate', { cert, key: text('foreign.key') }, 'key', /is not the private key of the certificate \(O=aliot-mqtt,CN=aliot-test-client\)/],
    ['a chain with the CA first', { cert: text('client-ca.pem') + cert, key }, 'key', /must come first in it, before its CAs/],
    ['a certificate without its key', { cert }, 'key', /needs its private key/],
    ['a key without its certificate', { key }, 'cert', /needs its certificate/],
    ['a passphrase alone', { passphrase: PASSPHRASE }, 'passphrase', /give key and cert, or pfx/],
    ['a passphrase that is not a string', { cert, key: text('client-encrypted.key'), passphrase: 42 }, 'passphrase', /expected a string/],
    ['an encrypted key without its passphrase', { cert, key: text('client-encrypted.key') }, 'passphrase', /the key is encrypted/],
    ['an encrypted key with the wrong passphrase', { cert, key: text('client-encrypted.key'), passphrase: 'wrong-passphrase' }, 'passphrase', /does not decrypt the key/],
    ['a pfx without its passphrase', { pfx: bytes('client.p12') }, 'passphrase', /protected by a passphrase/],
    ['a pfx with the wrong passphrase', { pfx: bytes('client.p12'), passphrase: 'wrong-passphrase' }, 'passphrase', /does not open the pfx/],
    ['a pfx that is not PKCS#12', { pfx: Buffer.from('not a pfx at all') }, 'pfx', /not a PKCS#12 file/],
    ['a pfx given as a string', { pfx: 'client.p12' }, 'pfx', /got a string/],
    ['a pfx and a cert', { pfx: bytes('client.p12'), passphrase: PASSPHRASE, cert, key }, 'pfx', /not both/],
    ['a certificate over plain TCP', { cert, key, transport: 'tcp' }, 'cert', /TLS handshake/],
  ])('%s', (_what, options, field, message) => {
    expect(refused(options, field).message).toMatch(message);
  });

  it('an expired certificate, naming its dates', () => {
    const error = refused({ cert: text('expired.pem'), key: text('expired.key') }, 'cert');
    expect(error.message).toContain('expired on 2001-01-01 00:00:00 UTC');
    expect(error.message).toContain('valid from 2000-01-01 00:00:00 UTC to 2001-01-01 00:00:00 UTC');
    expect(error.message).toContain('CN=aliot-test-expired');
  });

  it('a certificate that is not valid yet, naming its dates', () => {
    const error = refused({ cert: text('not-yet-valid.pem'), key: text('not-yet-valid.key') }, 'cert');
    expect(error.message).toContain('is not valid until 2100-01-01 00:00:00 UTC');
    expect(error.message).toContain("check this machine's clock");
  });

  it('a certificate whose usages leave out client authentication', () => {
    const error = refused({ cert: text('server-only.pem'), key: text('server-only.key') }, 'cert');
    expect(error.message).toContain('is not for client authentication');
    expect(error.message).toContain('allows server authentication only');
  });

  it.each([
    ['certificate', 'cert'],
    ['privateKey', 'key'],
    ['keyPassphrase', 'passphrase'],
    ['p12', 'pfx'],
  ])('the name %s is refused with a pointer to %s', (name, suggestion) => {
    const error = refused({ [name]: 'x' }, name);
    expect(error.code).toBe('unknown-option');
    expect(error.message).toContain(`did you mean ${suggestion}`);
  });

  it('connectDevice passes the options through, and refuses the same before any I/O', async () => {
    const server = new FakeServer();
    const attempt = connectDevice({
      productKey: 'a1B2c3D4e5F',
      deviceName: 'dev',
      deviceSecret: 's',
      cert: text('expired.pem'),
      key: text('expired.key'),
      openSocket: server.openSocket,
    } as Parameters<typeof connectDevice>[0]);
    await expect(attempt).rejects.toMatchObject({ name: 'ConfigurationError' });
    expect(server.opens).toHaveLength(0);
  });
});

describe('the key material never shows', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['cert and key', { cert, key }],
    ['an encrypted key', { cert, key: text('client-encrypted.key'), passphrase: PASSPHRASE }],
    ['a pfx', { pfx: bytes('client.p12'), passphrase: PASSPHRASE }],
  ];
  it.each(cases)('%s: not in util.inspect of the client or its options at any depth, nor in JSON', (_what, options) => {
    const { client } = construct(options);
    const views = [
      inspect(client),
      inspect(client, { showHidden: true, depth: Infinity, getters: true }),
      inspect(client, { showHidden: true, depth: Infinity, customInspect: false }),
      inspect(client!.options, { showHidden: true, depth: Infinity, getters: true }),
      inspect(client!.options.socket, { showHidden: true, depth: Infinity, customInspect: false }),
      JSON.stringify(client!.options),
      String(client!.options.socket.secureContext),
    ];
    for (const view of views) expectNoSecret(view);
    // The facts that may show do.
    expect(inspect(client!.options.socket, { depth: 4 })).toContain('CN=aliot-test-client');
    void client!.end({ force: true });
  });

  it('the test knows what the secrets look like (a check that cannot fail proves nothing)', () => {
    expect(SECRETS.length).toBeGreaterThan(20);
    expect(() => expectNoSecret(`x${key}x`)).toThrow();
    expect(() => expectNoSecret(`x${text('client-encrypted.key')}x`)).toThrow();
  });
});
