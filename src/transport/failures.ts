/**
 * From whatever a failed connection attempt produced (a resolver error, an errno from the kernel,
 * a TLS error, a timer, a signal) to a TransportError that says what happened and what to do.
 * Everything said here is true of any server; what a layer knows about its own servers (the
 * platform's host names, say) it adds as a hint with `TransportError.withHint`.
 */
import { isIP } from '../shared/builtins.js';
import { ADVICE, formatEndpoint, TransportError } from './errors.js';
import type { FailureContext, Make, TransportAdvice, TransportErrorCode } from './errors.js';

/**
 * Certificate problems as Node and OpenSSL name them, said in words a user can act on. Codes not
 * listed still count as verification failures when Node reports them as such.
 */
const CERTIFICATE_PROBLEMS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate was not issued by a CA this client trusts',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate was not issued by a CA this client trusts',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate\'s issuer is not among the trusted CAs',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server sent a chain ending in a CA this client does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server\'s certificate is self-signed and not trusted',
  CERT_HAS_EXPIRED: 'the certificate has expired (or this machine\'s clock is wrong)',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet (or this machine\'s clock is wrong)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'host name mismatch: the certificate is not for the host connected to',
  HOSTNAME_MISMATCH: 'host name mismatch: the certificate is not for the host connected to',
  CERT_SIGNATURE_FAILURE: 'the certificate\'s signature does not verify',
  CERT_REVOKED: 'the certificate has been revoked',
  CERT_UNTRUSTED: 'the certificate is not trusted for this purpose',
  CERT_REJECTED: 'the certificate is marked as rejected',
  INVALID_CA: 'a CA certificate in the chain is invalid',
  INVALID_PURPOSE: 'the certificate is not meant for a TLS server',
  CERT_CHAIN_TOO_LONG: 'the certificate chain is too long',
  PATH_LENGTH_EXCEEDED: 'the certificate chain is longer than its CA allows',
};

const NAME_MISMATCH = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);
const CLOCK = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** What the resolver says when it has no address: no such name, or none of that family. */
export const LOOKUP_NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA']);
const LOOKUP_TEMPORARY = new Set(['EAI_AGAIN', 'ETIMEOUT', 'ESERVFAIL', 'ECONNREFUSED']);
const UNREACHABLE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const TLS_VERSION_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
  'ERR_SSL_VERSION_TOO_LOW',
]);
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/**
 * The TLS alerts a server sends about the client's certificate, as Node names OpenSSL's reasons
 * (`ERR_SSL_` + OpenSSL's "sslv3 alert certificate revoked" in capitals): the code for each, and
 * the alert in words. A server sends these only after it has seen the client's certificate (or
 * its absence), so they are never about the server's own certificate.
 */
const CLIENT_CERTIFICATE_ALERTS: Readonly<Record<string, readonly [TransportErrorCode, string]>> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: ['client-certificate-required', 'TLS alert 116, certificate required'],
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: ['client-certificate-untrusted', 'TLS alert 48, unknown CA'],
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: ['client-certificate-revoked', 'TLS alert 44, certificate revoked'],
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: ['client-certificate-expired', 'TLS alert 45, certificate expired'],
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: ['client-certificate-rejected', 'TLS alert 42, bad certificate'],
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: ['client-certificate-rejected', 'TLS alert 43, unsupported certificate'],
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: ['client-certificate-rejected', 'TLS alert 46, certificate unknown'],
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: ['client-certificate-rejected', 'TLS alert 49, access denied'],
};
/** TLS 1.2's answer to a client without the certificate the server requires: a plain handshake failure. */
const HANDSHAKE_FAILURE_ALERT = 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE';

/** The TransportError for whatever a failed attempt produced. */
export function toTransportError(error: unknown, context: FailureContext): TransportError {
  const code = errorCode(error);
  const endpoint = formatEndpoint(context.host, context.port);
  const make = maker(context, error);

  if (context.phase === 'lookup') {
    return lookupError(code, context, make);
  }
  if (code === 'ECONNREFUSED') {
    return make('connection-refused', `connection to ${endpoint} refused: nothing listens on that port there`, [ADVICE.port]);
  }
  if (code !== undefined && UNREACHABLE.has(code)) {
    return unreachableError(code, error, context, make);
  }
  if (code === 'ETIMEDOUT') {
    return make(
      'connect-timeout',
      `TCP connection to ${endpoint} timed out in the operating system: the host does not answer`,
      [ADVICE.silentHost],
    );
  }
  if (context.phase === 'tls') {
    const tlsError = tlsFailure(code, error, context, make);
    if (tlsError !== undefined) {
      return tlsError;
    }
  }
  if (code !== undefined && RESET.has(code)) {
    return make('connection-reset', `${endpoint} closed the connection before it was established (${code})`);
  }
  return make('socket-error', `connecting to ${endpoint} failed: ${messageOf(error)}`);
}

/** The attempt ran out of `connectTimeout`; the message names the step that did not finish. */
export function connectTimeoutError(context: FailureContext, timeout: number): TransportError {
  const endpoint = formatEndpoint(context.host, context.port);
  const within = `within ${timeout} ms`;
  const [summary, advice] = {
    lookup: [`looking up ${context.host} did not finish ${within}: the DNS resolver does not answer`, [ADVICE.dns, ADVICE.moreTime]],
    tcp: [`TCP connection to ${endpoint} was not established ${within}: the host does not answer`, [ADVICE.silentHost, ADVICE.moreTime]],
    tls: [
      `TLS handshake with ${endpoint} did not complete ${within}: the server accepted TCP but did not answer the handshake`,
      [ADVICE.tlsPort, ADVICE.plainTcp, ADVICE.moreTime],
    ],
  }[context.phase] as [string, TransportAdvice[]];
  return maker(context, undefined)('connect-timeout', summary, advice);
}

/**
 * The caller's AbortSignal fired; its reason becomes the cause. `started` is false when the
 * signal was already aborted and no socket was opened.
 */
export function abortedError(context: FailureContext, reason: unknown, started: boolean): TransportError {
  const endpoint = formatEndpoint(context.host, context.port);
  const step = { lookup: 'the host name lookup', tcp: 'the TCP connect', tls: 'the TLS handshake' }[context.phase];
  const when = started ? `during ${step}` : 'before it started (the signal was already aborted)';
  return maker(context, reason)('aborted', `connecting to ${endpoint} was aborted ${when}`);
}

/** The socket closed without an error before it was ready; only a peer's close can do that. */
export function closedEarlyError(context: FailureContext): TransportError {
  const endpoint = formatEndpoint(context.host, context.port);
  const refused = closedAfterCertificate(undefined, context);
  if (refused !== undefined) return refused;
  if (context.phase === 'tls') {
    return maker(context, undefined)('connection-reset', `${endpoint} closed the connection during the TLS handshake`, [ADVICE.tlsPort, ADVICE.plainTcp]);
  }
  return maker(context, undefined)('connection-reset', `${endpoint} closed the connection before it was established`);
}

function maker(context: FailureContext, cause: unknown): Make {
  return (kind, summary, advice = [], certificateProblem) =>
    new TransportError(kind, summary, {
      host: context.host,
      port: context.port,
      phase: context.phase,
      advice,
      certificateProblem,
      ...(cause === undefined ? {} : { cause }),
    });
}

function lookupError(code: string | undefined, context: FailureContext, make: Make): TransportError {
  const { host, family, otherFamily } = context;
  if (code !== undefined && LOOKUP_NOT_FOUND.has(code)) {
    const wanted = family === 6 ? 'IPv6' : family === 4 ? 'IPv4' : '';
    if (otherFamily?.outcome === 'found' && family === 6) {
      const loopback = /^localhost\.?$|\.localhost\.?$/i.test(host);
      return make(
        'no-aaaa-record',
        `${host} has no IPv6 address (no AAAA record), only IPv4 addresses`,
        loopback ? [ADVICE.ipv6Loopback, ADVICE.allowIpv4] : [ADVICE.allowIpv4, ADVICE.addAaaa],
      );
    }
    if (otherFamily?.outcome === 'found' && family === 4) {
      return make('no-a-record', `${host} has no IPv4 address (no A record), only IPv6 addresses`, [ADVICE.useIpv6]);
    }
    if (otherFamily?.outcome === 'failed') {
      return make(
        'dns-failed',
        `no ${wanted} address found for ${host} (${code}), and looking up its other addresses failed (${otherFamily.code ?? 'unknown error'})`,
        [ADVICE.dns, ADVICE.retry],
      );
    }
    // No address in either family, or no second lookup to tell (family 0 asks for both at once).
    return make(
      'host-not-found',
      `no address found for ${host} (${code}): the name does not exist, or this machine cannot resolve it`,
      [ADVICE.hostName, ADVICE.dns],
    );
  }
  if (code !== undefined && LOOKUP_TEMPORARY.has(code)) {
    return make('dns-failed', `looking up ${host} failed (${code}): the DNS server did not answer properly`, [ADVICE.dns, ADVICE.retry]);
  }
  return make('dns-failed', `looking up ${host} failed: ${code ?? 'unknown error'}`, [ADVICE.dns]);
}

/**
 * No route. For an address the caller gave, that is all that is known: the route to that
 * address is missing, which says nothing of this machine's IPv6 in general, and a literal cannot
 * fall back to IPv4. For a name looked up with `family: 6`, IPv4 is the way round it.
 */
function unreachableError(code: string, error: unknown, context: FailureContext, make: Make): TransportError {
  const endpoint = formatEndpoint(context.host, context.port);
  const address = addressOf(error);
  const literal = isIP(context.host) !== 0;
  const ipv6 = address !== undefined ? isIP(address) === 6 : isIP(context.host) === 6 || context.family === 6;
  const target = address !== undefined && address !== context.host ? `${endpoint} (${address})` : endpoint;
  if (literal) {
    return make(ipv6 ? 'no-ipv6-route' : 'network-unreachable', `no route to ${target} (${code}): that address cannot be reached from this machine`, [
      ADVICE.address,
    ]);
  }
  if (ipv6) {
    return make(
      'no-ipv6-route',
      `no route to ${target} (${code}): ${context.host} resolved to an IPv6 address this machine has no route to`,
      context.family === 6 ? [ADVICE.ipv6Connectivity, ADVICE.allowIpv4] : [ADVICE.ipv6Connectivity],
    );
  }
  return make('network-unreachable', `no route to ${target} (${code})`, [ADVICE.network]);
}

function tlsFailure(code: string | undefined, error: unknown, context: FailureContext, make: Make): TransportError | undefined {
  const endpoint = formatEndpoint(context.host, context.port);
  const refused = clientCertificateFailure(code, context, make);
  if (refused !== undefined) return refused;
  const known = code === undefined ? undefined : CERTIFICATE_PROBLEMS[code];
  if (known !== undefined || context.certificateRejected === true) {
    const problem = code ?? 'unknown';
    const said = known ?? messageOf(error);
    const advice = NAME_MISMATCH.has(problem)
      ? [ADVICE.certificateName, ADVICE.servername]
      : CLOCK.has(problem)
        ? [ADVICE.clock]
        : [ADVICE.trustCa];
    return make('tls-verification-failed', `TLS certificate of ${endpoint} refused: ${said} (${problem})`, advice, problem);
  }
  if (code !== undefined && TLS_VERSION_REFUSED.has(code)) {
    return make(
      'tls-handshake-failed',
      `TLS handshake with ${endpoint} failed: the server offers no TLS version this client accepts (1.2 or newer) (${code})`,
    );
  }
  if (code !== undefined && NOT_TLS.has(code)) {
    return make('tls-handshake-failed', `TLS handshake with ${endpoint} failed: the server did not answer in TLS (${code})`, [ADVICE.plainTcp]);
  }
  if (code !== undefined && RESET.has(code)) {
    return (
      closedAfterCertificate(code, context, error) ??
      make('connection-reset', `${endpoint} closed the connection during the TLS handshake (${code})`, [ADVICE.tlsPort, ADVICE.plainTcp])
    );
  }
  if (code?.startsWith('ERR_SSL_') === true) {
    return make('tls-handshake-failed', `TLS handshake with ${endpoint} failed (${code}): ${messageOf(error)}`);
  }
  return undefined;
}

/**
 * The server's word on the client's certificate, or `undefined` when the error is not one.
 *
 * TLS 1.3 and TLS 1.2 tell it at different times: in TLS 1.2 the server answers the client's
 * certificate before the handshake ends, so the alert fails the handshake; in TLS 1.3 the client
 * completes the handshake before the server has checked its certificate, and learns of a refusal
 * only on its first read, after the transport has handed the socket over (see
 * {@link afterHandshakeError}). TLS 1.3 has an alert of its own for a missing certificate (116);
 * TLS 1.2 servers answer a client without one with a plain handshake failure (40), which this
 * reads as "certificate required" only when it came after the client's Finished (a cipher or
 * version mismatch comes before) and the client had no certificate to give.
 */
function clientCertificateFailure(code: string | undefined, context: FailureContext, make: Make): TransportError | undefined {
  if (code === undefined) return undefined;
  const endpoint = formatEndpoint(context.host, context.port);
  if (code === HANDSHAKE_FAILURE_ALERT && context.clientFinished === true && context.clientCertificate !== true) {
    return make(
      'client-certificate-required',
      `${endpoint} refused the handshake after this client's last message (TLS alert 40, handshake failure): ` +
        'a server that requires a client certificate answers so to a client without one',
      [ADVICE.clientCertificate],
      code,
    );
  }
  // Own properties only: an error code such as 'valueOf' must not find Object.prototype's.
  const alert = Object.hasOwn(CLIENT_CERTIFICATE_ALERTS, code) ? CLIENT_CERTIFICATE_ALERTS[code] : undefined;
  if (alert === undefined) return undefined;
  const [kind, words] = alert;
  const theirs = context.clientCertificate === true ? "this client's certificate" : 'this client';
  switch (kind) {
    case 'client-certificate-required':
      return make(kind, `${endpoint} requires a client certificate, and this client presented none (${words})`, [ADVICE.clientCertificate], code);
    case 'client-certificate-untrusted':
      return make(
        kind,
        `${endpoint} refused ${theirs}: it does not trust the CA that issued it (${words})`,
        [ADVICE.trustedIssuer, ADVICE.certificateChain],
        code,
      );
    case 'client-certificate-revoked':
      return make(kind, `${endpoint} refused ${theirs}: its issuer has revoked it (${words})`, [ADVICE.renewCertificate], code);
    case 'client-certificate-expired':
      return make(
        kind,
        `${endpoint} refused ${theirs} as expired or not yet valid (${words})`,
        [ADVICE.clocks, ADVICE.renewCertificate],
        code,
      );
    default:
      return make(kind, `${endpoint} refused ${theirs} (${words})`, [ADVICE.serverRules], code);
  }
}

/**
 * A server that closes the connection right after the client's certificate went out, with no
 * alert: most likely it refused the certificate. OpenSSL servers (mosquitto, EMQX) say so with an
 * alert; servers built on Node.js check client certificates after the handshake and just close.
 * Still a `connection-reset`, retried as one: a close says less than an alert does.
 */
function closedAfterCertificate(code: string | undefined, context: FailureContext, cause?: unknown): TransportError | undefined {
  if (context.phase !== 'tls' || context.clientCertificate !== true || context.clientFinished !== true) return undefined;
  const endpoint = formatEndpoint(context.host, context.port);
  return maker(context, cause)(
    'connection-reset',
    `${endpoint} closed the connection${code === undefined ? '' : ` (${code})`} right after this client presented its certificate, ` +
      'without a TLS alert: it most likely refused the certificate (servers built on Node.js close without saying why)',
    [ADVICE.trustedIssuer, ADVICE.serverRules],
  );
}

/**
 * A socket error that arrives after the transport handed the socket over, as the TransportError
 * it stands for when it is the server's TLS verdict on the client's certificate; `undefined` for
 * any other error (a reset, a timeout), which the caller reports as a lost connection.
 *
 * With TLS 1.3 that is how a refusal arrives: the handshake completes on the client's side, the
 * client writes (CONNECT, say), and the server's alert is what the first read brings. The session
 * asks here for each socket error before its CONNACK.
 */
export function afterHandshakeError(
  error: unknown,
  options: { readonly host: string; readonly port: number; readonly family: 0 | 4 | 6; readonly secureContext?: unknown },
): TransportError | undefined {
  const code = errorCode(error);
  if (code === undefined || (!Object.hasOwn(CLIENT_CERTIFICATE_ALERTS, code) && code !== HANDSHAKE_FAILURE_ALERT)) return undefined;
  const context: FailureContext = {
    host: options.host,
    port: options.port,
    family: options.family,
    phase: 'tls',
    clientCertificate: options.secureContext !== undefined,
    clientFinished: true,
  };
  return clientCertificateFailure(code, context, maker(context, error));
}

/**
 * The error that carries the errno. Node's happy-eyeballs connect (family 0) reports every
 * attempt's error inside one AggregateError; the first attempt's error speaks for them.
 */
function primaryError(error: unknown): { code?: unknown; address?: unknown } | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const candidate = error as { code?: unknown; address?: unknown; errors?: unknown };
  if (typeof candidate.code !== 'string' && Array.isArray(candidate.errors)) {
    for (const inner of candidate.errors) {
      const found = primaryError(inner);
      if (typeof found?.code === 'string') {
        return found;
      }
    }
  }
  return candidate;
}

/** The errno-style code of an error (or of the first attempt's, for an AggregateError). */
export function errorCode(error: unknown): string | undefined {
  const code = primaryError(error)?.code;
  return typeof code === 'string' ? code : undefined;
}

function addressOf(error: unknown): string | undefined {
  const address = primaryError(error)?.address;
  return typeof address === 'string' && isIP(address) !== 0 ? address : undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    // An object without toString or Symbol.toPrimitive (a null prototype, say): its kind will do.
    return Object.prototype.toString.call(error);
  }
}
