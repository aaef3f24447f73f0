import { isIP } from '../shared/builtins.js';
import type { LookupFunction } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Clock } from '../shared/clock.js';
import { isClock, systemClock } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { resolveClientCertificate } from './certificate.js';
import type { ClientCertificateOptions, ClientCertificateSummary } from './certificate.js';

/**
 * Options for {@link openTransport}. A client certificate for mutual TLS is given as `cert` and
 * `key` (with `passphrase` for an encrypted key) or as `pfx`: see {@link ClientCertificateOptions}.
 */
export interface TransportOptions extends ClientCertificateOptions {
  /**
   * Where to connect: a host name, an IPv4 literal, or an IPv6 literal with or without brackets
   * (`'::1'`, `'[::1]'`). Not a URL and without a port.
   */
  host: string;
  /** TCP port, 1 to 65535. */
  port: number;
  /** `'tls'` (the default) or `'tcp'`. Plain TCP only when asked for: it sends credentials in clear. */
  transport?: 'tls' | 'tcp';
  /**
   * Address family for resolving a host name: `6` (the default, the point of this client), `4`, or
   * `0` for either (Node then tries the addresses it gets in turn). An IP literal is used as given.
   */
  family?: 0 | 4 | 6;
  /** Trusted CA certificates in PEM. Unset means Node's bundled roots. TLS only. */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Server name sent in SNI and checked against the certificate. Defaults to `host` when it is a
   * name; an IP literal sends no SNI (RFC 6066 forbids it) and is checked against the
   * certificate's IP addresses. TLS only.
   */
  servername?: string;
  /** Verify the server's certificate (default `true`). `false` only for a deliberate test setup. */
  rejectUnauthorized?: boolean;
  /** Milliseconds the whole attempt may take: lookup, TCP connect and TLS handshake. Default 30000. */
  connectTimeout?: number;
  /** Cancels the attempt while it is in progress; has no effect once the socket is returned. */
  signal?: AbortSignal;
  /** Resolver to use instead of `dns.lookup`, with the same contract (e.g. a custom DNS client). */
  lookup?: LookupFunction;
  /** Time source for the connect timeout (default real time); tests pass a virtual clock. */
  clock?: Clock;
  /**
   * A TLS context from `tls.createSecureContext`, used as it is instead of `ca`, `cert`, `key`,
   * `passphrase` and `pfx`: what a client certificate resolves to, so that options resolved once
   * (an MQTT session's) can be passed to `openTransport` again and keep their certificate.
   */
  secureContext?: SecureContext;
  /** The public facts of the certificate in `secureContext`, kept with it (see {@link ResolvedTransportOptions}). */
  clientCertificate?: ClientCertificateSummary | undefined;
}

/** The options after validation and defaults: what `openTransport` actually uses. */
export interface ResolvedTransportOptions {
  /** Without brackets. */
  readonly host: string;
  readonly port: number;
  readonly transport: 'tls' | 'tcp';
  readonly family: 0 | 4 | 6;
  readonly ca: string | Buffer | Array<string | Buffer> | undefined;
  /** `undefined` means no SNI. */
  readonly servername: string | undefined;
  readonly rejectUnauthorized: boolean;
  /** The client certificate's public facts, when one is given (its key is in `secureContext` only). */
  readonly clientCertificate: ClientCertificateSummary | undefined;
  /**
   * With a client certificate: the TLS context the connections share, holding the certificate,
   * its key (inside OpenSSL, out of reach of inspection), the trusted `ca` and TLS 1.2 as the floor.
   */
  readonly secureContext: SecureContext | undefined;
  readonly connectTimeout: number;
  readonly signal: AbortSignal | undefined;
  readonly lookup: LookupFunction | undefined;
  readonly clock: Clock;
}

export const DEFAULT_CONNECT_TIMEOUT = 30_000;

/** setTimeout treats anything larger as 1 ms, which would turn a generous timeout into none. */
const MAX_TIMER_DELAY = 2_147_483_647;

/**
 * Checks the options and fills in defaults, so that mistakes surface as a ConfigurationError
 * naming the option instead of as an obscure socket error later.
 */
export function resolveTransportOptions(options: TransportOptions): ResolvedTransportOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('options', 'expected an object with at least host and port');
  }
  const host = resolveHost(options.host);
  const transport = options.transport ?? 'tls';
  if (transport !== 'tls' && transport !== 'tcp') {
    throw new ConfigurationError('transport', `expected 'tls' or 'tcp', got ${describe(transport)}`);
  }
  const family = options.family ?? 6;
  if (family !== 0 && family !== 4 && family !== 6) {
    throw new ConfigurationError('family', `expected 6 (IPv6), 4 (IPv4) or 0 (either), got ${describe(family)}`);
  }
  const rejectUnauthorized = options.rejectUnauthorized ?? true;
  if (typeof rejectUnauthorized !== 'boolean') {
    throw new ConfigurationError('rejectUnauthorized', `expected true or false, got ${describe(rejectUnauthorized)}`);
  }
  if (options.signal !== undefined && !isAbortSignal(options.signal)) {
    throw new ConfigurationError('signal', 'expected an AbortSignal (e.g. AbortSignal.timeout(ms) or controller.signal)');
  }
  if (options.lookup !== undefined && typeof options.lookup !== 'function') {
    throw new ConfigurationError('lookup', 'expected a function with the signature of dns.lookup');
  }
  if (options.clock !== undefined && !isClock(options.clock)) {
    throw new ConfigurationError('clock', 'expected an object with now(), setTimeout(callback, ms) and clearTimeout(handle)');
  }
  const port = resolvePort(options.port);
  const ca = resolveCa(options.ca);
  const servername = resolveServername(options.servername, host);
  const connectTimeout = resolveConnectTimeout(options.connectTimeout);
  // Last: the costliest check (it parses the certificate and key), made once the rest is known good.
  const certificate = options.secureContext !== undefined ? givenContext(options, transport) : resolveClientCertificate(options, transport, ca);
  return {
    host,
    port,
    transport,
    family,
    ca,
    servername,
    rejectUnauthorized,
    clientCertificate: certificate?.summary,
    secureContext: certificate?.secureContext,
    connectTimeout,
    signal: options.signal,
    lookup: options.lookup,
    clock: options.clock ?? systemClock,
  };
}

function resolveHost(host: unknown): string {
  if (typeof host !== 'string' || host === '') {
    throw new ConfigurationError('host', `expected a host name or IP address, got ${describe(host)}`);
  }
  if (host.includes('://') || host.includes('/')) {
    throw new ConfigurationError('host', `expected a host name or IP address, not a URL (got '${host}'); pass the port as 'port'`);
  }
  if (host.startsWith('[') || host.endsWith(']')) {
    const inner = host.slice(1, -1);
    if (!host.startsWith('[') || !host.endsWith(']') || isIP(inner) !== 6) {
      throw new ConfigurationError('host', `'${host}' is not a bracketed IPv6 address like '[::1]'; pass the port as 'port'`);
    }
    return inner;
  }
  if (host.includes(':') && isIP(host) !== 6) {
    throw new ConfigurationError('host', `'${host}' is neither a host name nor an IPv6 address; pass the port separately as 'port'`);
  }
  if (/\s/.test(host)) {
    throw new ConfigurationError('host', `'${host}' contains white space`);
  }
  return host;
}

/** A secure context given as it is (resolved options passed again); it replaces the certificate options. */
function givenContext(options: TransportOptions, transport: 'tls' | 'tcp'): { summary: ClientCertificateSummary | undefined; secureContext: SecureContext } {
  const context = options.secureContext as unknown;
  if (typeof context !== 'object' || context === null || !('context' in context)) {
    throw new ConfigurationError('secureContext', 'expected a context made by tls.createSecureContext');
  }
  if (transport !== 'tls') throw new ConfigurationError('secureContext', "is a TLS context: connect with transport: 'tls'");
  for (const field of ['cert', 'key', 'passphrase', 'pfx'] as const) {
    if (options[field] !== undefined) {
      throw new ConfigurationError(field, 'a secureContext holds the certificate already; give one or the other');
    }
  }
  return { summary: options.clientCertificate, secureContext: options.secureContext! };
}

function resolvePort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigurationError('port', `expected an integer from 1 to 65535, got ${describe(port)}`);
  }
  return port;
}

function resolveServername(servername: unknown, host: string): string | undefined {
  if (servername === undefined) {
    return isIP(host) === 0 ? host : undefined;
  }
  if (typeof servername !== 'string' || servername === '') {
    throw new ConfigurationError('servername', `expected a host name, got ${describe(servername)}`);
  }
  if (isIP(servername) !== 0 || isIP(servername.replace(/^\[(.*)\]$/, '$1')) !== 0) {
    throw new ConfigurationError(
      'servername',
      `'${servername}' is an IP address, which SNI must not carry (RFC 6066); leave servername unset to connect by address`,
    );
  }
  return servername;
}

function resolveCa(ca: unknown): ResolvedTransportOptions['ca'] {
  if (ca === undefined) {
    return undefined;
  }
  const entries = Array.isArray(ca) ? ca : [ca];
  if (entries.length === 0) {
    throw new ConfigurationError('ca', 'is an empty list, which would trust nothing; leave ca unset to use Node\'s bundled roots');
  }
  for (const entry of entries) {
    if (typeof entry !== 'string' && !Buffer.isBuffer(entry)) {
      throw new ConfigurationError('ca', `expected PEM text as a string or Buffer, got ${describe(entry)}`);
    }
    // A file path here is the usual slip, and Node would only report it later as an unverifiable
    // server certificate.
    if (!entry.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigurationError(
        'ca',
        'holds no PEM certificate (no -----BEGIN CERTIFICATE----- line); pass the contents of the file, e.g. readFileSync(path), not its path',
      );
    }
  }
  return ca as ResolvedTransportOptions['ca'];
}

function resolveConnectTimeout(timeout: unknown): number {
  if (timeout === undefined) {
    return DEFAULT_CONNECT_TIMEOUT;
  }
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_TIMER_DELAY) {
    throw new ConfigurationError(
      'connectTimeout',
      `expected milliseconds greater than 0 and at most ${MAX_TIMER_DELAY}, got ${describe(timeout)}`,
    );
  }
  return timeout;
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).removeEventListener === 'function'
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return `'${value}'`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) {
    return String(value);
  }
  return typeof value;
}
