/**
 * X.509 mode's half of admission: who a device is by the certificate it presented. The device
 * CA must have issued the certificate (the TLS layer checked the chain and the dates), the
 * certificate must name a registered device, and the CONNECT's user name, when it names a device
 * at all, must name the same one. The password is not looked at: the platform "no longer
 * verifies the signature" of a certificate device (see `src/aliyun/x509.ts` for the sources).
 */
import type { TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { RefusedReturnCode } from '../../aliyun/connack.js';
import type { ConnectPacket } from '../../packet/types.js';
import { parseClientId } from '../../sign/extension.js';
import { deviceKey } from '../options.js';
import type { ResolvedEmulatorOptions } from '../options.js';
import type { RefuseReason } from '../types.js';
import { DEVICE_ORGANIZATION, deviceOfCertificate } from './ca.js';
import type { DeviceCa } from './ca.js';

/** What the TLS handshake established about a device's certificate. */
export interface PresentedCertificate {
  /** The device CA vouches for it, and it is within its dates. */
  readonly verified: boolean;
  /** Why not: `not-issued` (by the device CA), `expired`, `not-yet-valid`. */
  readonly problem: 'not-issued' | 'expired' | 'not-yet-valid' | undefined;
  /** For messages: the certificate's subject as `O=..., OU=..., CN=...`. */
  readonly subject: string;
  /** The device it names, if the stand-in issued it. */
  readonly device: { readonly productKey: string; readonly deviceName: string } | undefined;
}

/**
 * The certificate a device presented on `socket`, or `undefined` when it presented none. The
 * handshake proved the device holds the certificate's key; whether the device CA issued it, and
 * whether it is within its dates, is checked here, as a device registry would (a bare server-side
 * TLSSocket leaves `authorized` unset).
 */
export function presentedCertificate(socket: TLSSocket, ca: DeviceCa, now: number = Date.now()): PresentedCertificate | undefined {
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) return undefined;
  return {
    verified: problemOf(certificate, ca, now) === undefined,
    problem: problemOf(certificate, ca, now),
    subject: certificate.subject.replace(/\n/g, ', '),
    device: deviceOfCertificate(socket.getPeerCertificate()),
  };
}

function problemOf(certificate: X509Certificate, ca: DeviceCa, now: number): PresentedCertificate['problem'] {
  if (!ca.issued(certificate)) return 'not-issued';
  if (now > Date.parse(certificate.validTo)) return 'expired';
  if (now < Date.parse(certificate.validFrom)) return 'not-yet-valid';
  return undefined;
}

/** The verdict on a CONNECT that came with a certificate. */
export type CertificateAdmission =
  | { readonly ok: true; readonly productKey: string; readonly deviceName: string; readonly clientId: string }
  | { readonly ok: false; readonly returnCode: RefusedReturnCode; readonly reason: RefuseReason; readonly message: string };

const PROBLEMS: Readonly<Record<NonNullable<PresentedCertificate['problem']>, string>> = {
  'not-issued': "was not issued by the stand-in's device CA",
  expired: 'has expired',
  'not-yet-valid': 'is not valid yet',
};

export function admitByCertificate(connect: ConnectPacket, presented: PresentedCertificate, options: ResolvedEmulatorOptions): CertificateAdmission {
  const rejected = (message: string): CertificateAdmission => ({ ok: false, returnCode: 5, reason: 'certificate-rejected', message });
  if (!presented.verified) {
    return rejected(`the certificate (${presented.subject}) ${PROBLEMS[presented.problem!]}; connect with one issueCertificate made`);
  }
  const device = presented.device;
  if (device === undefined) {
    return rejected(`the certificate (${presented.subject}) names no device: a device certificate names O=${DEVICE_ORGANIZATION}, OU=productKey, CN=deviceName`);
  }
  const { productKey, deviceName } = device;
  if (!options.devices.has(deviceKey(productKey, deviceName))) {
    return rejected(`the certificate is device ${deviceName} of product ${productKey}, which is not registered; add it to devices`);
  }
  const parsed = parseClientId(connect.clientId);
  if (!parsed.ok) return { ok: false, returnCode: 2, reason: parsed.reason, message: parsed.message };
  if (parsed.secureMode !== 2) {
    return { ok: false, returnCode: 3, reason: 'securemode-mismatch', message: `the clientId announces securemode=${parsed.secureMode} over TLS; a certificate device announces securemode=2` };
  }
  // The user name is `deviceName&productKey` once the device knows who it is, `&` (or nothing) before.
  const username = connect.username ?? '';
  if (username !== '' && username !== '&' && username !== `${deviceName}&${productKey}`) {
    return rejected(
      `the user name names another device than the certificate (device ${deviceName} of product ${productKey}): ` +
        `give ${deviceName}&${productKey}, or & while the device does not know who it is`,
    );
  }
  return { ok: true, productKey, deviceName, clientId: parsed.clientId };
}
