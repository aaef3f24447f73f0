/**
 * The vocabulary of the platform's CONNECT credentials: sign methods, secure modes and the
 * transport each secure mode stands for.
 */

/** The HMAC variants the platform accepts in the clientId extension's `signmethod` field. */
export type SignMethod = 'hmacmd5' | 'hmacsha1' | 'hmacsha256';

/** Every {@link SignMethod}, in the order the platform's page lists them. */
export const SIGN_METHODS: readonly SignMethod[] = ['hmacmd5', 'hmacsha1', 'hmacsha256'];

/** `securemode` in the clientId extension: `2` is TLS direct, `3` is plain TCP direct. */
export type SecureMode = 2 | 3;

/** Every {@link SecureMode}. */
export const SECURE_MODES: readonly SecureMode[] = [2, 3];

/** How the bytes travel: TLS over TCP, or plain TCP. */
export type Transport = 'tls' | 'tcp';

/**
 * The `securemode` that announces a transport: `tls` is 2, `tcp` is 3. The platform learns TLS
 * versus plain TCP from this value, not from the port, so it must follow the transport in use.
 */
export function secureModeFor(transport: Transport): SecureMode {
  return transport === 'tls' ? 2 : 3;
}

/**
 * What goes into CONNECT: the clientId with its `|...|` extension, the user name
 * `deviceName&productKey`, and the password (upper-case hex HMAC).
 *
 * Objects of this type made by this library print the password as `[redacted]` in `toString`,
 * `util.inspect` (so `console.log`) and `JSON.stringify`; read `.password` to use it.
 */
export interface MqttCredentials {
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
}
