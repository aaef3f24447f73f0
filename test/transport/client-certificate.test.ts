/**
 * Mutual TLS at the transport: a client certificate presented in the handshake, and the server's
 * refusals (no certificate, an untrusted issuer, a revoked certificate, one it finds expired)
 * each as its own TransportError code, in TLS 1.2 (during the handshake) and in TLS 1.3 (after
 * it, on the first read). Against Node's own TLS server on [::1], which refuses the way OpenSSL
 * does in any server (mosquitto's tests are in test/client-broker/mtls.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { afterHandshakeError } from '../../src/transport/failures.js';
import { resolveTransportOptions } from '../../src/transport/options.js';
import { openTransport, TransportError } from '../../src/transport/index.js';
import type { TransportErrorCode, TransportOptions } from '../../src/transport/index.js';
import { failureOf, loopback, startTlsServer } from './helpers.js';
import type { TestServer } from './helpers.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/mtls/${name}`, import.meta.url), 'latin1');
const client = { cert: fixture('client.pem'), key: fixture('client.key') };
const foreign = { cert: fixture('foreign.pem'), key: fixture('foreign.key') };
const revoked = { cert: fixture('revoked.pem'), key: fixture('revoked.key') };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Version = 'TLSv1.2' | 'TLSv1.3';

/** A server that requires a client certificate issued by the client test CA (and honours its CRL). */
async function requiringServer(version: Version, extra: tls.TlsOptions = {}): Promise<TestServer<TLSSocket>> {
  const server = await startTlsServer({
    requestCert: true,
    rejectUnauthorized: true,
    ca: fixture('client-ca.pem'),
    crl: fixture('client-ca.crl'),
    minVersion: version,
    maxVersion: version,
    ...extra,
  });
  cleanups.push(() => server.close());
  return server;
}

async function open(options: TransportOptions): Promise<Socket> {
  const socket = await openTransport(options);
  cleanups.push(() => {
    socket.destroy();
  });
  return socket;
}

/**
 * What a refused client learns: with TLS 1.2 the attempt itself fails; with TLS 1.3 it succeeds,
 * and the server's alert is what the first write brings back, which `afterHandshakeError` reads.
 */
async function refusal(version: Version, options: TransportOptions): Promise<TransportError> {
  if (version === 'TLSv1.2') return failureOf(openTransport(options));
  const socket = await open(options);
  expect((socket as TLSSocket).getProtocol()).toBe('TLSv1.3');
  socket.write('CONNECT would go here');
  const [error] = (await once(socket, 'error')) as [Error];
  const resolved = resolveTransportOptions(options);
  const translated = afterHandshakeError(error, resolved);
  expect(translated, `${(error as { code?: string }).code} should be read as a refusal`).toBeInstanceOf(TransportError);
  return translated!;
}

describe.each(['TLSv1.2', 'TLSv1.3'] as const)('a server that requires client certificates, %s', (version) => {
  it('accepts the client certificate, and sees who the client is', async () => {
    const peer = await requiringServer(version);
    const accepted = peer.nextConnection();
    const socket = await open({ host: '::1', port: peer.port, ca: loopback.ca, ...client });
    expect((socket as TLSSocket).getProtocol()).toBe(version);
    const serverSide = await accepted;
    expect(serverSide.authorized).toBe(true);
    expect(serverSide.getPeerCertificate().subject.CN).toBe('aliot-test-client');
    serverSide.write('hello');
    const [data] = await once(socket, 'data');
    expect(String(data)).toBe('hello');
  });

  it('accepts the same certificate from a PKCS#12 file and from an encrypted key', async () => {
    const peer = await requiringServer(version);
    const passphrase = 'aliot-test-passphrase';
    for (const options of [
      { pfx: readFileSync(new URL('../fixtures/mtls/client.p12', import.meta.url)), passphrase },
      { cert: client.cert, key: fixture('client-encrypted.key'), passphrase },
    ]) {
      const accepted = peer.nextConnection();
      await open({ host: '::1', port: peer.port, ca: loopback.ca, ...options });
      expect((await accepted).getPeerCertificate().subject.CN).toBe('aliot-test-client');
    }
  });

  it('no certificate: its own code, a hint, and no retry', async () => {
    const peer = await requiringServer(version);
    const error = await refusal(version, { host: '::1', port: peer.port, ca: loopback.ca });
    expect(error.code).toBe('client-certificate-required');
    expect(error.phase).toBe('tls');
    expect(error.summary).toContain(`[::1]:${peer.port}`);
    expect(error.advice.map((a) => a.code)).toEqual(['give-client-certificate']);
    expect(error.retryable).toBe(false);
  });

  it('names the alert each TLS version uses for a missing certificate', async () => {
    const peer = await requiringServer(version);
    const error = await refusal(version, { host: '::1', port: peer.port, ca: loopback.ca });
    expect(error.certificateProblem).toBe(
      version === 'TLSv1.2' ? 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' : 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    );
    expect(error.message).toContain(version === 'TLSv1.2' ? 'TLS alert 40' : 'TLS alert 116');
    expect(error.message).toContain('the cert option');
  });
});

/**
 * Node's TLS servers check a client certificate after the handshake and close without an alert
 * (OpenSSL servers send one: see the mosquitto tests for unknown CA, revoked and expired).
 */
describe('a server that closes on a certificate it refuses, without an alert', () => {
  it.each([
    ['another CA', foreign],
    ['revoked', revoked],
  ])('TLS 1.2, a certificate from %s: a reset that says the certificate was most likely refused', async (_what, certificate) => {
    const peer = await requiringServer('TLSv1.2');
    const error = await failureOf(openTransport({ host: '::1', port: peer.port, ca: loopback.ca, ...certificate }));
    expect(error.code).toBe('connection-reset');
    expect(error.summary).toContain('right after this client presented its certificate');
    expect(error.advice.map((a) => a.code)).toEqual(['use-trusted-client-certificate', 'check-server-requirements']);
    expect(error.retryable).toBe(true);
  });

  it('TLS 1.3: the handshake completes, then the server closes; nothing there is read as a TLS refusal', async () => {
    const peer = await requiringServer('TLSv1.3');
    const socket = await open({ host: '::1', port: peer.port, ca: loopback.ca, ...foreign });
    socket.write('CONNECT would go here');
    const errors: Error[] = [];
    socket.on('error', (error) => errors.push(error));
    await once(socket, 'close');
    expect(errors.map((error) => afterHandshakeError(error, resolveTransportOptions({ host: '::1', port: 1, ...foreign })))).not.toContainEqual(
      expect.any(TransportError),
    );
  });
});

describe('options resolved once and opened again', () => {
  it('keep their certificate: it travels as the secure context', async () => {
    const peer = await requiringServer('TLSv1.3');
    const resolved = resolveTransportOptions({ host: '::1', port: peer.port, ca: loopback.ca, ...client });
    const accepted = peer.nextConnection();
    await open(resolved);
    expect((await accepted).getPeerCertificate().subject.CN).toBe('aliot-test-client');
    expect(resolveTransportOptions(resolved).clientCertificate).toEqual(resolved.clientCertificate);
  });

  it('a secure context and certificate options together are refused, naming the option', () => {
    const { secureContext } = resolveTransportOptions({ host: '::1', port: 1, ...client });
    expect(() => resolveTransportOptions({ host: '::1', port: 1, secureContext, key: client.key })).toThrow(
      expect.objectContaining({ field: 'key', name: 'ConfigurationError' }),
    );
    expect(() => resolveTransportOptions({ host: '::1', port: 1, secureContext, transport: 'tcp' })).toThrow(
      expect.objectContaining({ field: 'secureContext' }),
    );
    expect(() => resolveTransportOptions({ host: '::1', port: 1, secureContext: {} as tls.SecureContext })).toThrow(
      expect.objectContaining({ field: 'secureContext' }),
    );
  });
});

describe('what a handshake failure is not', () => {
  it('a TLS 1.2 handshake failure before the client finished (no common cipher) is no certificate problem', async () => {
    // An EC key and RSA-only ciphers: the server has nothing to offer and fails at once.
    const peer = await requiringServer('TLSv1.2', { ciphers: 'AES256-SHA' });
    const error = await failureOf(openTransport({ host: '::1', port: peer.port, ca: loopback.ca }));
    expect(error.code).toBe('tls-handshake-failed');
    expect(error.certificateProblem).toBeUndefined();
  });

  it('a server that requests a certificate but does not require it lets a client without one in', async () => {
    const peer = await requiringServer('TLSv1.3', { rejectUnauthorized: false });
    const accepted = peer.nextConnection();
    await open({ host: '::1', port: peer.port, ca: loopback.ca });
    expect((await accepted).authorized).toBe(false);
  });

  it('a reset after the handshake is not read as a refusal', () => {
    const options = resolveTransportOptions({ host: '::1', port: 1, ...client });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(afterHandshakeError(reset, options)).toBeUndefined();
    expect(afterHandshakeError(new Error('no code'), options)).toBeUndefined();
  });

  it('after the handshake, alert 40 means "certificate required" only to a client that had none', () => {
    const alert = Object.assign(new Error('sslv3 alert handshake failure'), { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' });
    expect(afterHandshakeError(alert, resolveTransportOptions({ host: '::1', port: 1 }))?.code).toBe('client-certificate-required');
    expect(afterHandshakeError(alert, resolveTransportOptions({ host: '::1', port: 1, ...client }))).toBeUndefined();
  });

  it.each([
    ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'client-certificate-expired', ['check-clocks', 'renew-client-certificate']],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'client-certificate-rejected', ['check-server-requirements']],
    ['ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'client-certificate-rejected', ['check-server-requirements']],
    ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'client-certificate-rejected', ['check-server-requirements']],
    ['ERR_SSL_TLSV1_ALERT_ACCESS_DENIED', 'client-certificate-rejected', ['check-server-requirements']],
  ])('%s is %s', (alert, code, advice) => {
    const error = afterHandshakeError(Object.assign(new Error(alert), { code: alert }), resolveTransportOptions({ host: '::1', port: 8883, ...client }));
    expect(error?.code).toBe(code);
    expect(error?.advice.map((a) => a.code)).toEqual(advice);
    expect(error?.summary).toContain("[::1]:8883 refused this client's certificate");
    expect(error?.retryable).toBe(false);
  });

  it('other errors keep retryable as they were: a network that may come back', async () => {
    const error = await failureOf(openTransport({ host: '::1', port: await closedPortNumber() }));
    expect(error.code).toBe('connection-refused');
    expect(error.retryable).toBe(true);
  });
});

async function closedPortNumber(): Promise<number> {
  const { closedPort } = await import('./helpers.js');
  return closedPort();
}
