/**
 * The signing panel's figures: how the CONNECT credentials come out of a device's triple, step by
 * step, computed by the library's own `signCredentials` and `signContent` (the HMAC needs
 * `node:crypto`, and a browser has no HMAC-MD5, so the page asks the server). The device secret
 * is used and forgotten: it is in no answer, no log and no error.
 */
import { ConfigurationError } from '../shared/errors.js';
import { signContent } from '../sign/content.js';
import { signCredentials } from '../sign/credentials.js';
import { SIGN_METHODS, secureModeFor } from '../sign/types.js';
import type { SignMethod, Transport } from '../sign/types.js';

/** The platform page's worked example (/work/shared/PLATFORM.md, "Worked example"). */
export const WORKED_EXAMPLE = Object.freeze({
  productKey: 'pk',
  deviceName: 'device',
  deviceSecret: 'secret',
  clientId: '12345',
  timestamp: 789,
  signMethod: 'hmacsha1' as SignMethod,
  transport: 'tcp' as Transport,
  /** What the platform's page prints of the password (it masks the last four characters). */
  passwordPrefix: 'FAFD82A3D602B37FB0FA8B7892F24A477F85',
});

/** What the panel sends. */
export interface SigningRequest {
  readonly productKey: string;
  readonly deviceName: string;
  readonly deviceSecret: string;
  /** Empty or absent: the default `${productKey}.${deviceName}`. */
  readonly clientId?: string | undefined;
  /** Milliseconds; `null` leaves the timestamp out. */
  readonly timestamp: number | null;
  readonly signMethod: SignMethod;
  readonly transport: Transport;
}

/** How the credentials were built, for the panel. */
export interface SigningSteps {
  /** The signed parameters sorted by name, as they go into the content. */
  readonly parameters: readonly { readonly name: string; readonly value: string }[];
  /** Each name then its value, in that order, with nothing between. */
  readonly content: string;
  readonly signMethod: SignMethod;
  /** The hash inside the HMAC, e.g. `SHA-1`. */
  readonly hash: string;
  readonly secureMode: number;
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
}

const HASH_NAMES: Readonly<Record<SignMethod, string>> = { hmacmd5: 'MD5', hmacsha1: 'SHA-1', hmacsha256: 'SHA-256' };

/**
 * The credentials for `request` and how they were built.
 *
 * @throws ConfigurationError naming the field, for a request the platform would refuse (or one
 *   that is not shaped as {@link SigningRequest}).
 */
export function signingSteps(request: unknown): SigningSteps {
  const r = checkRequest(request);
  const secureMode = secureModeFor(r.transport);
  const credentials = signCredentials({
    productKey: r.productKey,
    deviceName: r.deviceName,
    deviceSecret: r.deviceSecret,
    clientId: r.clientId === undefined || r.clientId === '' ? undefined : r.clientId,
    timestamp: r.timestamp,
    signMethod: r.signMethod,
    secureMode,
  });
  // The bare clientId is what comes before the extension: the one signCredentials settled on.
  const bare = credentials.clientId.slice(0, credentials.clientId.indexOf('|'));
  const signed: Record<string, string | undefined> = {
    clientId: bare,
    deviceName: r.deviceName,
    productKey: r.productKey,
    timestamp: r.timestamp === null ? undefined : String(r.timestamp),
  };
  const parameters = Object.entries(signed)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value }));
  return {
    parameters,
    content: signContent(signed),
    signMethod: r.signMethod,
    hash: HASH_NAMES[r.signMethod],
    secureMode,
    clientId: credentials.clientId,
    username: credentials.username,
    password: credentials.password,
  };
}

function checkRequest(request: unknown): SigningRequest {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new ConfigurationError('request', 'expected a JSON object');
  const r = request as Record<string, unknown>;
  const text = (name: string): string => {
    const value = r[name];
    if (typeof value !== 'string') throw new ConfigurationError(name, 'expected a string');
    return value;
  };
  // In the order of the form, so that the first wrong field is the one named.
  const productKey = text('productKey');
  const deviceName = text('deviceName');
  const deviceSecret = text('deviceSecret');
  const clientId = r['clientId'] === undefined ? undefined : text('clientId');
  const timestamp = r['timestamp'];
  if (timestamp !== null && typeof timestamp !== 'number') {
    throw new ConfigurationError('timestamp', 'expected milliseconds since the epoch, or null to leave it out');
  }
  const signMethod = text('signMethod');
  if (!(SIGN_METHODS as readonly string[]).includes(signMethod)) throw new ConfigurationError('signMethod', `expected one of ${SIGN_METHODS.join(', ')}`);
  const transport = text('transport');
  if (transport !== 'tls' && transport !== 'tcp') throw new ConfigurationError('transport', 'expected tls or tcp');
  return { productKey, deviceName, deviceSecret, clientId, timestamp, signMethod: signMethod as SignMethod, transport };
}
