/**
 * Mutual TLS against a real mosquitto on [::1] with `require_certificate true` and
 * `use_identity_as_username true`, trusting the client test CA and honouring its revocation list:
 * a valid certificate connects and publishes (and the broker takes its common name as the user
 * name); no certificate, a certificate from another CA and a revoked one are refused by the
 * broker with TLS alerts, each read as its own TransportError; an expired certificate and a key
 * that does not match are refused by the client before anything reaches the broker. Each in TLS
 * 1.2, where the alert ends the handshake, and TLS 1.3, where it arrives after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { ConfigurationError } from '../../src/shared/errors.js';
import { openResolvedTransport } from '../../src/transport/open.js';
import { TransportError } from '../../src/transport/index.js';
import type { TransportErrorCode } from '../../src/transport/index.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { SocketSpy, brokerOptions, logShows, next, uniqueId, useBroker } from './support.js';
import { VirtualClock } from '../support/virtual-clock.js';

const fixtures = new URL('../fixtures/mtls/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, fixtures), 'latin1');
const pair = (name: string): { cert: string; key: string } => ({ cert: read(`${name}.pem`), key: read(`${name}.key`) });

// Copies keep the broker's config free of paths with spaces, whatever the checkout's location.
const directory = mkdtempSync(join(tmpdir(), 'aliot-mtls-'));
mkdirSync(join(directory, 'capath'));
for (const name of readdirSync(new URL('capath/', fixtures))) {
  copyFileSync(new URL(`capath/${name}`, fixtures), join(directory, 'capath', name));
}
copyFileSync(new URL('client-ca.crl', fixtures), join(directory, 'client-ca.crl'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const MTLS_CONFIG = [
  // The TLS listener's own cafile is the CA of the broker's certificate; the client CA joins it.
  `capath ${join(directory, 'capath')}`,
  `crlfile ${join(directory, 'client-ca.crl')}`,
  'require_certificate true',
  'use_identity_as_username true',
].join('\n');

const versions = ['TLSv1.2', 'TLSv1.3'] as const;

describeWithBroker('MqttClient with a client certificate against mosquitto (require_certificate)', () => {
  const suite = useBroker({ extraConfig: MTLS_CONFIG });
  const { pool } = suite;

  for (const version of versions) {
    describe(version, () => {
      // mosquitto takes tls_version as a floor; the client side caps the version, as a Node run
      // with --tls-max-v1.2 would (the transport leaves the maximum to Node's default).
      const saved = tls.DEFAULT_MAX_VERSION;
      beforeAll(() => {
        tls.DEFAULT_MAX_VERSION = version;
      });
      afterAll(() => {
        tls.DEFAULT_MAX_VERSION = saved;
      });

      it(`${version}: connects with a valid certificate and publishes; the broker names the client by its certificate`, async () => {
        const spy = new SocketSpy();
        const clientId = uniqueId('mtls');
        const client = pool.track(brokerOptions(suite.broker, { clientId, ...pair('client'), openSocket: spy.openSocket }));
        await client.connect();
        expect((spy.socket(spy.connections[0]!) as TLSSocket).getProtocol()).toBe(version);
        await client.subscribe('mtls/echo', { qos: 1 });
        const received = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
        await client.publish('mtls/echo', 'over mutual TLS', { qos: 1 });
        expect(await received).toBe('over mutual TLS');
        await logShows(suite.broker, new RegExp(`New client connected from ::1:\\d+ as ${clientId} \\(p2, c1, k60, u'aliot-test-client'\\)`));
      });

      const refusals: Array<[string, Record<string, unknown>, TransportErrorCode]> = [
        ['no certificate', {}, 'client-certificate-required'],
        ['a certificate from another CA', pair('foreign'), 'client-certificate-untrusted'],
        ['a revoked certificate', pair('revoked'), 'client-certificate-revoked'],
      ];
      it.each(refusals)(`${version}: %s is refused by the broker, as its own TransportError`, async (_what, certificate, code) => {
        const client = pool.track(brokerOptions(suite.broker, { clientId: uniqueId('refused'), ...certificate }));
        const error = await client.connect().then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(TransportError);
        expect((error as TransportError).code).toBe(code);
        expect((error as TransportError).retryable).toBe(false);
        expect((error as TransportError).phase).toBe('tls');
      });

      it(`${version}: a refused certificate ends the client at once, however reconnecting is set: it would fail alike`, async () => {
        const spy = new SocketSpy();
        const clock = new VirtualClock();
        const client = pool.track(
          brokerOptions(suite.broker, { ...pair('foreign'), openSocket: spy.openSocket, clock, reconnect: { initialDelay: 1, maxDelay: 1 } }),
        );
        const ended = next(client, 'end');
        const error = await client.connect().catch((e: unknown) => e);
        expect((error as TransportError).code).toBe('client-certificate-untrusted');
        await ended;
        expect(client.state).toBe('ended');
        expect(clock.pending()).toBe(0);
        clock.advance(3_600_000);
        expect(spy.attempts).toBe(1);
        await expect(client.publish('t', 'x')).rejects.toBe(error);
      });

      it(`${version}: an expired certificate is refused by the client, naming the dates; sent anyway, the broker refuses it too`, async () => {
        const before = connections(suite.broker.log());
        let thrown: unknown;
        try {
          pool.track(brokerOptions(suite.broker, { clientId: uniqueId('expired'), ...pair('expired') }));
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(ConfigurationError);
        expect((thrown as ConfigurationError).field).toBe('cert');
        expect((thrown as Error).message).toContain('expired on 2001-01-01 00:00:00 UTC');

        // A client whose clock is a quarter-century behind would send it: the socket opener
        // below skips the construction check and presents it, and the broker's verdict reads so.
        const expired = pair('expired');
        const client = pool.track(
          brokerOptions(suite.broker, {
            clientId: uniqueId('expired'),
            openSocket: (options) =>
              openResolvedTransport({
                ...options,
                secureContext: tls.createSecureContext({ ...expired, ca: options.ca, minVersion: 'TLSv1.2' }),
              }),
          }),
        );
        const error = await client.connect().then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect((error as TransportError).code).toBe('client-certificate-expired');
        expect(connections(suite.broker.log())).toBe(before);
      });

      it(`${version}: a key that does not match the certificate is refused before any I/O`, () => {
        const before = suite.broker.log().length;
        expect(() => pool.track(brokerOptions(suite.broker, { cert: read('client.pem'), key: read('foreign.key') }))).toThrow(
          expect.objectContaining({ name: 'ConfigurationError', field: 'key' }),
        );
        expect(suite.broker.log().length).toBe(before);
      });
    });
  }
});

/** The broker's count of clients that completed CONNECT. */
function connections(log: string): number {
  return log.match(/New client connected/g)?.length ?? 0;
}
