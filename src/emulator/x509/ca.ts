/**
 * The stand-in's device CA: it issues a registered device its certificate, as the platform does
 * for a device of an X.509 product, and names the device in it, so that the certificate a device
 * presents tells the stand-in who it is. The certificate is built here byte by byte (Node can
 * sign, not build certificates) and signed with the CA's key.
 *
 * A device certificate's subject is `O=aliot-mqtt stand-in device, OU=<productKey>,
 * CN=<deviceName>`; it is valid while the CA is (2020 to 2120 for the shipped CA), for client
 * authentication only, with a fresh EC P-256 key.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { nodeCrypto } from '../../shared/builtins.js';
import { ConfigurationError } from '../../shared/errors.js';
import { forbidCharacters, requireText } from '../../shared/validate.js';
import {
  bitString,
  booleanTrue,
  children,
  explicit,
  implicit,
  nullValue,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.js';
import type { Element } from './der.js';
import { DEVICE_CA_DIRECTORY } from '../device-ca-files.js';

/** A device certificate and its private key, in PEM. The key is the device's secret: keep it so. */
export interface DeviceCertificate {
  readonly cert: string;
  readonly key: string;
}

/** The organization every device certificate of the stand-in names; `OU` and `CN` name the device. */
export const DEVICE_ORGANIZATION = 'aliot-mqtt stand-in device';


const OID = {
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

export class DeviceCa {
  /** The CA's certificate in PEM: what a server that authenticates devices by it trusts. */
  readonly pem: string;
  readonly #certificate: X509Certificate;
  readonly #key: KeyObject;
  /** The CA's subject, exactly as it must appear as each certificate's issuer. */
  readonly #subject: Buffer;
  /** The CA's subject key identifier, when it has one: each certificate names it as its authority key. */
  readonly #keyId: Buffer | undefined;

  private constructor(pem: string, certificate: X509Certificate, key: KeyObject) {
    this.pem = pem;
    this.#certificate = certificate;
    this.#key = key;
    const tbs = children(children(certificate.raw)[0]!.content)[0]!;
    const fields = children(tbs.content);
    const offset = fields[0]!.tag === 0xa0 ? 1 : 0; // the [0] version is absent in a v1 certificate
    this.#subject = Buffer.from(fields[offset + 4]!.whole);
    this.#keyId = subjectKeyId(fields);
  }

  /**
   * A CA from its certificate and private key in PEM.
   *
   * @throws ConfigurationError (`x509.cert`, `x509.key`) when the certificate is not a CA's, the key
   *   is not its key, or the key is of a kind this does not sign with (it signs with EC and RSA keys).
   */
  static fromPem(cert: string | Buffer, key: string | Buffer): DeviceCa {
    const crypto = nodeCrypto();
    let certificate: X509Certificate;
    let privateKey: KeyObject;
    try {
      certificate = new crypto.X509Certificate(cert);
    } catch (cause) {
      throw new ConfigurationError('x509.cert', `the device CA's certificate does not parse (${(cause as Error).message}); give its PEM`);
    }
    try {
      privateKey = crypto.createPrivateKey(key);
    } catch {
      throw new ConfigurationError('x509.key', "the device CA's private key does not parse; give its PEM (unencrypted)");
    }
    if (!certificate.ca) throw new ConfigurationError('x509.cert', 'is not a CA certificate (basicConstraints CA:TRUE): it cannot issue device certificates');
    if (!certificate.checkPrivateKey(privateKey)) throw new ConfigurationError('x509.key', "is not the device CA certificate's private key");
    if (!['ec', 'rsa'].includes(privateKey.asymmetricKeyType ?? '')) {
      throw new ConfigurationError('x509.key', `is a ${privateKey.asymmetricKeyType ?? 'unknown'} key; the stand-in signs with EC or RSA keys`);
    }
    return new DeviceCa(certificate.toString(), certificate, privateKey);
  }

  /** The CA shipped in `certs/emulator` (public on purpose: see its README). */
  static async shipped(): Promise<DeviceCa> {
    const read = async (name: string): Promise<string> => {
      const url = new URL(name, DEVICE_CA_DIRECTORY);
      try {
        return await readFile(url, 'utf8');
      } catch (cause) {
        throw new ConfigurationError('x509', `cannot read the stand-in's device CA ${fileURLToPath(url)} (${(cause as Error).message}); pass x509: { cert, key } with your own`);
      }
    };
    const [cert, key] = await Promise.all([read('device-ca.pem'), read('device-ca.key')]);
    return DeviceCa.fromPem(cert, key);
  }

  /**
   * Issues `device` a certificate naming it, with a new key: what the platform's console hands a
   * device of an X.509 product.
   *
   * @throws ConfigurationError for a productKey or deviceName that is empty or holds `/`, `+`,
   *   `#` or `&` (no registered device can).
   */
  issue(device: { readonly productKey: string; readonly deviceName: string }): DeviceCertificate {
    const why = "'/', '+' and '#' would break its topics and '&' its user name";
    const productKey = requireText('productKey', device.productKey, 'the productKey of a registered device');
    forbidCharacters('productKey', productKey, ['/', '+', '#', '&'], why);
    const deviceName = requireText('deviceName', device.deviceName, 'the deviceName of a registered device');
    forbidCharacters('deviceName', deviceName, ['/', '+', '#', '&'], why);

    const crypto = nodeCrypto();
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const subject = sequence(
      rdn(OID.organization, DEVICE_ORGANIZATION),
      rdn(OID.organizationalUnit, productKey),
      rdn(OID.commonName, deviceName),
    );
    const serial = crypto.randomBytes(16);
    serial[0] = serial[0]! & 0x7f; // positive, and at most 16 bytes as RFC 5280 asks
    const [algorithm, sign] = this.#signer();
    const extensions = [
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)), // digitalSignature
      extension(OID.extendedKeyUsage, false, sequence(oid(OID.clientAuth))),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdOf(spki))),
      ...(this.#keyId === undefined ? [] : [extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, this.#keyId)))]),
    ];
    const tbs = sequence(
      explicit(0, smallInteger(2)), // v3
      unsignedInteger(serial),
      algorithm,
      this.#subject,
      sequence(time(this.#certificateDate('validFrom')), time(this.#certificateDate('validTo'))),
      subject,
      spki,
      explicit(3, sequence(...extensions)),
    );
    const der = sequence(tbs, algorithm, bitString(sign(tbs)));
    return Object.freeze({
      cert: pem('CERTIFICATE', der),
      key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
  }

  /** Whether this CA issued `certificate` (its signature checks out against the CA's key). */
  issued(certificate: X509Certificate): boolean {
    return certificate.checkIssued(this.#certificate) && certificate.verify(this.#certificate.publicKey);
  }

  /** The device certificates' validity: the CA's own. */
  #certificateDate(which: 'validFrom' | 'validTo'): Date {
    return new Date(this.#certificate[which]);
  }

  /** The signature algorithm as the certificate names it, and the function that signs with the CA's key. */
  #signer(): [algorithm: Buffer, sign: (data: Buffer) => Buffer] {
    const crypto = nodeCrypto();
    const key = this.#key;
    switch (key.asymmetricKeyType) {
      case 'ec':
        return [sequence(oid(OID.ecdsaWithSha256)), (data) => crypto.sign('sha256', data, { key, dsaEncoding: 'der' })];
      default: // RSA, PKCS#1 v1.5 (fromPem lets no other kind in)
        return [sequence(oid(OID.sha256WithRsa), nullValue()), (data) => crypto.sign('sha256', data, key)];
    }
  }
}

/**
 * The device a certificate names, if the stand-in issued it: `OU` is the productKey and `CN` the
 * deviceName under {@link DEVICE_ORGANIZATION}; `undefined` for any other certificate.
 */
export function deviceOfCertificate(certificate: PeerCertificate): { productKey: string; deviceName: string } | undefined {
  const { O, OU, CN } = certificate.subject ?? {};
  const one = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  if (one(O) !== DEVICE_ORGANIZATION) return undefined;
  const productKey = one(OU);
  const deviceName = one(CN);
  return productKey === undefined || deviceName === undefined ? undefined : { productKey, deviceName };
}

/** One relative distinguished name of a single attribute. */
function rdn(type: string, value: string): Buffer {
  return set(sequence(oid(type), utf8String(value)));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [booleanTrue()] : []), octetString(value));
}

/** RFC 5280's method (1): the SHA-1 of the subjectPublicKey bits, as OpenSSL's `subjectKeyIdentifier=hash`. */
function keyIdOf(spki: Buffer): Buffer {
  const bits = children(children(spki)[0]!.content)[1]!.content.subarray(1);
  return nodeCrypto().createHash('sha1').update(bits).digest();
}

/** The keyIdentifier of a certificate's subjectKeyIdentifier extension, if it has one. */
function subjectKeyId(tbsFields: readonly Element[]): Buffer | undefined {
  const extensions = tbsFields.find((field) => field.tag === 0xa3);
  if (extensions === undefined) return undefined;
  const skiOid = oid(OID.subjectKeyIdentifier);
  for (const ext of children(children(extensions.content)[0]!.content)) {
    const parts = children(ext.content);
    if (!parts[0]!.whole.equals(skiOid)) continue;
    const value = parts[parts.length - 1]!.content; // the extnValue OCTET STRING holds an OCTET STRING
    return Buffer.from(children(value)[0]!.content);
  }
  return undefined;
}

function pem(label: string, der: Buffer): string {
  const body = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}
