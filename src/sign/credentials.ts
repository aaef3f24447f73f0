/**
 * The device side: turn a device's triple (productKey, deviceName, deviceSecret) into the clientId,
 * user name and password of CONNECT.
 */
import { ConfigurationError } from '../shared/errors.js';
import { signContent, signature } from './content.js';
import { clientIdProblem, formatClientId } from './extension.js';
import { withHiddenSecrets } from './redact.js';
import { SECURE_MODES, SIGN_METHODS } from './types.js';
import type { MqttCredentials, SecureMode, SignMethod } from './types.js';
import { describeValue, forbidCharacters, requireOneOf, requireText } from '../shared/validate.js';

/** What {@link signCredentials} needs. */
export interface SignInput {
  /** The product's ProductKey from the IoT Platform console. */
  readonly productKey: string;
  /** The device's DeviceName. */
  readonly deviceName: string;
  /** The device's DeviceSecret. Never printed in errors. */
  readonly deviceSecret: string;
  /**
   * The bare device id (MAC or serial number recommended): at most 64 characters, no `|`, `,`
   * or `=`. Default `${productKey}.${deviceName}`.
   */
  readonly clientId?: string | undefined;
  /**
   * Milliseconds since the epoch, a non-negative integer. Default `Date.now()`. `null` or `false`
   * leaves the timestamp out of both the clientId extension and the signed content. The platform
   * does not compare it with its clock, so a fixed value works.
   */
  readonly timestamp?: number | null | false | undefined;
  /** Default `hmacsha256`. */
  readonly signMethod?: SignMethod | undefined;
  /** `2` for TLS, `3` for plain TCP; default 2. Must match the transport actually used. */
  readonly secureMode?: SecureMode | undefined;
}

/**
 * CONNECT credentials for the platform: the clientId with its
 * `|securemode=..,signmethod=..,timestamp=..|` extension, the user name `deviceName&productKey`,
 * and the password, the upper-case hex HMAC (keyed with the deviceSecret) over the parameters
 * `clientId` (bare), `deviceName`, `productKey` and `timestamp`, sorted by name and written as
 * name then value.
 *
 * The returned object is frozen and prints its password as `[redacted]`.
 *
 * @throws ConfigurationError naming the field: an empty or non-string field, a clientId over 64
 *   characters or holding `|`, `,` or `=`, a productKey or deviceName holding `&`, an unknown
 *   sign method or secure mode, a negative or non-integer timestamp.
 *
 * @example
 * signCredentials({ clientId: '12345', deviceName: 'device', productKey: 'pk', deviceSecret: 'secret',
 *   timestamp: 789, signMethod: 'hmacsha1', secureMode: 3 })
 * // { clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=789|', username: 'device&pk',
 * //   password: 'FAFD82A3D602B37FB0FA8B7892F24A477F851A14' }
 */
export function signCredentials(input: SignInput): MqttCredentials {
  if (typeof input !== 'object' || input === null) {
    throw new ConfigurationError('credentials', 'expected an object with productKey, deviceName and deviceSecret');
  }
  const productKey = requireText('productKey', input.productKey, "use the product's ProductKey from the console");
  forbidCharacters('productKey', productKey, ['&'], "'&' separates deviceName and productKey in the user name");
  const deviceName = requireText('deviceName', input.deviceName, "use the device's DeviceName from the console");
  forbidCharacters('deviceName', deviceName, ['&'], "'&' separates deviceName and productKey in the user name");
  const deviceSecret = requireText('deviceSecret', input.deviceSecret, "use the device's DeviceSecret from the console");
  const clientId = bareClientId(input.clientId, productKey, deviceName);
  const timestamp = timestampText(input.timestamp);
  const signMethod = requireOneOf('signMethod', input.signMethod ?? 'hmacsha256', SIGN_METHODS);
  const secureMode = requireOneOf('secureMode', input.secureMode ?? 2, SECURE_MODES);

  const content = signContent({ clientId, deviceName, productKey, timestamp });
  return withHiddenSecrets(
    {
      clientId: formatClientId(clientId, { secureMode, signMethod, timestamp }),
      username: `${deviceName}&${productKey}`,
      password: signature(signMethod, deviceSecret, content),
    },
    ['password'],
  );
}

function bareClientId(given: unknown, productKey: string, deviceName: string): string {
  if (given === undefined) {
    const derived = `${productKey}.${deviceName}`;
    const problem = clientIdProblem(derived);
    if (problem !== undefined) {
      throw new ConfigurationError('clientId', `pass a clientId option: the default ${JSON.stringify(derived)} ${problem}`);
    }
    return derived;
  }
  if (typeof given !== 'string') {
    throw new ConfigurationError('clientId', 'expected a string; use the device MAC or serial number');
  }
  const problem = clientIdProblem(given);
  if (problem !== undefined) throw new ConfigurationError('clientId', problem);
  return given;
}

function timestampText(given: unknown): string | undefined {
  if (given === null || given === false) return undefined;
  const value = given === undefined ? Date.now() : given;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigurationError(
      'timestamp',
      `got ${describeValue(given)}; give milliseconds since the epoch as a non-negative integer (e.g. Date.now()), or null to leave it out`,
    );
  }
  return String(value);
}
