/**
 * `aliot demo gateway`: a gateway's life against the local stand-in, packet by packet. It
 * registers with its product's secret, connects, syncs its clock, registers three sub-devices
 * through its connection, adds them to its topology, logs them in, posts for all of them in one
 * message, takes a firmware upgrade to completion, and leaves. Written for someone learning what
 * a gateway does on the platform, so each step says what happens and why; no internet, and it
 * ends by itself in a few seconds.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debuglog } from 'node:util';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
// The device layer's public entry: its files are being split and moved, its exports stay.
import { AlinkReplyError, connectGateway, createOta, GatewayError, GatewayLoginError, OtaError, registerDeviceOverMqtt, RegistrationError, syncTime } from '../device/index.js';
import type { DeviceOta, Gateway } from '../device/index.js';
import { startEmulator } from '../emulator/emulator.js';
import type { Emulator, PacketEvent } from '../emulator/types.js';
import { parseArgs } from './args.js';
import type { CommandSpec } from './args.js';
import { CONNECT_TIMEOUT_OPTION, connectTimeoutOption } from './connection.js';
import { maskPayloadSecrets } from './demo-mask.js';
import { paragraph, Wire } from './demo-wire.js';
import { EXIT, UsageError } from './io.js';
import type { Io, Output } from './io.js';
import { ProgressPrinter } from './progress.js';
import { styleFor } from './style.js';
import { gatewaySteps, packedPostLines, timeSyncLines } from './demo-gateway-text.js';
import type { GatewayFacts } from './demo-gateway-text.js';

/**
 * The gateway, as its product's page in the console shows it. The ProductSecret is a fixed,
 * public value: it protects nothing but a stand-in on the loopback, and a fixed value lets the
 * tests check that it never appears in the output. The DeviceSecrets are minted by the stand-in.
 */
export const DEMO_GATEWAY = Object.freeze({ productKey: 'a1DemoGw', deviceName: 'gateway-1', productSecret: 'demo-gateway-product-secret' });

/** Three electricity meters on the gateway's RS-485 bus: registered in the console, no secret yet. */
export const DEMO_METERS: readonly DeviceIdentity[] = Object.freeze(
  ['meter-1', 'meter-2', 'meter-3'].map((deviceName) => Object.freeze({ productKey: 'a1DemoMeter', deviceName })),
);

/** The gateway's clock is this far behind this machine's (the stand-in's), so that NTP has something to correct. */
const CLOCK_BEHIND_MS = 2500;
/** Fast enough to end in a second or two, slow enough to watch the bar. */
const FIRMWARE_BYTES = 640 * 1024;
const FIRMWARE_RATE = 512_000;

const FACTS: GatewayFacts = {
  gateway: DEMO_GATEWAY,
  meterProduct: DEMO_METERS[0]!.productKey,
  meters: DEMO_METERS.map((meter) => meter.deviceName),
  clockBehindMs: CLOCK_BEHIND_MS,
  oldVersion: '1.0.0',
  newVersion: '1.1.0',
  firmwareRate: FIRMWARE_RATE,
  progressStep: 25,
};

/** The new firmware: the same bytes every run, with a header that says what it is. */
function demoFirmware(): Uint8Array {
  const bytes = Buffer.alloc(FIRMWARE_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >>> 8)) & 0xff;
  bytes.write(`aliot demo gateway firmware ${FACTS.newVersion}\n`, 0, 'utf8');
  return bytes;
}

export const DEMO_GATEWAY_SPEC: CommandSpec = {
  name: 'demo gateway',
  summary: 'a gateway with three sub-devices against a local stand-in, every packet shown and explained',
  usage: ['demo gateway [--explain] [--connect-timeout SECONDS]'],
  description: `Starts the local platform stand-in on [::1] and runs a gateway against it over TLS and IPv6:
the gateway registers with its product's secret (dynamic registration over MQTT), connects,
syncs its clock (NTP), registers three sub-devices through its connection (thing.sub.register),
adds them to its topology (each signed with its own secret), logs them in with one batch login,
posts for all three in one packed message, and takes a firmware upgrade to completion: the
stand-in pushes a job, the gateway downloads the file over HTTPS on [::1] with a progress bar,
verifies its SHA-256 digest, reports progress and its new version. Every MQTT packet in both
directions is printed with a one-line summary and its bytes, under a heading that says what the
step does and why; passwords, secrets and sub-device signatures are masked. No internet is
needed; it ends by itself in a few seconds.`,
  options: [{ name: 'explain', type: 'boolean', help: 'also dissect every packet field by field (as aliot explain does)' }, CONNECT_TIMEOUT_OPTION],
  examples: ['aliot demo gateway', 'aliot demo gateway --explain | less'],
};

/**
 * The errors of the registration, gateway and OTA calls, which say what went wrong and carry a
 * code: each ends the demo with its message, 3 for a wait that ran out, 2 otherwise (as the
 * command's other failures: the connection's own go through the common report).
 */
const STEP_FAILURES = [RegistrationError, GatewayError, GatewayLoginError, AlinkReplyError, OtaError];

/** Ctrl-C between two steps. */
class Stopped extends Error {}

/** Milliseconds a step waits for something the stand-in or the gateway does on its own. */
const EVENT_LIMIT_MS = 15_000;

/** `promise`, or a rejection naming `what` when it takes longer than {@link EVENT_LIMIT_MS}. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the demo waited ${EVENT_LIMIT_MS / 1000} s for ${what}`)), EVENT_LIMIT_MS);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** `out` with every line indented as a step's output, for the progress bar (which redraws with `\r`). */
function indented(out: Output): Output {
  return {
    isTTY: out.isTTY,
    write: (text) => out.write(text === '\n' ? text : text.startsWith('\r') ? `\r    ${text.slice(1)}` : `    ${text}`),
  };
}

export async function runDemoGateway(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(DEMO_GATEWAY_SPEC, argv);
  const connectTimeout = connectTimeoutOption(args, 'demo gateway');
  const style = styleFor(io);
  const bar = new ProgressPrinter(indented(io.stdout));
  // Anything written while the bar is drawn in place starts on a line of its own.
  const out = (text: string): void => {
    bar.done();
    io.stdout.write(text);
  };
  // Step 1 names no port; the others are made again once the stand-in has one.
  let steps = gatewaySteps(FACTS, 'PORT');
  let step = 0;
  const heading = (): void => {
    // Ctrl-C stops the demo between steps, the stand-in and the gateway closed behind it.
    if (io.signal.aborted && step > 0) throw new Stopped();
    const { title, why } = steps[step]!;
    step++;
    out(`\n${style.bold(`[${step}/${steps.length}] ${title}`)}\n${style.dim(paragraph(why))}\n`);
  };
  const { productKey, deviceName, productSecret } = DEMO_GATEWAY;
  const { oldVersion, newVersion, progressStep } = FACTS;

  out(`${style.bold('aliot demo gateway: a gateway and three sub-devices on the IoT Platform, packet by packet')}\n`);
  out(
    paragraph(
      'Against a local stand-in for the platform on the IPv6 loopback: nothing leaves this machine. Each MQTT packet is shown as it crosses the wire, with who sent it, what it says, and its first bytes in hex. Passwords show as their length; DeviceSecrets and sub-device signatures inside payloads are masked, each of their bytes shown as * (2a in hex).',
      '',
    ),
  );
  if (debuglog('aliot').enabled) {
    out(paragraph("NODE_DEBUG=aliot is set: the client library also writes its own one-line trace of each packet to stderr; the annotated trace below is this demo's.", ''));
  }

  heading();
  // Made before anything is started, so that a machine without a writable temporary directory stops here.
  const directory = firmwareDirectory();
  let emulator: Emulator;
  try {
    emulator = await startEmulator({
      devices: [{ productKey, deviceName, deviceSecret: '' }, ...DEMO_METERS.map((meter) => ({ ...meter, deviceSecret: '' }))],
      products: [{ productKey, productSecret }],
    });
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
  steps = gatewaySteps(FACTS, emulator.port);
  const wire = new Wire(emulator, style, {
    party: 'gateway',
    dissect: args.flag('explain'),
    write: out,
    shown: ({ packet, bytes }) => maskPayloadSecrets(packet, bytes),
  });
  let gateway: Gateway | undefined;
  let ota: DeviceOta | undefined;
  let httpsBytes = 0;
  let stopped = false;
  let failure: (Error & { code: unknown }) | undefined;
  try {
    out(`    MQTT on ${emulator.url}, HTTPS on ${emulator.https?.url ?? '(not started)'}\n`);
    const common = { endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca, family: 6 as const };
    const topicRoot = `/sys/${productKey}/${deviceName}`;
    const online = (): string => emulator.gateway.subDevicesOnline(productKey, deviceName).map((d) => d.deviceName).join(', ') || 'none';

    heading();
    const credentials = await registerDeviceOverMqtt({ productKey, deviceName, productSecret, ...common, timeout: connectTimeout });
    await wire.settled();
    out(`    the gateway got its DeviceSecret (${credentials.deviceSecret.length} characters, masked above); the stand-in closed the registration connection\n`);

    heading();
    gateway = await connectGateway({ ...credentials, ...common, reconnect: false, connectTimeout });
    await wire.settled();
    out(`    connected; sub-devices online through ${deviceName}: ${online()}\n`);

    heading();
    const gatewayClock = (): number => Date.now() - CLOCK_BEHIND_MS;
    const sync = await syncTime(gateway.device, { now: gatewayClock });
    await wire.settled();
    out(timeSyncLines(sync));
    const correctedClock = (): number => Math.round(gatewayClock() + sync.offset);

    heading();
    const registered = capturePublish(emulator, 'out', `${topicRoot}/thing/sub/register_reply`);
    const meters = await gateway.registerSubDevices(DEMO_METERS);
    await wire.settled();
    out(`    the reply's first entry: ${JSON.stringify(firstOf(registered.json(), 'data'))}\n`);
    out(`    ${meters.map((meter) => meter.deviceName).join(', ')}: a DeviceSecret each, kept by the gateway\n`);

    heading();
    const topoAdd = capturePublish(emulator, 'in', `${topicRoot}/thing/topo/add`);
    await gateway.addTopology(meters);
    await wire.settled();
    out(`    the request's first entry: ${JSON.stringify(firstOf(topoAdd.json(), 'params'))}\n`);
    out(`    ${deviceName}'s topology: ${emulator.gateway.topology(productKey, deviceName).map((d) => d.deviceName).join(', ')}\n`);

    heading();
    const subDevices = await gateway.loginAll(meters);
    await wire.settled();
    out(`    online through ${deviceName}, as the stand-in counts: ${online()}\n`);

    heading();
    const packed = capturePublish(emulator, 'in', `${topicRoot}/thing/event/property/pack/post`);
    const readAt = correctedClock();
    const reply = await gateway.postPack({
      properties: { SubDeviceCount: { value: subDevices.length, time: readAt } },
      subDevices: subDevices.map((meter, i) => ({
        productKey: meter.productKey,
        deviceName: meter.deviceName,
        properties: { Power: { value: METER_READINGS[i]!.power, time: readAt }, EnergyTotal: { value: METER_READINGS[i]!.energy, time: readAt } },
      })),
    });
    await wire.settled();
    out(packedPostLines(packed.json()));
    out(`    reply: code ${reply.code} for request id ${reply.id}: one message and one reply for the gateway and ${subDevices.length} meters\n`);

    heading();
    ota = await createOta(gateway.device, { directory, modules: { default: oldVersion }, ca: emulator.ca, autoDownload: false, progressStep });
    const jobArrived = once(ota, 'job');
    const pushed = await emulator.pushOtaJob({
      productKey,
      deviceName,
      version: newVersion,
      file: demoFirmware(),
      fileName: `gateway-${newVersion}.bin`,
      signMethod: 'sha256',
      serve: { bytesPerSecond: FIRMWARE_RATE },
    });
    await within(jobArrived, 'the upgrade job to reach the gateway');
    await wire.settled();
    const job = ota.task()!.job;
    out(`    job ${pushed.id} for module ${job.module}: version ${job.version}, ${job.size} bytes, ${job.signMethod} ${job.sign}\n`);
    out(`    file ${job.url}\n`);
    out(`    the stand-in's job state: ${jobState(emulator, pushed.id)}\n`);

    heading();
    const served: string[] = [];
    emulator.on('http', (entry) => {
      httpsBytes += entry.bytes;
      served.push(`    file server: ${entry.method} ${entry.path} answered ${entry.status}, ${entry.bytes} bytes${entry.complete ? '' : ' (cut short)'}\n`);
    });
    ota.on('progress', (progress) => bar.update(progress));
    const firmware = await within(ota.download(), 'the firmware download');
    await wire.settled();
    for (const line of served) out(line);
    out(`    verified: ${firmware.size} bytes, ${firmware.signMethod} ${firmware.digest}, the job's; in place as ${firmware.path} (a directory of the demo's own, removed when it ends)\n`);
    await ota.reportVersion(newVersion);
    await wire.settled();
    const reports = emulator.otaJobs().find((j) => j.id === pushed.id)?.progress.map((p) => p.step) ?? [];
    out(`    progress reports the stand-in received: ${reports.join(', ')}\n`);
    out(`    the gateway runs ${ota.versions()['default']}; the stand-in's job state: ${jobState(emulator, pushed.id)}\n`);

    heading();
    await gateway.logoutAll(meters);
    await wire.settled();
    out(`    online through ${deviceName}: ${online()}\n`);
    const { unacknowledged } = await gateway.end();
    gateway = undefined;
    ota = undefined; // closed by itself when its device ended
    await wire.settled();
    out(`    unacknowledged messages: ${unacknowledged.length}\n`);
  } catch (error) {
    if (error instanceof Stopped) stopped = true;
    else if (STEP_FAILURES.some((type) => error instanceof type)) failure = error as Error & { code: unknown };
    else throw error;
  } finally {
    bar.done();
    if (ota !== undefined) await ota.close();
    if (gateway !== undefined) await gateway.end({ force: true });
    await emulator.close();
    rmSync(directory, { recursive: true, force: true });
  }
  if (failure !== undefined) {
    io.stderr.write(`aliot demo gateway: step ${step} failed: ${failure.message}\n`);
    return failure.code === 'timeout' || failure.code === 'reply-timeout' ? EXIT.timeout : EXIT.connection;
  }
  if (stopped) {
    out(`\nStopped after step ${step} of ${steps.length}.\n`);
    return EXIT.ok;
  }
  out(
    `\n${style.bold('Done.')} ${wire.packets} MQTT packets: ${wire.bytes.in} bytes from the gateway, ${wire.bytes.out} bytes from the platform; ${httpsBytes} bytes of firmware over HTTPS.\n` +
      paragraph(
        "Take any packet apart field by field with 'aliot explain <hex>' (or run 'aliot demo gateway --explain'); docs/gateway.md and docs/ota.md describe the API, and 'aliot emulator' runs the stand-in for your own gateway.",
        '',
      ),
  );
  return EXIT.ok;
}

/** A directory of the demo's own for the firmware it downloads. */
function firmwareDirectory(): string {
  try {
    return mkdtempSync(join(tmpdir(), 'aliot-demo-gateway-'));
  } catch (cause) {
    throw new UsageError(`cannot make a directory for the firmware in ${tmpdir()}: ${(cause as Error).message}`, 'set TMPDIR to a directory you can write to');
  }
}

/** What each meter reads: watts now, and kilowatt-hours since it was installed. */
const METER_READINGS = [
  { power: 1520, energy: 4211.5 },
  { power: 87, energy: 903.25 },
  { power: 2310, energy: 12877 },
] as const;

/** `message[field][0]`: the first entry of a request's params or a reply's data. */
function firstOf(message: unknown, field: 'params' | 'data'): unknown {
  const list = (message as Record<string, unknown> | null)?.[field];
  return Array.isArray(list) ? list[0] : undefined;
}

function jobState(emulator: Emulator, id: number): string {
  return emulator.otaJobs().find((job) => job.id === id)?.state ?? 'unknown';
}

/**
 * The payload of the next PUBLISH on `topic` the stand-in receives (`in`) or sends (`out`), its
 * secrets masked as the trace shows them.
 */
function capturePublish(emulator: Emulator, direction: PacketEvent['direction'], topic: string): { json(): unknown } {
  let payload: Uint8Array | undefined;
  const listener = (event: PacketEvent): void => {
    const { packet } = event;
    if (event.direction !== direction || packet.type !== 'publish' || packet.topic !== topic) return;
    payload = maskPayloadSecrets(packet, event.bytes).packet.payload;
    emulator.off('packet', listener);
  };
  emulator.on('packet', listener);
  return {
    json: () => {
      emulator.off('packet', listener);
      if (payload === undefined) throw new Error(`the stand-in saw no PUBLISH on ${topic}`);
      return JSON.parse(Buffer.from(payload).toString('utf8')) as unknown;
    },
  };
}
