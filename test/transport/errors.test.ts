import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TransportError, formatEndpoint } from '../../src/transport/errors.js';
import type { FailureContext, TransportErrorCode } from '../../src/transport/errors.js';
import { abortedError, closedEarlyError, connectTimeoutError, toTransportError } from '../../src/transport/failures.js';

const errno = (code: string, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(`${code} from the test`), { code, ...extra });

const at = (phase: FailureContext['phase'], extra: Partial<FailureContext> = {}): FailureContext => ({
  host: 'pk.iot-as-mqtt.cn-shanghai.aliyuncs.com',
  port: 1883,
  family: 6,
  phase,
  ...extra,
});

const adviceCodes = (error: TransportError): string[] => error.advice.map((a) => a.code);
const options = (error: TransportError): Array<string | undefined> => error.advice.map((a) => a.option?.name);

describe('toTransportError: name lookup', () => {
  it.each(['ENOTFOUND', 'ENODATA'])('%s with family 6 for a name with IPv4 addresses is a missing AAAA record', (code) => {
    const cause = errno(code, { syscall: 'getaddrinfo' });
    const error = toTransportError(cause, at('lookup', { host: 'broker.example', otherFamily: { family: 4, outcome: 'found' } }));
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'no-aaaa-record', phase: 'lookup', host: 'broker.example', port: 1883 });
    expect(error.cause).toBe(cause);
    expect(adviceCodes(error)).toEqual(['allow-other-family', 'add-aaaa-record']);
    expect(error.advice[0]!.option).toEqual({ name: 'family', value: 0 });
    expect(error.message).toContain('family: 0');
  });

  it('localhost with IPv4 only is pointed at ::1 first', () => {
    const error = toTransportError(errno('ENOTFOUND'), at('lookup', { host: 'localhost', otherFamily: { family: 4, outcome: 'found' } }));
    expect(error.code).toBe('no-aaaa-record');
    expect(adviceCodes(error)).toEqual(['use-ipv6-loopback', 'allow-other-family']);
    expect(error.message).toContain("host: '::1'");
  });

  it('a name with no address in either family is host-not-found, with no advice to switch families', () => {
    const error = toTransportError(errno('ENOTFOUND'), at('lookup', { otherFamily: { family: 4, outcome: 'not-found', code: 'ENOTFOUND' } }));
    expect(error.code).toBe('host-not-found');
    expect(adviceCodes(error)).toEqual(['check-host-name', 'check-dns']);
    expect(error.message).not.toContain('AAAA');
    expect(error.message).not.toContain('family');
  });

  it('the transport knows no platform: a platform host gets the same, generic words', () => {
    const error = toTransportError(errno('ENOTFOUND'), at('lookup', { otherFamily: { family: 4, outcome: 'found' } }));
    expect(error.message).not.toMatch(/support ticket|aliyuncs\.com:|ipv6\.itls/);
    expect(error.hints).toEqual([]);
  });

  it('with family 4, a name with IPv6 addresses only is no-a-record and points to family 6', () => {
    const error = toTransportError(errno('ENOTFOUND'), at('lookup', { family: 4, otherFamily: { family: 6, outcome: 'found' } }));
    expect(error.code).toBe('no-a-record');
    expect(error.advice[0]!.option).toEqual({ name: 'family', value: 6 });
  });

  it('a second lookup that fails for another reason is a DNS failure', () => {
    const error = toTransportError(errno('ENOTFOUND'), at('lookup', { otherFamily: { family: 4, outcome: 'failed', code: 'EAI_AGAIN' } }));
    expect(error.code).toBe('dns-failed');
    expect(error.message).toContain('EAI_AGAIN');
  });

  it.each([0, 4, 6] as const)('ENOTFOUND with family %i and nothing else known is host-not-found', (family) => {
    const error = toTransportError(errno('ENOTFOUND'), at('lookup', { family }));
    expect(error.code).toBe('host-not-found');
    expect(options(error)).not.toContain('family');
  });

  it.each(['EAI_AGAIN', 'ETIMEOUT', 'ESERVFAIL', 'ECONNREFUSED', 'EBADRESP'])('%s while resolving is a DNS failure', (code) => {
    const error = toTransportError(errno(code), at('lookup'));
    expect(error.code).toBe('dns-failed');
    expect(adviceCodes(error)).toContain('check-dns');
  });
});

describe('toTransportError: TCP', () => {
  it('ECONNREFUSED is connection-refused', () => {
    const error = toTransportError(errno('ECONNREFUSED', { address: '::1', port: 1883 }), at('tcp', { host: '::1' }));
    expect(error.code).toBe('connection-refused');
    expect(error.message).toContain('[::1]:1883');
  });

  // The kernel's "no route" errors cannot all be provoked on loopback, so the mapping is checked here.
  it.each(['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL'])('%s to a name\'s IPv6 address is no-ipv6-route, with IPv4 as the way round', (code) => {
    const error = toTransportError(errno(code, { address: '2001:db8::1' }), at('tcp'));
    expect(error.code).toBe('no-ipv6-route');
    expect(error.message).toContain('2001:db8::1');
    expect(adviceCodes(error)).toEqual(['check-ipv6-connectivity', 'allow-other-family']);
    expect(error.message).toContain('family: 0');
  });

  it.each(['ENETUNREACH', 'EHOSTUNREACH'])('%s to an IPv6 literal speaks of the route to that address, never of the family', (code) => {
    const error = toTransportError(errno(code, { address: '2001:db8::1' }), at('tcp', { host: '2001:db8::1' }));
    expect(error.code).toBe('no-ipv6-route');
    expect(error.summary).toBe(`no route to [2001:db8::1]:1883 (${code}): that address cannot be reached from this machine`);
    expect(adviceCodes(error)).toEqual(['check-address']);
    expect(error.message).not.toMatch(/family|connectivity/);
  });

  it('a name looked up with family 0 gets no family advice: both were allowed', () => {
    const error = toTransportError(errno('ENETUNREACH', { address: '2001:db8::1' }), at('tcp', { family: 0 }));
    expect(options(error)).not.toContain('family');
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
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not issued by a CA this client trusts/, ['trust-server-ca']],
    ['SELF_SIGNED_CERT_IN_CHAIN', /CA this client does not trust/, ['trust-server-ca']],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', /self-signed/, ['trust-server-ca']],
    ['CERT_HAS_EXPIRED', /expired/, ['check-clock']],
    ['CERT_NOT_YET_VALID', /not valid yet/, ['check-clock']],
    ['ERR_TLS_CERT_ALTNAME_INVALID', /host name mismatch/, ['connect-by-certificate-name', 'set-servername']],
  ])('%s is a verification failure that names the problem', (code, problem, advice) => {
    const error = toTransportError(errno(code), at('tls', { certificateRejected: true }));
    expect(error.code).toBe('tls-verification-failed');
    expect(error.certificateProblem).toBe(code);
    expect(error.message).toMatch(problem);
    expect(adviceCodes(error)).toEqual(advice);
    expect(error.message).toContain(code);
  });

  it('a CA to trust is named by its option, in the library\'s words', () => {
    const error = toTransportError(errno('SELF_SIGNED_CERT_IN_CHAIN'), at('tls', { certificateRejected: true }));
    expect(error.advice[0]!.option).toEqual({ name: 'ca' });
    expect(error.message).toContain('with the ca option');
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

  it('a server that does not speak TLS is named as such, with plain TCP as the option', () => {
    const error = toTransportError(errno('ERR_SSL_WRONG_VERSION_NUMBER'), at('tls'));
    expect(error.code).toBe('tls-handshake-failed');
    expect(error.summary).toContain('did not answer in TLS');
    expect(error.advice).toEqual([expect.objectContaining({ code: 'use-plain-tcp', option: { name: 'transport', value: 'tcp' } })]);
  });

  it('a reset or close during the handshake asks whether the port speaks TLS', () => {
    expect(adviceCodes(toTransportError(errno('ECONNRESET'), at('tls')))).toEqual(['check-tls-port', 'use-plain-tcp']);
    expect(adviceCodes(closedEarlyError(at('tls')))).toEqual(['check-tls-port', 'use-plain-tcp']);
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
      'no-aaaa-record', 'no-a-record', 'host-not-found', 'dns-failed', 'no-ipv6-route', 'network-unreachable', 'connection-refused',
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
      otherFamily: fc.option(
        fc.record({ family: fc.constantFrom(4 as const, 6 as const), outcome: fc.constantFrom('found' as const, 'not-found' as const, 'failed' as const) }),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(cause, context, (input, ctx) => {
        const error = toTransportError(input, ctx);
        expect(error).toBeInstanceOf(TransportError);
        expect(codes).toContain(error.code);
        expect(error.cause).toBe(input);
        expect(error.phase).toBe(ctx.phase);
        expect(error.message.startsWith(error.summary)).toBe(true);
        // Advice that names an option has a place for it in its words.
        for (const advice of error.advice) expect(advice.text.includes('{option}')).toBe(advice.option !== undefined);
      }),
    );
  });
});

describe('timeouts, aborts and early closes', () => {
  it.each([
    ['lookup', /looking up h\.invalid/, 'check-dns'],
    ['tcp', /TCP connection to h\.invalid:1883/, 'check-address'],
    ['tls', /TLS handshake with h\.invalid:1883/, 'check-tls-port', 'use-plain-tcp'],
  ] as const)('a timeout during %s names that step', (phase, text, ...first) => {
    const error = connectTimeoutError({ host: 'h.invalid', port: 1883, family: 6, phase }, 200);
    expect(error.code).toBe('connect-timeout');
    expect(error.phase).toBe(phase);
    expect(error.message).toMatch(text);
    expect(error.message).toContain('200 ms');
    expect(adviceCodes(error)).toEqual([...first, 'allow-more-time']);
    expect(error.advice.at(-1)!.option).toEqual({ name: 'connectTimeout' });
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

describe('withHint: what a layer that knows the server adds', () => {
  const hint = { code: 'h', text: 'the server is special', advice: [{ code: 'x', text: 'use {option}', option: { name: 'endpoint', value: 'e' } }] };

  it('keeps code, fields, advice and cause, and adds the hint to the message', () => {
    const cause = errno('ENOTFOUND');
    const error = toTransportError(cause, at('lookup', { otherFamily: { family: 4, outcome: 'found' } }));
    const hinted = error.withHint(hint);
    expect(hinted).toBeInstanceOf(TransportError);
    expect(hinted).toMatchObject({ code: error.code, host: error.host, port: error.port, phase: error.phase, summary: error.summary });
    expect(hinted.advice).toEqual(error.advice);
    expect(hinted.cause).toBe(cause);
    expect(hinted.hints).toEqual([hint]);
    expect(hinted.message).toBe(`${error.message}. the server is special: use endpoint: 'e'`);
  });

  it('is the same error when there is no hint', () => {
    const error = closedEarlyError(at('tls'));
    expect(error.withHint(undefined)).toBe(error);
  });
});
