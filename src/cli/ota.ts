/**
 * `aliot ota`: OTA as a device, from a shell. It connects as the device, reports the version of
 * each module, and takes upgrade jobs: downloads each (resuming a cut download, checking size
 * and digest), shows its progress, and then either leaves the verified file for the user or hands
 * it to an install program and reports the new version when that program succeeds. With
 * `--report` it only reports versions (after installing by hand).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { ALIYUN_REGIONS } from '../aliyun/endpoints.js';
import { connectDevice } from '../device/device.js';
import type { ConnectDeviceOptions } from '../device/device-options.js';
import type { Device } from '../device/device-types.js';
import { createOta } from '../device/ota.js';
import type { DeviceOta, OtaFirmware } from '../device/ota.js';
import type { OtaError } from '../device/ota-errors.js';
import { choiceOption, optionsWithHelp, parseArgs, secondsOption } from './args.js';
import type { CommandSpec, ParsedArgs } from './args.js';
import { CONNECT_TIMEOUT_OPTION, CONNECTION_OPTIONS, connectTimeoutOption, endpointOption, readCaFile } from './connection.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';
import { formatBytes, ProgressPrinter } from './progress.js';
import { report } from './report.js';
import { DEVICE_OPTIONS, deviceSecret, SECRET_ENV } from './sign.js';
import { styleFor } from './style.js';

/** The connection options of pub and sub that a device on the platform uses. */
const DEVICE_CONNECTION = ['endpoint', 'region', 'cafile', 'tcp', 'family'].map((name) => CONNECTION_OPTIONS.find((o) => o.name === name)!);

export const OTA: CommandSpec = {
  name: 'ota',
  summary: 'OTA as a device: report module versions, download upgrade jobs, install with a program',
  usage: [
    'ota --product-key PK --device-name DN --module NAME=VERSION... [--dir DIR] [--exec PROGRAM] [--check] [--once] [options]',
    'ota --product-key PK --device-name DN --module NAME=VERSION... --report [options]',
  ],
  description: `Connects as the device and reports the version each OTA module runs now (--module, one per
module; 'default' is the module of a job that names none). Then it waits for upgrade jobs,
pushed by the platform or, with --check, asked for at once. Each job's file is downloaded over
HTTPS into --dir as MODULE@VERSION.bin, resumed if the connection drops, and checked against the
job's size and MD5 or SHA-256 before anything is reported; progress goes to the platform every
5 % and is drawn here. A job for a module not named with --module is refused.

Without --exec the verified file stays in --dir: install it, then report the new version with
--report (the platform counts the upgrade done only then). With --exec PROGRAM, PROGRAM runs with
the file's path as its argument (and ALIOT_OTA_MODULE, ALIOT_OTA_VERSION, ALIOT_OTA_FILE in its
environment); exit code 0 reports the new version, anything else reports "burn failed" (-4).

It runs until Ctrl-C or SIGTERM (a download under way keeps its partial file and resumes next
time), or with --once until the first job is over: exit code 0 when it was downloaded (and
installed), 1 when it failed, 3 after --timeout seconds without a job. 2: the connection failed.`,
  options: [
    ...DEVICE_OPTIONS,
    ...DEVICE_CONNECTION,
    CONNECT_TIMEOUT_OPTION,
    { name: 'module', type: 'string', multiple: true, placeholder: 'NAME=VERSION', help: "an OTA module and the version it runs now, e.g. default=1.0.0 (repeatable)" },
    { name: 'dir', type: 'string', placeholder: 'DIR', help: 'where verified files go (default: the current directory)' },
    { name: 'exec', type: 'string', placeholder: 'PROGRAM', help: 'installs a downloaded file: run as PROGRAM FILE; exit 0 reports the new version' },
    { name: 'check', type: 'boolean', help: 'ask the platform for a waiting job for each module at once (thing.ota.firmware.get)' },
    { name: 'once', type: 'boolean', help: 'exit after the first job is over' },
    { name: 'timeout', short: 'W', type: 'string', placeholder: 'SECONDS', help: 'with --once: give up (exit code 3) when no job has ended after this long' },
    { name: 'report', type: 'boolean', help: 'only report the versions of --module, then exit (after installing by hand)' },
  ],
  examples: [
    `${SECRET_ENV}=... aliot ota --product-key a1B2c3 --device-name lamp --endpoint ipv6-test \\`,
    '    --module default=1.0.0 --dir /var/lib/firmware --exec /usr/local/bin/flash-firmware',
    `aliot ota --product-key a1Demo --device-name lamp --endpoint '[::1]:8883' --cafile certs/loopback/ca.pem \\`,
    '    --module default=1.0.0 --check --once',
    `aliot ota --product-key a1Demo --device-name lamp --endpoint '[::1]:8883' --cafile certs/loopback/ca.pem \\`,
    '    --module default=2.0.0 --report',
  ],
};

/** `NAME=VERSION` flags as a module map; UsageError for a malformed one or a module given twice. */
function modulesOption(args: ParsedArgs): Record<string, string> {
  const modules: Record<string, string> = {};
  args.strings('module').forEach((text, index) => {
    const equals = text.indexOf('=');
    const name = equals < 0 ? '' : text.slice(0, equals);
    const version = equals < 0 ? '' : text.slice(equals + 1);
    // Not quoted back: a secret pasted into the wrong flag must not be printed.
    if (name === '' || version === '') throw new UsageError(`--module number ${index + 1} is not NAME=VERSION`, 'e.g. --module default=1.0.0 --module MCU=0.9.1');
    if (Object.hasOwn(modules, name)) throw new UsageError(`--module number ${index + 1} names a module given before`, 'give each module once');
    modules[name] = version;
  });
  if (Object.keys(modules).length === 0) {
    throw new UsageError('say which OTA modules the device has and the version each runs now', "e.g. --module default=1.0.0 (run 'aliot ota --help')");
  }
  return modules;
}

function deviceOptions(args: ParsedArgs, io: Io, reconnect: boolean): ConnectDeviceOptions {
  const help = "run 'aliot ota --help'";
  const productKey = args.string('product-key');
  const deviceName = args.string('device-name');
  if (productKey === undefined || deviceName === undefined) throw new UsageError('--product-key and --device-name are required', help);
  const family = choiceOption(args, 'family', ['6', '4', '0'] as const, 'ota');
  const ca = readCaFile(args.string('cafile'), help);
  const endpoint = endpointOption(args, undefined, help, 'product');
  if (endpoint === 'x509') throw new UsageError('aliot ota signs in with the device secret; the x509 endpoint takes certificate devices', help);
  return {
    productKey,
    deviceName,
    deviceSecret: deviceSecret(args, io, 'ota'),
    endpoint,
    region: choiceOption(args, 'region', ALIYUN_REGIONS, 'ota'),
    transport: args.flag('tcp') ? 'tcp' : 'tls',
    connectTimeout: connectTimeoutOption(args, 'ota'),
    ...(ca === undefined ? {} : { ca }),
    ...(family === undefined ? {} : { family: Number(family) as 0 | 4 | 6 }),
    // A watcher rides out a dropped connection; a one-shot command fails and says why.
    ...(reconnect ? {} : { reconnect: false }),
  };
}

export async function runOta(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(OTA, argv);
  const modules = modulesOption(args);
  const reportOnly = args.flag('report');
  const once = args.flag('once');
  const program = args.string('exec');
  const timeout = secondsOption(args, 'timeout', 'ota');
  if (reportOnly && (program !== undefined || once || args.flag('check') || args.string('dir') !== undefined)) {
    throw new UsageError('--report only reports versions: it takes no --exec, --once, --check or --dir', "run 'aliot ota --help'");
  }
  if (timeout !== undefined && !once) throw new UsageError('--timeout goes with --once', "run 'aliot ota --help'");
  const options = deviceOptions(args, io, !reportOnly && !once);
  const context = { options: optionsWithHelp(OTA) };
  const say = (text: string): void => io.stdout.write(`${text}\n`);
  let device: Device | undefined;
  let ota: DeviceOta | undefined;
  try {
    device = await connectDevice(options);
    ota = await createOta(device, {
      directory: resolve(args.string('dir') ?? '.'),
      modules,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.family === undefined ? {} : { family: options.family }),
    });
    const versions = Object.entries(modules).map(([name, version]) => `${name} ${version}`).join(', ');
    say(`${device.deviceName} of ${device.productKey}: reported ${versions}`);
    if (reportOnly) return EXIT.ok;
    return await watch(ota, io, { once, program, timeout, check: args.flag('check'), modules: Object.keys(modules) });
  } catch (error) {
    return report(io, 'aliot ota', error, context);
  } finally {
    await ota?.close();
    await device?.end();
  }
}

interface WatchPlan {
  readonly once: boolean;
  readonly program: string | undefined;
  readonly timeout: number | undefined;
  readonly check: boolean;
  readonly modules: readonly string[];
}

/** Shows jobs as they come and go; resolves with the exit code. */
async function watch(ota: DeviceOta, io: Io, plan: WatchPlan): Promise<number> {
  const style = styleFor(io);
  const say = (text: string): void => io.stdout.write(`${text}\n`);
  const bar = new ProgressPrinter(io.stdout);
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const ended = (code: number): void => {
    if (plan.once) finish(code);
  };
  ota.on('job', (job) => {
    const from = ota.versions()[job.module] ?? '?';
    say(`job: ${job.module} ${from} -> ${job.version}, ${formatBytes(job.size)}, ${job.signMethod} ${job.sign}`);
  });
  ota.on('progress', (progress) => bar.update(progress));
  ota.on('downloaded', (firmware) => {
    bar.done();
    say(style.ok(`downloaded and verified: ${firmware.path}`) + (firmware.resumes > 0 ? ` (resumed ${firmware.resumes}x)` : ''));
    void install(ota, io, firmware, plan.program).then(ended);
  });
  ota.on('failed', (error) => {
    bar.done();
    const step = error.step === undefined ? '' : ` (reported step ${error.step})`;
    io.stderr.write(style.error(`aliot ota: job failed: ${error.code}${step}: ${error.message}`) + '\n');
    // A job replaced by a newer one is not the end of anything: the newer one follows.
    if (error.code !== 'superseded') ended(EXIT.usage);
  });
  ota.on('error', (error: OtaError) => io.stderr.write(style.error(`aliot ota: ${error.message}`) + '\n'));
  const stop = (): void => finish(EXIT.ok);
  io.signal.addEventListener('abort', stop, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (plan.timeout !== undefined) {
    timer = setTimeout(() => {
      bar.done();
      io.stderr.write(`aliot ota: no job was over within ${plan.timeout! / 1000} s\n`);
      finish(EXIT.timeout);
    }, plan.timeout);
  }
  try {
    if (plan.check) {
      for (const module of plan.modules) {
        const job = await ota.check(module);
        if (job === undefined) say(`no job waits for module ${module}`);
      }
    }
    say(plan.once ? 'waiting for a job (Ctrl-C stops)' : 'waiting for jobs (Ctrl-C stops; a download under way resumes next time)');
    const code = io.signal.aborted ? EXIT.ok : await finished;
    const open = plan.modules.map((module) => ota.task(module)).find((task) => task?.status === 'downloading');
    if (io.signal.aborted && open !== undefined) say(`stopped; the download of ${open.module} ${open.job.version} resumes where it was when the job comes again`);
    return code;
  } finally {
    clearTimeout(timer);
    io.signal.removeEventListener('abort', stop);
    bar.done();
  }
}

/** Installs with `program` when given, and reports the outcome; resolves with the exit code for --once. */
async function install(ota: DeviceOta, io: Io, firmware: OtaFirmware, program: string | undefined): Promise<number> {
  const say = (text: string): void => io.stdout.write(`${text}\n`);
  if (program === undefined) {
    say(`install it, then report the new version: aliot ota ... --module ${firmware.module}=${firmware.version} --report`);
    return EXIT.ok;
  }
  say(`installing: ${program} ${firmware.path}`);
  const outcome = await run(program, firmware, io);
  try {
    if (outcome.code === 0) {
      await ota.reportVersion(firmware.version, firmware.module);
      say(styleFor(io).ok(`installed; reported ${firmware.module} ${firmware.version}: the platform counts the upgrade done`));
      return EXIT.ok;
    }
    const desc = outcome.error ?? `${program} exited with ${outcome.code}`;
    await ota.fail(outcome.error === undefined ? -4 : -1, desc, firmware.module);
    return EXIT.usage;
  } catch (error) {
    return report(io, 'aliot ota', error);
  }
}

/** Runs `program FILE` without a shell, its output passed through. */
function run(program: string, firmware: OtaFirmware, io: Io): Promise<{ code: number | null; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(program, [firmware.path], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...io.env, ALIOT_OTA_MODULE: firmware.module, ALIOT_OTA_VERSION: firmware.version, ALIOT_OTA_FILE: firmware.path },
    });
    child.stdout.on('data', (chunk: Buffer) => io.stdout.write(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => io.stderr.write(chunk.toString()));
    child.once('error', (error) => resolve({ code: null, error: `cannot run ${program}: ${error.message}` }));
    child.once('close', (code) => resolve({ code }));
  });
}
