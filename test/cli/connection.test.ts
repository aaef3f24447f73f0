/** How pub/sub options become client options, without connecting anywhere. */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { resolveConnection } from '../../src/cli/connection.js';
import { PUB } from '../../src/cli/pub.js';
import { aliyunRootCa } from '../../src/aliyun/index.js';
import { signCredentials } from '../../src/sign/index.js';
import { captureIo } from './helpers.js';

const DEVICE = ['--product-key', 'a1B2c3', '--device-name', 'lamp'];
const ENV = { ALIOT_DEVICE_SECRET: 'lamp-secret' };

function resolve(argv: string[], env: Record<string, string> = ENV) {
  return resolveConnection(parseArgs(PUB, argv), captureIo({ env }).io, 'pub');
}

describe('pub/sub connection options', () => {
  it("device credentials reach the product's endpoint over TLS and IPv6, trusting the platform's roots", () => {
    const { options, platform, where } = resolve(DEVICE);
    expect(platform).toBe(true);
    expect(where).toBe('a1B2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883 over TLS');
    expect(options).toMatchObject({
      host: 'a1B2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com',
      port: 1883,
      transport: 'tls',
      family: 6,
      servername: 'a1B2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com',
      ca: aliyunRootCa(),
      username: 'lamp&a1B2c3',
      keepalive: 300,
      reconnect: false,
    });
    expect(options.clientId).toMatch(/^a1B2c3\.lamp\|securemode=2,signmethod=hmacsha256,timestamp=\d+\|$/);
    const timestamp = Number(/timestamp=(\d+)/.exec(options.clientId)![1]);
    expect(options.password).toBe(signCredentials({ productKey: 'a1B2c3', deviceName: 'lamp', deviceSecret: 'lamp-secret', timestamp }).password);
    expect(options.connackHint?.(4)?.cause).toContain('signature');
  });

  it('--endpoint ipv6-test, another region, a bare clientId and the TCP securemode', () => {
    expect(resolve([...DEVICE, '--endpoint', 'ipv6-test']).options).toMatchObject({ host: 'ipv6.itls.cn-shanghai.aliyuncs.com', port: 1883, family: 6 });
    expect(resolve([...DEVICE, '--region', 'eu-central-1']).options).toMatchObject({ host: 'a1B2c3.iot-as-mqtt.eu-central-1.aliyuncs.com', family: 0 });
    const tcp = resolve([...DEVICE, '--tcp', '-i', 'serial-9', '-k', '600']).options;
    expect(tcp).toMatchObject({ transport: 'tcp', keepalive: 600 });
    expect(tcp.clientId).toMatch(/^serial-9\|securemode=3,/);
    expect(tcp.ca).toBeUndefined();
  });

  it.each([
    ['[::1]:8883', '::1', 8883],
    ['::1', '::1', 1883],
    ['localhost:1884', 'localhost', 1884],
    ['example.com', 'example.com', 1883],
  ])('--endpoint %s is host %s port %d', (endpoint, host, port) => {
    const { options } = resolve([...DEVICE, '--endpoint', endpoint]);
    expect(options).toMatchObject({ host, port });
  });

  it('-h and -p name the host with device credentials too, and --family overrides', () => {
    expect(resolve([...DEVICE, '-h', '::1', '-p', '9000', '--family', '0']).options).toMatchObject({ host: '::1', port: 9000, family: 0 });
  });

  it('plain options: TLS by default, a random aliot- clientId, the password from ALIOT_PASSWORD', () => {
    const { options, platform, where } = resolve(['-h', 'broker.example', '-u', 'me'], { ALIOT_PASSWORD: 'pw' });
    expect(platform).toBe(false);
    expect(where).toBe('broker.example:8883 over TLS');
    expect(options).toMatchObject({ host: 'broker.example', transport: 'tls', username: 'me', password: 'pw', reconnect: false });
    expect(options.clientId).toMatch(/^aliot-[0-9a-f]{8}$/);
    expect(options.connackHint).toBeUndefined();
    expect(resolve(['-h', '::1', '--tcp']).where).toBe('[::1]:1883 over TCP');
  });

  it('plain options with a platform clientId get the platform reading of a refusal', () => {
    const { options } = resolve(['-h', '::1', '-i', '12345|securemode=3,signmethod=hmacsha1,timestamp=789|', '-u', 'device&pk', '-P', 'x']);
    expect(options.connackHint?.(5)?.cause).toContain('productKey/deviceName/deviceSecret');
  });

  it('the socket is left alone: facts come from the client\'s events, -d from its packet events (checked in pubsub.test.ts)', () => {
    const { options, facts, trace } = resolve(['-h', '::1', '--tcp', '--connect-timeout', '2']);
    expect(options.openSocket).toBeUndefined();
    expect(trace).toBe(false);
    expect(resolve(['-h', '::1', '-d']).trace).toBe(true);
    expect(options.connectTimeout).toBe(2000);
    expect(facts).toMatchObject({ where: '[::1]:1883 over TCP', transport: 'tcp', port: 1883, platform: false, opened: false, accepted: false });
    expect(resolve(DEVICE).facts).toMatchObject({ platform: true, port: 1883, connectTimeout: 30_000 });
  });
});
