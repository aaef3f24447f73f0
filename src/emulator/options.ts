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
import { resolveSessionLimits } from './session-limits.js';
import type { SessionLimits } from './session-limits.js';
import type { EmulatorCertificateDevice, EmulatorDevice, EmulatorOptions, EmulatorTopology } from './types.js';
import { DeviceCa } from './x509/ca.js';

/** The options after validation and defaults: what the emulator actually uses. */
export interface ResolvedEmulatorOptions {
  /** By {@link deviceKey}. */
  readonly devices: ReadonlyMap<string, EmulatorDevice | EmulatorCertificateDevice>;
  /** Without brackets. */
  readonly host: string;
  readonly port: number;
  /**
   * `undefined` for plain TCP; `context` holds the certificate and key, checked (and in X.509
   * mode the device CA, to verify the certificates devices present).
   */
  readonly tls: { readonly context: SecureContext; readonly ca: string } | undefined;
  /** X.509 mode: the CA that issues device certificates and vouches for them. */
  readonly x509: DeviceCa | undefined;
  readonly clock: Clock;
  /** Milliseconds from TCP accept to a CONNECT, TLS handshake included. */
  readonly connectTimeout: number;
  readonly autoReplyPropertyPost: boolean;
  readonly autoReplyEventPost: boolean;
  readonly autoReplyServices: boolean;
  readonly wallClock: () => number;
  /** Products open to dynamic registration: ProductSecret by productKey. */
  readonly products: ReadonlyMap<string, string>;
  /** Gateways and the sub-devices in their topology at start, each sub-device under one gateway. */
  readonly topology: readonly EmulatorTopology[];
  /** How long and how much the stand-in keeps for devices with Clean Session 0. */
  readonly sessions: SessionLimits;
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
  const autoReplyServices = options.autoReplyServices ?? true;
  if (typeof autoReplyServices !== 'boolean') {
    throw new ConfigurationError('autoReplyServices', 'expected true or false');
  }
  const wallClock = options.wallClock ?? Date.now;
  if (typeof wallClock !== 'function') {
    throw new ConfigurationError('wallClock', 'expected a function returning milliseconds since the epoch, such as Date.now');
  }
  const x509 = await resolveX509(options.x509, options.tls);
  const devices = resolveDevices(options.devices, x509 !== undefined);
  return {
    devices,
    topology: resolveTopology(options.topology, devices),
    host: resolveHost(options.host),
    port: requireIntegerIn('port', options.port ?? 0, 0, 65_535, 'use 0 for a free port, or 1..65535'),
    tls: await resolveTls(options.tls, x509),
    x509,
    clock,
    connectTimeout: requireIntegerIn('connectTimeout', options.connectTimeout ?? CONNECT_TIMEOUT_MS, 1, MAX_TIMEOUT, 'give whole milliseconds, e.g. 10000'),
    autoReplyPropertyPost,
    autoReplyEventPost,
    autoReplyServices,
    wallClock,
    products: resolveProducts(options.products),
    sessions: resolveSessionLimits(options.sessions),
  };
}

function resolveProducts(products: unknown): Map<string, string> {
  const open = new Map<string, string>();
  if (products === undefined) return open;
  if (!Array.isArray(products)) throw new ConfigurationError('products', 'expected an array of { productKey, productSecret }');
  products.forEach((product: unknown, i) => {
    const at = `products[${i}]`;
    if (typeof product !== 'object' || product === null) throw new ConfigurationError(at, 'expected { productKey, productSecret }');
    const given = product as Partial<Record<'productKey' | 'productSecret', unknown>>;
    const productKey = requireText(`${at}.productKey`, given.productKey, 'e.g. the ProductKey from the console');
    forbidCharacters(`${at}.productKey`, productKey, ['/', '+', '#', '&'], "'/', '+' and '#' would break its topics and '&' its user name");
    const productSecret = requireText(`${at}.productSecret`, given.productSecret, "the product's ProductSecret");
    if (open.has(productKey)) throw new ConfigurationError(at, `product ${productKey} is listed twice; list each product once`);
    open.set(productKey, productSecret);
  });
  return open;
}

function resolveDevices(devices: unknown, x509: boolean): Map<string, EmulatorDevice | EmulatorCertificateDevice> {
  if (!Array.isArray(devices)) {
    throw new ConfigurationError('devices', 'expected an array of { productKey, deviceName, deviceSecret }');
  }
  const known = new Map<string, EmulatorDevice | EmulatorCertificateDevice>();
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
    // '' is a device registered in the console and not activated yet: dynamic registration gives
    // it a secret. In X.509 mode a device may have none at all: it authenticates by certificate.
    const deviceSecret =
      x509 && given.deviceSecret === undefined
        ? undefined
        : given.deviceSecret === ''
          ? ''
          : requireText(
              `${at}.deviceSecret`,
              given.deviceSecret,
              `any non-empty text the device signs with, or '' for a device registered but not activated${x509 ? ', or none for a device that authenticates by certificate only' : ''}`,
            );
    const key = deviceKey(productKey, deviceName);
    if (known.has(key)) {
      throw new ConfigurationError(at, `device ${deviceName} of product ${productKey} is listed twice; list each device once`);
    }
    known.set(key, Object.freeze(deviceSecret === undefined ? { productKey, deviceName } : { productKey, deviceName, deviceSecret }));
  });
  return known;
}

function resolveTopology(topology: unknown, devices: ReadonlyMap<string, EmulatorDevice | EmulatorCertificateDevice>): EmulatorTopology[] {
  if (topology === undefined) return [];
  if (!Array.isArray(topology)) {
    throw new ConfigurationError('topology', 'expected an array of { gateway: { productKey, deviceName }, subDevices: [...] }');
  }
  const gatewayOf = new Map<string, string>();
  const registered = (field: string, device: unknown): EmulatorTopology['gateway'] => {
    const given = (typeof device === 'object' && device !== null ? device : {}) as Partial<EmulatorTopology['gateway']>;
    const productKey = requireText(`${field}.productKey`, given.productKey, 'the ProductKey of a device listed in devices');
    const deviceName = requireText(`${field}.deviceName`, given.deviceName, 'the DeviceName of a device listed in devices');
    if (!devices.has(deviceKey(productKey, deviceName))) {
      throw new ConfigurationError(field, `device ${deviceName} of product ${productKey} is not in devices; register it there first`);
    }
    return Object.freeze({ productKey, deviceName });
  };
  return topology.map((entry: unknown, i) => {
    const at = `topology[${i}]`;
    const given = (typeof entry === 'object' && entry !== null ? entry : {}) as Partial<Record<keyof EmulatorTopology, unknown>>;
    const gateway = registered(`${at}.gateway`, given.gateway);
    const gatewayKey = deviceKey(gateway.productKey, gateway.deviceName);
    if (!Array.isArray(given.subDevices)) throw new ConfigurationError(`${at}.subDevices`, 'expected an array of { productKey, deviceName }');
    const subDevices = given.subDevices.map((device: unknown, j) => {
      const field = `${at}.subDevices[${j}]`;
      const sub = registered(field, device);
      const key = deviceKey(sub.productKey, sub.deviceName);
      if (key === gatewayKey) throw new ConfigurationError(field, 'a gateway cannot be its own sub-device');
      if (gatewayOf.has(key)) throw new ConfigurationError(field, `${key} is under gateway ${gatewayOf.get(key)!} already; a sub-device has one gateway`);
      gatewayOf.set(key, gatewayKey);
      return sub;
    });
    return Object.freeze({ gateway, subDevices: Object.freeze(subDevices) });
  });
}

function resolveHost(host: unknown): string {
  const text = requireText('host', host ?? '::1', "an address to listen on, e.g. '::1'");
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

/** X.509 mode's device CA, or `undefined` when the mode is off. */
async function resolveX509(x509: EmulatorOptions['x509'], tls: EmulatorOptions['tls']): Promise<DeviceCa | undefined> {
  if (x509 === undefined || x509 === false) return undefined;
  if (tls === false) {
    throw new ConfigurationError('x509', 'devices present their certificates in the TLS handshake: X.509 mode needs TLS (leave tls out, or true)');
  }
  if (x509 === true) return DeviceCa.shipped();
  if (typeof x509 !== 'object' || x509 === null) throw new ConfigurationError('x509', 'expected true, false, or { cert, key } of a device CA in PEM');
  for (const field of ['cert', 'key'] as const) {
    if (typeof x509[field] !== 'string' && !Buffer.isBuffer(x509[field])) {
      throw new ConfigurationError(`x509.${field}`, 'expected PEM text as a string or Buffer (the contents of the file, not its path)');
    }
  }
  return DeviceCa.fromPem(x509.cert, x509.key);
}

async function resolveTls(tls: EmulatorOptions['tls'], x509: DeviceCa | undefined): Promise<ResolvedEmulatorOptions['tls']> {
  if (tls === false) return undefined;
  if (tls === undefined || tls === true) {
    const [cert, key, ca] = await Promise.all(['server.pem', 'server.key', 'ca.pem'].map(readLoopbackFile));
    return { context: secureContext(cert!, key!, x509), ca: ca! };
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
  return { context: secureContext(tls.cert, tls.key, x509), ca: ca.toString() };
}

/**
 * The server's TLS 1.2+ context (trusting the device CA for client certificates in X.509 mode), or
 * a ConfigurationError when the PEM does not hold a usable certificate and key.
 */
function secureContext(cert: string | Buffer, key: string | Buffer, x509: DeviceCa | undefined): SecureContext {
  try {
    return nodeTls().createSecureContext({ cert, key, minVersion: 'TLSv1.2', ...(x509 === undefined ? {} : { ca: x509.pem }) });
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
