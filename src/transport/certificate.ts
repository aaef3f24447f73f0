/**
 * The client's own certificate for mutual TLS: `cert` and `key` in PEM (the key perhaps encrypted
 * with `passphrase`), or a PKCS#12 `pfx`. Everything a certificate can be found wrong for before
 * a connection is checked here, once, with node:crypto: a certificate or key that does not parse,
 * a key that is not the certificate's, dates outside the certificate's validity, usages that
 * exclude client authentication. A server would refuse these too, but only after a round trip,
 * and with one alert number where this says what is wrong and what to do.
 *
 * The key is handed to OpenSSL once, in a secure context the connections share, and is kept in
 * no object of this library: what the resolved options show of a client certificate is its
 * public facts (subject, issuer, dates, fingerprint), and no error ever quotes a key, a
 * passphrase or a pfx.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import { nodeCrypto, nodeTls } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue } from '../shared/validate.js';

/** The client certificate options, as `tls.connect` takes them (one certificate chain and its key). */
export interface ClientCertificateOptions {
  /**
   * The client's certificate in PEM, as a string or bytes: the certificate first, then any
   * intermediate CA certificates the server needs to reach its trusted root. With `key`.
   */
  cert?: string | Uint8Array;
  /** The certificate's private key in PEM (PKCS#8, PKCS#1 or SEC1), perhaps encrypted. Never shown. */
  key?: string | Uint8Array;
  /** Decrypts an encrypted `key` or `pfx`. Never shown. */
  passphrase?: string;
  /** Certificate and key together in PKCS#12 (a `.p12`/`.pfx` file's bytes), instead of `cert` and `key`. Never shown. */
  pfx?: Uint8Array;
}

/** What may be shown of a client certificate: public facts only. */
export interface ClientCertificateSummary {
  /** e.g. `CN=dev-1,O=aliot`; from the certificate, which the server sees in clear anyway in TLS 1.2. */
  readonly subject: string;
  readonly issuer: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  /** SHA-256 fingerprint, colon-separated hex, as `X509Certificate#fingerprint256`. */
  readonly fingerprint256: string;
  /** Where it came from: `cert` and `key`, or `pfx`. */
  readonly source: 'pem' | 'pfx';
}

/** A checked client certificate: the facts to show, and the secure context that holds the key. */
export interface ResolvedClientCertificate {
  readonly summary: ClientCertificateSummary | undefined;
  /** Built with the trusted `ca` and TLS 1.2 as the floor, so that a connection needs nothing else. */
  readonly secureContext: SecureContext;
}

/** OIDs of the extended key usages a certificate may state. */
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_USAGE = '2.5.29.37.0';
const USAGE_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'server authentication',
  [CLIENT_AUTH]: 'client authentication',
  '1.3.6.1.5.5.7.3.3': 'code signing',
  '1.3.6.1.5.5.7.3.4': 'e-mail protection',
  '1.3.6.1.5.5.7.3.8': 'time stamping',
  '1.3.6.1.5.5.7.3.9': 'OCSP signing',
};

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;
const PEM_ENCRYPTED = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4, *ENCRYPTED/;

/**
 * Checks the client certificate options and builds the secure context that carries them;
 * `undefined` when none is given.
 *
 * @param ca the trusted roots the connection verifies the server with (Node's when undefined).
 * @param now milliseconds since the epoch: a certificate's dates are wall-clock dates.
 * @throws ConfigurationError naming `cert`, `key`, `passphrase` or `pfx`; never quoting them.
 */
export function resolveClientCertificate(
  options: ClientCertificateOptions,
  transport: 'tls' | 'tcp',
  ca: string | Buffer | Array<string | Buffer> | undefined,
  now: number = Date.now(),
): ResolvedClientCertificate | undefined {
  const { cert, key, passphrase, pfx } = options;
  if (cert === undefined && key === undefined && passphrase === undefined && pfx === undefined) return undefined;
  const given = pfx !== undefined ? 'pfx' : cert !== undefined ? 'cert' : key !== undefined ? 'key' : 'passphrase';
  if (transport !== 'tls') {
    throw new ConfigurationError(given, "a client certificate is presented in the TLS handshake: connect with transport: 'tls', or leave it out");
  }
  if (passphrase !== undefined && typeof passphrase !== 'string') {
    throw new ConfigurationError('passphrase', `expected a string, got ${describeValue(passphrase)}`);
  }
  if (pfx !== undefined) {
    if (cert !== undefined || key !== undefined) {
      throw new ConfigurationError('pfx', `holds the certificate and its key already; give either pfx or cert and key, not both (got ${cert !== undefined ? 'cert' : 'key'} too)`);
    }
    return fromPfx(pfx, passphrase, ca, now);
  }
  if (cert === undefined) {
    throw new ConfigurationError(key !== undefined ? 'cert' : 'passphrase', key !== undefined
      ? 'a key needs its certificate: give cert (PEM) too'
      : 'decrypts a key or a pfx; give key and cert, or pfx, with it');
  }
  if (key === undefined) {
    throw new ConfigurationError('key', "a client certificate needs its private key: give key (PEM) too, e.g. readFileSync('device.key')");
  }
  return fromPem(cert, key, passphrase, ca, now);
}

function fromPem(cert: unknown, key: unknown, passphrase: string | undefined, ca: CaOption, now: number): ResolvedClientCertificate {
  const certText = pemText('cert', cert);
  if (!certText.includes(PEM_CERTIFICATE)) {
    throw new ConfigurationError(
      'cert',
      PEM_PRIVATE_KEY.test(certText)
        ? 'holds a private key, not a certificate: pass the key as key, and the certificate (-----BEGIN CERTIFICATE-----) as cert'
        : 'holds no PEM certificate (no -----BEGIN CERTIFICATE----- line); pass the contents of the file, e.g. readFileSync(path), not its path',
    );
  }
  let certificate: X509Certificate;
  try {
    certificate = new (nodeCrypto().X509Certificate)(certText);
  } catch (error) {
    throw new ConfigurationError('cert', `the certificate does not parse (${reason(error)}); check that the PEM is whole and unaltered`);
  }
  const keyText = pemText('key', key);
  if (!PEM_PRIVATE_KEY.test(keyText)) {
    throw new ConfigurationError(
      'key',
      keyText.includes(PEM_CERTIFICATE)
        ? 'holds a certificate, not a private key: pass the certificate as cert, and the key (-----BEGIN PRIVATE KEY-----) as key'
        : 'holds no PEM private key (no -----BEGIN ... PRIVATE KEY----- line); pass the contents of the file, e.g. readFileSync(path), not its path',
    );
  }
  const encrypted = PEM_ENCRYPTED.test(keyText);
  if (encrypted && passphrase === undefined) {
    throw new ConfigurationError('passphrase', 'the key is encrypted: give its passphrase');
  }
  let privateKey: KeyObject;
  try {
    privateKey = nodeCrypto().createPrivateKey({ key: keyText, format: 'pem', ...(encrypted ? { passphrase } : {}) });
  } catch (error) {
    if (encrypted) throw new ConfigurationError('passphrase', 'does not decrypt the key (or the key is damaged)');
    throw new ConfigurationError('key', `the private key does not parse (${reason(error)}); check that the PEM is whole and unaltered`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    const chain = certText.split(PEM_CERTIFICATE).length > 2;
    throw new ConfigurationError(
      'key',
      `is not the private key of the certificate (${certificate.subject.replace(/\n/g, ',')}): give the key that was made with this certificate` +
        (chain ? "; cert holds a chain, and the client's own certificate must come first in it, before its CAs" : ''),
    );
  }
  const summary = checkCertificate(certificate, 'cert', 'pem', now);
  const secureContext = secureContextOf('cert', () =>
    nodeTls().createSecureContext({ cert: certText, key: keyText, ...(encrypted ? { passphrase } : {}), ca, minVersion: 'TLSv1.2' }),
  );
  return { summary, secureContext };
}

function fromPfx(pfx: unknown, passphrase: string | undefined, ca: CaOption, now: number): ResolvedClientCertificate {
  if (!(pfx instanceof Uint8Array)) {
    throw new ConfigurationError(
      'pfx',
      typeof pfx === 'string'
        ? "expected the PKCS#12 file's bytes (a Buffer, e.g. readFileSync(path)), got a string"
        : `expected the PKCS#12 file's bytes (a Buffer), got ${describeValue(pfx)}`,
    );
  }
  const bytes = Buffer.isBuffer(pfx) ? pfx : Buffer.from(pfx.buffer, pfx.byteOffset, pfx.byteLength);
  let secureContext: SecureContext;
  try {
    secureContext = nodeTls().createSecureContext({ pfx: bytes, ...(passphrase === undefined ? {} : { passphrase }), ca, minVersion: 'TLSv1.2' });
  } catch (error) {
    // OpenSSL says "mac verify failure" for a wrong passphrase and for a damaged file alike.
    if (/mac verify/i.test(reason(error))) {
      throw passphrase === undefined
        ? new ConfigurationError('passphrase', 'the pfx is protected by a passphrase (or damaged): give its passphrase')
        : new ConfigurationError('passphrase', 'does not open the pfx (or the pfx is damaged)');
    }
    throw new ConfigurationError('pfx', `is not a PKCS#12 file Node can read (${reason(error)}); give the bytes of a .p12 or .pfx file`);
  }
  // The certificate inside a pfx is checked as a PEM one is, where Node lets it be read back.
  const der = (secureContext as { context?: { getCertificate?: () => Buffer | null } }).context?.getCertificate?.();
  if (der === undefined) return { summary: undefined, secureContext };
  if (der === null) throw new ConfigurationError('pfx', 'holds no certificate: give a PKCS#12 file with the client certificate and its key');
  return { summary: checkCertificate(new (nodeCrypto().X509Certificate)(der), 'pfx', 'pfx', now), secureContext };
}

type CaOption = string | Buffer | Array<string | Buffer> | undefined;

/** Dates and usages: what makes a well-formed certificate unfit to authenticate a client now. */
function checkCertificate(certificate: X509Certificate, field: 'cert' | 'pfx', source: 'pem' | 'pfx', now: number): ClientCertificateSummary {
  const subject = certificate.subject.replace(/\n/g, ',');
  const validFrom = new Date(certificate.validFrom);
  const validTo = new Date(certificate.validTo);
  const span = `valid from ${formatDate(validFrom)} to ${formatDate(validTo)}`;
  if (now > validTo.getTime()) {
    throw new ConfigurationError(
      field,
      `the certificate (${subject}) expired on ${formatDate(validTo)} (${span}); get a new one from its issuer, or check this machine's clock`,
    );
  }
  if (now < validFrom.getTime()) {
    throw new ConfigurationError(
      field,
      `the certificate (${subject}) is not valid until ${formatDate(validFrom)} (${span}); check this machine's clock`,
    );
  }
  const usages = extendedKeyUsages(certificate);
  if (usages !== undefined && !usages.includes(CLIENT_AUTH) && !usages.includes(ANY_USAGE)) {
    const stated = usages.map((oid) => USAGE_NAMES[oid] ?? oid).join(', ');
    throw new ConfigurationError(
      field,
      `the certificate (${subject}) is not for client authentication: its extended key usage allows ${stated || 'nothing'} only; ` +
        `a server refuses it as a client's. Use a certificate issued for clients (extendedKeyUsage clientAuth)`,
    );
  }
  return Object.freeze({
    subject,
    issuer: certificate.issuer.replace(/\n/g, ','),
    validFrom,
    validTo,
    fingerprint256: certificate.fingerprint256,
    source,
  });
}

/**
 * The extended key usages a certificate states, or `undefined` when it states none (it may then
 * be used for anything). Node 20 calls them `keyUsage`; later versions `extKeyUsage`.
 */
function extendedKeyUsages(certificate: X509Certificate): readonly string[] | undefined {
  const named = certificate as X509Certificate & { extKeyUsage?: string[] | undefined };
  return named.extKeyUsage ?? certificate.keyUsage ?? undefined;
}

/** PEM given as a string or bytes, as text; anything else is refused without being shown. */
function pemText(field: 'cert' | 'key', value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
  if (Array.isArray(value)) {
    throw new ConfigurationError(field, 'expected one PEM text (a string or a Buffer), not a list: put a chain in one text, the client certificate first');
  }
  throw new ConfigurationError(field, `expected PEM text as a string or a Buffer, got ${describeValue(value)}`);
}

function secureContextOf(field: string, make: () => SecureContext): SecureContext {
  try {
    return make();
  } catch (error) {
    throw new ConfigurationError(field, `cannot be used for TLS (${reason(error)})`);
  }
}

/** OpenSSL's reason, without the error's stack or its input (it never holds any). */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // `error:0480006C:PEM routines::no start line` -> `no start line`
  return message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/i, '').trim() || 'unknown error';
}

/** `2001-01-01 00:00:00 UTC`. */
function formatDate(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
