/**
 * The clientId extension, `12345|securemode=3,signmethod=hmacsha1,timestamp=789|`: written by the
 * device, read back by the server.
 */
import { SIGN_METHODS } from './types.js';
import type { SecureMode, SignMethod } from './types.js';
import { utf8Length } from '../shared/validate.js';

/** The platform's limit on the bare clientId, in characters (counted as UTF-8 bytes here). */
export const MAX_CLIENT_ID_LENGTH = 64;

/** Characters a bare clientId must not hold: they delimit the extension. */
export const CLIENT_ID_FORBIDDEN: readonly string[] = ['|', ',', '='];

/**
 * Why `clientId` cannot be a bare clientId, or `undefined` when it can: it must be non-empty, at
 * most 64 characters (counted as UTF-8 bytes, the stricter reading, equal for ASCII) and free of
 * `|`, `,` and `=`. The text says how to fix it.
 */
export function clientIdProblem(clientId: string): string | undefined {
  if (clientId.length === 0) return 'must not be empty; use the device MAC or serial number';
  const bytes = utf8Length(clientId);
  if (bytes > MAX_CLIENT_ID_LENGTH) {
    return `is ${bytes} characters, the platform allows at most ${MAX_CLIENT_ID_LENGTH}; use a shorter id such as the MAC or serial number`;
  }
  const found = CLIENT_ID_FORBIDDEN.find((character) => clientId.includes(character));
  if (found !== undefined) {
    return `must not contain '${found}' ('|', ',' and '=' delimit the clientId extension); remove it`;
  }
  return undefined;
}

/** What the extension announces. `timestamp` is the text as sent, since the signature covers it. */
export interface ClientIdExtension {
  readonly secureMode: SecureMode;
  readonly signMethod: SignMethod;
  readonly timestamp?: string | undefined;
}

/**
 * The full CONNECT clientId: the bare id, then `|securemode=..,signmethod=..[,timestamp=..]|`,
 * fields in that order, no spaces. The bare id must already be valid ({@link clientIdProblem}).
 */
export function formatClientId(clientId: string, extension: ClientIdExtension): string {
  const fields = [`securemode=${extension.secureMode}`, `signmethod=${extension.signMethod}`];
  if (extension.timestamp !== undefined) fields.push(`timestamp=${extension.timestamp}`);
  return `${clientId}|${fields.join(',')}|`;
}

/** Why a clientId could not be read, from the server's point of view. */
export type ClientIdParseFailure = 'malformed-client-id' | 'malformed-extension' | 'bad-sign-method';

/** The outcome of {@link parseClientId}. */
export type ParsedClientId =
  | {
      readonly ok: true;
      /** The bare id, without the extension. */
      readonly clientId: string;
      readonly secureMode: SecureMode;
      /** `hmacmd5` when the extension names none, as the platform assumes. */
      readonly signMethod: SignMethod;
      /** The timestamp text as sent (decimal digits), if any. */
      readonly timestamp: string | undefined;
      /** Every `name=value` field of the extension, known or not (`_v`, `lan`, `gw`, ...). */
      readonly fields: Readonly<Record<string, string>>;
    }
  | { readonly ok: false; readonly reason: ClientIdParseFailure; readonly message: string };

const KNOWN_FIELDS = new Set(['securemode', 'signmethod', 'timestamp']);

/**
 * Reads a CONNECT clientId the way the platform does. The extension is required and must hold
 * `securemode`: 2 (TLS), 3 (TCP), or -2, which the platform's page on MQTT-based dynamic
 * registration gives new public and Enterprise instances for the registration connection and the
 * token connection that follows it (`authType=connwl`): it means TLS, so it reads as `secureMode`
 * 2, and `fields.securemode` keeps `-2`. `signmethod` defaults to `hmacmd5` and is matched without regard to case;
 * `timestamp`, when present, must be decimal digits within JavaScript's safe integers. Unknown
 * fields are kept in `fields` and otherwise ignored. A field must be `name=value`; a known field
 * may appear once.
 */
export function parseClientId(fullClientId: string): ParsedClientId {
  const malformed = (message: string): ParsedClientId => ({ ok: false, reason: 'malformed-extension', message });
  const open = fullClientId.indexOf('|');
  if (open < 0) {
    return malformed('the clientId has no |securemode=...,signmethod=...| extension');
  }
  const clientId = fullClientId.slice(0, open);
  const problem = clientIdProblem(clientId);
  if (problem !== undefined) return { ok: false, reason: 'malformed-client-id', message: `clientId ${problem}` };
  const body = fullClientId.slice(open + 1);
  if (!body.endsWith('|') || body.indexOf('|') !== body.length - 1) {
    return malformed('the extension must be one |...| group at the end of the clientId');
  }
  const fields = new Map<string, string>();
  const text = body.slice(0, -1);
  for (const field of text === '' ? [] : text.split(',')) {
    const equals = field.indexOf('=');
    if (equals <= 0) return malformed(`extension field ${JSON.stringify(field)} is not name=value`);
    const name = field.slice(0, equals);
    if (fields.has(name) && KNOWN_FIELDS.has(name)) {
      return malformed(`extension field ${name} appears twice`);
    }
    fields.set(name, field.slice(equals + 1));
  }
  const secureMode = fields.get('securemode');
  if (secureMode !== '2' && secureMode !== '3' && secureMode !== '-2') {
    return malformed(
      secureMode === undefined
        ? 'the extension has no securemode (2 for TLS, 3 for TCP)'
        : `securemode=${secureMode} is not 2 (TLS), -2 (TLS, registration and token connections) or 3 (TCP)`,
    );
  }
  const methodText = fields.get('signmethod');
  const signMethod = methodText === undefined ? 'hmacmd5' : SIGN_METHODS.find((m) => m === methodText.toLowerCase());
  if (signMethod === undefined) {
    return {
      ok: false,
      reason: 'bad-sign-method',
      message: `signmethod=${methodText} is not one of ${SIGN_METHODS.join(', ')}`,
    };
  }
  const timestamp = fields.get('timestamp');
  if (timestamp !== undefined && !(/^\d+$/.test(timestamp) && Number.isSafeInteger(Number(timestamp)))) {
    return malformed(`timestamp=${timestamp} is not a decimal number of milliseconds`);
  }
  return {
    ok: true,
    clientId,
    // -2 announces TLS as 2 does; `fields.securemode` keeps the text as sent.
    secureMode: secureMode === '3' ? 3 : 2,
    signMethod,
    timestamp,
    fields: Object.fromEntries(fields),
  };
}
