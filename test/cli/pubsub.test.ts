/**
 * `aliot pub` and `aliot sub` in-process against the local stand-in: once with device credentials
 * (the platform path) and once with plain -h/-u/-P/-i options (any broker), checked on the wire
 * through the emulator's packet events.
 */
import { createServer } from 'node:net';
import { once } from 'node:events';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Emulator, PacketEvent } from '../../src/emulator/index.js';
import type { PublishPacket } from '../../src/packet/index.js';
import { signCredentials } from '../../src/sign/index.js';
import { emulatorPerTest, LAMP, SENSOR } from '../emulator/fixtures.js';
import { run, spawnCli } from './helpers.js';
import type { Run, RunOptions } from './helpers.js';

const CAFILE = fileURLToPath(new URL('../../certs/loopback/ca.pem', import.meta.url));
const startEmulator = emulatorPerTest();

/** The device options for LAMP against `emulator`, secret from the environment. */
function platform(emulator: Emulator, device = LAMP): string[] {
  return ['--product-key', device.productKey, '--device-name', device.deviceName, '--endpoint', `[::1]:${emulator.port}`, '--cafile', CAFILE];
}
const secretOf = (device = LAMP): Record<string, string> => ({ ALIOT_DEVICE_SECRET: device.deviceSecret });

/** Plain broker options for `device`, with the values `aliot sign` would print. */
function plain(emulator: Emulator, device = LAMP): { argv: string[]; password: string } {
  const c = signCredentials({ ...device, clientId: 'plain-cli', timestamp: 42 });
  const bare = c.clientId.slice(0, c.clientId.indexOf('|'));
  expect(bare).toBe('plain-cli');
  return { argv: ['-h', '::1', '-p', String(emulator.port), '--cafile', CAFILE, '-i', c.clientId, '-u', c.username], password: c.password };
}

/** Every packet the emulator sees or sends, in order. */
function record(emulator: Emulator): PacketEvent[] {
  const events: PacketEvent[] = [];
  emulator.on('packet', (event) => events.push(event));
  return events;
}

const publishes = (events: PacketEvent[], direction: 'in' | 'out'): PublishPacket[] =>
  events.filter((e) => e.direction === direction && e.packet.type === 'publish').map((e) => e.packet as PublishPacket);

/**
 * Starts `aliot sub` and resolves once the emulator has granted its subscription, with the run
 * wrapped (an async function cannot resolve with a bare promise: it would wait for it).
 */
async function subscribed(emulator: Emulator, argv: string[], options: RunOptions = {}): Promise<{ result: Promise<Run> }> {
  const granted = new Promise<void>((resolve) => {
    emulator.on('packet', (e) => {
      if (e.direction === 'out' && e.packet.type === 'suback') resolve();
    });
  });
  const result = run(['sub', ...argv], options);
  const early = result.then((r) => {
    throw new Error(`sub ended before subscribing: ${r.code} ${r.stderr}`);
  });
  early.catch(() => undefined); // settles after the race too; only the race's outcome matters
  await Promise.race([granted, early]);
  return { result };
}

describe('aliot pub', () => {
  it('publishes as a device with device credentials (QoS 1, waits for the PUBACK)', async () => {
    const emulator = await startEmulator();
    const events = record(emulator);
    const topic = `/sys/${LAMP.productKey}/${LAMP.deviceName}/thing/event/property/post`;
    const message = '{"id":"1","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}';
    const result = await run(['pub', ...platform(emulator), '-t', topic, '-q', '1', '-m', message], { env: secretOf() });
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    const [sent] = publishes(events, 'in');
    expect(sent).toMatchObject({ topic, qos: 1, retain: false });
    expect(Buffer.from(sent!.payload).toString()).toBe(message);
    expect(events.map((e) => `${e.direction} ${e.packet.type}`)).toEqual([
      'in connect',
      'out connack',
      'in publish',
      'out puback',
      'in disconnect',
    ]);
  });

  it('publishes with plain -h/-p/-i/-u and the password from -P or ALIOT_PASSWORD', async () => {
    const emulator = await startEmulator();
    const events = record(emulator);
    const { argv, password } = plain(emulator);
    const viaOption = await run(['pub', ...argv, '-P', password, '-t', 'a/b', '-m', 'one']);
    expect(viaOption).toEqual({ code: 0, stdout: '', stderr: '' });
    const viaEnv = await run(['pub', ...argv, '-t', 'a/b', '-m', 'two'], { env: { ALIOT_PASSWORD: password } });
    expect(viaEnv.code).toBe(0);
    expect(publishes(events, 'in').map((p) => [p.topic, p.qos, Buffer.from(p.payload).toString()])).toEqual([
      ['a/b', 0, 'one'],
      ['a/b', 0, 'two'],
    ]);
  });

  it('sends a file (-f), standard input (-s) or nothing (-n)', async () => {
    const emulator = await startEmulator();
    const events = record(emulator);
    const file = join(mkdtempSync(join(tmpdir(), 'aliot-pub-')), 'payload.bin');
    writeFileSync(file, Uint8Array.of(0, 1, 2, 255));
    const env = secretOf();
    expect((await run(['pub', ...platform(emulator), '-t', 'x/f', '-f', file], { env })).code).toBe(0);
    expect((await run(['pub', ...platform(emulator), '-t', 'x/s', '-s'], { env, stdin: 'from stdin\n' })).code).toBe(0);
    expect((await run(['pub', ...platform(emulator), '-t', 'x/n', '-n'], { env })).code).toBe(0);
    expect(publishes(events, 'in').map((p) => [p.topic, [...p.payload]])).toEqual([
      ['x/f', [0, 1, 2, 255]],
      ['x/s', [...Buffer.from('from stdin\n')]],
      ['x/n', []],
    ]);
  });

  it('exits 2 with the CONNACK hint when the platform refuses the signature, without the secret', async () => {
    const emulator = await startEmulator();
    const wrong = 'not-the-lamp-secret';
    const result = await run(['pub', ...platform(emulator), '-t', 'a', '-m', 'x'], { env: { ALIOT_DEVICE_SECRET: wrong } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONNACK 4 (bad user name or password)');
    expect(result.stderr).toContain('hint: likely cause:');
    // The fix in this command's terms: its flags and 'aliot sign', not the library's functions.
    expect(result.stderr).toMatch(/hint: fix: .*ALIOT_DEVICE_SECRET.*'aliot sign'/);
    expect(result.stderr).not.toContain('signCredentials');
    expect(result.stderr).not.toContain(wrong);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 with the platform hint for plain credentials that carry the platform extension', async () => {
    const emulator = await startEmulator();
    const { argv } = plain(emulator);
    const result = await run(['pub', ...argv, '-P', 'wrong', '-t', 'a', '-m', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONNACK 4');
    expect(result.stderr).toContain('deviceSecret');
  });

  it('exits 2 when nothing listens', async () => {
    const server = createServer();
    server.listen(0, '::1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    const result = await run(['pub', '-h', '::1', '-p', String(port), '--tcp', '-t', 'a', '-m', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^aliot pub: .*refused/);
  });

  it("checks the platform's limits before connecting with device credentials", async () => {
    const env = secretOf();
    const long = await run(['pub', '--product-key', 'pk', '--device-name', 'dn', '--endpoint', '[::1]:1', '-t', `/${'x'.repeat(128)}`, '-m', 'x'], { env });
    expect(long.code).toBe(1);
    expect(long.stderr).toContain('topic');
    const retained = await run(['pub', '--product-key', 'pk', '--device-name', 'dn', '--endpoint', '[::1]:1', '-t', 'a', '-m', 'x', '-r'], { env });
    expect(retained.code).toBe(1);
    expect(retained.stderr).toContain('retain');
  });

  it.each([
    [['-h', '::1', '-m', 'x'], '-t TOPIC is required'],
    [['-h', '::1', '-t', 'a'], 'say what to send'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '-n'], 'give one of --message, --null-message'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '-q', '2'], 'QoS 2 is not supported'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '-q', '3'], '--qos must be one of 0, 1'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '--tls', '--tcp'], 'contradict'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '-p', 'http'], '--port must be a whole number'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '-P', 'pw'], 'a password needs a user name'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '--family', '5'], '--family must be one of'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '--cafile', '/nonexistent/ca.pem'], 'cannot read --cafile'],
    [['-h', '::1', '-t', 'a', '-f', '/nonexistent/payload'], 'cannot read -f'],
    [['-t', 'a', '-m', 'x'], 'say where to connect'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '--endpoint', 'ipv6-test'], '--endpoint needs device credentials'],
    [['--product-key', 'pk', '--device-name', 'dn', '-u', 'u', '-t', 'a', '-m', 'x'], '--username does not go with device credentials'],
    [['--product-key', 'pk', '--device-name', 'dn', '-t', 'a', '-m', 'x'], 'the device secret is missing'],
    [['--product-key', 'pk', '-t', 'a', '-m', 'x'], 'need both --product-key and --device-name'],
    [['--product-key', 'pk', '--device-name', 'dn', '--endpoint', 'a:b:c', '-t', 'a', '-m', 'x'], 'is not'],
    [['--product-key', 'pk', '--device-name', 'dn', '--endpoint', 'ipv6-test', '-p', '1', '-t', 'a', '-m', 'x'], '-p goes with -h'],
    [['--product-key', 'pk', '--device-name', 'dn', '--region', 'mars', '-t', 'a', '-m', 'x'], '--region must be one of'],
    [['--product-key', 'pk', '--device-name', 'dn', '-k', '10', '--endpoint', '[::1]:1', '-t', 'a', '-m', 'x'], 'keepalive'],
    [['-h', '::1', '-t', 'a', '-m', 'x', '--mesage', 'y'], 'did you mean --message'],
  ])('exits 1 for %j', async (argv, text) => {
    const result = await run(['pub', ...argv], { env: argv.includes('dn') && !text.includes('secret') ? secretOf() : {} });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(text);
  });

  it('traces every packet on stderr with -d, the password masked', async () => {
    const emulator = await startEmulator();
    const { argv, password } = plain(emulator);
    const result = await run(['pub', ...argv, '-P', password, '-t', 'a/b', '-q', '1', '-m', 'hello', '-d']);
    expect(result.code).toBe(0);
    const order = [...result.stderr.matchAll(/(client -> broker|broker -> client)\s+(\w+)/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(order).toEqual([
      'client -> broker CONNECT',
      'broker -> client CONNACK',
      'client -> broker PUBLISH',
      'broker -> client PUBACK',
      'client -> broker DISCONNECT',
    ]);
    expect(result.stderr).toContain(`password=[${password.length} bytes]`);
    expect(result.stderr).not.toContain(password);
    expect(result.stderr).not.toContain(Buffer.from(password).toString('hex').slice(0, 8).replace(/(..)/g, '$1 ').trim());
  });
});

describe('aliot sub', () => {
  it('prints messages as a device with -v until -C are in, then exits 0', async () => {
    const emulator = await startEmulator();
    const filter = `/sys/${LAMP.productKey}/${LAMP.deviceName}/#`;
    const { result } = await subscribed(emulator, [...platform(emulator), '-t', filter, '-q', '1', '-v', '-C', '2'], { env: secretOf() });
    await emulator.publish(`/sys/${LAMP.productKey}/${LAMP.deviceName}/thing/service/property/set`, '{"id":"5"}', 1);
    await emulator.publish(`/sys/${LAMP.productKey}/${LAMP.deviceName}/user/get`, 'plain text', 0);
    const done = await result;
    expect(done).toEqual({
      code: 0,
      stdout: `/sys/${LAMP.productKey}/${LAMP.deviceName}/thing/service/property/set {"id":"5"}\n/sys/${LAMP.productKey}/${LAMP.deviceName}/user/get plain text\n`,
      stderr: '',
    });
  });

  it('subscribes to every -t with plain options and prints payloads only without -v', async () => {
    const emulator = await startEmulator();
    const events = record(emulator);
    const { argv, password } = plain(emulator, SENSOR);
    const { result } = await subscribed(emulator, [...argv, '-P', password, '-t', 'a/+', '-t', 'b/#', '-C', '2']);
    await emulator.publish('a/1', 'first');
    await emulator.publish('c/1', 'not subscribed');
    await emulator.publish('b/x/y', 'second');
    expect(await result).toEqual({ code: 0, stdout: 'first\nsecond\n', stderr: '' });
    const subscribe = events.find((e) => e.packet.type === 'subscribe')!.packet;
    expect(subscribe).toMatchObject({ subscriptions: [{ topicFilter: 'a/+', qos: 0 }, { topicFilter: 'b/#', qos: 0 }] });
  });

  it('exits 3 after -W seconds without enough messages', async () => {
    const emulator = await startEmulator();
    const result = await run(['sub', ...platform(emulator), '-t', 'nothing/here', '-W', '1'], { env: secretOf() });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('aliot sub: timed out after 1 s with 0 messages\n');
  });

  it('stops cleanly, exit 0 and a DISCONNECT, when its signal aborts (Ctrl-C)', async () => {
    const emulator = await startEmulator();
    const events = record(emulator);
    const controller = new AbortController();
    const { result } = await subscribed(emulator, [...platform(emulator), '-t', 'a/#'], { env: secretOf(), signal: controller.signal });
    const left = new Promise<string>((resolve) => emulator.once('disconnect', (d) => resolve(d.reason)));
    controller.abort();
    expect((await result).code).toBe(0);
    expect(await left).toBe('client-disconnect');
    expect(events[events.length - 1]!.packet.type).toBe('disconnect');
  });

  it('exits 2 when the connection is lost', async () => {
    const emulator = await startEmulator();
    const { result } = await subscribed(emulator, [...platform(emulator), '-t', 'a/#'], { env: secretOf() });
    await emulator.close();
    const done = await result;
    expect(done.code).toBe(2);
    expect(done.stderr).toMatch(/^aliot sub: .*closed/);
  });

  it.each([
    [['-h', '::1'], 'at least one -t FILTER'],
    [['-h', '::1', '-t', 'a', '-C', '0'], '--count must be a whole number 1..'],
    [['-h', '::1', '-t', 'a', '-W', 'soon'], '--timeout must be a whole number'],
    [['-h', '::1', '-t', 'a', '-q', '2'], 'QoS 2 is not supported'],
    [['-t', 'a'], 'say where to connect'],
    [['--product-key', 'pk', '--device-name', 'dn', '--endpoint', '[::1]:1', '-t', 'a/#/b'], 'topic'],
  ])('exits 1 for %j', async (argv, text) => {
    const result = await run(['sub', ...argv], { env: secretOf() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(text);
  });
});

describe('--help and NODE_DEBUG', () => {
  it('pub and sub have --help (exit 0), and -h means the host there', async () => {
    for (const command of ['pub', 'sub']) {
      const result = await run([command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('-h, --host HOST');
      expect(result.stdout).toContain('ALIOT_PASSWORD');
      expect((await run([command, '-h'])).stderr).toContain('-h needs a value');
    }
  });

  it('under NODE_DEBUG=aliot, -d leaves the trace to the library instead of printing it twice', async () => {
    const emulator = await startEmulator();
    const { argv, password } = plain(emulator);
    const result = await spawnCli(['pub', ...argv, '-t', 'a', '-m', 'x', '-d'], { NODE_DEBUG: 'aliot', ALIOT_PASSWORD: password });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/ALIOT \d+: -> CONNECT/);
    expect(result.stderr).toMatch(/ALIOT \d+: <- CONNACK/);
    expect(result.stderr).not.toContain('client -> broker');
    expect(result.stderr.match(/-> CONNECT/g)).toHaveLength(1);
    expect(result.stderr).not.toContain(password);
  });
});
