/**
 * Checks the emulator's options and fills in defaults, so that a mistake surfaces as a
 * ConfigurationError naming the option before anything listens.
 */
import type { SecureContext } from 'node:tls';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import { nodeTls } from '../shared/builtins.js';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { ConfigurationError } from '../shared/errors.js';
import { forbidCharacters, requireIntegerIn, requireText } from '../shared/validate.js';
import { CONNECT_TIMEOUT_MS } from './limits.js';
import type { EmulatorDevice, EmulatorOptions } from './types.js';

/** The options after validation and defaults: what the emulator actually uses. */
export interface ResolvedEmulatorOptions {
  /** By {@link deviceKey}. */
  readonly devices: ReadonlyMap<string, EmulatorDevice>;
  /** Without brackets. */
  readonly host: string;
  readonly port: number;
  /** `undefined` for plain TCP; `context` holds the certificate and key, checked. */
  readonly tls: { readonly context: SecureContext; readonly ca: string } | undefined;
  readonly clock: Clock;
  /** Milliseconds from TCP accept to a CONNECT, TLS handshake included. */
  readonly connectTimeout: number;
  readonly autoReplyPropertyPost: boolean;
  readonly autoReplyEventPost: boolean;
}

/** The longest delay timers take; anything larger would fire at once. */
const MAX_TIMEOUT = 2_147_483_647;

/** `src/emulator/` and `dist/emulator/` both sit two levels below the package root. */
const LOOPBACK_CERTS = new URL('../../certs/loopback/', import.meta.url);

/**
 * One key per device. `/` can appear in neither part (both are topic levels), so no two devices
 * share a key.
 */
export function deviceKey(productKey: string, deviceName: string): string {
  return `${productKey}/${deviceName}`;
}

export async function resolveEmulatorOptions(options: EmulatorOptions): Promise<ResolvedEmulatorOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object with at least devices');
  }
  const clock = options.clock ?? systemClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw new ConfigurationError('clock', 'expected an object with now(), setTimeout(fn, ms) and clearTimeout(handle)');
  }
  const autoReplyPropertyPost = options.autoReplyPropertyPost ?? true;
  if (typeof autoReplyPropertyPost !== 'boolean') {
    throw new ConfigurationError('autoReplyPropertyPost', 'expected true or false');
  }
  const autoReplyEventPost = options.autoReplyEventPost ?? true;
  if (typeof autoReplyEventPost !== 'boolean') {
    throw new ConfigurationError('autoReplyEventPost', 'expected true or false');
  }
  return {
    devices: resolveDevices(options.devices),
    host: resolveHost(options.host),
    port: requireIntegerIn('port', options.port ?? 0, 0, 65_535, 'use 0 for a free port, or 1..65535'),
    tls: await resolveTls(options.tls),
    clock,
    connectTimeout: requireIntegerIn('connectTimeout', options.connectTimeout ?? CONNECT_TIMEOUT_MS, 1, MAX_TIMEOUT, 'give whole milliseconds, e.g. 10000'),
    autoReplyPropertyPost,
    autoReplyEventPost,
  };
}

function resolveDevices(devices: unknown): Map<string, EmulatorDevice> {
  if (!Array.isArray(devices)) {
    throw new ConfigurationError('devices', 'expected an array of { productKey, deviceName, deviceSecret }');
  }
  const known = new Map<string, EmulatorDevice>();
  devices.forEach((device: unknown, i) => {
    const at = `devices[${i}]`;
    if (typeof device !== 'object' || device === null) {
      throw new ConfigurationError(at, 'expected { productKey, deviceName, deviceSecret }');
    }
    const given = device as Partial<Record<keyof EmulatorDevice, unknown>>;
    const why = "'/', '+' and '#' would break its topics and '&' its user name";
    const productKey = requireText(`${at}.productKey`, given.productKey, 'e.g. the ProductKey from the console');
    forbidCharacters(`${at}.productKey`, productKey, ['/', '+', '#', '&'], why);
    const deviceName = requireText(`${at}.deviceName`, given.deviceName, 'e.g. the DeviceName from the console');
    forbidCharacters(`${at}.deviceName`, deviceName, ['/', '+', '#', '&'], why);
    const deviceSecret = requireText(`${at}.deviceSecret`, given.deviceSecret, 'any non-empty text the device signs with');
    const key = deviceKey(productKey, deviceName);
    if (known.has(key)) {
      throw new ConfigurationError(at, `device ${deviceName} of product ${productKey} is listed twice; list each device once`);
    }
    known.set(key, Object.freeze({ productKey, deviceName, deviceSecret }));
  });
  return known;
}

function resolveHost(host: unknown): string {
  const text = requireText('host', host ?? '::1', "an address to listen on, e.g. '::1'");
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

async function resolveTls(tls: EmulatorOptions['tls']): Promise<ResolvedEmulatorOptions['tls']> {
  if (tls === false) return undefined;
  if (tls === undefined || tls === true) {
    const [cert, key, ca] = await Promise.all(['server.pem', 'server.key', 'ca.pem'].map(readLoopbackFile));
    return { context: secureContext(cert!, key!), ca: ca! };
  }
  if (typeof tls !== 'object' || tls === null) {
    throw new ConfigurationError('tls', 'expected true, false, or { cert, key } in PEM');
  }
  for (const field of ['cert', 'key'] as const) {
    const value: unknown = tls[field];
    if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
      throw new ConfigurationError(`tls.${field}`, 'expected PEM text as a string or Buffer (the contents of the file, not its path)');
    }
  }
  const ca: unknown = tls.ca ?? tls.cert;
  if (typeof ca !== 'string' && !Buffer.isBuffer(ca)) {
    throw new ConfigurationError('tls.ca', 'expected PEM text as a string or Buffer');
  }
  return { context: secureContext(tls.cert, tls.key), ca: ca.toString() };
}

/** The server's TLS 1.2+ context, or a ConfigurationError when the PEM does not hold a usable certificate and key. */
function secureContext(cert: string | Buffer, key: string | Buffer): SecureContext {
  try {
    return nodeTls().createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (cause) {
    // OpenSSL's reason names what failed to parse or match, never the key's content.
    throw new ConfigurationError('tls', `the certificate and key cannot serve TLS (${(cause as Error).message}); give the PEM of a certificate and its own private key`);
  }
}

export async function readLoopbackFile(name: string): Promise<string> {
  const url = new URL(name, LOOPBACK_CERTS);
  try {
    return await readFile(url, 'utf8');
  } catch (cause) {
    throw new ConfigurationError(
      'tls',
      `cannot read the loopback test certificate ${fileURLToPath(url)} (${(cause as Error).message}); ` +
        'pass tls: { cert, key } with your own, or tls: false for plain TCP',
    );
  }
}
