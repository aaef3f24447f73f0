/**
 * The platform's reading of a transport failure and of a closed connection: which of its hosts
 * need what, never the failing host as the way out, and connectDevice adding it to the error.
 */
import type { LookupFunction } from 'node:net';
import { describe, expect, it } from 'vitest';
import { IPV6_TEST_ENDPOINT, missingAaaaHint, platformClosedHint, platformTransportHint } from '../../src/aliyun/index.js';
import { connectDevice } from '../../src/device/index.js';
import { TransportError } from '../../src/transport/index.js';

const PRODUCT_HOST = 'a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com';

describe('platformTransportHint', () => {
  it('a product endpoint without an AAAA record: the support ticket, and the test endpoint meanwhile', () => {
    const hint = platformTransportHint({ code: 'no-aaaa-record', host: PRODUCT_HOST });
    expect(hint?.code).toBe('aaaa-by-ticket');
    expect(hint?.text).toContain('support ticket');
    expect(hint?.advice).toEqual([expect.objectContaining({ code: 'use-ipv6-test-endpoint', option: { name: 'endpoint', value: 'ipv6-test' } })]);
  });

  it('an instance endpoint without an AAAA record gets the same advice', () => {
    expect(platformTransportHint({ code: 'no-aaaa-record', host: 'iot-06z00abc.mqtt.iothub.aliyuncs.com' })?.code).toBe('aaaa-by-ticket');
  });

  it('another region: IPv6 is served in cn-shanghai only', () => {
    const hint = platformTransportHint({ code: 'no-aaaa-record', host: 'a1B2c3.iot-as-mqtt.eu-central-1.aliyuncs.com' });
    expect(hint?.code).toBe('ipv6-region-only');
    expect(hint?.text).toContain('eu-central-1');
  });

  it('never suggests the host that failed: the IPv6 test endpoint gets no hint of its own', () => {
    for (const code of ['no-aaaa-record', 'host-not-found', 'no-ipv6-route']) {
      expect(platformTransportHint({ code, host: IPV6_TEST_ENDPOINT.host })).toBeUndefined();
      expect(platformTransportHint({ code, host: `${IPV6_TEST_ENDPOINT.host.toUpperCase()}.` })).toBeUndefined();
    }
  });

  it('a product host that does not resolve at all: its productKey or region is wrong, not its AAAA record', () => {
    const hint = platformTransportHint({ code: 'host-not-found', host: PRODUCT_HOST });
    expect(hint?.code).toBe('host-from-identity');
    expect(hint?.text).toContain('a1B2c3D4e5F');
    expect(hint?.text).not.toContain('AAAA');
    expect(platformTransportHint({ code: 'host-not-found', host: 'iot-1.mqtt.iothub.aliyuncs.com' })?.text).toContain('instance ID');
  });

  it.each([
    ['no-aaaa-record', 'broker.example'],
    ['no-aaaa-record', 'oss-cn-shanghai.aliyuncs.com'],
    ['connection-refused', PRODUCT_HOST],
    ['tls-verification-failed', PRODUCT_HOST],
  ])('has nothing to add to %s for %s', (code, host) => {
    expect(platformTransportHint({ code, host })).toBeUndefined();
  });
});

describe('platformClosedHint', () => {
  it('names the usual reason the platform drops an accepted device: the same device signed in again', () => {
    const hint = platformClosedHint();
    expect(hint.code).toBe('signed-in-elsewhere');
    expect(hint.text).toContain('signs in again');
    expect(hint.advice.map((a) => a.code)).toEqual(['one-client-per-device']);
  });
});

describe('missingAaaaHint', () => {
  it('does not send the IPv6 test endpoint to itself', () => {
    const text = missingAaaaHint(IPV6_TEST_ENDPOINT.host);
    expect(text.split(IPV6_TEST_ENDPOINT.host)).toHaveLength(2); // named once: as the host that failed
    expect(missingAaaaHint(PRODUCT_HOST)).toContain(`verify IPv6 access with ${IPV6_TEST_ENDPOINT.host}`);
  });
});

describe('connectDevice adds the platform hint to the transport error', () => {
  /** A resolver with IPv4 addresses only for the product's host, and nothing else. */
  const ipv4Only: LookupFunction = (hostname, options, callback) => {
    setImmediate(() => {
      if (hostname === PRODUCT_HOST && options.family === 4) callback(null, '127.0.0.1', 4);
      else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
    });
  };

  it('a product endpoint with IPv4 only: no-aaaa-record with the ticket hint', async () => {
    const error = await connectDevice({ productKey: 'a1B2c3D4e5F', deviceName: 'd', deviceSecret: 's', lookup: ipv4Only, reconnect: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'no-aaaa-record', host: PRODUCT_HOST });
    expect((error as TransportError).hints.map((h) => h.code)).toEqual(['aaaa-by-ticket']);
    expect((error as TransportError).message).toContain("endpoint: 'ipv6-test'");
  });

  it('the IPv6 test endpoint that does not resolve: host-not-found, and no suggestion to connect to it', async () => {
    const error = await connectDevice({ productKey: 'a1B2c3D4e5F', deviceName: 'd', deviceSecret: 's', endpoint: 'ipv6-test', lookup: ipv4Only, reconnect: false }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'host-not-found', host: IPV6_TEST_ENDPOINT.host, hints: [] });
    expect((error as TransportError).message.split(IPV6_TEST_ENDPOINT.host)).toHaveLength(2);
  });
});
