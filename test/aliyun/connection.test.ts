import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { inspect } from 'node:util';
import { aliyunRootCa, ALIYUN_REGIONS, deviceConnectionOptions } from '../../src/aliyun/index.js';
import type { AliyunRegion, DeviceOptions } from '../../src/aliyun/index.js';
import { verifyCredentials } from '../../src/sign/index.js';
import { expectConfigurationError } from '../sign/helpers.js';

const device = { productKey: 'a1B2c3D4e5F', deviceName: 'sensor-1', deviceSecret: 'S3cret-9b8f7e', timestamp: 789 };
const lookup = () => device.deviceSecret;

describe('deviceConnectionOptions', () => {
  it('defaults to the product endpoint in cn-shanghai over TLS and IPv6, with the platform roots', () => {
    const options = deviceConnectionOptions(device);
    expect({ ...options, password: undefined }).toEqual({
      host: 'a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com',
      port: 1883,
      transport: 'tls',
      family: 6,
      servername: 'a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com',
      ca: aliyunRootCa(),
      rejectUnauthorized: true,
      clientId: 'a1B2c3D4e5F.sensor-1|securemode=2,signmethod=hmacsha256,timestamp=789|',
      username: 'sensor-1&a1B2c3D4e5F',
      password: undefined,
      keepalive: 300,
      clean: true,
    });
    expect(verifyCredentials(options, lookup, { transport: 'tls' }).ok).toBe(true);
  });

  it('derives securemode from the transport, so verification over that transport always passes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('tls', 'tcp'),
        fc.constantFrom('hmacmd5', 'hmacsha1', 'hmacsha256'),
        fc.constantFrom<DeviceOptions['endpoint']>('product', 'ipv6-test', { instanceId: 'iot-1' }, { host: '::1', port: 8883 }),
        (transport, signMethod, endpoint) => {
          const options = deviceConnectionOptions({ ...device, transport, signMethod, endpoint });
          expect(options.transport).toBe(transport);
          expect(options.clientId).toContain(`securemode=${transport === 'tls' ? 2 : 3},`);
          expect(verifyCredentials(options, lookup, { transport }).ok).toBe(true);
          const other = transport === 'tls' ? 'tcp' : 'tls';
          expect(verifyCredentials(options, lookup, { transport: other })).toMatchObject({ reason: 'securemode-mismatch' });
        },
      ),
    );
  });

  it('leaves TLS trust out over plain TCP', () => {
    const options = deviceConnectionOptions({ ...device, transport: 'tcp', ca: 'PEM' });
    expect(options.ca).toBeUndefined();
    expect(options.clientId).toBe('a1B2c3D4e5F.sensor-1|securemode=3,signmethod=hmacsha256,timestamp=789|');
  });

  it.each(ALIYUN_REGIONS.filter((region) => region !== 'cn-shanghai'))('uses any address family in %s, IPv4 today', (region) => {
    const options = deviceConnectionOptions({ ...device, region });
    expect(options.host).toBe(`a1B2c3D4e5F.iot-as-mqtt.${region}.aliyuncs.com`);
    expect(options.family).toBe(0);
    expect(options.ca).toBe(aliyunRootCa());
  });

  it('reaches the IPv6 test endpoint', () => {
    const options = deviceConnectionOptions({ ...device, endpoint: 'ipv6-test', port: 443 });
    expect(options).toMatchObject({
      host: 'ipv6.itls.cn-shanghai.aliyuncs.com',
      port: 443,
      family: 6,
      servername: 'ipv6.itls.cn-shanghai.aliyuncs.com',
      ca: aliyunRootCa(),
    });
  });

  it('reaches an instance endpoint', () => {
    const options = deviceConnectionOptions({ ...device, endpoint: { instanceId: 'iot-06z00ax1o4qq8ck' } });
    expect(options).toMatchObject({
      host: 'iot-06z00ax1o4qq8ck.mqtt.iothub.aliyuncs.com',
      port: 1883,
      family: 6,
      ca: aliyunRootCa(),
    });
    expect(deviceConnectionOptions({ ...device, endpoint: { instanceId: 'iot-1' }, region: 'eu-central-1' }).family).toBe(0);
  });

  it.each([
    ['[::1]', '::1', 6],
    ['::1', '::1', 6],
    ['127.0.0.1', '127.0.0.1', 4],
  ] as const)('takes IP literal %s without a servername', (given, host, family) => {
    const options = deviceConnectionOptions({ ...device, endpoint: { host: given, port: 8883 } });
    expect(options).toMatchObject({ host, port: 8883, family, servername: undefined, ca: undefined });
  });

  it('takes any host name, trusting Node defaults unless it is under aliyuncs.com', () => {
    expect(deviceConnectionOptions({ ...device, endpoint: { host: 'localhost' } })).toMatchObject({
      host: 'localhost',
      port: 1883,
      family: 6,
      servername: 'localhost',
      ca: undefined,
    });
    expect(deviceConnectionOptions({ ...device, endpoint: { host: 'x.iot-as-mqtt.cn-shanghai.AliyunCS.com' } }).ca).toBe(
      aliyunRootCa(),
    );
  });

  it('uses a given ca instead of the bundle', () => {
    const ca = ['-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----'];
    expect(deviceConnectionOptions({ ...device, ca }).ca).toBe(ca);
    expect(deviceConnectionOptions({ ...device, endpoint: { host: '::1', port: 8883 }, ca }).ca).toBe(ca);
  });

  it('passes keepalive, clean, clientId, sign method and timestamp through', () => {
    const options = deviceConnectionOptions({
      ...device,
      keepalive: 1200,
      clean: false,
      clientId: 'AA:BB:CC:DD:EE:FF',
      signMethod: 'hmacsha1',
      timestamp: null,
    });
    expect(options).toMatchObject({
      keepalive: 1200,
      clean: false,
      clientId: 'AA:BB:CC:DD:EE:FF|securemode=2,signmethod=hmacsha1|',
    });
    expect(verifyCredentials(options, lookup, { transport: 'tls' })).toMatchObject({ ok: true, clientId: 'AA:BB:CC:DD:EE:FF' });
  });

  it('prints the password as [redacted] and the CA bundle as its size', () => {
    const options = deviceConnectionOptions(device);
    for (const text of [inspect(options), String(options), JSON.stringify(options)]) {
      expect(text).not.toContain(options.password);
      expect(text).toContain('[redacted]');
      expect(text).not.toContain('BEGIN CERTIFICATE');
      expect(text).not.toContain(device.deviceSecret);
    }
    expect(Object.isFrozen(options)).toBe(true);
  });

  const bad: [string, Partial<Record<keyof DeviceOptions, unknown>>][] = [
    ['transport', { transport: 'udp' }],
    ['keepalive', { keepalive: 29 }],
    ['keepalive', { keepalive: 1201 }],
    ['keepalive', { keepalive: 300.5 }],
    ['clean', { clean: 'yes' }],
    ['region', { region: 'cn-beijing' }],
    ['region', { endpoint: 'ipv6-test', region: 'us-west-1' }],
    ['endpoint', { endpoint: 'production' }],
    ['endpoint', { endpoint: {} }],
    ['endpoint.host', { endpoint: { host: '' } }],
    ['endpoint.host', { endpoint: { host: 'a b' } }],
    ['endpoint.host', { endpoint: { host: 'mqtts://host' } }],
    ['endpoint.host', { endpoint: { host: 'host:1883' } }],
    ['instanceId', { endpoint: { instanceId: 'iot_1' } }],
    ['port', { port: 0 }],
    ['port', { endpoint: { host: '::1', port: 70000 } }],
    ['port', { endpoint: { host: '::1', port: 8883 }, port: 1883 }],
    ['productKey', { productKey: 'a.b' }],
    ['productKey', { productKey: '' }],
    ['deviceName', { deviceName: 'a&b' }],
    ['deviceSecret', { deviceSecret: '' }],
    ['signMethod', { signMethod: 'sha1' }],
    ['clientId', { clientId: 'a|b' }],
    ['timestamp', { timestamp: -5 }],
  ];

  it.each(bad)('refuses a bad %s: %o', (field, change) => {
    const error = expectConfigurationError(() => deviceConnectionOptions({ ...device, ...change } as DeviceOptions), field);
    expect(String(error)).not.toContain(device.deviceSecret);
  });

  it('refuses a non-object', () => {
    expectConfigurationError(() => deviceConnectionOptions(undefined as unknown as DeviceOptions), 'device');
  });

  it('accepts a port in the endpoint that matches the top-level one', () => {
    const options = deviceConnectionOptions({ ...device, endpoint: { host: '::1', port: 8883 }, port: 8883 });
    expect(options.port).toBe(8883);
  });

  it('keeps the unknown-region error helpful', () => {
    const error = expectConfigurationError(
      () => deviceConnectionOptions({ ...device, region: 'cn-hangzhou' as AliyunRegion }),
      'region',
    );
    expect(error.message).toContain('cn-shanghai');
  });
});

describe('a secret pasted into the wrong field is never printed back', () => {
  const secret = 'a1b2-Pasted-Device-Secret-9f8e7d';
  it.each([
    ['signMethod', { signMethod: secret }],
    ['transport', { transport: secret }],
    ['region', { region: secret }],
    ['clean', { clean: secret }],
    ['keepalive', { keepalive: secret }],
  ] as const)('%s', (field, extra) => {
    let message = '';
    try {
      deviceConnectionOptions({ productKey: 'a1B2c3D4e5F', deviceName: 'dev', deviceSecret: 's', ...(extra as unknown as Partial<DeviceOptions>) });
    } catch (error) {
      message = (error as Error).message;
      expect((error as { field?: string }).field).toBe(field);
    }
    expect(message).not.toBe('');
    expect(message).not.toContain(secret);
    expect(message).not.toContain(secret.slice(0, 12));
  });
});
