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
      /** A registration connection: what to send after CONNACK 0, before closing it. */
      readonly registration?: { readonly authType: 'register' | 'regnwl'; readonly topic: string; readonly payload: string } | undefined;
    }
  | { readonly ok: false; readonly returnCode: RefusedReturnCode; readonly reason: RefuseReason; readonly message: string };

/** What admission asks of the cloud side: dynamic registration, and the secrets it holds. */
export interface AdmissionCloud {
  /** The verdict on a registration CONNECT (keepalive unchecked, as on the platform), or `undefined` for any other. */
  registration(connect: ConnectPacket, tls: boolean): Admission | undefined;
  /** The verdict on a token CONNECT (`authType=connwl`), or `undefined` for any other. */
  token(connect: ConnectPacket, tls: boolean): Admission | undefined;
  /** Every secret the cloud holds beyond the registry's (product secrets, tokens), kept out of messages. */
  secrets(): Iterable<string>;
}

/**
 * The platform's checks, in this order: an empty clientId (2), a will message (3), a
 * registration CONNECT (decided by the cloud, keepalive unchecked), the keepalive range (3),
 * then who the device is: by the certificate it presented (X.509 mode), by a token (a device
 * registered without pre-registration, decided by the cloud), or by the credentials as
 * `verifyCredentials` reads them, with securemode held to this listener's transport. A device the
 * registry holds no usable secret for (not registered, registered but not activated, disabled,
 * deleted) is refused as unknown (5). No refusal's message quotes a secret the stand-in knows.
 */
export function admit(connect: ConnectPacket, options: ResolvedEmulatorOptions, registry: DeviceRegistry, presented?: PresentedCertificate, cloud?: AdmissionCloud): Admission {
  const verdict = admitByRule(connect, options, registry, presented, cloud);
  if (verdict.ok) return verdict;
  // The verdict quotes the CONNECT's fields; a device that put a secret in the wrong one must not see it logged.
  return { ...verdict, message: redactSecrets(verdict.message, knownSecrets(connect, registry, cloud)) };
}

function admitByRule(
  connect: ConnectPacket,
  options: ResolvedEmulatorOptions,
  registry: DeviceRegistry,
  presented: PresentedCertificate | undefined,
  cloud: AdmissionCloud | undefined,
): Admission {
  if (connect.clientId === '') {
    return refuse(2, 'empty-client-id', 'the clientId is empty; the platform needs the device id and its |securemode=...| extension [MQTT-3.1.3-8]');
  }
  if (connect.will !== undefined) {
    return refuse(3, 'will-not-supported', 'the CONNECT carries a will message; the platform has none (it reports a device going offline itself)');
  }
  const tls = options.tls !== undefined;
  const registration = cloud?.registration(connect, tls);
  if (registration !== undefined) return registration;
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
  const token = cloud?.token(connect, tls);
  if (token !== undefined) return token;
  let registered: RegisteredDevice | undefined;
  const verdict = verifyCredentials(
    connect,
    (productKey, deviceName) => {
      registered = registry.get(productKey, deviceName);
      return registry.connectSecret(productKey, deviceName);
    },
    { transport: tls ? 'tls' : 'tcp' },
  );
  if (!verdict.ok) {
    const said = verdict.reason === 'unknown-device' && registered !== undefined ? unusable(registered) : verdict.message;
    return refuse(connackCodeForVerifyFailure(verdict.reason), verdict.reason, said);
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

/** The CONNECT's password, every registered device's secret, and the secrets the cloud holds. */
function* knownSecrets(connect: ConnectPacket, registry: DeviceRegistry, cloud: AdmissionCloud | undefined): Generator<string | undefined> {
  if (connect.password !== undefined) yield Buffer.from(connect.password).toString('utf8');
  yield* registry.secrets();
  if (cloud !== undefined) yield* cloud.secrets();
}

function refuse(returnCode: RefusedReturnCode, reason: RefuseReason, message: string): Admission {
  return { ok: false, returnCode, reason, message };
}
