/**
 * `aliot demo gateway`: the whole gateway session, step by step, against the stand-in. The
 * stand-in is wrapped so the tests see every frame that crossed the wire and can take the
 * secrets the stand-in minted out of them, to check that none reaches the output.
 */
import { connect } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Emulator, PacketEvent } from '../../src/emulator/types.js';
import { DEMO_GATEWAY, DEMO_METERS } from '../../src/cli/demo-gateway.js';
import { run, spawnCli } from './helpers.js';
import type { Run } from './helpers.js';

/** Every stand-in the demo started in this process, with every packet it saw or sent. */
const started = vi.hoisted(() => [] as Array<{ emulator: Emulator; packets: PacketEvent[] }>);

vi.mock('../../src/emulator/emulator.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/emulator/emulator.js')>();
  return {
    ...real,
    startEmulator: async (...args: Parameters<typeof real.startEmulator>) => {
      const emulator = await real.startEmulator(...args);
      const record = { emulator, packets: [] as PacketEvent[] };
      emulator.on('packet', (event) => record.packets.push(event));
      started.push(record);
      return emulator;
    },
  };
});

const STEPS = 11;
const BUNDLE = fileURLToPath(new URL('../../dist/pkg/cli.js', import.meta.url));
const GUARD = fileURLToPath(new URL('./loopback-only.mjs', import.meta.url));

/** Every packet line of the trace, as `direction TYPE`. */
function packets(text: string): string[] {
  return [...text.matchAll(/(gateway -> platform|platform -> gateway) {2}(\w+)/g)].map((m) => `${m[1]} ${m[2]}`);
}

/** The output of step `n`, from its heading to the next one (or to the closing line). */
function step(stdout: string, n: number): string {
  const start = stdout.indexOf(`[${n}/${STEPS}] `);
  const end = n === STEPS ? stdout.indexOf('\nDone.') : stdout.indexOf(`[${n + 1}/${STEPS}] `);
  expect(start, `step ${n}`).toBeGreaterThanOrEqual(0);
  expect(end, `the end of step ${n}`).toBeGreaterThan(start);
  return stdout.slice(start, end);
}

const up = (type: string): string => `gateway -> platform ${type}`;
const down = (type: string): string => `platform -> gateway ${type}`;
/** A QoS 1 PUBLISH each way, each with its PUBACK: a request and its reply. */
const REQUEST_REPLY = [up('PUBLISH'), down('PUBACK'), down('PUBLISH'), up('PUBACK')];

/** The packets of each step that do not depend on timing (step 10's progress reports do). */
const STEP_PACKETS: Record<number, string[]> = {
  1: [],
  2: [up('CONNECT'), down('CONNACK'), down('PUBLISH')],
  3: [up('CONNECT'), down('CONNACK'), up('SUBSCRIBE'), down('SUBACK')],
  4: [up('SUBSCRIBE'), down('SUBACK'), ...REQUEST_REPLY],
  5: REQUEST_REPLY,
  6: REQUEST_REPLY,
  7: [up('PUBLISH'), down('PUBLISH')],
  8: REQUEST_REPLY,
  9: [up('SUBSCRIBE'), down('SUBACK'), up('PUBLISH'), down('PUBACK'), down('PUBLISH'), up('PUBACK')],
  11: [up('PUBLISH'), down('PUBLISH'), up('DISCONNECT')],
};

function publishes(events: readonly PacketEvent[]): Array<{ direction: string; topic: string; json: unknown; qos: number }> {
  return events.flatMap(({ direction, packet }) => {
    if (packet.type !== 'publish') return [];
    return [{ direction, topic: packet.topic, qos: packet.qos, json: JSON.parse(Buffer.from(packet.payload).toString('utf8')) as unknown }];
  });
}

/** Every credential that crossed the wire: CONNECT passwords, DeviceSecrets handed out, sub-device signatures. */
function credentialsOnTheWire(events: readonly PacketEvent[]): { passwords: string[]; deviceSecrets: string[]; signs: string[] } {
  const passwords = events.flatMap(({ packet }) => (packet.type === 'connect' && packet.password !== undefined ? [Buffer.from(packet.password).toString('utf8')] : []));
  const deviceSecrets: string[] = [];
  const signs: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== 'object' || value === null) return;
    const object = value as Record<string, unknown>;
    if (typeof object['deviceSecret'] === 'string') deviceSecrets.push(object['deviceSecret']);
    if (typeof object['sign'] === 'string' && 'clientId' in object) signs.push(object['sign']);
    Object.values(object).forEach(walk);
  };
  for (const { json } of publishes(events)) walk(json);
  return { passwords, deviceSecrets, signs };
}

/** A secret as it could show up: as it is, in either case, and as the hex of its bytes (spaced as traces print it, or not). */
function forms(secret: string): string[] {
  const hex = Buffer.from(secret, 'utf8').toString('hex');
  const spaced = hex.replace(/(..)(?!$)/g, '$1 ');
  return [secret, secret.toLowerCase(), secret.toUpperCase(), hex, spaced.slice(0, 23)];
}

/**
 * A random secret's every eight characters, in either case: a preview cut part way into a secret
 * shows a piece of it. Eight random hex digits turn up elsewhere by chance once in 4 billion.
 */
function pieces(secret: string): string[] {
  const windows = Array.from({ length: Math.max(0, secret.length - 7) }, (_, i) => secret.slice(i, i + 8));
  return windows.flatMap((piece) => [piece.toLowerCase(), piece.toUpperCase()]);
}

/** What the output shows of each `"key":"value` written in it, up to a mask, a cut or the closing quote. */
function shownValues(output: string, key: string): string[] {
  return [...output.matchAll(new RegExp(`"${key}":"([^"*…]+)`, 'g'))].map((m) => m[1]!);
}

/** Whether the stand-in the output names has stopped listening (both its MQTT and HTTPS ports). */
async function refusesConnections(stdout: string): Promise<boolean> {
  const [, mqtt, https] = /MQTT on mqtts:\/\/\[::1\]:(\d+), HTTPS on https:\/\/\[::1\]:(\d+)/.exec(stdout)!;
  const refused = (port: string): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = connect({ host: '::1', port: Number(port) });
      socket.on('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
  return (await refused(mqtt!)) && (await refused(https!));
}

describe('aliot demo gateway', () => {
  let plain: Run;
  let wire: PacketEvent[];
  let explained: Run;
  let explainedWire: PacketEvent[];

  beforeAll(async () => {
    started.length = 0;
    plain = await run(['demo', 'gateway']);
    explained = await run(['demo', 'gateway', '--explain']);
    expect(started).toHaveLength(2);
    wire = started[0]!.packets;
    explainedWire = started[1]!.packets;
  }, 60_000);

  it('exits 0 and prints every step, in order, with what it does and why', () => {
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    const headings = [...plain.stdout.matchAll(/^\[(\d+)\/11\] (.+)$/gm)].map((m) => Number(m[1]));
    expect(headings).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    for (const title of ['Register the gateway', 'Connect the gateway', 'Sync the clock', 'thing.sub.register', 'thing.topo.add', 'combine/batch_login', 'thing.event.property.pack.post', 'OTA: report the firmware version', 'OTA: download over HTTPS', 'Log the meters out']) {
      expect(plain.stdout).toContain(title);
    }
    expect(plain.stdout).toMatch(/\nDone\. \d+ MQTT packets: \d+ bytes from the gateway, \d+ bytes from the platform; 655360 bytes of firmware over HTTPS\.\n/);
  });

  it('shows each step\'s packets both ways under its heading, as they crossed the wire', () => {
    for (const [n, expected] of Object.entries(STEP_PACKETS)) expect(packets(step(plain.stdout, Number(n))), `step ${n}`).toEqual(expected);
    // Every packet of the session is shown once: the trace and the wire agree.
    expect(packets(plain.stdout)).toHaveLength(wire.length);
    expect(plain.stdout).toContain(`Done. ${wire.length} MQTT packets`);
  });

  it('registers the gateway over MQTT with its product secret, then connects it with the secret it got', () => {
    const connects = wire.filter((e) => e.packet.type === 'connect').map((e) => (e.packet.type === 'connect' ? e.packet.clientId : ''));
    expect(connects).toHaveLength(2);
    expect(connects[0]).toMatch(/^gateway-1\.a1DemoGw\|random=[0-9a-f]+,authType=register,securemode=2,signmethod=hmacsha256\|$/);
    expect(connects[1]).toMatch(/^a1DemoGw\.gateway-1\|securemode=2,signmethod=hmacsha256,timestamp=\d+\|$/);
    expect(step(plain.stdout, 2)).toContain('platform -> gateway  PUBLISH     /ext/register qos=0');
    expect(step(plain.stdout, 2)).toContain('the gateway got its DeviceSecret (32 characters, masked above)');
  });

  it('syncs the clock: shows the four times, the accurate time and the offset, computed as the platform says', () => {
    const text = step(plain.stdout, 4);
    const time = (name: string): number => Number(new RegExp(`${name} {2}(\\d+) {2}`).exec(text)![1]);
    const [dSend, sRecv, sSend, dRecv] = ['deviceSendTime', 'serverRecvTime', 'serverSendTime', 'deviceRecvTime'].map(time) as [number, number, number, number];
    const accurate = (sRecv + sSend + dRecv - dSend) / 2;
    expect(text).toContain(`/ 2 = ${accurate} `);
    expect(text).toContain(`offset = time - deviceRecvTime = +${accurate - dRecv} ms`);
    // The gateway's clock is 2.5 s slow; the offset finds that, within the round trip.
    expect(Math.abs(accurate - dRecv - 2500)).toBeLessThanOrEqual((dRecv - dSend) / 2 + 1);
    const request = publishes(wire).find((p) => p.topic === '/ext/ntp/a1DemoGw/gateway-1/request')!;
    expect(request.json).toEqual({ deviceSendTime: String(dSend) });
  });

  it('registers three sub-devices, adds them to the topology each signed with its own secret, and logs them in in one batch', () => {
    const sent = publishes(wire).filter((p) => p.direction === 'in');
    const register = sent.find((p) => p.topic.endsWith('/thing/sub/register'))!.json as { params: unknown[] };
    expect(register.params).toEqual(DEMO_METERS.map(({ productKey, deviceName }) => ({ productKey, deviceName })));
    const add = sent.find((p) => p.topic.endsWith('/thing/topo/add'))!.json as { params: Array<{ sign: string; deviceName: string }> };
    expect(add.params.map((e) => e.deviceName)).toEqual(['meter-1', 'meter-2', 'meter-3']);
    expect(new Set(add.params.map((e) => e.sign)).size).toBe(3);
    const logins = sent.filter((p) => p.topic.includes('/combine/'));
    expect(logins.map((p) => p.topic.split('/').pop())).toEqual(['batch_login', 'batch_logout']);
    expect((logins[0]!.json as { params: { deviceList: unknown[] } }).params.deviceList).toHaveLength(3);
    expect(logins.every((p) => p.qos === 0)).toBe(true);
    expect(step(plain.stdout, 6)).toContain("gateway-1's topology: meter-1, meter-2, meter-3");
    expect(step(plain.stdout, 7)).toContain('online through gateway-1, as the stand-in counts: meter-1, meter-2, meter-3');
    expect(step(plain.stdout, 11)).toContain('online through gateway-1: none');
  });

  it('posts for all three meters in ONE packed message, and shows that message', () => {
    const packs = publishes(wire).filter((p) => p.topic === '/sys/a1DemoGw/gateway-1/thing/event/property/pack/post');
    expect(packs).toHaveLength(1);
    const params = (packs[0]!.json as { params: { subDevices: Array<{ identity: unknown; properties: Record<string, { time: number }> }> } }).params;
    expect(params.subDevices.map((s) => s.identity)).toEqual(DEMO_METERS.map(({ productKey, deviceName }) => ({ productKey, deviceName })));
    for (const meter of params.subDevices) expect(Object.keys(meter.properties)).toEqual(['Power', 'EnergyTotal']);
    const text = step(plain.stdout, 8);
    expect(packets(text).filter((p) => p === up('PUBLISH'))).toHaveLength(1);
    expect(text).toContain('3 sub-devices in it');
    for (const meter of DEMO_METERS) expect(text).toContain(`{"identity":{"productKey":"a1DemoMeter","deviceName":"${meter.deviceName}"}`);
    expect(text).toMatch(/reply: code 200 for request id \d+: one message and one reply for the gateway and 3 meters/);
  });

  it('takes an OTA job to completion: progress to 100 %, the digest verified, the new version reported', () => {
    const job = started[0]!.emulator.otaJobs()[0]!;
    expect(job.state).toBe('SUCCEEDED');
    expect(job.version).toBe('1.1.0');
    expect(job.progress.at(-1)?.step).toBe(100);
    expect(started[0]!.emulator.otaVersions('a1DemoGw', 'gateway-1')).toEqual({ default: '1.1.0' });
    expect(step(plain.stdout, 9)).toMatch(new RegExp(`job 1 for module default: version 1\\.1\\.0, 655360 bytes, sha256 ${job.sign}`));
    const text = step(plain.stdout, 10);
    expect(text).toMatch(/^ {4}\[#{24}\] 100 % {2}655 kB of 655 kB/m);
    expect(text).toContain(`verified: 655360 bytes, sha256 ${job.sign}, the job's`);
    expect(text).toMatch(/file server: GET \/ota\/1\/[0-9a-f]+\/gateway-1\.1\.0\.bin answered 200, 655360 bytes/);
    expect(text).toContain("the gateway runs 1.1.0; the stand-in's job state: SUCCEEDED");
    expect(text).toMatch(/progress reports the stand-in received: (\d+, )+100\n/);
    // The progress reports (QoS 0), then 100 and the new version at QoS 1 with their PUBACKs.
    const shown = packets(text);
    expect(shown.slice(-4)).toEqual([up('PUBLISH'), down('PUBACK'), up('PUBLISH'), down('PUBACK')]);
    expect(shown.slice(0, -4).every((p) => p === up('PUBLISH'))).toBe(true);
    expect(shown.filter((p) => p === up('PUBLISH')).length).toBe(job.progress.length + 1);
  });

  it('removes the directory it downloaded into', () => {
    const path = /in place as (\S+)\/default@1\.1\.0\.bin/.exec(plain.stdout)![1]!;
    expect(() => readdirSync(path)).toThrow(/ENOENT/);
  });

  it('never prints a DeviceSecret, the ProductSecret, a CONNECT password or a sub-device signature', () => {
    for (const [output, events] of [
      [plain.stdout + plain.stderr, wire],
      [explained.stdout + explained.stderr, explainedWire],
    ] as const) {
      const { passwords, deviceSecrets, signs } = credentialsOnTheWire(events);
      expect(passwords).toHaveLength(2);
      expect(deviceSecrets).toHaveLength(4); // the gateway's, and the three meters'
      expect(signs).toHaveLength(6); // topology add and batch login, three each
      for (const secret of [DEMO_GATEWAY.productSecret, ...passwords, ...deviceSecrets, ...signs]) {
        for (const form of forms(secret)) expect(output).not.toContain(form);
      }
      for (const secret of [...passwords, ...deviceSecrets, ...signs]) {
        for (const piece of pieces(secret)) expect(output).not.toContain(piece);
      }
      // Where a preview cuts a payload a few characters into a secret, the characters shown are masks.
      for (const value of shownValues(output, 'deviceSecret')) expect(value).toMatch(/^\**$/);
      for (const value of shownValues(output, 'sign')) expect(signs.some((sign) => sign.startsWith(value))).toBe(false);
    }
    expect(plain.stdout).toContain('"deviceSecret":"********************************"');
    expect(plain.stdout).toMatch(/"sign":"\*{64}"/);
    expect(plain.stdout).toContain('password=[64 bytes]');
  });

  it('dissects every packet field by field with --explain, secrets masked in the dissection too', () => {
    const { code, stdout, stderr } = explained;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const shown = packets(stdout).length;
    expect(stdout.match(/#1 [A-Z]+ \(/g)).toHaveLength(shown);
    expect(stdout.match(/\[64 bytes redacted\]/g)).toHaveLength(2);
    expect(stdout).toMatch(/Payload +'\{"productKey":"a1DemoGw","deviceName":"gateway-1","deviceSecret":"\*+…'/);
    expect(stdout).toContain('§3.3.3');
  });

  it('draws the bar in place and colours a terminal', async () => {
    const { code, stdout } = await run(['demo', 'gateway'], { tty: true });
    expect(code).toBe(0);
    expect(stdout).toContain('\u001b[1m[1/11]');
    expect(stdout).toMatch(/\r {4}\[#{24}\] 100 %/);
  });

  it('has --help; a mistyped subcommand or another argument is a usage error', async () => {
    const help = await run(['demo', 'gateway', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('aliot demo gateway [--explain]');
    expect((await run(['demo', '--help'])).stdout).toContain('aliot demo gateway [--explain]');
    const typo = await run(['demo', 'gatway']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("did you mean 'aliot demo gateway'?");
    const extra = await run(['demo', 'gateway', 'now']);
    expect(extra.code).toBe(1);
    expect(extra.stderr).toContain("'aliot demo gateway' takes no arguments");
    expect((await run(['demo', 'gateway', '--explian'])).stderr).toContain('did you mean --explain');
    // The same for the other command with a subcommand; a word that is not near one is left to the command.
    expect((await run(['emulator', 'isue'])).stderr).toContain("did you mean 'aliot emulator issue'?");
    expect((await run(['demo', 'lamp'])).stderr).toContain("'aliot demo' takes no arguments");
  });

  it('ends with the failing step and its message when a step fails: 3 for a wait that ran out', async () => {
    const result = await run(['demo', 'gateway', '--connect-timeout', '0.001']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('aliot demo gateway: step 2 failed: no registration answer for a1DemoGw/gateway-1 within 1 ms\n');
    expect(result.stdout).not.toContain('[3/11]');
    expect(await refusesConnections(result.stdout)).toBe(true);
  });

  it('stops between steps on Ctrl-C, the stand-in closed behind it', async () => {
    const controller = new AbortController();
    const result = await run(['demo', 'gateway'], {
      signal: controller.signal,
      onStdout: (_text, all) => {
        if (all.includes('[3/11]')) controller.abort();
      },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\nStopped after step 3 of 11\.\n$/);
    expect(result.stdout).not.toContain('[4/11]');
    expect(await refusesConnections(result.stdout)).toBe(true);
  });
});

describe('aliot demo gateway as a process', () => {
  it('node dist/pkg/cli.js demo gateway runs by itself to the end, on the loopback only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aliot-demo-gateway-test-'));
    const log = join(dir, 'connections.jsonl');
    try {
      const begun = Date.now();
      const result = await spawnCli(['demo', 'gateway'], { NODE_OPTIONS: `--import=${GUARD}`, ALIOT_TEST_NET_LOG: log }, undefined, BUNDLE);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(Date.now() - begun).toBeLessThan(20_000);
      expect(result.stdout).toContain('[11/11] Log the meters out and disconnect');
      expect(result.stdout).toContain("the gateway runs 1.1.0; the stand-in's job state: SUCCEEDED");
      expect(result.stdout).not.toContain(DEMO_GATEWAY.productSecret);
      expect(result.stdout).not.toMatch(/"deviceSecret":"[^*"]/);
      const connections = readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { kind: string; host: string });
      // Registration, the gateway's session, the firmware download: all of them to [::1].
      expect(connections.filter((c) => c.kind === 'connect').length).toBeGreaterThanOrEqual(3);
      expect(connections.every((c) => c.host === '::1')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without a writable temporary directory, says so and ends at once, before starting anything', async () => {
    const result = await spawnCli(['demo', 'gateway'], { TMPDIR: '/nonexistent/aliot-test' }, undefined, BUNDLE);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('aliot demo gateway: cannot make a directory for the firmware in /nonexistent/aliot-test');
    expect(result.stderr).toContain('hint: set TMPDIR to a directory you can write to');
    expect(result.stdout).not.toContain('MQTT on');
  });

  it('npm start still runs the device demo, which the gateway demo left as it was', async () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['start']).toBe('npm run build && node dist/pkg/cli.js demo');
    const result = await spawnCli(['demo'], {}, undefined, BUNDLE);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\[6\/6\] Disconnect[\s\S]*\nDone\. 14 packets/);
  });
});
