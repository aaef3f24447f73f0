/*
 * The connection of a device registered without pre-registration (`authType=regnwl`): TLS, the
 * clientId the registration issued followed by `|securemode=-2,authType=connwl|`, the user name
 * `deviceName&productKey`, and the DeviceToken as the password (C Link SDK 4.x
 * `components/dynreg-mqtt/aiot_dynregmq_api.c` `_dynregmq_recv_handler`; formats in
 * `src/aliyun/register/mqtt.ts` `tokenConnectCredentials`).
 */
import { ConfigurationError } from '../shared/errors.js';
import { requireText } from '../shared/validate.js';
import { withHiddenSecrets } from '../sign/redact.js';
import { deviceConnectionOptions } from '../aliyun/connection.js';
import type { DeviceOptions, PlatformConnectionOptions } from '../aliyun/connection.js';
import { tokenConnectCredentials } from '../aliyun/register/mqtt.js';
import type { SignIn } from './identity.js';

/** A device's options with a token instead of a secret. */
export type TokenDeviceOptions = Omit<DeviceOptions, 'deviceSecret'> & { readonly deviceToken: string };

/**
 * The connection options of a token device: the endpoint, family, SNI and CA as any device's,
 * the credentials of the token connection.
 *
 * @throws ConfigurationError naming the field: no clientId (the one the registration issued), a
 *   transport other than TLS, a sign method or timestamp (a token connection signs nothing).
 */
export function tokenConnectionOptions(options: TokenDeviceOptions): PlatformConnectionOptions {
  const deviceToken = requireText('deviceToken', options.deviceToken, 'give the DeviceToken the registration returned');
  requireText('clientId', options.clientId, 'give the clientId the registration returned with the token');
  if (options.transport !== undefined && options.transport !== 'tls') {
    throw new ConfigurationError('transport', "a token connection is TLS only (securemode=-2); leave transport out or use 'tls'");
  }
  for (const field of ['signMethod', 'timestamp'] as const) {
    if (options[field] !== undefined) throw new ConfigurationError(field, 'a token connection signs nothing: the token is the password; leave it out');
  }
  // The endpoint rules are a device's; the signature made with the token as secret is replaced.
  const { clientId: _c, username: _u, password: _p, ...connection } = deviceConnectionOptions({ ...options, deviceSecret: deviceToken, transport: 'tls', timestamp: false });
  const credentials = tokenConnectCredentials({ productKey: options.productKey, deviceName: options.deviceName, clientId: options.clientId!, deviceToken });
  return withHiddenSecrets(
    { ...connection, clientId: credentials.clientId, username: credentials.username, password: credentials.password },
    ['password'],
    ['ca'],
  );
}

/** What {@link tokenSignIn} reads of `connectDevice`'s options. */
export interface TokenSignInOptions extends TokenDeviceOptions {
  readonly deviceSecret?: string | undefined;
  readonly cert?: unknown;
  readonly pfx?: unknown;
}

/**
 * How a token device signs in, for `connectDevice`: its token connection, and its identity.
 *
 * @throws ConfigurationError for a token together with a secret or a certificate, and as
 *   {@link tokenConnectionOptions} does.
 */
export function tokenSignIn(options: TokenSignInOptions): SignIn {
  for (const field of ['deviceSecret', 'cert', 'pfx'] as const) {
    if (options[field] !== undefined) {
      throw new ConfigurationError(
        field === 'deviceSecret' ? 'deviceToken' : field,
        'a device signs in with its DeviceToken, its secret or its certificate: give one (a token comes from a registration without pre-registration)',
      );
    }
  }
  return { certificate: false, connection: tokenConnectionOptions(options), identity: { productKey: options.productKey, deviceName: options.deviceName } };
}
