/**
 * `aliot emulator`: the local platform stand-in as a process, so that other tools (mosquitto_pub,
 * MQTTX, another program using aliot-mqtt, `aliot pub`/`sub`) can connect to it.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../emulator/emulator.js';
import type { EmulatorCertificateDevice, EmulatorDevice, EmulatorProduct, EmulatorTopology } from '../emulator/types.js';
import { choiceOption, integerOption, parseArgs, shownValue } from './args.js';
import type { CommandSpec, ParsedArgs } from './args.js';
import type { Emulator, OtaJobOptions } from '../emulator/index.js';
import { formatBytes } from './progress.js';
import type { Style } from './style.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';
import { SECRET_ENV } from './sign.js';
import { styleFor } from './style.js';
import { traceLine } from './trace.js';

export const EMULATOR: CommandSpec = {
  name: 'emulator',
  summary: 'run the local platform stand-in for other tools to connect to',
  usage: [
    'emulator --device PK:DN:SECRET [--device ...] [--topology GW_PK:GW_DN:PK:DN ...] [--product PK:SECRET ...] [--port N] [--host ADDRESS] [--tcp] [--trace] [--pem]',
    'emulator --x509 --device PK:DN[:SECRET] [--device ...] [options]',
    'emulator issue --device PK:DN [--out DIR]',
    'emulator --device PK:DN:SECRET --ota-job PK:DN:VERSION:FILE [--ota-module NAME] [--ota-sign md5|sha256] [--http-port N] [--ota-rate BYTES] [--ota-drop-after BYTES]',
  ],
  description: `Runs the local stand-in for the IoT Platform (docs/emulator.md): MQTT 3.1.1 over TLS on the IPv6
loopback, checking CONNECT credentials, keepalive and QoS as the platform does and answering
property posts. It plays the cloud side of gateways too (docs/gateway.md): topology, sub-device
registration and logins, with the platform's checks and codes. It prints its address and the CA
certificate a client must trust, logs each device that connects, is refused or leaves and each
sub-device that logs in or out through a gateway, and runs until Ctrl-C or SIGTERM, then closes
every connection. A test and teaching fixture, not a broker: keep it on the loopback.

With --x509 it also authenticates devices by certificate, as the platform's X.509 endpoint does:
a device that presents a certificate the stand-in's throwaway device CA (certs/emulator) issued
it is admitted as the device the certificate names, and told its identity on
/ext/auth/identity/response; a --device given without a secret connects that way only. 'aliot
emulator issue' issues a device its certificate and key.

OTA (docs/ota.md): each --ota-job makes an upgrade job for a device's module at start; the file is
served over HTTPS by the stand-in (on --http-port, same host and certificate). The job is pushed
when the device reports a version for the module (as every SDK does after connecting) or asks
for it, and is over when the device reports the job's version (SUCCEEDED) or a failure step
(FAILED). Progress, state changes and every file request are logged. --ota-rate and
--ota-drop-after make the download slow or cut it once, to watch a device resume.`,
  options: [
    {
      name: 'device',
      type: 'string',
      multiple: true,
      secret: true,
      placeholder: 'PK:DN[:SECRET]',
      help: `a registered device (the secret may hold ':'); without :SECRET, ${SECRET_ENV} is its secret; PK:DN: with nothing after the colon is registered but not activated (dynamic registration gives it a secret); with --x509 and no secret at all, it authenticates by certificate only`,
    },
    {
      name: 'topology',
      type: 'string',
      multiple: true,
      placeholder: 'GW_PK:GW_DN:PK:DN',
      help: 'puts sub-device PK:DN in the topology of gateway GW_PK:GW_DN at start (both given with --device)',
    },
    {
      name: 'product',
      type: 'string',
      multiple: true,
      secret: true,
      placeholder: 'PK:SECRET',
      help: 'a product open to dynamic registration, with its ProductSecret (aliot register)',
    },
    { name: 'x509', type: 'boolean', help: "also authenticate devices by certificates the stand-in's device CA issued (see 'aliot emulator issue')" },
    { name: 'host', type: 'string', placeholder: 'ADDRESS', help: "the address to listen on (default ::1; 127.0.0.1 where there is no IPv6)" },
    { name: 'port', type: 'string', placeholder: 'N', help: 'the port (default 0: a free one, printed at start)' },
    { name: 'tcp', type: 'boolean', help: 'plain TCP instead of TLS (devices then sign with securemode=3)' },
    { name: 'trace', type: 'boolean', help: 'print every packet in and out' },
    { name: 'pem', type: 'boolean', help: 'print the CA certificate itself, not only its path' },
    { name: 'http-port', type: 'string', placeholder: 'N', help: 'the HTTPS port (OTA files; default: a free one, started by the first OTA job)' },
    { name: 'ota-job', type: 'string', multiple: true, placeholder: 'PK:DN:VERSION:FILE', help: 'an OTA job: the device, the version it is to reach, the firmware file (repeatable)' },
    { name: 'ota-module', type: 'string', placeholder: 'NAME', help: "the OTA module of the --ota-job jobs (default 'default')" },
    { name: 'ota-sign', type: 'string', placeholder: 'md5|sha256', help: 'the digest the jobs carry (default md5, as the platform’s example)' },
    { name: 'ota-rate', type: 'string', placeholder: 'BYTES', help: 'serve OTA files at most this fast, bytes a second (k = 1000, M = 1000000)' },
    { name: 'ota-drop-after', type: 'string', placeholder: 'BYTES', help: 'cut the first download of each job after this many bytes (k, M as above)' },
  ],
  examples: [
    `${SECRET_ENV}=lamp-secret aliot emulator --device a1Demo:lamp --port 8883 --trace`,
    'aliot emulator --device a1Demo:lamp:lamp-secret --device a1Demo:fan:fan-secret',
    'aliot emulator --device a1Gw:gw1:gw-secret --device a1Meter:m1:m1-secret --topology a1Gw:gw1:a1Meter:m1 --device a1Meter:m2:',
    'aliot emulator --device a1Demo:lamp:lamp-secret --port 8883 --ota-job a1Demo:lamp:2.0.0:./fw.bin --ota-rate 200k',
  ],
};

/** `src/cli/` and `dist/cli/` both sit two levels below the package root. */
const LOOPBACK_CA = new URL('../../certs/loopback/ca.pem', import.meta.url);

/**
 * `PK:DN:SECRET`, `PK:DN` with the secret from the environment, `PK:DN:` for a device registered
 * and not activated, or with `x509` `PK:DN` and no secret at all; the secret is never quoted.
 */
export function parseDevice(text: string, index: number, io: Io, x509: boolean): EmulatorDevice | EmulatorCertificateDevice {
  const first = text.indexOf(':');
  const second = first < 0 ? -1 : text.indexOf(':', first + 1);
  const productKey = first < 0 ? '' : text.slice(0, first);
  const deviceName = first < 0 ? '' : text.slice(first + 1, second < 0 ? undefined : second);
  const deviceSecret = second < 0 ? io.env[SECRET_ENV] : text.slice(second + 1);
  if (productKey === '' || deviceName === '') {
    throw new UsageError(`--device number ${index + 1} is not PK:DN:SECRET`, `e.g. --device a1Demo:lamp:lamp-secret, or --device a1Demo:lamp with ${SECRET_ENV} set`);
  }
  if (deviceSecret === undefined || (second < 0 && deviceSecret === '')) {
    if (x509 && second < 0) return { productKey, deviceName };
    throw new UsageError(
      `--device ${productKey}:${deviceName} has no secret`,
      `add :SECRET, set ${SECRET_ENV}, or end it with ':' for a device registered but not activated${x509 ? '' : ', or run with --x509 for a device that authenticates by certificate'}`,
    );
  }
  return { productKey, deviceName, deviceSecret };
}

/** `PK:SECRET`; the secret is never quoted. */
function parseProduct(text: string, index: number): EmulatorProduct {
  const colon = text.indexOf(':');
  const productKey = colon < 0 ? '' : text.slice(0, colon);
  const productSecret = colon < 0 ? '' : text.slice(colon + 1);
  if (productKey === '' || productSecret === '') {
    throw new UsageError(`--product number ${index + 1} is not PK:SECRET`, 'e.g. --product a1Demo:product-secret (the ProductSecret from the console)');
  }
  return { productKey, productSecret };
}

/** `GW_PK:GW_DN:PK:DN` lines, gathered per gateway in the order given. */
function parseTopology(texts: readonly string[]): EmulatorTopology[] {
  const byGateway = new Map<string, { gateway: { productKey: string; deviceName: string }; subDevices: Array<{ productKey: string; deviceName: string }> }>();
  texts.forEach((text, i) => {
    const parts = text.split(':');
    if (parts.length !== 4 || parts.some((part) => part === '')) {
      throw new UsageError(`--topology number ${i + 1} is not GW_PK:GW_DN:PK:DN`, 'e.g. --topology a1Gw:gw1:a1Meter:m1 puts m1 under gw1');
    }
    const [gatewayProduct, gatewayName, productKey, deviceName] = parts as [string, string, string, string];
    const key = `${gatewayProduct}:${gatewayName}`;
    let entry = byGateway.get(key);
    if (entry === undefined) byGateway.set(key, (entry = { gateway: { productKey: gatewayProduct, deviceName: gatewayName }, subDevices: [] }));
    entry.subDevices.push({ productKey, deviceName });
  });
  return [...byGateway.values()];
}

export async function runEmulator(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(EMULATOR, argv);
  const x509 = args.flag('x509');
  const devices = args.strings('device').map((text, i) => parseDevice(text, i, io, x509));
  const products = args.strings('product').map((text, i) => parseProduct(text, i));
  if (devices.length === 0 && products.length === 0) {
    throw new UsageError('no device: the stand-in refuses every CONNECT without one', 'give --device PK:DN:SECRET, or --product PK:SECRET for devices that register (repeatable)');
  }
  const jobs = otaJobOptions(args, devices);
  const topology = parseTopology(args.strings('topology'));
  const tls = !args.flag('tcp');
  if (x509 && !tls) throw new UsageError('--x509 needs TLS: devices present their certificates in the TLS handshake', 'leave out --tcp');
  const style = styleFor(io);
  const httpPort = integerOption(args, 'http-port', 0, 65535, 'emulator');
  const emulator = await startEmulator({
    devices,
    products,
    topology,
    host: args.string('host') ?? '::1',
    port: integerOption(args, 'port', 0, 65535, 'emulator') ?? 0,
    tls,
    x509,
    ...(httpPort === undefined ? {} : { httpPort }),
  });
  const log = (text: string): void => io.stdout.write(`${text}\n`);
  try {
    for (const job of jobs) await emulator.pushOtaJob(job);
  } catch (error) {
    await emulator.close();
    throw error;
  }
  logOta(emulator, log, style);
  emulator.on('connect', (c) => {
    const how = c.authentication === 'certificate' ? ', by certificate' : '';
    log(`[${c.id}] ${c.deviceName} of ${c.productKey} connected (clientId ${c.clientId}, keepalive ${c.keepalive} s${how})`);
  });
  emulator.on('refuse', (r) =>
    log(style.error(`[${r.connection.id}] refused${r.returnCode === undefined ? ' (closed, no CONNACK)' : ` with CONNACK ${r.returnCode}`}: ${r.reason}: ${r.message}`)),
  );
  emulator.on('disconnect', (d) => log(`[${d.connection.id}] ${d.deviceName} of ${d.productKey} left: ${d.reason}`));
  emulator.on('subdevice', (e) => {
    const through = `through ${e.gateway.deviceName} of ${e.gateway.productKey}`;
    log(`[${e.connection.id}] ${e.deviceName} of ${e.productKey} ${e.action === 'login' ? `logged in ${through}` : `logged out ${through}: ${e.reason}`}`);
  });
  emulator.on('error', (error) => log(style.error(`listener error: ${error.message}`)));
  emulator.on('register', (r) => log(`${r.deviceName} of ${r.productKey} registered (${r.authType === 'regnwl' ? 'MQTT, without pre-registration: clientId and token issued' : r.authType === 'https' ? 'HTTPS: DeviceSecret issued' : 'MQTT: DeviceSecret issued'})`));
  if (args.flag('trace')) {
    emulator.on('packet', ({ direction, packet, bytes, connection }) => {
      const up = direction === 'in';
      io.stdout.write(traceLine(`[${connection.id}] ${up ? 'device -> platform' : 'platform -> device'}`, up, packet, bytes, style, ''));
    });
  }

  printBanner(io, emulator.url, emulator.host, emulator.port, tls, emulator.ca, devices, topology, args.flag('pem'), x509, products, emulator.https);
  printOtaBanner(io, emulator);
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await emulator.close();
  log('closed: every connection ended, no longer listening');
  return EXIT.ok;
}

function printBanner(
  io: Io,
  url: string,
  host: string,
  port: number,
  tls: boolean,
  ca: string,
  devices: ReadonlyArray<EmulatorDevice | EmulatorCertificateDevice>,
  topology: readonly EmulatorTopology[],
  pem: boolean,
  x509: boolean,
  products: readonly EmulatorProduct[],
  https: { readonly port: number; readonly ca: string } | undefined,
): void {
  const style = styleFor(io);
  const lines = [style.bold(`aliot emulator: the local platform stand-in (a test fixture, not a broker)`), `listening on ${url}`];
  const caPath = tls ? loopbackCaPath(ca) : undefined;
  if (tls) {
    lines.push(caPath === undefined ? 'trust this CA certificate:' : `trust the CA certificate in ${caPath}`);
    if (pem || caPath === undefined) lines.push(ca.trimEnd());
  } else {
    lines.push('plain TCP: devices sign with securemode=3 (aliot sign --transport tcp)');
  }
  const listed = (d: EmulatorDevice | EmulatorCertificateDevice): string =>
    `${d.deviceName} of ${d.productKey}${d.deviceSecret === undefined ? ' (certificate only)' : d.deviceSecret === '' ? ' (registered, not activated)' : ''}`;
  if (devices.length > 0) lines.push(`devices: ${devices.map(listed).join(', ')}`);
  for (const { gateway, subDevices } of topology) {
    lines.push(`topology of ${gateway.deviceName} of ${gateway.productKey}: ${subDevices.map((d) => `${d.deviceName} of ${d.productKey}`).join(', ')}`);
  }
  if (products.length > 0) lines.push(`open to dynamic registration: ${products.map((p) => p.productKey).join(', ')}`);
  const endpoint = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const cafile = tls ? ` --cafile ${caPath ?? 'ca.pem'}` : ' --tcp';
  const d = devices[0];
  if (x509 && d !== undefined) {
    lines.push(
      "X.509 mode: devices may present a certificate the stand-in's device CA issued (certs/emulator/device-ca.pem)",
      '',
      'issue a device its certificate, then connect with it:',
      `  aliot emulator issue --device ${d.productKey}:${d.deviceName} --out ./${d.deviceName}`,
      `  aliot pub --cert ./${d.deviceName}/device.pem --key ./${d.deviceName}/device.key --endpoint '${endpoint}'${cafile} \\`,
      `    -t /sys/${d.productKey}/${d.deviceName}/thing/event/property/post -q 1 \\`,
      `    -m '{"id":"1","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}'`,
    );
  }
  if (d !== undefined && d.deviceSecret !== undefined && d.deviceSecret !== '') {
    lines.push(
      '',
      `try, with the device's secret in ${SECRET_ENV}:`,
      `  aliot pub --product-key ${d.productKey} --device-name ${d.deviceName} --endpoint '${endpoint}'${cafile} \\`,
      `    -t /sys/${d.productKey}/${d.deviceName}/thing/event/property/post -q 1 \\`,
      `    -m '{"id":"1","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}'`,
      `or any MQTT client, with the clientId, user name and password of 'aliot sign --transport ${tls ? 'tls' : 'tcp'}'.`,
    );
  }
  const p = products[0];
  if (p !== undefined) {
    const pending = devices.find((device) => device.productKey === p.productKey && device.deviceSecret === '');
    const registration = `${isIP(host) === 6 ? `[${host}]` : host}:${https?.port ?? 0}`;
    const trust = ` --cafile ${loopbackCaPath(https?.ca ?? ca) ?? 'ca.pem'}`;
    lines.push(`register a device, with the product's secret in ALIOT_PRODUCT_SECRET:`);
    if (pending !== undefined) {
      lines.push(`  aliot register --product-key ${p.productKey} --device-name ${pending.deviceName} --endpoint '${registration}'${trust}   (HTTPS)`);
      if (tls) lines.push(`  aliot register --mqtt --product-key ${p.productKey} --device-name ${pending.deviceName} --endpoint '${endpoint}'${cafile}`);
    }
    if (tls) lines.push(`  aliot register --no-preregistration --product-key ${p.productKey} --device-name NEW-NAME --endpoint '${endpoint}'${cafile}`);
  }
  lines.push('Ctrl-C stops it.', '');
  io.stdout.write(`${lines.join('\n')}\n`);
}

/** The shipped loopback CA's path, when it is the certificate in use and can be read. */
function loopbackCaPath(ca: string): string | undefined {
  try {
    return readFileSync(LOOPBACK_CA, 'utf8') === ca ? fileURLToPath(LOOPBACK_CA) : undefined;
  } catch {
    return undefined;
  }
}

/** The `--ota-*` flags as job options; UsageError for a malformed job or one for an unknown device. */
function otaJobOptions(args: ParsedArgs, devices: ReadonlyArray<{ readonly productKey: string; readonly deviceName: string }>): OtaJobOptions[] {
  const help = "run 'aliot emulator --help'";
  const module = args.string('ota-module');
  const signMethod = choiceOption(args, 'ota-sign', ['md5', 'sha256'] as const, 'emulator');
  const rate = byteCount(args, 'ota-rate');
  const dropAfter = byteCount(args, 'ota-drop-after');
  const specs = args.strings('ota-job');
  if (specs.length === 0) {
    for (const name of ['ota-module', 'ota-sign', 'ota-rate', 'ota-drop-after']) {
      if (args.string(name) !== undefined) throw new UsageError(`--${name} goes with --ota-job`, help);
    }
  }
  return specs.map((text, index) => {
    // The file comes last, so that its path may hold ':'.
    const [productKey = '', deviceName = '', version = '', ...rest] = text.split(':');
    const file = rest.join(':');
    if (productKey === '' || deviceName === '' || version === '' || file === '') {
      // Not quoted back, as --device is not: a secret pasted into the wrong flag must not be printed.
      throw new UsageError(`--ota-job number ${index + 1} is not PK:DN:VERSION:FILE`, 'e.g. --ota-job a1Demo:lamp:2.0.0:./firmware.bin');
    }
    if (!devices.some((d) => d.productKey === productKey && d.deviceName === deviceName)) {
      throw new UsageError(`--ota-job names ${deviceName} of ${productKey}, which no --device gives`, help);
    }
    return {
      productKey,
      deviceName,
      version,
      file,
      ...(module === undefined ? {} : { module }),
      ...(signMethod === undefined ? {} : { signMethod }),
      serve: { ...(rate === undefined ? {} : { bytesPerSecond: rate }), ...(dropAfter === undefined ? {} : { dropAfter }) },
    };
  });
}

/** `200000`, `200k`, `2M` as a byte count (k = 1000, M = 1000000), or undefined when absent. */
function byteCount(args: ParsedArgs, name: string): number | undefined {
  const text = args.string(name);
  if (text === undefined) return undefined;
  const match = /^(\d+)([kM]?)$/.exec(text);
  const value = match === null ? NaN : Number(match[1]) * (match[2] === 'k' ? 1000 : match[2] === 'M' ? 1_000_000 : 1);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--${name} must be a byte count such as 200000, 200k or 2M, got ${shownValue(text)}`, "run 'aliot emulator --help'");
  }
  return value;
}

/** One line per OTA job change and per file request. */
function logOta(emulator: Emulator, log: (text: string) => void, style: Style): void {
  emulator.on('ota', ({ change, job }) => {
    const what = `[ota] job ${job.id} (${job.deviceName} of ${job.productKey}, ${job.module} -> ${job.version})`;
    const last = job.progress.at(-1);
    switch (change) {
      case 'created':
        log(`${what}: made, ${formatBytes(job.size)}, ${job.signMethod} ${job.sign}, ${job.state}`);
        return;
      case 'notified':
        log(`${what}: sent to the device (${job.notices}x)`);
        return;
      case 'progress':
        log(`${what}: ${last!.step} %${last!.desc === '' ? '' : ` ${last!.desc}`}`);
        return;
      case 'succeeded':
        log(style.ok(`${what}: SUCCEEDED, the device reported version ${job.version}`));
        return;
      case 'failed':
        log(style.error(`${what}: FAILED, step ${last!.step}${last!.desc === '' ? '' : `: ${last!.desc}`}`));
        return;
      case 'canceled':
        log(`${what}: CANCELED`);
        return;
    }
  });
  emulator.on('http', (entry) => {
    const what = entry.path === '' ? 'a request that could not be read' : `${entry.method} ${entry.path}`;
    log(`[https] ${what}: ${entry.status}, ${formatBytes(entry.bytes)}${entry.complete ? '' : ', cut short'}`);
  });
}

function printOtaBanner(io: Io, emulator: Emulator): void {
  const https = emulator.https;
  const jobs = emulator.otaJobs();
  if (https === undefined) return;
  const lines = [`HTTPS (OTA files) on ${https.url}`];
  for (const job of jobs) lines.push(`OTA job ${job.id}: ${job.deviceName} of ${job.productKey}, module ${job.module} -> ${job.version}: ${job.url}`);
  const job = jobs[0];
  if (job !== undefined) {
    const endpoint = `${isIP(emulator.host) === 6 ? `[${emulator.host}]` : emulator.host}:${emulator.port}`;
    const cafile = loopbackCaPath(https.ca) ?? 'ca.pem';
    lines.push(
      '',
      `take it as the device, with its secret in ${SECRET_ENV}:`,
      `  aliot ota --product-key ${job.productKey} --device-name ${job.deviceName} --endpoint '${endpoint}' --cafile ${cafile} \\`,
      `    --module ${job.module}=1.0.0 --once`,
    );
  }
  io.stdout.write(`${lines.join('\n')}\n\n`);
}
