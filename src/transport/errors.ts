import type { Advice, Hint } from '../shared/advice.js';
import { composeMessage } from '../shared/advice.js';
import { isIP } from '../shared/builtins.js';

/** What went wrong while opening a connection; tests and callers branch on this, not on messages. */
export type TransportErrorCode =
  /** With `family: 6`: the name has IPv4 addresses but no IPv6 address (no AAAA record). */
  | 'no-aaaa-record'
  /** With `family: 4`: the name has IPv6 addresses but no IPv4 address (no A record). */
  | 'no-a-record'
  /** The resolver found no address at all for the name: it does not exist, or this machine cannot resolve it. */
  | 'host-not-found'
  /** The resolver failed otherwise: no answer, a server failure. */
  | 'dns-failed'
  /** An IPv6 address was to be reached but this machine has no route to it. */
  | 'no-ipv6-route'
  /** An IPv4 address was to be reached but this machine has no route to it. */
  | 'network-unreachable'
  | 'connection-refused'
  /** The peer closed or reset the connection before it was ready. */
  | 'connection-reset'
  /** The server's certificate was refused: untrusted, expired, or for another name. */
  | 'tls-verification-failed'
  /** TLS failed before or apart from certificate checks, e.g. no common protocol version. */
  | 'tls-handshake-failed'
  /** The server requires a client certificate, and this client presented none. */
  | 'client-certificate-required'
  /** The server does not trust the CA that issued the client's certificate (TLS alert 48, unknown CA). */
  | 'client-certificate-untrusted'
  /** The server found the client's certificate revoked (TLS alert 44). */
  | 'client-certificate-revoked'
  /** The server found the client's certificate expired, or not yet valid (TLS alert 45). */
  | 'client-certificate-expired'
  /** The server refused the client's certificate otherwise (bad, unsupported or unknown certificate, access denied). */
  | 'client-certificate-rejected'
  | 'connect-timeout'
  | 'aborted'
  /** A socket error none of the other codes describes; see `cause`. */
  | 'socket-error';

/** What a {@link TransportError} advises; the option to use, if any, is in the advice's `option`. */
export type TransportAdviceCode =
  /** Let the lookup use the other address family too (`family: 0`), or the one the name has. */
  | 'allow-other-family'
  | 'add-aaaa-record'
  /** `localhost` resolves to IPv4 only on many systems; `::1` is the IPv6 loopback. */
  | 'use-ipv6-loopback'
  | 'check-host-name'
  | 'check-dns'
  | 'retry-later'
  /** This machine's own IPv6 set-up: a global address and a default route. */
  | 'check-ipv6-connectivity'
  /** The address itself, and the way to its network. */
  | 'check-address'
  | 'check-port'
  | 'check-network'
  | 'trust-server-ca'
  | 'connect-by-certificate-name'
  | 'set-servername'
  | 'check-clock'
  /** Present a client certificate: the `cert` and `key` options. */
  | 'give-client-certificate'
  /** A certificate from an issuer the server trusts, or the server trusting this one's. */
  | 'use-trusted-client-certificate'
  /** Put the intermediate CA certificates after the client certificate in `cert`. */
  | 'send-certificate-chain'
  | 'renew-client-certificate'
  /** Both machines' clocks, when only the server finds a certificate out of date. */
  | 'check-clocks'
  /** The server's own rules for client certificates (its log says why it refused). */
  | 'check-server-requirements'
  /** The port speaks plain MQTT: connect with `transport: 'tcp'`. */
  | 'use-plain-tcp'
  /** The port should speak TLS, or the server does not accept this client's TLS. */
  | 'check-tls-port'
  | 'allow-more-time';

export type TransportAdvice = Advice<TransportAdviceCode>;

/** The step of opening a connection that was under way when it failed. */
export type TransportPhase = 'lookup' | 'tcp' | 'tls';

/** Options for constructing a {@link TransportError}. */
export interface TransportErrorDetails {
  readonly host: string;
  readonly port: number;
  readonly phase: TransportPhase;
  readonly certificateProblem?: string | undefined;
  readonly cause?: unknown;
  readonly advice?: readonly TransportAdvice[];
  readonly hints?: readonly Hint[];
}

/**
 * Opening a connection failed. `summary` says what happened, `advice` what to do (as data, with
 * the option that does it), `hints` what a layer that knows the server adds (the platform
 * profile's reading, say); `message` is all three in words. `cause` holds the original error from
 * Node, the resolver or the signal.
 */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: TransportErrorCode;
  /** The host as the caller gave it, without brackets. */
  readonly host: string;
  readonly port: number;
  readonly phase: TransportPhase;
  /**
   * For `tls-verification-failed`: the code Node or OpenSSL gave the server certificate's problem,
   * such as `CERT_HAS_EXPIRED` or `ERR_TLS_CERT_ALTNAME_INVALID`. For the `client-certificate-*`
   * codes: the code of the server's TLS alert, such as `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`.
   */
  readonly certificateProblem: string | undefined;
  /** What happened, without advice. */
  readonly summary: string;
  /** What to do about it, most likely first. */
  readonly advice: readonly TransportAdvice[];
  /** What other layers added, in the order they added it. */
  readonly hints: readonly Hint[];

  constructor(code: TransportErrorCode, summary: string, details: TransportErrorDetails) {
    const advice = details.advice ?? [];
    const hints = details.hints ?? [];
    super(composeMessage(summary, advice, hints), details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.host = details.host;
    this.port = details.port;
    this.phase = details.phase;
    this.certificateProblem = details.certificateProblem;
    this.summary = summary;
    this.advice = advice;
    this.hints = hints;
  }

  /**
   * Whether another attempt may succeed without anything changing: `false` for a certificate
   * either side refused (the server's, or this client's as the server reads it), which fails the
   * same way every time until someone fixes it; `true` for the rest (a network that may come back,
   * a timeout, a reset).
   */
  get retryable(): boolean {
    return !FINAL_CODES.has(this.code);
  }

  /**
   * This error with `hint` added to its hints and its message; the same error when `hint` is
   * undefined. For a layer that knows the server better than the transport does.
   */
  withHint(hint: Hint | undefined): TransportError {
    if (hint === undefined) return this;
    const { host, port, phase, certificateProblem, advice } = this;
    return new TransportError(this.code, this.summary, {
      host,
      port,
      phase,
      certificateProblem,
      advice,
      hints: [...this.hints, hint],
      cause: this.cause,
    });
  }
}

const FINAL_CODES: ReadonlySet<TransportErrorCode> = new Set<TransportErrorCode>([
  'tls-verification-failed',
  'client-certificate-required',
  'client-certificate-untrusted',
  'client-certificate-revoked',
  'client-certificate-expired',
  'client-certificate-rejected',
]);

/** What a second lookup, in the other address family, found after the first found nothing. */
export interface OtherFamilyLookup {
  readonly family: 4 | 6;
  readonly outcome: 'found' | 'not-found' | 'failed';
  /** The resolver's error code when it did not find one. */
  readonly code?: string | undefined;
}

/** What the connection attempt knew when an error arrived. */
export interface FailureContext {
  readonly host: string;
  readonly port: number;
  readonly family: 0 | 4 | 6;
  readonly phase: TransportPhase;
  /** Node had already refused the server's certificate (the socket's `authorizationError`). */
  readonly certificateRejected?: boolean;
  /** The connection was to present a client certificate. */
  readonly clientCertificate?: boolean;
  /**
   * This client had sent its Finished message: the handshake was complete on its side, so an
   * alert from the server answers the client's whole flight, its certificate (or lack of one) included.
   */
  readonly clientFinished?: boolean;
  /** After a lookup found nothing: whether the name has addresses of the other family. */
  readonly otherFamily?: OtherFamilyLookup | undefined;
}

/** Formats an endpoint the way people paste it: IPv6 literals need brackets before the port. */
export function formatEndpoint(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export type Make = (kind: TransportErrorCode, summary: string, advice?: readonly TransportAdvice[], certificateProblem?: string) => TransportError;

/** The advice the errors give, each in one place. */
export const ADVICE = {
  allowIpv4: { code: 'allow-other-family', text: 'connect with {option} to allow IPv4', option: { name: 'family', value: 0 } },
  useIpv6: { code: 'allow-other-family', text: 'connect with {option} to use IPv6', option: { name: 'family', value: 6 } },
  addAaaa: { code: 'add-aaaa-record', text: 'or give the name an AAAA record' },
  ipv6Loopback: { code: 'use-ipv6-loopback', text: 'use {option} for the IPv6 loopback', option: { name: 'host', value: '::1' } },
  hostName: { code: 'check-host-name', text: 'check the spelling of the host name' },
  dns: { code: 'check-dns', text: "check this machine's network and DNS configuration" },
  retry: { code: 'retry-later', text: 'then retry' },
  ipv6Connectivity: {
    code: 'check-ipv6-connectivity',
    text: "if this machine should reach it, check that it has a global IPv6 address and an IPv6 default route ('ip -6 route')",
  },
  address: { code: 'check-address', text: 'check the address: if it is right, its network cannot be reached from here' },
  port: { code: 'check-port', text: 'check the host and port, and that the server runs' },
  network: { code: 'check-network', text: 'check the network connection and routes' },
  silentHost: { code: 'check-address', text: 'check the address and port; a firewall may drop the packets' },
  trustCa: { code: 'trust-server-ca', text: 'if the server is genuine, trust its CA certificate (PEM) with {option}', option: { name: 'ca' } },
  certificateName: { code: 'connect-by-certificate-name', text: 'connect by the name the certificate was issued for' },
  servername: { code: 'set-servername', text: 'or set {option} to that name', option: { name: 'servername' } },
  clock: { code: 'check-clock', text: "check this machine's clock; if it is right, the server needs a valid certificate" },
  plainTcp: {
    code: 'use-plain-tcp',
    text: 'if this port speaks plain MQTT, connect with {option} (credentials then travel in clear)',
    option: { name: 'transport', value: 'tcp' },
  },
  tlsPort: { code: 'check-tls-port', text: 'check that this port speaks TLS and that the server accepts this client' },
  moreTime: { code: 'allow-more-time', text: 'or allow more time with {option}', option: { name: 'connectTimeout' } },
  clientCertificate: {
    code: 'give-client-certificate',
    text: 'connect with a certificate the server accepts: {option} and its key',
    option: { name: 'cert' },
  },
  trustedIssuer: { code: 'use-trusted-client-certificate', text: "use a certificate issued by a CA the server trusts, or have the server trust this certificate's issuer" },
  certificateChain: {
    code: 'send-certificate-chain',
    text: 'if an intermediate CA issued it, append the intermediate certificates to {option}, after the client certificate',
    option: { name: 'cert' },
  },
  renewCertificate: { code: 'renew-client-certificate', text: 'get a new certificate from its issuer' },
  clocks: { code: 'check-clocks', text: "this client found the certificate within its dates: check the server's clock and this machine's" },
  serverRules: { code: 'check-server-requirements', text: "check what the server requires of client certificates; its log says why it refused" },
} as const satisfies Record<string, TransportAdvice>;
