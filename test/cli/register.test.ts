/**
 * `aliot register` from the command line: over MQTT against the stand-in, over HTTPS against a
 * registration endpoint answering as the stand-in's cloud side does, with the secret kept off
 * the command line and out of every message, and `--out` never losing or overwriting a secret.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { startHttpsServer } from '../device/https-server.js';
import type { TestHttpsServer } from '../device/https-server.js';
import { run } from './helpers.js';

const CA_PATH = fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url));
const PRODUCT = { productKey: 'a1CliDyn', productSecret: 'CliProductS3cret' };
const ENV = { ALIOT_PRODUCT_SECRET: PRODUCT.productSecret };

let emulator: Emulator | undefined;
let server: TestHttpsServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await emulator?.close();
  await server?.close();
  emulator = undefined;
  server = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function standIn(): Promise<string> {
  emulator ??= await startEmulator({
    devices: [
      { productKey: PRODUCT.productKey, deviceName: 'meter-1', deviceSecret: '' },
      { productKey: PRODUCT.productKey, deviceName: 'meter-2', deviceSecret: '' },
    ],
    products: [PRODUCT],
  });
  return `[::1]:${emulator.port}`;
}

/** The stand-in's HTTPS registration endpoint. */
async function httpsEndpoint(): Promise<string> {
  await standIn();
  return `[::1]:${emulator!.https!.port}`;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aliot-register-'));
  dirs.push(dir);
  return dir;
}

describe('aliot register', () => {
  it('--mqtt: prints the DeviceSecret on stdout, the advice on stderr; a second device then connects with it', async () => {
    const endpoint = await standIn();
    const result = await run(['register', '--mqtt', '--product-key', PRODUCT.productKey, '--device-name', 'meter-1', '--endpoint', endpoint, '--cafile', CA_PATH], { env: ENV });
    expect(result.stderr).toContain('registered meter-1 of a1CliDyn over MQTT (authType=register): store its DeviceSecret');
    expect(result.code).toBe(0);
    const secret = /deviceSecret {2}([0-9a-f]{32})\n/.exec(result.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(result.stdout).toBe(`productKey    ${PRODUCT.productKey}\ndeviceName    meter-1\ndeviceSecret  ${secret}\n`);
    const pub = await run(
      ['pub', '--product-key', PRODUCT.productKey, '--device-name', 'meter-1', '--endpoint', endpoint, '--cafile', CA_PATH, '-t', `/${PRODUCT.productKey}/meter-1/user/hello`, '-m', 'hi'],
      { env: { ALIOT_DEVICE_SECRET: secret! } },
    );
    expect(pub.code).toBe(0);
  });

  it('--no-preregistration --json: a clientId and token', async () => {
    const endpoint = await standIn();
    const result = await run(['register', '--no-preregistration', '--json', '--product-key', PRODUCT.productKey, '--device-name', 'fresh', '--endpoint', endpoint, '--cafile', CA_PATH], { env: ENV });
    expect(result.code).toBe(0);
    expect(Object.keys(JSON.parse(result.stdout) as object)).toEqual(['productKey', 'deviceName', 'clientId', 'deviceToken']);
  });

  it('over HTTPS by default, and --out writes a new 0600 file, never over an existing one', async () => {
    const endpoint = await httpsEndpoint();
    const dir = tempDir();
    const out = join(dir, 'meter-2.json');
    const args = ['register', '--product-key', PRODUCT.productKey, '--device-name', 'meter-2', '--endpoint', endpoint, '--cafile', CA_PATH, '--out', out];
    let registrations = 0;
    emulator!.on('register', () => registrations++);
    const result = await run(args, { env: ENV });
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toContain(`over HTTPS: its DeviceSecret written to ${out}`);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ productKey: PRODUCT.productKey, deviceName: 'meter-2', deviceSecret: expect.stringMatching(/^[0-9a-f]{32}$/) as string });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const again = await run(args, { env: ENV });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('exists already');
    expect(registrations).toBe(1);
  });

  it('a wrong product secret: exit 2, the platform’s reason, no secret printed, no file left behind', async () => {
    const endpoint = await httpsEndpoint();
    const out = join(tempDir(), 'x.json');
    const https = await run(['register', '--product-key', PRODUCT.productKey, '--device-name', 'meter-2', '--endpoint', endpoint, '--cafile', CA_PATH, '--out', out], {
      env: { ALIOT_PRODUCT_SECRET: 'WrongProductSecret' },
    });
    expect(https.code).toBe(2);
    expect(https.stderr).toContain('code 401');
    expect(() => statSync(out)).toThrow();
    const mqttEndpoint = await standIn();
    const mqtt = await run(['register', '--mqtt', '--product-key', PRODUCT.productKey, '--device-name', 'meter-1', '--endpoint', mqttEndpoint, '--cafile', CA_PATH], {
      env: { ALIOT_PRODUCT_SECRET: 'WrongProductSecret' },
    });
    expect(mqtt.code).toBe(2);
    expect(mqtt.stderr).toContain('CONNACK 4');
    for (const text of [https.stdout, https.stderr, mqtt.stdout, mqtt.stderr]) expect(text).not.toMatch(/WrongProductSecret|CliProductS3cret/);
  });

  it('usage: a missing secret, an MQTT endpoint over HTTPS, --json with --out, a bad timeout', async () => {
    const base = ['register', '--product-key', 'pk', '--device-name', 'dn'];
    expect((await run(base)).stderr).toContain('ALIOT_PRODUCT_SECRET');
    expect((await run([...base, '--endpoint', 'ipv6-test'], { env: ENV })).stderr).toContain('add --mqtt');
    expect((await run([...base, '--json', '--out', 'x'], { env: ENV })).code).toBe(1);
    const timeout = await run([...base, '--timeout', 'soon'], { env: ENV });
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toContain('--timeout');
    const secretFlag = await run([...base, '--product-secret', 'VisibleSecretValue', '--sign-method', 'VisibleSecretValue']);
    expect(secretFlag.code).toBe(1);
    expect(secretFlag.stderr).not.toContain('VisibleSecretValue');
  });

  it('no answer in time: exit 3', async () => {
    server = await startHttpsServer(() => {});
    const result = await run(['register', '--product-key', 'pk', '--device-name', 'dn', '--endpoint', `[::1]:${server.port}`, '--cafile', CA_PATH, '--timeout', '0.3'], { env: ENV });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('within 300 ms');
  });
});

describe('aliot emulator --product', () => {
  it('refuses a product without its secret, and takes devices listed with an empty secret', async () => {
    const bad = await run(['emulator', '--product', 'a1Only']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('PK:SECRET');
    const controller = new AbortController();
    let ready!: () => void;
    const started = new Promise<void>((resolve) => (ready = resolve));
    const result = run(['emulator', '--product', `${PRODUCT.productKey}:${PRODUCT.productSecret}`, '--device', `${PRODUCT.productKey}:meter-1:`], {
      signal: controller.signal,
      onStdout: (_text, all) => {
        if (all.includes('Ctrl-C stops it')) ready();
      },
    });
    await started;
    controller.abort();
    const { code, stdout } = await result;
    expect(code).toBe(0);
    expect(stdout).toContain('devices: meter-1 of a1CliDyn (registered, not activated)');
    expect(stdout).toContain('open to dynamic registration: a1CliDyn');
    expect(stdout).toContain(`aliot register --mqtt --product-key ${PRODUCT.productKey} --device-name meter-1`);
    expect(stdout).toMatch(new RegExp(`aliot register --product-key ${PRODUCT.productKey} --device-name meter-1 --endpoint '\\[::1\\]:\\d+'`));
    expect(stdout).not.toContain(PRODUCT.productSecret);
  });
});
