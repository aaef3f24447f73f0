/**
 * The platform's X.509 device authentication in the profile: the endpoint, the CONNECT fields the
 * platform's page and the C Link SDK give for certificate-authenticated devices, the identity
 * message, and what the profile adds to a failure on the X.509 endpoint.
 */
import { describe, expect, it } from 'vitest';
import {
  aliyunRootCa,
  parseX509Identity,
  platformTransportHint,
  X509_ENDPOINT,
  X509_IDENTITY_TOPIC,
  x509ConnackHint,
  x509ConnectionOptions,
  platformConnackHint,
} from '../../src/aliyun/index.js';
import type { X509DeviceOptions } from '../../src/aliyun/index.js';
import { PlatformPayloadError } from '../../src/aliyun/index.js';
import { parseClientId } from '../../src/sign/extension.js';
import { ConfigurationError } from '../../src/shared/errors.js';

describe('x509ConnectionOptions', () => {
  it('without an identity: the X.509 endpoint over TLS and IPv6, the triple left empty as the vendor SDK leaves it', () => {
    const options = x509ConnectionOptions({});
    expect(X509_ENDPOINT).toEqual({ host: 'x509.itls.cn-shanghai.aliyuncs.com', port: 1883, production: true });
    expect({ ...options }).toEqual({
      host: 'x509.itls.cn-shanghai.aliyuncs.com',
      port: 1883,
      transport: 'tls',
      family: 6,
      servername: 'x509.itls.cn-shanghai.aliyuncs.com',
      ca: aliyunRootCa(),
      rejectUnauthorized: true,
      clientId: '.|securemode=2|',
      username: '&',
      password: '',
      keepalive: 300,
      clean: true,
    });
  });

  it('the clientId reads as the platform reads any: securemode 2, the bare id before the bars', () => {
    const parsed = parseClientId(x509ConnectionOptions({ clientId: 'SN-0042' }).clientId);
    expect(parsed).toMatchObject({ ok: true, clientId: 'SN-0042', secureMode: 2 });
  });

  it('with a known identity: the user name deviceName&productKey, the default id productKey.deviceName, still no password', () => {
    const options = x509ConnectionOptions({ productKey: 'a1B2c3D4e5F', deviceName: 'lamp' });
    expect(options.clientId).toBe('a1B2c3D4e5F.lamp|securemode=2|');
    expect(options.username).toBe('lamp&a1B2c3D4e5F');
    expect(options.password).toBe('');
  });

  it('a { host, port } endpoint is taken as given, with Node\'s roots unless ca says otherwise', () => {
    const options = x509ConnectionOptions({ endpoint: { host: '[::1]', port: 8883 }, keepalive: 60, clean: false });
    expect(options).toMatchObject({ host: '::1', port: 8883, family: 6, servername: undefined, ca: undefined, keepalive: 60, clean: false });
    expect(x509ConnectionOptions({ endpoint: { host: '::1', port: 8883 }, ca: 'PEM' }).ca).toBe('PEM');
  });

  it.each<[string, X509DeviceOptions, string, RegExp]>([
    ['another region', { region: 'ap-southeast-1' }, 'region', /cn-shanghai only/],
    ['plain TCP', { transport: 'tcp' as 'tls' }, 'transport', /"tls"/],
    ['a productKey without a deviceName', { productKey: 'pk' }, 'deviceName', /both productKey and deviceName/],
    ['a deviceName without a productKey', { deviceName: 'dn' }, 'productKey', /both productKey and deviceName/],
    ['a deviceName with a slash', { productKey: 'pk', deviceName: 'a/b' }, 'deviceName', /must not contain '\/'/],
    ['the product endpoint', { endpoint: 'product' as 'x509' }, 'endpoint', /by certificate on x509\.itls/],
    ['the IPv6 test endpoint', { endpoint: 'ipv6-test' as 'x509' }, 'endpoint', /by certificate on x509\.itls/],
    ['an instance endpoint', { endpoint: { instanceId: 'iot-06z' } as unknown as 'x509' }, 'endpoint', /by certificate on x509\.itls/],
    ['a keepalive the platform refuses', { keepalive: 10 }, 'keepalive', /30\.\.1200/],
    ['a clientId with a bar', { clientId: 'a|b' }, 'clientId', /must not contain '\|'/],
    ['a port out of range', { port: 70_000 }, 'port', /TCP port/],
  ])('refuses %s, naming the field', (_what, device, field, message) => {
    let thrown: unknown;
    try {
      x509ConnectionOptions(device);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as ConfigurationError).field).toBe(field);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('parseX509Identity', () => {
  it('reads the productKey and deviceName the platform sends on /ext/auth/identity/response', () => {
    expect(X509_IDENTITY_TOPIC).toBe('/ext/auth/identity/response');
    const payload = Buffer.from('{"productKey":"a1B2c3D4e5F","deviceName":"lamp"}');
    expect(parseX509Identity(payload)).toEqual({ productKey: 'a1B2c3D4e5F', deviceName: 'lamp' });
    expect(parseX509Identity('{"deviceName":"lamp","productKey":"pk","extra":1}')).toEqual({ productKey: 'pk', deviceName: 'lamp' });
  });

  it.each([
    ['not JSON', 'productKey=pk', 'invalid-json'],
    ['not UTF-8', Buffer.from([0xff, 0xfe]), 'invalid-utf8'],
    ['an array', '[]', 'not-an-object'],
    ['no productKey', '{"deviceName":"lamp"}', 'missing-field'],
    ['an empty deviceName', '{"productKey":"pk","deviceName":""}', 'bad-field'],
    ['a numeric productKey', '{"productKey":1,"deviceName":"lamp"}', 'bad-field'],
    ['a wildcard in the deviceName', '{"productKey":"pk","deviceName":"#"}', 'bad-field'],
    ['an ampersand in the productKey', '{"productKey":"p&k","deviceName":"lamp"}', 'bad-field'],
  ])('refuses %s', (_what, payload, code) => {
    expect(() => parseX509Identity(payload)).toThrow(PlatformPayloadError);
    expect(() => parseX509Identity(payload)).toThrow(expect.objectContaining({ code }));
  });
});

describe('what the profile adds to a failure on the X.509 endpoint', () => {
  const host = X509_ENDPOINT.host;

  it.each(['client-certificate-required', 'client-certificate-untrusted', 'client-certificate-revoked', 'client-certificate-rejected'])(
    '%s: the endpoint takes the certificate the platform issued, downloaded from the console',
    (code) => {
      const hint = platformTransportHint({ code, host });
      expect(hint?.code).toBe('x509-certificate');
      expect(hint?.text).toContain('the certificate the platform issued for it');
      expect(hint?.advice[0]).toMatchObject({ code: 'download-device-certificate', option: { name: 'cert' } });
    },
  );

  it('no AAAA record: IPv6 is not documented for this endpoint', () => {
    expect(platformTransportHint({ code: 'no-aaaa-record', host: `${host.toUpperCase()}.` })?.code).toBe('x509-ipv6-undocumented');
  });

  it('nothing for other failures, nor for certificate failures elsewhere', () => {
    expect(platformTransportHint({ code: 'connection-refused', host })).toBeUndefined();
    expect(platformTransportHint({ code: 'client-certificate-required', host: 'broker.example' })).toBeUndefined();
  });
});

describe('x509ConnackHint', () => {
  it('reads 4 and 5 for a device that signs nothing, and the rest as for any device', () => {
    expect(x509ConnackHint(5)).toMatchObject({ returnCode: 5, meaning: 'not authorized' });
    expect(x509ConnackHint(5)!.cause).toContain("the certificate's device is unknown to the platform");
    expect(x509ConnackHint(5)!.cause).not.toContain('deviceSecret');
    expect(x509ConnackHint(4)!.cause).toContain("the user name is not the certificate's device");
    expect(x509ConnackHint(3)).toEqual(platformConnackHint(3));
    expect(x509ConnackHint(0)).toBeUndefined();
  });
});
