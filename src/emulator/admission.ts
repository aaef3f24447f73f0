/**
 * Admission: the platform's verdict on a CONNECT. Which device it is, and whether the platform
 * would let it in; who else is online is the presence's business, not this module's.
 */
import type { RefusedReturnCode } from '../aliyun/connack.js';
import { PLATFORM_LIMITS } from '../aliyun/limits.js';
import type { ConnectPacket } from '../packet/types.js';
import { connackCodeForVerifyFailure, verifyCredentials } from '../sign/verify.js';
import { redactSecrets } from './echo.js';
import { deviceKey } from './options.js';
import type { ResolvedEmulatorOptions } from './options.js';
import type { DeviceRegistry, RegisteredDevice } from './registry.js';
import type { RefuseReason } from './types.js';
import { admitByCertificate } from './x509/admission.js';
import type { PresentedCertificate } from './x509/admission.js';

/** The verdict on a CONNECT. */
export type Admission =
  | {
      readonly ok: true;
      readonly productKey: string;
      readonly deviceName: string;
      readonly clientId: string;
      readonly authentication: 'secret' | 'certificate';
    }
  | { readonly ok: false; readonly returnCode: RefusedReturnCode; readonly reason: RefuseReason; readonly message: string };

/**
 * The platform's checks, in this order: an empty clientId (2), a will message (3), the
 * keepalive range (3), then who the device is: by the certificate it presented (X.509 mode), or
 * by the credentials as `verifyCredentials` reads them, with securemode held to this listener's
 * transport. A device the registry holds no usable secret for (not registered, registered but not
 * activated, disabled, deleted) is refused as unknown (5).
 */
export function admit(connect: ConnectPacket, options: ResolvedEmulatorOptions, registry: DeviceRegistry, presented?: PresentedCertificate): Admission {
  if (connect.clientId === '') {
    return refuse(2, 'empty-client-id', 'the clientId is empty; the platform needs the device id and its |securemode=...| extension [MQTT-3.1.3-8]');
  }
  if (connect.will !== undefined) {
    return refuse(3, 'will-not-supported', 'the CONNECT carries a will message; the platform has none (it reports a device going offline itself)');
  }
  const { minKeepalive, maxKeepalive } = PLATFORM_LIMITS;
  if (connect.keepalive < minKeepalive || connect.keepalive > maxKeepalive) {
    return refuse(3, 'keepalive-out-of-range', `keepalive ${connect.keepalive} s is outside the platform's ${minKeepalive}..${maxKeepalive} s`);
  }
  if (presented !== undefined) {
    const byCertificate = admitByCertificate(connect, presented, options);
    return byCertificate.ok ? { ...byCertificate, authentication: 'certificate' } : byCertificate;
  }
  const certificateOnly = certificateOnlyDevice(connect, options);
  if (certificateOnly !== undefined) {
    return refuse(5, 'certificate-required', `device ${certificateOnly} has no secret: it authenticates by its certificate; connect with the one issueCertificate made`);
  }
  let registered: RegisteredDevice | undefined;
  const verdict = verifyCredentials(
    connect,
    (productKey, deviceName) => {
      registered = registry.get(productKey, deviceName);
      return registry.connectSecret(productKey, deviceName);
    },
    { transport: options.tls ? 'tls' : 'tcp' },
  );
  if (!verdict.ok) {
    const said = verdict.reason === 'unknown-device' && registered !== undefined ? unusable(registered) : verdict.message;
    // The verdict quotes the CONNECT's fields; a device that put a secret in the wrong one must not see it logged.
    const message = redactSecrets(said, knownSecrets(connect, registry));
    return refuse(connackCodeForVerifyFailure(verdict.reason), verdict.reason, message);
  }
  return { ok: true, productKey: verdict.productKey, deviceName: verdict.deviceName, clientId: verdict.clientId, authentication: 'secret' };
}

/** The registered device the user name names, when it has no secret (X.509 mode); as `lamp of a1Demo`. */
function certificateOnlyDevice(connect: ConnectPacket, options: ResolvedEmulatorOptions): string | undefined {
  if (options.x509 === undefined) return undefined;
  const [deviceName, productKey, ...rest] = (connect.username ?? '').split('&');
  if (deviceName === undefined || productKey === undefined || rest.length > 0) return undefined;
  const device = options.devices.get(deviceKey(productKey, deviceName));
  return device !== undefined && device.deviceSecret === undefined ? `${deviceName} of ${productKey}` : undefined;
}

/** Why a registered device cannot connect, the console's words for CONNACK 5. */
function unusable(device: RegisteredDevice): string {
  const what = `device ${device.deviceName} of product ${device.productKey}`;
  if (device.status !== 'enabled') return `${what} is ${device.status} in the console`;
  return `${what} is registered but not activated: it has no DeviceSecret yet (dynamic registration hands one out)`;
}

/** The CONNECT's password and every registered device's secret. */
function* knownSecrets(connect: ConnectPacket, registry: DeviceRegistry): Generator<string | undefined> {
  if (connect.password !== undefined) yield Buffer.from(connect.password).toString('utf8');
  yield* registry.secrets();
}

function refuse(returnCode: RefusedReturnCode, reason: RefuseReason, message: string): Admission {
  return { ok: false, returnCode, reason, message };
}
