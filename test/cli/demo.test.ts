import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { DEMO_DEVICE } from '../../src/cli/demo.js';
import { signCredentials } from '../../src/sign/index.js';
import { MAIN_JS, run, spawnCli } from './helpers.js';

/** Every packet line of the trace, as `direction TYPE`. */
function packets(stdout: string): string[] {
  return [...stdout.matchAll(/(device -> platform|platform -> device) {2}(\w+)/g)].map((m) => `${m[1]} ${m[2]}`);
}

/** The whole session as the demo drives it, in wire order. */
const SESSION = [
  // 2. connect and subscribe
  'device -> platform CONNECT',
  'platform -> device CONNACK',
  'device -> platform SUBSCRIBE',
  'platform -> device SUBACK',
  // 3. property post at QoS 1, its PUBACK, the post_reply at QoS 1 and its PUBACK
  'device -> platform PUBLISH',
  'platform -> device PUBACK',
  'platform -> device PUBLISH',
  'device -> platform PUBACK',
  // 4. property set at QoS 1, its PUBACK, the set_reply (not routed back to the device: the
  //    stand-in, as the platform, never sends a device its own messages)
  'platform -> device PUBLISH',
  'device -> platform PUBACK',
  'device -> platform PUBLISH',
  // 5. keepalive
  'device -> platform PINGREQ',
  'platform -> device PINGRESP',
  // 6. goodbye
  'device -> platform DISCONNECT',
];

/** The output from one step heading to the next. */
function step(stdout: string, n: number): string {
  const start = stdout.indexOf(`[${n}/6]`);
  const end = n === 6 ? stdout.indexOf('Done.') : stdout.indexOf(`[${n + 1}/6]`);
  expect(start).toBeGreaterThanOrEqual(0);
  return stdout.slice(start, end);
}

/** The device's password for the timestamp the trace shows, in every form it could leak in. */
function passwordForms(stdout: string): string[] {
  const timestamp = Number(/timestamp=(\d+)\|/.exec(stdout)![1]);
  const { password } = signCredentials({ ...DEMO_DEVICE, timestamp });
  const hex = Buffer.from(password).toString('hex');
  return [password, password.toLowerCase(), hex, hex.slice(0, 16).replace(/(..)(?!$)/g, '$1 ')];
}

describe('aliot demo', () => {
  it('runs a whole session and shows every packet both ways, in order, under its step', async () => {
    const result = await run(['demo']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(packets(result.stdout)).toEqual(SESSION);
    expect(packets(step(result.stdout, 2))).toEqual(SESSION.slice(0, 4));
    expect(packets(step(result.stdout, 3))).toEqual(SESSION.slice(4, 8));
    expect(packets(step(result.stdout, 4))).toEqual(SESSION.slice(8, 11));
    expect(packets(step(result.stdout, 5))).toEqual(SESSION.slice(11, 13));
    expect(packets(step(result.stdout, 6))).toEqual(SESSION.slice(13));
    expect(step(result.stdout, 3)).toMatch(/reply: code 200 for request id \d+/);
    expect(step(result.stdout, 4)).toContain('device: onPropertySet handler applies {"LightSwitch":0}');
    expect(step(result.stdout, 4)).toMatch(/the cloud got the device's reply: code 200/);
    expect(step(result.stdout, 5)).toMatch(/round trip: \d+ ms/);
    expect(result.stdout).toContain('session present 0, return code 0 (accepted)');
    expect(result.stdout).toMatch(/Done\. 14 packets: \d+ bytes from the device, \d+ bytes from the platform\./);
  });

  it('shows each frame as hex, cut with an ellipsis when long', async () => {
    const { stdout } = await run(['demo']);
    expect(stdout).toContain('                        20 02 00 00\n');
    expect(stdout).toContain('                        c0 00\n');
    expect(stdout).toMatch(/ {24}10 [0-9a-f]{2} 01 00 04 4d 51 54 54 04 c2 01 2c [0-9a-f ]+… \(\d+ bytes\)\n/);
  });

  it('never prints the device secret or the password', async () => {
    const { stdout, stderr } = await run(['demo', '--explain']);
    expect(stdout + stderr).not.toContain(DEMO_DEVICE.deviceSecret);
    for (const form of passwordForms(stdout)) expect(stdout + stderr).not.toContain(form);
    expect(stdout).toContain('password=[64 bytes]');
  });

  it('dissects every packet field by field with --explain', async () => {
    const { code, stdout } = await run(['demo', '--explain']);
    expect(code).toBe(0);
    expect(stdout.match(/#1 [A-Z]+ \(/g)).toHaveLength(SESSION.length);
    expect(stdout).toContain('[64 bytes redacted]');
    expect(stdout).toContain('§3.1.2.10 [MQTT-3.1.2-23]');
  });

  it('colours only a terminal without NO_COLOR', async () => {
    expect((await run(['demo'], { tty: true })).stdout).toContain('\u001b[1m');
    expect((await run(['demo'], { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\u001b[');
    expect((await run(['demo'])).stdout).not.toContain('\u001b[');
  });

  it('has --help and -h, exit 0; other arguments are usage errors', async () => {
    expect((await run(['demo', '--help'])).stdout).toContain('--explain');
    expect((await run(['demo', '-h'])).code).toBe(0);
    const bad = await run(['demo', '--explian']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('did you mean --explain');
  });
});

describe('aliot demo as a process', () => {
  it('node dist/cli/main.js demo finishes by itself with exit 0', async () => {
    const started = Date.now();
    const result = await spawnCli(['demo']);
    expect(result.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.stderr).toBe('');
    expect(packets(result.stdout)).toEqual(SESSION);
    expect(result.stdout).not.toContain(DEMO_DEVICE.deviceSecret);
  });

  it('runs the same from the shipped bundle (the package bin)', async () => {
    const bundle = fileURLToPath(new URL('../../dist/pkg/cli.js', import.meta.url));
    expect(bundle).not.toBe(MAIN_JS);
    const result = await spawnCli(['demo'], {}, undefined, bundle);
    expect(result.code).toBe(0);
    expect(packets(result.stdout)).toEqual(SESSION);
  });

  it('under NODE_DEBUG=aliot prints its own trace once on stdout, and the library its trace on stderr', async () => {
    const result = await spawnCli(['demo'], { NODE_DEBUG: 'aliot' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('NODE_DEBUG=aliot is set');
    expect(packets(result.stdout)).toEqual(SESSION);
    expect(result.stdout).not.toMatch(/ALIOT \d+:/);
    expect(result.stderr.match(/ALIOT \d+: -> CONNECT/g)).toHaveLength(1);
    expect(result.stderr).toMatch(/ALIOT \d+: <- PINGRESP/);
    for (const form of passwordForms(result.stdout)) expect(result.stderr).not.toContain(form);
  });
});
