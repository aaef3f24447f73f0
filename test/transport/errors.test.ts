import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  TransportError,
  abortedError,
  closedEarlyError,
  connectTimeoutError,
  formatEndpoint,
  toTransportError,
} from '../../src/transport/errors.js';
import type { FailureContext, TransportErrorCode } from '../../src/transport/errors.js';

const errno = (code: string, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(`${code} from the test`), { code, ...extra });

const at = (phase: FailureContext['phase'], extra: Partial<FailureContext> = {}): FailureContext => ({
  host: 'pk.iot-as-mqtt.cn-shanghai.aliyuncs.com',
  port: 1883,
  family: 6,
  phase,
  ...extra,
});

describe('toTransportError: name lookup', () => {
  it.each(['ENOTFOUND', 'ENODATA'])('%s with family 6 is a missing AAAA record, with the ways out', (code) => {
    const cause = errno(code, { syscall: 'getaddrinfo' });
    const error = toTransportError(cause, at('lookup'));
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe('no-aaaa-record');
    expect(error.phase).toBe('lookup');
    expect(error.cause).toBe(cause);
    expect(error.host).toBe('pk.iot-as-mqtt.cn-shanghai.aliyuncs.com');
    expect(error.port).toBe(1883);
    // The message is the product here: it must point at the ticket and both alternatives.
    expect(error.message).toContain('AAAA');
    expect(error.message).toContain('support ticket');
    expect(error.message).toContain('family: 0');
    expect(error.message).toContain('ipv6.itls.cn-shanghai.aliyuncs.com');
  });

  it.each([
    ['localhost', "'::1'"],
    ['broker.example.invalid', 'AAAA record, or connect with family: 0'],
  ])('a missing AAAA record for %s gets advice that fits it, not the platform\'s', (host, advice) => {
    const error = toTransportError(errno('ENOTFOUND'), at('lookup', { host }));
    expect(error.code).toBe('no-aaaa-record');
    expect(error.message).toContain(advice);
    expect(error.message).not.toContain('support ticket');
  });

  it.each([0, 4] as const)('ENOTFOUND with family %i is a plain name-not-found', (family) => {
    const error = toTransportError(errno('ENOTFOUND'), at('lookup', { family }));
    expect(error.code).toBe('dns-failed');
    expect(error.message).not.toContain('AAAA');
  });

  it.each(['EAI_AGAIN', 'ETIMEOUT', 'ESERVFAIL', 'ECONNREFUSED', 'EBADRESP'])('%s while resolving is a DNS failure', (code) => {
    expect(toTransportError(errno(code), at('lookup')).code).toBe('dns-failed');
  });
});

describe('toTransportError: TCP', () => {
  it('ECONNREFUSED is connection-refused', () => {
    const error = toTransportError(errno('ECONNREFUSED', { address: '::1', port: 1883 }), at('tcp', { host: '::1' }));
    expect(error.code).toBe('connection-refused');
    expect(error.message).toContain('[::1]:1883');
  });

  // The kernel's "no route" errors cannot all be provoked on loopback, so the mapping is checked here.
  it.each(['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL'])('%s to an IPv6 address is no-ipv6-route', (code) => {
    const error = toTransportError(errno(code, { address: '2001:db8::1' }), at('tcp'));
    expect(error.code).toBe('no-ipv6-route');
    expect(error.message).toContain('2001:db8::1');
    expect(error.message).toContain('family: 0');
  });

  it.each(['ENETUNREACH', 'EHOSTUNREACH'])('%s to an IPv4 address is network-unreachable', (code) => {
    const error = toTransportError(errno(code, { address: '192.0.2.1' }), at('tcp', { family: 0 }));
    expect(error.code).toBe('network-unreachable');
  });

  it('without an address on the error, the family decides', () => {
    expect(toTransportError(errno('ENETUNREACH'), at('tcp', { family: 6 })).code).toBe('no-ipv6-route');
    expect(toTransportError(errno('ENETUNREACH'), at('tcp', { family: 4 })).code).toBe('network-unreachable');
    expect(toTransportError(errno('ENETUNREACH'), at('tcp', { host: '::1', family: 4 })).code).toBe('no-ipv6-route');
  });

  it('reads the first attempt of a family-0 AggregateError', () => {
    const aggregate = new AggregateError([
      errno('ENETUNREACH', { address: '2001:db8::1' }),
      errno('ECONNREFUSED', { address: '192.0.2.1' }),
    ]);
    const error = toTransportError(aggregate, at('tcp', { family: 0 }));
    expect(error.code).toBe('no-ipv6-route');
    expect(error.cause).toBe(aggregate);
  });

  it('ETIMEDOUT from the kernel is a connect timeout in the TCP phase', () => {
    const error = toTransportError(errno('ETIMEDOUT'), at('tcp'));
    expect(error.code).toBe('connect-timeout');
    expect(error.phase).toBe('tcp');
  });

  it.each(['ECONNRESET', 'EPIPE'])('%s is connection-reset', (code) => {
    expect(toTransportError(errno(code), at('tcp')).code).toBe('connection-reset');
    expect(toTransportError(errno(code), at('tls')).code).toBe('connection-reset');
  });
});

describe('toTransportError: TLS', () => {
  it.each([
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not issued by a CA this client trusts/, /ca option/],
    ['SELF_SIGNED_CERT_IN_CHAIN', /CA this client does not trust/, /ca option/],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', /self-signed/, /ca option/],
    ['CERT_HAS_EXPIRED', /expired/, /ca option/],
    ['CERT_NOT_YET_VALID', /not valid yet/, /ca option/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', /host name mismatch/, /servername/],
  ])('%s is a verification failure that names the problem', (code, problem, remedy) => {
    const error = toTransportError(errno(code), at('tls', { certificateRejected: true }));
    expect(error.code).toBe('tls-verification-failed');
    expect(error.certificateProblem).toBe(code);
    expect(error.message).toMatch(problem);
    expect(error.message).toMatch(remedy);
    expect(error.message).toContain(code);
  });

  it('any error Node raised after refusing the certificate counts as a verification failure', () => {
    const error = toTransportError(errno('SOME_FUTURE_X509_CODE'), at('tls', { certificateRejected: true }));
    expect(error.code).toBe('tls-verification-failed');
    expect(error.certificateProblem).toBe('SOME_FUTURE_X509_CODE');
  });

  it.each(['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_UNSUPPORTED_PROTOCOL'])('%s says TLS 1.2 is the floor', (code) => {
    const error = toTransportError(errno(code), at('tls'));
    expect(error.code).toBe('tls-handshake-failed');
    expect(error.message).toContain('1.2');
  });

  it('a server that does not speak TLS is named as such', () => {
    const error = toTransportError(errno('ERR_SSL_WRONG_VERSION_NUMBER'), at('tls'));
    expect(error.code).toBe('tls-handshake-failed');
    expect(error.message).toContain('plain TCP');
  });

  it('other OpenSSL errors are handshake failures', () => {
    expect(toTransportError(errno('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'), at('tls')).code).toBe('tls-handshake-failed');
  });
});

describe('toTransportError: anything else', () => {
  it('is a socket-error that keeps the cause', () => {
    const cause = errno('EMFILE');
    const error = toTransportError(cause, at('tcp'));
    expect(error.code).toBe('socket-error');
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('EMFILE from the test');
  });

  it('never throws and always keeps the cause, whatever it is given', () => {
    const codes: TransportErrorCode[] = [
      'no-aaaa-record', 'dns-failed', 'no-ipv6-route', 'network-unreachable', 'connection-refused',
      'connection-reset', 'tls-verification-failed', 'tls-handshake-failed', 'connect-timeout', 'socket-error',
    ];
    const cause = fc.oneof(
      fc.anything(),
      fc.string().map((code) => errno(code)),
      fc.constantFrom('ENOTFOUND', 'ECONNREFUSED', 'ENETUNREACH', 'ECONNRESET', 'CERT_HAS_EXPIRED').map((code) => errno(code)),
    );
    const context = fc.record({
      host: fc.constantFrom('::1', '127.0.0.1', 'h.invalid'),
      port: fc.integer({ min: 1, max: 65535 }),
      family: fc.constantFrom(0 as const, 4 as const, 6 as const),
      phase: fc.constantFrom('lookup' as const, 'tcp' as const, 'tls' as const),
      certificateRejected: fc.boolean(),
    });
    fc.assert(
      fc.property(cause, context, (input, ctx) => {
        const error = toTransportError(input, ctx);
        expect(error).toBeInstanceOf(TransportError);
        expect(codes).toContain(error.code);
        expect(error.cause).toBe(input);
        expect(error.phase).toBe(ctx.phase);
        expect(error.message.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe('timeouts, aborts and early closes', () => {
  it.each([
    ['lookup', /looking up h\.invalid/],
    ['tcp', /TCP connection to h\.invalid:1883/],
    ['tls', /TLS handshake with h\.invalid:1883/],
  ] as const)('a timeout during %s names that step', (phase, text) => {
    const error = connectTimeoutError({ host: 'h.invalid', port: 1883, family: 6, phase }, 200);
    expect(error.code).toBe('connect-timeout');
    expect(error.phase).toBe(phase);
    expect(error.message).toMatch(text);
    expect(error.message).toContain('200 ms');
  });

  it('an abort carries the reason as its cause', () => {
    const reason = new Error('user gave up');
    const error = abortedError({ host: '::1', port: 8883, family: 6, phase: 'tls' }, reason, true);
    expect(error.code).toBe('aborted');
    expect(error.cause).toBe(reason);
    expect(error.message).toContain('TLS handshake');
  });

  it('a close without error is a reset', () => {
    expect(closedEarlyError({ host: '::1', port: 1, family: 6, phase: 'tls' }).code).toBe('connection-reset');
  });
});

describe('formatEndpoint', () => {
  it('brackets IPv6 literals only', () => {
    expect(formatEndpoint('::1', 8883)).toBe('[::1]:8883');
    expect(formatEndpoint('127.0.0.1', 8883)).toBe('127.0.0.1:8883');
    expect(formatEndpoint('localhost', 1883)).toBe('localhost:1883');
  });
});
