/**
 * Dynamic registration over MQTT against the stand-in over TLS on [::1]: a pre-registered device
 * gets its DeviceSecret on /ext/register and connects with it; a device without pre-registration
 * gets a clientId and token on /ext/regnwl and connects with those; and the refusals.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { registrationConnectCredentials } from '../../src/aliyun/index.js';
import { connectDevice, registerDeviceOverMqtt, RegistrationError } from '../../src/device/index.js';
import type { RegisterOverMqttOptions } from '../../src/device/index.js';
import { ConnectionRefusedError } from '../../src/client/index.js';
import { MqttClient } from '../../src/client/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import type { DisconnectEvent, Emulator, RefuseEvent, RegisterEvent } from '../../src/emulator/index.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';
import { connect, rejection, tick, watch } from './service-support.js';

const PRODUCT = { productKey: 'a1DynProduct', productSecret: 'ProductS3cretValue' };
const METER = { productKey: PRODUCT.productKey, deviceName: 'meter-0042', deviceSecret: '' };
const start = emulatorPerTest();

function dynamic(extra: Parameters<typeof start>[0] = {}): Promise<Emulator> {
  return start({ devices: [LAMP, METER], products: [PRODUCT], ...extra });
}

function options<const T extends Partial<RegisterOverMqttOptions> = {}>(emulator: Emulator, extra: T = {} as T): RegisterOverMqttOptions & T {
  return {
    productKey: PRODUCT.productKey,
    deviceName: METER.deviceName,
    productSecret: PRODUCT.productSecret,
    endpoint: { host: '::1', port: emulator.port },
    ca: emulator.ca,
    ...extra,
  };
}

function events(emulator: Emulator): { refused: RefuseEvent[]; left: DisconnectEvent[]; registered: RegisterEvent[] } {
  const seen = { refused: [] as RefuseEvent[], left: [] as DisconnectEvent[], registered: [] as RegisterEvent[] };
  emulator.on('refuse', (event) => seen.refused.push(event));
  emulator.on('disconnect', (event) => seen.left.push(event));
  emulator.on('register', (event) => seen.registered.push(event));
  return seen;
}

describe('registerDeviceOverMqtt, authType register', () => {
  it('gets the DeviceSecret of a pre-registered device, which connectDevice then takes; the secret prints hidden', async () => {
    const emulator = await dynamic();
    const seen = events(emulator);
    const credentials = await registerDeviceOverMqtt(options(emulator));
    expect(Object.keys(credentials).sort()).toEqual(['deviceName', 'deviceSecret', 'productKey']);
    expect(credentials.deviceSecret).toMatch(/^[0-9a-f]{32}$/);
    expect(inspect(credentials)).not.toContain(credentials.deviceSecret);
    expect(seen.registered).toEqual([{ productKey: PRODUCT.productKey, deviceName: METER.deviceName, authType: 'register' }]);
    expect(seen.left.map((event) => event.reason)).toEqual(['registered']);
    expect(emulator.connections()).toEqual([]);
    // Asked again before it connects: the same secret (an answer can be lost).
    expect((await registerDeviceOverMqtt(options(emulator))).deviceSecret).toBe(credentials.deviceSecret);
    const device = await connect(emulator, {}, { ...credentials });
    expect(await device.postProperties({ reading: 1 })).toMatchObject({ code: 200 });
    // Activated now: the platform gives the secret no more.
    const error = await rejection(registerDeviceOverMqtt(options(emulator)));
    expect(error).toMatchObject({ code: 'refused', returnCode: 5 });
    expect(seen.refused.at(-1)).toMatchObject({ returnCode: 5, reason: 'registration-refused' });
    expect(seen.refused.at(-1)!.message).toContain('already activated');
  });

  it('does not kick the device’s own connection, and sends the CONNECT the C SDK sends', async () => {
    const emulator = await start({ devices: [LAMP, { ...METER, deviceSecret: '' }], products: [PRODUCT] });
    const device = await connect(emulator);
    const connects: string[] = [];
    emulator.on('packet', ({ direction, packet }) => {
      if (direction === 'in' && packet.type === 'connect') connects.push(packet.clientId);
    });
    await registerDeviceOverMqtt(options(emulator, { random: 'abc123' }));
    expect(connects).toEqual([`${METER.deviceName}.${PRODUCT.productKey}|random=abc123,authType=register,securemode=2,signmethod=hmacsha256|`]);
    expect(device.client.connected).toBe(true);
  });

  it('a wrong product secret: refused with CONNACK 4, no secret in the error or the stand-in’s event', async () => {
    const emulator = await dynamic();
    const seen = events(emulator);
    const error = await rejection(registerDeviceOverMqtt(options(emulator, { productSecret: 'WrongSecretValue' })));
    expect(error).toBeInstanceOf(RegistrationError);
    expect(error).toMatchObject({ code: 'refused', returnCode: 4 });
    expect(error.cause).toBeInstanceOf(ConnectionRefusedError);
    expect(error.message).toContain('ProductSecret');
    const shown = `${error.message} ${inspect(error)} ${JSON.stringify(seen.refused)}`;
    expect(shown).not.toMatch(/WrongSecretValue|ProductS3cretValue/);
    expect(seen.refused).toMatchObject([{ returnCode: 4, reason: 'bad-signature' }]);
  });

  it('refuses what the platform refuses: an unknown device (5), a product closed to registration (5), a device with a secret (5)', async () => {
    const emulator = await dynamic();
    const seen = events(emulator);
    await expect(registerDeviceOverMqtt(options(emulator, { deviceName: 'not-added' }))).rejects.toMatchObject({ returnCode: 5 });
    expect(seen.refused.at(-1)).toMatchObject({ reason: 'unknown-device' });
    await expect(registerDeviceOverMqtt(options(emulator, { productKey: LAMP.productKey, deviceName: LAMP.deviceName }))).rejects.toMatchObject({ returnCode: 5 });
    expect(seen.refused.at(-1)!.message).toContain('not open to dynamic registration');
    const withSecret = await start({ devices: [{ ...METER, deviceSecret: 'given' }], products: [PRODUCT] });
    await expect(registerDeviceOverMqtt(options(withSecret))).rejects.toMatchObject({ returnCode: 5 });
  });

  it('is TLS only: a plain-TCP stand-in refuses a registration CONNECT with 3', async () => {
    const emulator = await dynamic({ tls: false });
    const credentials = registrationConnectCredentials({ ...PRODUCT, deviceName: METER.deviceName, authType: 'register' });
    const client = new MqttClient({ host: '::1', port: emulator.port, transport: 'tcp', ...credentials, reconnect: false });
    const error = await rejection(client.connect());
    expect(error).toMatchObject({ returnCode: 3 });
    await client.end({ force: true });
  });

  it('takes the keepalive a registration sends, even 0: the platform does not check it', async () => {
    const emulator = await dynamic();
    const credentials = registrationConnectCredentials({ ...PRODUCT, deviceName: METER.deviceName, authType: 'register' });
    const client = new MqttClient({ host: '::1', port: emulator.port, ca: emulator.ca, ...credentials, keepalive: 0, reconnect: false });
    const answer = new Promise<[string, string]>((resolve) => client.once('message', (topic, payload) => resolve([topic, payload.toString()])));
    await client.connect();
    const [topic, payload] = await answer;
    expect(topic).toBe('/ext/register');
    expect(JSON.parse(payload)).toMatchObject({ productKey: PRODUCT.productKey, deviceName: METER.deviceName });
    await client.end({ force: true });
  });

  it('times out in virtual time when no answer comes, and checks its options before any I/O', async () => {
    const emulator = await dynamic();
    const clock = new VirtualClock();
    const { openSocket, opened } = silentSocket();
    const pending = watch(rejection(registerDeviceOverMqtt(options(emulator, { clock, timeout: 5000, openSocket }))));
    await opened;
    clock.advance(4999);
    await tick();
    expect(pending.settled).toBe(false);
    clock.advance(1);
    expect(await pending.result).toMatchObject({ code: 'timeout' });
    const cases: [string, Partial<RegisterOverMqttOptions>][] = [
      ['authType', { authType: 'other' as never }],
      ['productSecret', { productSecret: '' }],
      ['random', { random: 'a-b' }],
      ['timeout', { timeout: 0 }],
      ['secureMode', { secureMode: 3 as never }],
      ['endpoint.host', { endpoint: { host: 'a b' } }],
      ['signal', { signal: 'now' as never }],
    ];
    let opens = 0;
    for (const [field, change] of cases) {
      const error = await rejection(registerDeviceOverMqtt({ ...options(emulator), ...change, openSocket: () => (opens++, Promise.reject(new Error('no'))) }));
      expect(error, field).toBeInstanceOf(ConfigurationError);
      expect(error, field).toMatchObject({ field });
      expect(error.message).not.toContain(PRODUCT.productSecret);
    }
    expect(opens).toBe(0);
  });

  it('abort: rejects with aborted and closes the connection', async () => {
    const emulator = await dynamic();
    const controller = new AbortController();
    const { openSocket, opened } = silentSocket();
    const pending = rejection(registerDeviceOverMqtt(options(emulator, { signal: controller.signal, openSocket })));
    await opened;
    controller.abort();
    expect(await pending).toMatchObject({ code: 'aborted' });
  });
});

describe('registerDeviceOverMqtt, authType regnwl, and the token connection', () => {
  it('creates the device, returns a clientId and token, and connectDevice connects with them over securemode=-2', async () => {
    const emulator = await dynamic();
    const seen = events(emulator);
    const token = await registerDeviceOverMqtt(options(emulator, { deviceName: 'meter-new', authType: 'regnwl' }));
    expect(Object.keys(token).sort()).toEqual(['clientId', 'deviceName', 'deviceToken', 'productKey']);
    expect(inspect(token)).not.toContain(token.deviceToken);
    const connects: string[] = [];
    emulator.on('packet', ({ direction, packet }) => {
      if (direction === 'in' && packet.type === 'connect') connects.push(packet.clientId);
    });
    const device = await connectDevice({ ...token, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca });
    try {
      expect(connects).toEqual([`${token.clientId}|securemode=-2,authType=connwl|`]);
      expect(emulator.connections()).toMatchObject([{ productKey: PRODUCT.productKey, deviceName: 'meter-new', clientId: token.clientId }]);
      expect(await device.postProperties({ reading: 2 })).toMatchObject({ code: 200 });
    } finally {
      await device.end({ force: true });
    }
    expect(seen.registered).toEqual([{ productKey: PRODUCT.productKey, deviceName: 'meter-new', authType: 'regnwl' }]);
    // A new registration revokes the old token.
    const fresh = await registerDeviceOverMqtt(options(emulator, { deviceName: 'meter-new', authType: 'regnwl' }));
    expect(fresh.deviceToken).not.toBe(token.deviceToken);
    const stale = await rejection(connectDevice({ ...token, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca }));
    expect(stale).toMatchObject({ returnCode: 4 });
    expect(`${stale.message} ${JSON.stringify(seen.refused)}`).not.toContain(token.deviceToken);
  });

  it('refuses regnwl for a device added in the console, and a token connection that was never issued', async () => {
    const emulator = await dynamic();
    await expect(registerDeviceOverMqtt(options(emulator, { authType: 'regnwl' }))).rejects.toMatchObject({ returnCode: 5 });
    const forged = await rejection(
      connectDevice({ productKey: PRODUCT.productKey, deviceName: 'ghost', clientId: 'abc', deviceToken: 'f'.repeat(48), endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca }),
    );
    expect(forged).toMatchObject({ returnCode: 5 });
  });

  it('connectDevice checks token options before any I/O', async () => {
    const base = { productKey: 'pk', deviceName: 'dn', deviceToken: 'token', clientId: 'cid', endpoint: { host: '::1', port: 1 } } as const;
    const cases: [string, Record<string, unknown>][] = [
      ['deviceToken', { deviceSecret: 'also' }],
      ['clientId', { clientId: undefined }],
      ['transport', { transport: 'tcp' }],
      ['signMethod', { signMethod: 'hmacsha1' }],
      ['deviceToken', { deviceToken: '' }],
    ];
    for (const [field, change] of cases) {
      const error = await rejection(connectDevice({ ...base, ...change } as never));
      expect(error, field).toBeInstanceOf(ConfigurationError);
      expect(error, field).toMatchObject({ field });
    }
  });
});

/** An openSocket whose server never answers: the CONNECT goes nowhere. */
function silentSocket(): { openSocket: RegisterOverMqttOptions['openSocket']; opened: Promise<void> } {
  let signal!: () => void;
  const opened = new Promise<void>((resolve) => (signal = resolve));
  return {
    opened,
    openSocket: async () => {
      const { Duplex } = await import('node:stream');
      signal();
      return new Duplex({ read() {}, write(_chunk, _encoding, callback) { callback(); } });
    },
  };
}
