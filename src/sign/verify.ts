/**
 * The server side: check a CONNECT's clientId, user name and password as the platform would. The
 * local stand-in for the platform uses this; a device never needs it.
 */
import { nodeCrypto } from '../shared/builtins.js';
import type { ConnectReturnCode } from '../packet/types.js';
import { hmacDigest, signContent, SIGNATURE_HEX_LENGTH } from './content.js';
import { parseClientId } from './extension.js';
import type { ClientIdParseFailure } from './extension.js';
import { secureModeFor } from './types.js';
import type { SecureMode, SignMethod, Transport } from './types.js';

/** The credentials as they arrive in CONNECT; a decoded CONNECT packet fits as it is. */
export interface PresentedCredentials {
  /** The full clientId, extension included. */
  readonly clientId: string;
  readonly username?: string | undefined;
  /** Hex text, or its UTF-8 bytes as CONNECT carries them. */
  readonly password?: string | Uint8Array | undefined;
}

/** Finds a device's secret; `undefined` when the platform knows no such device. */
export type SecretLookup = (productKey: string, deviceName: string) => string | undefined;

/** Options for {@link verifyCredentials}. */
export interface VerifyOptions {
  /**
   * The transport the CONNECT came over. When given, the announced securemode must match it
   * (2 for `tls`, 3 for `tcp`); when left out, either is accepted.
   */
  readonly transport?: Transport | undefined;
}

/** Why verification failed. Each maps to a CONNACK code through {@link connackCodeForVerifyFailure}. */
export type VerifyFailureReason =
  | ClientIdParseFailure
  /** The user name is missing or not `deviceName&productKey`. */
  | 'malformed-username'
  /** `lookupSecret` knows no such productKey and deviceName. */
  | 'unknown-device'
  /** The password is missing, not hex of the method's length, or not the expected HMAC. */
  | 'bad-signature'
  /** securemode 2 over plain TCP, or 3 over TLS. */
  | 'securemode-mismatch';

/** A CONNECT whose credentials hold up. */
export interface VerifySuccess {
  readonly ok: true;
  readonly productKey: string;
  readonly deviceName: string;
  /** The bare clientId, without the extension. */
  readonly clientId: string;
  readonly signMethod: SignMethod;
  readonly secureMode: SecureMode;
  /** Milliseconds, when the extension carried a timestamp. */
  readonly timestamp?: number;
}

/** A CONNECT refused; `message` explains it for a log and never holds the password or secret. */
export interface VerifyFailure {
  readonly ok: false;
  readonly reason: VerifyFailureReason;
  readonly message: string;
}

/** The outcome of {@link verifyCredentials}. */
export type VerifyResult = VerifySuccess | VerifyFailure;

/**
 * Checks CONNECT credentials the way the platform does: reads the clientId extension (unknown
 * fields such as `_v`, `lan`, `ext`, `_ss`, `gw` are ignored; no `signmethod` means `hmacmd5`),
 * reads the user name `deviceName&productKey`, checks the securemode against the transport,
 * looks the secret up, recomputes the HMAC for the announced method over the bare clientId and
 * compares it with the password in constant time. Hex is accepted in either case.
 *
 * Checks run in that order and the first failure is returned.
 */
export function verifyCredentials(
  presented: PresentedCredentials,
  lookupSecret: SecretLookup,
  options: VerifyOptions = {},
): VerifyResult {
  const parsed = parseClientId(presented.clientId);
  if (!parsed.ok) return parsed;

  const username = presented.username;
  const amp = username === undefined ? -1 : username.indexOf('&');
  if (username === undefined || amp <= 0 || amp === username.length - 1 || username.indexOf('&', amp + 1) >= 0) {
    return fail('malformed-username', 'the user name must be deviceName&productKey');
  }
  const deviceName = username.slice(0, amp);
  const productKey = username.slice(amp + 1);

  if (options.transport !== undefined && parsed.secureMode !== secureModeFor(options.transport)) {
    return fail(
      'securemode-mismatch',
      `securemode=${parsed.secureMode} announces ${parsed.secureMode === 2 ? 'TLS' : 'TCP'} but the connection is ${options.transport.toUpperCase()}`,
    );
  }

  const secret = lookupSecret(productKey, deviceName);
  if (secret === undefined || secret === '') {
    return fail('unknown-device', `no device ${deviceName} in product ${productKey}`);
  }

  const presentedDigest = hexBytes(presented.password, SIGNATURE_HEX_LENGTH[parsed.signMethod]);
  if (presentedDigest === undefined) {
    return fail(
      'bad-signature',
      `the password is not ${SIGNATURE_HEX_LENGTH[parsed.signMethod]} hex digits, as ${parsed.signMethod} gives`,
    );
  }
  const content = signContent({ clientId: parsed.clientId, deviceName, productKey, timestamp: parsed.timestamp });
  const expected = hmacDigest(parsed.signMethod, secret, content);
  if (!nodeCrypto().timingSafeEqual(presentedDigest, expected)) {
    return fail('bad-signature', `the password is not the ${parsed.signMethod} signature for ${username}`);
  }
  return {
    ok: true,
    productKey,
    deviceName,
    clientId: parsed.clientId,
    signMethod: parsed.signMethod,
    secureMode: parsed.secureMode,
    ...(parsed.timestamp === undefined ? {} : { timestamp: Number(parsed.timestamp) }),
  };
}

function fail(reason: VerifyFailureReason, message: string): VerifyFailure {
  return { ok: false, reason, message };
}

/** The bytes a hex password stands for, when it is exactly `digits` hex digits of either case. */
function hexBytes(password: string | Uint8Array | undefined, digits: number): Buffer | undefined {
  if (password === undefined) return undefined;
  const text = typeof password === 'string' ? password : Buffer.from(password).toString('latin1');
  if (text.length !== digits || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  return Buffer.from(text, 'hex');
}

/**
 * The CONNACK return code the platform answers each verification failure with:
 *
 * | reason | code | why |
 * | --- | --- | --- |
 * | `malformed-client-id`, `malformed-extension` | 2 | identifier rejected: malformed clientId or extension |
 * | `bad-sign-method` | 2 | an unknown `signmethod` value makes the extension malformed; a known but wrong method shows up as 4 |
 * | `securemode-mismatch` | 3 | a well-formed extension with the wrong value: the page's "bad clientId extension" under code 3 |
 * | `malformed-username`, `bad-signature` | 4 | bad user name or password |
 * | `unknown-device` | 5 | not authorized: wrong productKey/deviceName triple |
 */
export function connackCodeForVerifyFailure(reason: VerifyFailureReason): Exclude<ConnectReturnCode, 0> {
  return CONNACK_FOR_REASON[reason];
}

const CONNACK_FOR_REASON: Readonly<Record<VerifyFailureReason, Exclude<ConnectReturnCode, 0>>> = {
  'malformed-client-id': 2,
  'malformed-extension': 2,
  'bad-sign-method': 2,
  'securemode-mismatch': 3,
  'malformed-username': 4,
  'bad-signature': 4,
  'unknown-device': 5,
};
