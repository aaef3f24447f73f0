/**
 * `aliot sign`: the CONNECT credentials of a device, for use with any MQTT tool
 * (mosquitto_pub, MQTTX) or to check a signature by hand.
 */
import { signCredentials } from '../sign/credentials.js';
import { SIGN_METHODS, secureModeFor } from '../sign/types.js';
import type { SignMethod, Transport } from '../sign/types.js';
import { choiceOption, parseArgs, shownValue } from './args.js';
import type { CommandSpec, OptionSpec, ParsedArgs } from './args.js';
import { EXIT, UsageError } from './io.js';
import type { Io } from './io.js';

/** Where the device secret may come from instead of the command line (and so shell history). */
export const SECRET_ENV = 'ALIOT_DEVICE_SECRET';

/** Where the passphrase of an encrypted --key comes from: never a flag, which shell history and `ps` would show. */
export const KEY_PASSPHRASE_ENV = 'ALIOT_KEY_PASSPHRASE';

/** The device triple's options, shared with `pub` and `sub`. */
export const DEVICE_OPTIONS: readonly OptionSpec[] = [
  { name: 'product-key', type: 'string', placeholder: 'PK', help: "the product's ProductKey" },
  { name: 'device-name', type: 'string', placeholder: 'DN', help: "the device's DeviceName" },
  {
    name: 'device-secret',
    type: 'string',
    secret: true,
    placeholder: 'SECRET',
    help: `the device's DeviceSecret; better: set ${SECRET_ENV}, which stays out of shell history`,
  },
];

export const SIGN: CommandSpec = {
  name: 'sign',
  summary: 'print the CONNECT clientId, user name and password of a device',
  usage: ['sign --product-key PK --device-name DN [--device-secret SECRET] [options]'],
  description: `Signs a device's credentials the way the platform checks them: the clientId with its
|securemode=..,signmethod=..,timestamp=..| extension, the user name deviceName&productKey, and
the password, the upper-case hex HMAC of the sorted parameters keyed with the device secret.
The secret is read from --device-secret or from ${SECRET_ENV} and is never printed.`,
  options: [
    ...DEVICE_OPTIONS,
    { name: 'client-id', type: 'string', placeholder: 'ID', help: 'the bare device id (default PK.DN): at most 64 characters, no | , =' },
    { name: 'timestamp', type: 'string', placeholder: 'MS', help: 'milliseconds since the epoch (default now); the platform does not check it' },
    { name: 'no-timestamp', type: 'boolean', help: 'leave the timestamp out of the clientId and the signature' },
    { name: 'sign-method', type: 'string', placeholder: 'METHOD', help: `${SIGN_METHODS.join(', ')} (default hmacsha256)` },
    { name: 'transport', type: 'string', placeholder: 'tls|tcp', help: 'tls (securemode=2, default) or tcp (securemode=3): must match the connection' },
    { name: 'json', type: 'boolean', help: 'print {"clientId","username","password"} as JSON' },
  ],
  examples: [
    'aliot sign --client-id 12345 --device-name device --product-key pk --device-secret secret \\',
    '    --timestamp 789 --sign-method hmacsha1 --transport tcp',
    `${SECRET_ENV}=... aliot sign --product-key a1B2c3 --device-name lamp --json`,
  ],
};

/** The secret from the option or the environment; UsageError naming both when neither is set. */
export function deviceSecret(args: ParsedArgs, io: Io, command: string): string {
  const secret = args.string('device-secret') ?? io.env[SECRET_ENV];
  if (secret === undefined || secret === '') {
    throw new UsageError(`the device secret is missing`, `pass --device-secret or set ${SECRET_ENV} (run 'aliot ${command} --help')`);
  }
  return secret;
}

/** A required string option, or a UsageError naming it. */
export function requiredOption(args: ParsedArgs, name: string, command: string): string {
  const value = args.string(name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`, `run 'aliot ${command} --help'`);
  return value;
}

/** `--timestamp MS`, `--no-timestamp` or, with neither, undefined (the library's default: now). */
export function timestampOption(args: ParsedArgs, command: string): number | null | undefined {
  const text = args.string('timestamp');
  if (args.flag('no-timestamp')) {
    if (text !== undefined) throw new UsageError('--timestamp and --no-timestamp contradict each other; give one', `run 'aliot ${command} --help'`);
    return null;
  }
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(`--timestamp must be milliseconds since the epoch, e.g. ${Date.now()}; got ${shownValue(text)}`);
  }
  return value;
}

export async function runSign(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(SIGN, argv);
  const transport: Transport = choiceOption(args, 'transport', ['tls', 'tcp'] as const, 'sign') ?? 'tls';
  const signMethod: SignMethod | undefined = choiceOption(args, 'sign-method', SIGN_METHODS, 'sign');
  // A ConfigurationError from here names the field and never holds the secret: exit 1.
  const credentials = signCredentials({
    productKey: requiredOption(args, 'product-key', 'sign'),
    deviceName: requiredOption(args, 'device-name', 'sign'),
    deviceSecret: deviceSecret(args, io, 'sign'),
    clientId: args.string('client-id'),
    timestamp: timestampOption(args, 'sign'),
    signMethod,
    secureMode: secureModeFor(transport),
  });
  // A plain object: the credentials object itself prints its password as [redacted].
  const shown = { clientId: credentials.clientId, username: credentials.username, password: credentials.password };
  if (args.flag('json')) {
    io.stdout.write(`${JSON.stringify(shown)}\n`);
  } else {
    io.stdout.write(`clientId  ${shown.clientId}\nusername  ${shown.username}\npassword  ${shown.password}\n`);
  }
  return EXIT.ok;
}
