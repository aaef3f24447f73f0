import { afterEach, describe, expect, it, vi } from 'vitest';
import { inspect } from 'node:util';
import { buildRegisterAnswer, parseRegisterForm, verifyRegistrationSign } from '../../src/aliyun/cloud-formats.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { TransportError } from '../../src/transport/index.js';
import { RegistrationError, registerDevice } from '../../src/device/register.js';
import type { RegisterDeviceOptions } from '../../src/device/register.js';
import { closedPort, loopback } from '../transport/helpers.js';
import { startHttpsServer } from './https-server.js';
import { VirtualClock } from '../support/virtual-clock.js';
import type { TestHttpsServer } from './https-server.js';

const PRODUCT_SECRET = 'ProductS3cretValue';

let server: TestHttpsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A registration endpoint that checks the form as the platform does. */
async function platform(answer?: (form: ReturnType<typeof parseRegisterForm>) => string): Promise<TestHttpsServer> {
  server = await startHttpsServer((request, body, response) => {
    const form = parseRegisterForm(body);
    response.setHeader('content-type', 'application/json');
    if (answer !== undefined) {
      response.end(answer(form));
    } else if (!verifyRegistrationSign(form, PRODUCT_SECRET)) {
      response.end(buildRegisterAnswer({ code: 401, message: 'request auth error' }));
    } else {
      response.end(buildRegisterAnswer({ credentials: { productKey: form.productKey, deviceName: form.deviceName, deviceSecret: 'IssuedDeviceSecret' } }));
    }
  });
  return server;
}

const options = (port: number, extra: Partial<RegisterDeviceOptions> = {}): RegisterDeviceOptions => ({
  productKey: 'a1PB5fp1234',
  deviceName: 'meter-0042',
  productSecret: PRODUCT_SECRET,
  host: '::1',
  port,
  ca: loopback.ca,
  ...extra,
});

async function registrationError(promise: Promise<unknown>): Promise<RegistrationError> {
  const error = await promise.then(
    () => new Error('expected the registration to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistrationError);
  return error as RegistrationError;
}

describe('registerDevice over HTTPS on [::1]', () => {
  it('posts the signed form to /auth/register/device and returns the triple, its secret hidden from print', async () => {
    const { port, requests } = await platform();
    const credentials = await registerDevice(options(port, { signMethod: 'hmacsha1', random: 'abc123' }));
    expect(credentials).toMatchObject({ productKey: 'a1PB5fp1234', deviceName: 'meter-0042', deviceSecret: 'IssuedDeviceSecret' });
    expect({ ...credentials }).toEqual({ productKey: 'a1PB5fp1234', deviceName: 'meter-0042', deviceSecret: 'IssuedDeviceSecret' });
    expect(inspect(credentials)).not.toContain('IssuedDeviceSecret');
    const [request] = requests;
    expect(request).toMatchObject({ method: 'POST', url: '/auth/register/device' });
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.host).toBe(`[::1]:${port}`);
    expect(parseRegisterForm(request!.body)).toMatchObject({ random: 'abc123', signMethod: 'hmacsha1' });
    expect(request!.body).not.toContain(PRODUCT_SECRET);
  });

  it('a wrong product secret: refused, with the platform’s code and message, and no secret in the error', async () => {
    const { port } = await platform();
    const error = await registrationError(registerDevice(options(port, { productSecret: 'WrongSecretValue' })));
    expect(error).toMatchObject({ code: 'refused', platformCode: 401, platformMessage: 'request auth error', status: 200 });
    expect(error.message).toContain('401');
    expect(`${error.message} ${inspect(error)}`).not.toMatch(/WrongSecretValue|ProductS3cretValue/);
  });

  it('an answer that is not the platform’s JSON, or for another device: malformed-answer', async () => {
    const { port } = await platform(() => '<html>gateway error</html>');
    expect((await registrationError(registerDevice(options(port)))).code).toBe('malformed-answer');
    await server!.close();
    const other = await platform((form) => buildRegisterAnswer({ credentials: { productKey: form.productKey, deviceName: 'someone-else', deviceSecret: 'x' } }));
    const error = await registrationError(registerDevice(options(other.port)));
    expect(error.code).toBe('malformed-answer');
    expect(error.message).toContain('someone-else');
  });

  it('an HTTP error without a platform answer: http-status with the status', async () => {
    server = await startHttpsServer((_request, _body, response) => {
      response.statusCode = 503;
      response.end('busy');
    });
    expect(await registrationError(registerDevice(options(server.port)))).toMatchObject({ code: 'http-status', status: 503 });
  });

  it('a server that never answers: timeout, at the timeout and not before (virtual time)', async () => {
    server = await startHttpsServer(() => {});
    const clock = new VirtualClock();
    let settled = false;
    const pending = registerDevice(options(server.port, { timeout: 15_000, clock })).finally(() => {
      settled = true;
    });
    await vi.waitFor(() => expect(server!.requests).toHaveLength(1));
    clock.advance(14_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    clock.advance(1);
    const error = await registrationError(pending);
    expect(error.code).toBe('timeout');
    expect(error.message).toContain('15000 ms');
  });

  it('bytes that are not HTTP: malformed-answer; an answer cut short: network', async () => {
    server = await startHttpsServer((_request, _body, response) => response.socket!.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
    const garbled = await registrationError(registerDevice(options(server.port)));
    expect(garbled.code).toBe('malformed-answer');
    expect(garbled.message).toContain('status line');
    await server.close();
    server = await startHttpsServer((_request, _body, response) => response.socket!.end('HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n{"code":200,'));
    const cut = await registrationError(registerDevice(options(server.port)));
    expect(cut.code).toBe('network');
    expect(cut.message).toContain('before the whole answer');
  });

  it('an answer larger than any the platform sends is refused', async () => {
    const { port } = await platform(() => ' '.repeat(100_000));
    expect((await registrationError(registerDevice(options(port)))).code).toBe('malformed-answer');
  });

  it('abort: before the request, and while waiting for the answer', async () => {
    server = await startHttpsServer(() => {});
    const before = new AbortController();
    before.abort(new Error('user gave up'));
    expect((await registrationError(registerDevice(options(server.port, { signal: before.signal })))).code).toBe('aborted');
    const during = new AbortController();
    const pending = registerDevice(options(server.port, { signal: during.signal }));
    setTimeout(() => during.abort(), 100);
    expect((await registrationError(pending)).code).toBe('aborted');
  });

  it('nothing listening, and an untrusted certificate: network, with the transport’s error as cause', async () => {
    const refused = await registrationError(registerDevice(options(await closedPort())));
    expect(refused.code).toBe('network');
    expect((refused.cause as TransportError).code).toBe('connection-refused');
    const { port } = await platform();
    const untrusted = await registrationError(registerDevice(options(port, { ca: undefined })));
    expect(untrusted.code).toBe('network');
    expect((untrusted.cause as TransportError).code).toBe('tls-verification-failed');
  });

  it('checks every option before any connection', async () => {
    const { port, requests } = await platform();
    const cases: [string, Partial<RegisterDeviceOptions>][] = [
      ['productSecret', { productSecret: '' }],
      ['deviceName', { deviceName: 'a/b' }],
      ['productKey', { productKey: undefined as never }],
      ['signMethod', { signMethod: 'rsa' as never }],
      ['random', { random: 'a b' }],
      ['timeout', { timeout: 0 }],
      ['port', { port: 70000 }],
      ['family', { family: 5 as never }],
      ['region', { region: 'mars-1' as never, host: undefined }],
      ['signal', { signal: {} as never }],
    ];
    for (const [field, change] of cases) {
      const error = await registerDevice(options(port, change)).then(() => undefined, (e: unknown) => e);
      expect(error, field).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe(field);
      expect((error as Error).message).not.toContain(PRODUCT_SECRET);
    }
    expect(requests).toHaveLength(0);
  });
});
