/**
 * `aliot register`: dynamic registration (one secret per product) from a shell, over HTTPS (the
 * default, as a production line would run it) or over MQTT, printing the credentials the
 * platform issues so that they can be stored on the device, and used with `aliot pub`/`sub`.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { ALIYUN_REGIONS } from '../aliyun/endpoints.js';
import type { DeviceCredentials } from '../aliyun/register/https.js';
import type { DeviceToken } from '../aliyun/register/mqtt.js';
import { SIGN_METHODS } from '../sign/types.js';
import { registerDevice, RegistrationError } from '../device/register.js';
import { registerDeviceOverMqtt } from '../device/register-mqtt.js';
import { choiceOption, parseArgs, secondsOption } from './args.js';
import type { CommandSpec } from './args.js';
import { endpointOption, readCaFile } from './connection.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';
import { requiredOption } from './sign.js';

/** Where the product secret may come from instead of the command line (and so shell history). */
export const PRODUCT_SECRET_ENV = 'ALIOT_PRODUCT_SECRET';

export const REGISTER: CommandSpec = {
  name: 'register',
  summary: "get a device's credentials with its product's secret (dynamic registration)",
  usage: [
    'register --product-key PK --device-name DN [--product-secret SECRET] [--endpoint HOST:PORT] [options]',
    'register --mqtt [--no-preregistration] --product-key PK --device-name DN [--endpoint WHERE] [options]',
  ],
  description: `Dynamic registration, "one secret per product": a device that knows its product's ProductKey
and ProductSecret, and its own DeviceName, asks the platform for its credentials.

  HTTPS (default)        POST to https://iot-auth.<region>.aliyuncs.com/auth/register/device;
                         the device must have been added in the console. Prints its DeviceSecret.
  --mqtt                 the same over an MQTT connection (authType=register) to the MQTT endpoint.
  --no-preregistration   over MQTT, for a device not added in the console (authType=regnwl,
                         cn-shanghai only). Prints a clientId and a DeviceToken to connect with.

The platform gives a DeviceSecret only until the device first connects: store what this prints.
It goes to stdout (or, with --out, to a new file readable by you alone); messages go to stderr.
The ProductSecret is read from --product-secret or ${PRODUCT_SECRET_ENV} and is never printed.
Exit codes: 0 registered, 1 usage, 2 refused or the connection failed, 3 no answer in time.`,
  options: [
    { name: 'product-key', type: 'string', placeholder: 'PK', help: "the product's ProductKey" },
    { name: 'device-name', type: 'string', placeholder: 'DN', help: 'the DeviceName to register' },
    {
      name: 'product-secret',
      type: 'string',
      secret: true,
      placeholder: 'SECRET',
      help: `the product's ProductSecret; better: set ${PRODUCT_SECRET_ENV}, which stays out of shell history`,
    },
    { name: 'mqtt', type: 'boolean', help: 'register over MQTT instead of HTTPS' },
    { name: 'no-preregistration', type: 'boolean', help: 'over MQTT, a device not added in the console: prints a clientId and token (authType=regnwl)' },
    {
      name: 'endpoint',
      type: 'string',
      placeholder: 'WHERE',
      help: "HTTPS: HOST:PORT (default iot-auth.<region>.aliyuncs.com:443); MQTT: 'product' (default), 'ipv6-test' or HOST:PORT",
    },
    { name: 'region', type: 'string', placeholder: 'REGION', help: `${ALIYUN_REGIONS.join(', ')} (default cn-shanghai)` },
    { name: 'cafile', type: 'string', placeholder: 'FILE', help: "PEM file of the CAs to trust (default: the platform's bundle for platform hosts)" },
    { name: 'family', type: 'string', placeholder: '6|4|0', help: 'address family for the name lookup: 6 (default), 4, or 0 for either' },
    { name: 'sign-method', type: 'string', placeholder: 'METHOD', help: `${SIGN_METHODS.join(', ')} (default hmacsha256)` },
    { name: 'timeout', type: 'string', placeholder: 'SECONDS', help: 'give up after this long, exit code 3 (default 15)' },
    { name: 'json', type: 'boolean', help: 'print the credentials as one JSON object' },
    { name: 'out', type: 'string', placeholder: 'FILE', help: 'write the credentials as JSON to FILE (created, mode 0600; never overwritten) instead of stdout' },
  ],
  examples: [
    `${PRODUCT_SECRET_ENV}=... aliot register --product-key a1B2c3 --device-name meter-0042 --out meter-0042.json`,
    `${PRODUCT_SECRET_ENV}=... aliot register --mqtt --no-preregistration --product-key a1B2c3 --device-name meter-0043`,
    `${PRODUCT_SECRET_ENV}=s3cret aliot register --product-key a1Demo --device-name meter --endpoint '[::1]:8443' --cafile certs/loopback/ca.pem`,
  ],
};

export async function runRegister(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(REGISTER, argv);
  const help = "run 'aliot register --help'";
  const productKey = requiredOption(args, 'product-key', 'register');
  const deviceName = requiredOption(args, 'device-name', 'register');
  const productSecret = args.string('product-secret') ?? io.env[PRODUCT_SECRET_ENV];
  if (productSecret === undefined || productSecret === '') {
    throw new UsageError('the product secret is missing', `pass --product-secret or set ${PRODUCT_SECRET_ENV} (${help})`);
  }
  const noPreregistration = args.flag('no-preregistration');
  const mqtt = args.flag('mqtt') || noPreregistration;
  const region = choiceOption(args, 'region', ALIYUN_REGIONS, 'register');
  const family = choiceOption(args, 'family', ['6', '4', '0'] as const, 'register');
  const signMethod = choiceOption(args, 'sign-method', SIGN_METHODS, 'register');
  const timeout = secondsOption(args, 'timeout', 'register') ?? 15_000;
  const ca = readCaFile(args.string('cafile'), help);
  const out = args.string('out');
  if (out !== undefined && args.flag('json')) throw new UsageError('--out writes JSON already; leave --json out', help);
  const common = {
    productKey,
    deviceName,
    productSecret,
    ...(region === undefined ? {} : { region }),
    ...(family === undefined ? {} : { family: Number(family) as 0 | 4 | 6 }),
    ...(signMethod === undefined ? {} : { signMethod }),
    ...(ca === undefined ? {} : { ca }),
    timeout,
    signal: io.signal,
  };
  // The file is made before asking: a secret the platform gives once must not be lost to a path that cannot be written.
  const file = out === undefined ? undefined : createNewFile(out, help);
  let issued: Readonly<DeviceCredentials> | Readonly<DeviceToken>;
  let via: string;
  try {
    if (mqtt) {
      const endpoint = endpointOption(args, undefined, help, 'product');
      if (endpoint === 'x509') throw new UsageError("--endpoint x509 is for devices with certificates; registration goes to the product's MQTT endpoint", help);
      via = `over MQTT (authType=${noPreregistration ? 'regnwl' : 'register'})`;
      issued = await registerDeviceOverMqtt({ ...common, endpoint, authType: noPreregistration ? 'regnwl' : 'register' });
    } else {
      via = 'over HTTPS';
      const text = args.string('endpoint');
      const target = text === undefined ? {} : endpointOption(args, undefined, help, 'product');
      if (typeof target === 'string') throw new UsageError(`over HTTPS --endpoint is HOST:PORT (the registration host); '${target}' is an MQTT endpoint: add --mqtt`, help);
      issued = await registerDevice({ ...common, ...target });
    }
  } catch (error) {
    if (file !== undefined) {
      closeSync(file);
      unlinkSync(out!);
    }
    if (!(error instanceof RegistrationError)) throw error;
    io.stderr.write(`aliot register: ${error.message}\n`);
    return error.code === 'timeout' ? EXIT.timeout : error.code === 'aborted' ? EXIT.usage : EXIT.connection;
  }
  // A plain object: the library's own prints its secret as [redacted], on purpose.
  const shown: Record<string, string> =
    'deviceSecret' in issued
      ? { productKey: issued.productKey, deviceName: issued.deviceName, deviceSecret: issued.deviceSecret }
      : { productKey: issued.productKey, deviceName: issued.deviceName, clientId: issued.clientId, deviceToken: issued.deviceToken };
  const what = 'deviceSecret' in issued ? 'its DeviceSecret' : 'a clientId and DeviceToken';
  if (file !== undefined) {
    try {
      writeSync(file, `${JSON.stringify(shown, null, 2)}\n`);
    } finally {
      closeSync(file);
    }
    io.stderr.write(`registered ${deviceName} of ${productKey} ${via}: ${what} written to ${out}\n`);
  } else if (args.flag('json')) {
    io.stdout.write(`${JSON.stringify(shown)}\n`);
  } else {
    const width = Math.max(...Object.keys(shown).map((key) => key.length));
    io.stdout.write(Object.entries(shown).map(([key, value]) => `${key.padEnd(width)}  ${value}\n`).join(''));
    io.stderr.write(`registered ${deviceName} of ${productKey} ${via}: store ${what}, the platform gives it only until the device first connects\n`);
  }
  return EXIT.ok;
}

/** A file that must not exist yet, readable and writable by the owner alone. */
function createNewFile(path: string, help: string): number {
  try {
    return openSync(path, 'wx', 0o600);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new UsageError(
      code === 'EEXIST' ? `--out ${path} exists already; credentials are never written over a file` : `cannot create --out ${path}: ${(cause as Error).message}`,
      help,
    );
  }
}
