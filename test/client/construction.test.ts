/**
 * What the constructor and the calls refuse before any I/O: everything that goes into CONNECT
 * [MQTT-1.5.3-1, MQTT-1.5.3-2, MQTT-3.1.3-*, MQTT-3.3.2-2, MQTT-3.1.2-14], option names the
 * client does not know, arguments of the wrong type; and what an inspection of the client shows
 * (never the password).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MqttClient, MqttClientError } from '../../src/client/index.js';
import type { MqttClientOptions } from '../../src/client/index.js';
import { connectDevice } from '../../src/device/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { FakeServer } from '../support/fake-server.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { connectedSession, expectRejected, failOnUnhandledRejections, settle, track } from './harness.js';

failOnUnhandledRejections();

/** Builds a client with `options`; returns the error it threw and how many sockets it asked for. */
function construct(options: Partial<MqttClientOptions> & Record<string, unknown>): { error: unknown; opens: number } {
  const server = new FakeServer({ clock: new VirtualClock() });
  try {
    const client = new MqttClient({ host: '::1', clientId: 'c', openSocket: server.openSocket, clock: new VirtualClock(), ...options } as MqttClientOptions);
    void client.end({ force: true });
    return { error: undefined, opens: server.opens.length };
  } catch (error) {
    return { error, opens: server.opens.length };
  }
}

function expectConfigurationError(options: Partial<MqttClientOptions> & Record<string, unknown>, field: string, code = 'invalid-option'): ConfigurationError {
  const { error, opens } = construct(options);
  expect(error, `${field} should be refused`).toBeInstanceOf(ConfigurationError);
  expect((error as ConfigurationError).field).toBe(field);
  expect((error as ConfigurationError).code).toBe(code);
  expect(opens).toBe(0);
  return error as ConfigurationError;
}

describe('everything that goes into CONNECT is checked at construction', () => {
  const tooLong = 'x'.repeat(65_536);
  it.each([
    ['clientId with U+0000 [MQTT-1.5.3-2]', { clientId: 'a\u0000b' }, 'clientId'],
    ['clientId with a lone surrogate [MQTT-1.5.3-1]', { clientId: 'a\ud800b' }, 'clientId'],
    ['clientId over 65,535 bytes of UTF-8', { clientId: tooLong }, 'clientId'],
    ['clientId of 21,846 three-byte characters (65,538 bytes)', { clientId: '\u20ac'.repeat(21_846) }, 'clientId'],
    ['username with U+0000', { username: 'u\u0000' }, 'username'],
    ['username with a lone surrogate', { username: '\udc00' }, 'username'],
    ['username over 65,535 bytes', { username: tooLong }, 'username'],
    ['password over 65,535 bytes', { username: 'u', password: Buffer.alloc(65_536) }, 'password'],
    ['will topic with a wildcard [MQTT-3.3.2-2]', { will: { topic: 'a/#', payload: 'x' } }, 'will'],
    ['will topic that is empty', { will: { topic: '', payload: 'x' } }, 'will'],
    ['will QoS 3 [MQTT-3.1.2-14]', { will: { topic: 'a', payload: 'x', qos: 3 } }, 'will.qos'],
    ['will payload that is a number', { will: { topic: 'a', payload: 42 } }, 'will.payload'],
    ['will payload missing', { will: { topic: 'a' } }, 'will.payload'],
    ['will retain that is a string', { will: { topic: 'a', payload: 'x', retain: 'yes' } }, 'will.retain'],
    ['will payload over 65,535 bytes', { will: { topic: 'a', payload: Buffer.alloc(65_536) } }, 'will'],
    ['will that is a string', { will: 'a' }, 'will'],
    ['password that is a number', { username: 'u', password: 1234 }, 'password'],
  ] as const)('%s: ConfigurationError, no socket opened', (_what, options, field) => {
    expectConfigurationError(options as unknown as Record<string, unknown>, field);
  });

  it('a valid will, in bytes or text, passes', () => {
    expect(construct({ will: { topic: 'a/b', payload: 'gone', qos: 1, retain: true } }).error).toBeUndefined();
    expect(construct({ will: { topic: 'a/b', payload: new Uint8Array([1, 2]) } }).error).toBeUndefined();
  });

  it('connectDevice refuses the same before any I/O, and rejects instead of throwing out of a timer', async () => {
    const server = new FakeServer();
    const device = connectDevice({ productKey: 'a1B2c3D4e5F', deviceName: 'dev', deviceSecret: 's', clientId: 'x\u0000y', openSocket: server.openSocket });
    await expect(device).rejects.toBeInstanceOf(ConfigurationError);
    expect(server.opens).toHaveLength(0);
  });
});

describe('option names the client does not know', () => {
  it.each([
    ['keepAlive', 'keepalive'],
    ['reconnectPeriod', 'reconnect'],
    ['clientID', 'clientId'],
    ['pingtimeout', 'pingTimeout'],
    ['offlineQueSize', 'offlineQueueSize'],
  ])('%s is refused with unknown-option, suggesting %s', (name, suggestion) => {
    const error = expectConfigurationError({ [name]: 10 }, name, 'unknown-option');
    expect(error.message).toContain(suggestion);
  });

  it('a misspelt reconnect or will option is refused too', () => {
    expectConfigurationError({ reconnect: { initialDelayMs: 5 } as never }, 'initialDelayMs', 'unknown-option');
    expectConfigurationError({ will: { topic: 'a', payload: 'x', qos: 0, retained: true } as never }, 'retained', 'unknown-option');
  });

  it('connectDevice passes client options through and refuses unknown ones the same way', async () => {
    const server = new FakeServer();
    const device = connectDevice({
      productKey: 'a1B2c3D4e5F',
      deviceName: 'dev',
      deviceSecret: 's',
      openSocket: server.openSocket,
      keepAlive: 300,
    } as never);
    const error = await device.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).code).toBe('unknown-option');
    expect((error as ConfigurationError).message).toContain('keepalive');
  });

  it('connectDevice refuses options it decides itself (will, username)', async () => {
    for (const extra of [{ will: { topic: 'a', payload: 'x' } }, { username: 'u' }]) {
      const error = await connectDevice({ productKey: 'a1B2c3D4e5F', deviceName: 'dev', deviceSecret: 's', ...extra } as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
    }
  });
});

describe('every error carries a code', () => {
  it('ConfigurationError has one', () => {
    const error = expectConfigurationError({ keepalive: -1 }, 'keepalive');
    expect(error.code).toBe('invalid-option');
  });
});

describe('arguments of the wrong type get the library\'s typed errors, not TypeError', () => {
  it.each([
    ['publish(123, ...)', (c: MqttClient) => c.publish(123 as never, 'x'), 'topic'],
    ['publish(topic, 42)', (c: MqttClient) => c.publish('t', 42 as never), 'payload'],
    ['publish(topic, null)', (c: MqttClient) => c.publish('t', null as never), 'payload'],
    ['publish with retain "yes"', (c: MqttClient) => c.publish('t', 'x', { retain: 'yes' as never }), 'retain'],
    ['publish with qos "1"', (c: MqttClient) => c.publish('t', 'x', { qos: '1' as never }), 'qos'],
    ['publish with options 5', (c: MqttClient) => c.publish('t', 'x', 5 as never), 'options'],
    ['subscribe(42)', (c: MqttClient) => c.subscribe(42 as never), 'filters'],
    ['subscribe([])', (c: MqttClient) => c.subscribe([]), 'filters'],
    ['subscribe([{ qos: 1 }])', (c: MqttClient) => c.subscribe([{ qos: 1 } as never]), 'filters[0]'],
    ['subscribe with qos -1', (c: MqttClient) => c.subscribe('a', { qos: -1 as never }), 'qos'],
    ['unsubscribe(7)', (c: MqttClient) => c.unsubscribe(7 as never), 'filters'],
    ['end({ timeout: "soon" })', (c: MqttClient) => c.end({ timeout: 'soon' as never }), 'timeout'],
  ] as const)('%s rejects with ConfigurationError (invalid-argument) and sends nothing', async (_what, call, field) => {
    const s = await connectedSession();
    const result = track(call(s.client) as Promise<unknown>);
    await settle();
    expectRejected(result, 'invalid-argument', ConfigurationError);
    expect((result.error as ConfigurationError).field).toBe(field);
    expect(s.connection.log.map((r) => r.packet.type)).toEqual(['connect']);
  });
});

describe('secrets stay out of inspection', () => {
  const password = 'C5A9-secret-password-8F1E';

  it('util.inspect, console.log and JSON of a client show no password, nor its bytes', () => {
    const client = new MqttClient({ host: '::1', clientId: 'c', username: 'u', password, clock: new VirtualClock() });
    const views = [
      inspect(client),
      inspect(client, { showHidden: true, depth: 20, getters: true }),
      JSON.stringify(client.options),
      String(client),
      inspect(client.options, { showHidden: true, depth: 20 }),
    ];
    const hex = Buffer.from(password).toString('hex');
    const bufferView = inspect(Buffer.from(password)).slice(8, 30); // '<Buffer 43 35 41 39 ...'
    for (const view of views) {
      expect(view).not.toContain(password);
      expect(view).not.toContain(hex.slice(0, 12));
      expect(view).not.toContain(bufferView);
    }
    expect(inspect(client)).toContain("state: 'new'");
    expect(Object.keys(client.options)).not.toContain('password');
    void client.end();
  });

  it('an option error never echoes a value that could be a secret', () => {
    const secret = 'Pasted-Device-Secret-5f0a9c';
    for (const options of [{ transport: secret }, { offlineQoS0: secret }, { clean: secret }, { keepalive: secret }]) {
      const { error } = construct(options as Record<string, unknown>);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).not.toContain(secret);
    }
  });
});

describe('QoS 2 is not a publish option', () => {
  it('is typed out and refused at run time with unsupported', async () => {
    const s = await connectedSession();
    const t = track(s.client.publish('t', 'x', { qos: 2 as 1 }));
    await settle();
    expectRejected(t, 'unsupported', MqttClientError);
  });
});
