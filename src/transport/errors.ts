import { isIP } from '../shared/builtins.js';

/** What went wrong while opening a connection; tests and callers branch on this, not on messages. */
export type TransportErrorCode =
  /** A name lookup with `family: 6` found no IPv6 address (or no such name). */
  | 'no-aaaa-record'
  /** Any other name resolution failure. */
  | 'dns-failed'
  /** An IPv6 address was found but this machine has no route to it. */
  | 'no-ipv6-route'
  /** An IPv4 address was found but this machine has no route to it. */
  | 'network-unreachable'
  | 'connection-refused'
  /** The peer closed or reset the connection before it was ready. */
  | 'connection-reset'
  /** The server's certificate was refused: untrusted, expired, or for another name. */
  | 'tls-verification-failed'
  /** TLS failed before or apart from certificate checks, e.g. no common protocol version. */
  | 'tls-handshake-failed'
  | 'connect-timeout'
  | 'aborted'
  /** A socket error none of the other codes describes; see `cause`. */
  | 'socket-error';

/** The step of opening a connection that was under way when it failed. */
export type TransportPhase = 'lookup' | 'tcp' | 'tls';

/** Options for constructing a {@link TransportError}. */
export interface TransportErrorDetails {
  readonly host: string;
  readonly port: number;
  readonly phase: TransportPhase;
  readonly certificateProblem?: string;
  readonly cause?: unknown;
}

/**
 * Opening a connection failed. The message says what happened and what to do about it; `cause`
 * holds the original error from Node, the resolver or the signal.
 */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: TransportErrorCode;
  /** The host as the caller gave it, without brackets. */
  readonly host: string;
  readonly port: number;
  readonly phase: TransportPhase;
  /**
   * For `tls-verification-failed`: the code Node or OpenSSL gave the certificate problem, such as
   * `CERT_HAS_EXPIRED` or `ERR_TLS_CERT_ALTNAME_INVALID`.
   */
  readonly certificateProblem: string | undefined;

  constructor(code: TransportErrorCode, message: string, details: TransportErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.host = details.host;
    this.port = details.port;
    this.phase = details.phase;
    this.certificateProblem = details.certificateProblem;
  }
}

/** What the connection attempt knew when an error arrived. */
export interface FailureContext {
  readonly host: string;
  readonly port: number;
  readonly family: 0 | 4 | 6;
  readonly phase: TransportPhase;
  /** Node had already refused the server's certificate (the socket's `authorizationError`). */
  readonly certificateRejected?: boolean;
}

/** Formats an endpoint the way people paste it: IPv6 literals need brackets before the port. */
export function formatEndpoint(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

const IPV6_TEST_ENDPOINT = 'ipv6.itls.cn-shanghai.aliyuncs.com';

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

const LOOKUP_NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA']);
const LOOKUP_TEMPORARY = new Set(['EAI_AGAIN', 'ETIMEOUT', 'ESERVFAIL', 'ECONNREFUSED']);
const UNREACHABLE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const TLS_VERSION_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
  'ERR_SSL_VERSION_TOO_LOW',
]);

/**
 * Turns whatever a failed connection attempt produced (a resolver error, an errno from the
 * kernel, a TLS error) into a TransportError whose message says what to do next.
 */
export function toTransportError(error: unknown, context: FailureContext): TransportError {
  const code = errorCode(error);
  const endpoint = formatEndpoint(context.host, context.port);
  const details = { host: context.host, port: context.port, phase: context.phase, cause: error };
  const make = (kind: TransportErrorCode, message: string): TransportError =>
    new TransportError(kind, message, details);

  if (context.phase === 'lookup') {
    return lookupError(code, context, make);
  }
  if (code === 'ECONNREFUSED') {
    return make(
      'connection-refused',
      `connection to ${endpoint} refused: nothing listens on that port there; check the host and port`,
    );
  }
  if (code !== undefined && UNREACHABLE.has(code)) {
    return unreachableError(code, error, context, make);
  }
  if (code === 'ETIMEDOUT') {
    return make(
      'connect-timeout',
      `TCP connection to ${endpoint} timed out in the operating system: the host does not answer, or a firewall drops the packets`,
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
  const within = `within the connect timeout of ${timeout} ms`;
  const message = {
    lookup: `looking up ${context.host} did not finish ${within}: the DNS resolver does not answer; check the network and resolver`,
    tcp: `TCP connection to ${endpoint} was not established ${within}: the host does not answer or a firewall drops the packets; check the address, port and network`,
    tls: `TLS handshake with ${endpoint} did not complete ${within}: the server accepted TCP but did not answer the handshake; check that this port speaks TLS`,
  }[context.phase];
  return new TransportError('connect-timeout', message, { host: context.host, port: context.port, phase: context.phase });
}

/**
 * The caller's AbortSignal fired; its reason becomes the cause. `started` is false when the
 * signal was already aborted and no socket was opened.
 */
export function abortedError(context: FailureContext, reason: unknown, started: boolean): TransportError {
  const endpoint = formatEndpoint(context.host, context.port);
  const step = { lookup: 'the host name lookup', tcp: 'the TCP connect', tls: 'the TLS handshake' }[context.phase];
  const when = started ? `during ${step}` : 'before it started (the signal was already aborted)';
  return new TransportError('aborted', `connecting to ${endpoint} was aborted ${when}`, {
    host: context.host,
    port: context.port,
    phase: context.phase,
    cause: reason,
  });
}

/** The socket closed without an error before it was ready; only a peer's close can do that. */
export function closedEarlyError(context: FailureContext): TransportError {
  const endpoint = formatEndpoint(context.host, context.port);
  return new TransportError('connection-reset', `${endpoint} closed the connection before it was established`, {
    host: context.host,
    port: context.port,
    phase: context.phase,
  });
}

type Make = (kind: TransportErrorCode, message: string) => TransportError;

function lookupError(code: string | undefined, context: FailureContext, make: Make): TransportError {
  const { host } = context;
  if (code !== undefined && LOOKUP_NOT_FOUND.has(code)) {
    if (context.family === 6) {
      return make('no-aaaa-record', `no IPv6 address (AAAA record) found for ${host}. ${noAaaaAdvice(host)}`);
    }
    return make('dns-failed', `host name ${host} not found (${code}): check its spelling and the DNS configuration`);
  }
  if (code !== undefined && LOOKUP_TEMPORARY.has(code)) {
    return make(
      'dns-failed',
      `looking up ${host} failed (${code}): the DNS server did not answer properly; check the network and resolver, then retry`,
    );
  }
  return make('dns-failed', `looking up ${host} failed: ${code ?? 'unknown error'}`);
}

/** The way out of a missing AAAA record depends on whose name it is. */
function noAaaaAdvice(host: string): string {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name.endsWith('.aliyuncs.com')) {
    return (
      "A platform product domain only gets its AAAA record once IPv6 access is enabled for it by a support ticket; " +
      `until then connect with family: 0 (IPv6 or IPv4) or to the IPv6 test endpoint ${IPV6_TEST_ENDPOINT}. ` +
      'Also check that the host name is spelled right'
    );
  }
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return "This system resolves it to IPv4 only; connect to '::1' for IPv6 loopback, or use family: 0";
  }
  return 'Check the spelling, give the name an AAAA record, or connect with family: 0 to allow IPv4';
}

function unreachableError(code: string, error: unknown, context: FailureContext, make: Make): TransportError {
  const endpoint = formatEndpoint(context.host, context.port);
  const address = addressOf(error);
  const ipv6 = address !== undefined ? isIP(address) === 6 : isIP(context.host) === 6 || context.family === 6;
  const target = address !== undefined && address !== context.host ? `${endpoint} (${address})` : endpoint;
  if (ipv6) {
    return make(
      'no-ipv6-route',
      `no IPv6 route to ${target} (${code}): this machine or its network has no working IPv6 connectivity. ` +
        'Check that the interface has a global IPv6 address and a default route, or connect with family: 0 to allow IPv4',
    );
  }
  return make('network-unreachable', `no route to ${target} (${code}): check the network connection`);
}

function tlsFailure(code: string | undefined, error: unknown, context: FailureContext, make: Make): TransportError | undefined {
  const endpoint = formatEndpoint(context.host, context.port);
  const known = code === undefined ? undefined : CERTIFICATE_PROBLEMS[code];
  if (known !== undefined || context.certificateRejected === true) {
    const problem = code ?? 'unknown';
    const said = known ?? messageOf(error);
    const remedy =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH'
        ? 'connect by the name the certificate was issued for, or set servername to it'
        : 'if the server is genuine, pass its CA certificate (PEM) in the ca option';
    return new TransportError(
      'tls-verification-failed',
      `TLS certificate of ${endpoint} refused: ${said} (${problem}); ${remedy}`,
      { host: context.host, port: context.port, phase: context.phase, certificateProblem: problem, cause: error },
    );
  }
  if (code !== undefined && TLS_VERSION_REFUSED.has(code)) {
    return make(
      'tls-handshake-failed',
      `TLS handshake with ${endpoint} failed: the server offers no TLS version this client accepts (1.2 or newer) (${code})`,
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return make(
      'tls-handshake-failed',
      `TLS handshake with ${endpoint} failed: the server did not answer in TLS (${code}); is this a plain TCP port? Use transport: 'tcp' only where plain TCP is intended`,
    );
  }
  if (code !== undefined && RESET.has(code)) {
    return make(
      'connection-reset',
      `${endpoint} closed the connection during the TLS handshake (${code}): check that the port speaks TLS and that the server accepts this client`,
    );
  }
  if (code?.startsWith('ERR_SSL_') === true) {
    return make('tls-handshake-failed', `TLS handshake with ${endpoint} failed (${code}): ${messageOf(error)}`);
  }
  return undefined;
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

function errorCode(error: unknown): string | undefined {
  const code = primaryError(error)?.code;
  return typeof code === 'string' ? code : undefined;
}

function addressOf(error: unknown): string | undefined {
  const address = primaryError(error)?.address;
  return typeof address === 'string' && isIP(address) !== 0 ? address : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
