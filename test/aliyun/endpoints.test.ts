import { describe, expect, it } from 'vitest';
import {
  ALIYUN_REGIONS,
  instanceEndpoint,
  IPV6_TEST_ENDPOINT,
  missingAaaaHint,
  productEndpoint,
} from '../../src/aliyun/index.js';
import type { AliyunRegion } from '../../src/aliyun/index.js';
import { expectConfigurationError } from '../sign/helpers.js';

describe('platform endpoints', () => {
  it('the IPv6 test endpoint is marked not for production', () => {
    expect(IPV6_TEST_ENDPOINT).toEqual({ host: 'ipv6.itls.cn-shanghai.aliyuncs.com', port: 1883, production: false });
    expect(Object.isFrozen(IPV6_TEST_ENDPOINT)).toBe(true);
  });

  it('the product endpoint defaults to cn-shanghai and port 1883', () => {
    expect(productEndpoint('a1B2c3D4e5F')).toEqual({
      host: 'a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com',
      port: 1883,
      production: true,
    });
  });

  it.each(ALIYUN_REGIONS)('knows region %s', (region) => {
    expect(productEndpoint('pk', region, 8883)).toEqual({
      host: `pk.iot-as-mqtt.${region}.aliyuncs.com`,
      port: 8883,
      production: true,
    });
  });

  it('lists the known regions when given an unknown one', () => {
    const error = expectConfigurationError(() => productEndpoint('pk', 'cn-beijing' as AliyunRegion), 'region');
    for (const region of ALIYUN_REGIONS) expect(error.message).toContain(region);
  });

  it('builds instance endpoints', () => {
    expect(instanceEndpoint('iot-06z00ax1o4qq8ck')).toEqual({
      host: 'iot-06z00ax1o4qq8ck.mqtt.iothub.aliyuncs.com',
      port: 1883,
      production: true,
    });
    expect(instanceEndpoint('iot-1', 443).port).toBe(443);
  });

  it.each([
    ['productKey', () => productEndpoint('')],
    ['productKey', () => productEndpoint('pk.evil.com')],
    ['productKey', () => productEndpoint('-pk')],
    ['productKey', () => productEndpoint('p_k')],
    ['productKey', () => productEndpoint('p'.repeat(64))],
    ['instanceId', () => instanceEndpoint('')],
    ['instanceId', () => instanceEndpoint('iot/1')],
    ['port', () => productEndpoint('pk', 'cn-shanghai', 0)],
    ['port', () => productEndpoint('pk', 'cn-shanghai', 65536)],
    ['port', () => instanceEndpoint('iot-1', 1883.5)],
  ] as const)('refuses a bad %s', (field, action) => {
    expectConfigurationError(action, field);
  });

  it('explains a missing AAAA record', () => {
    const hint = missingAaaaHint('pk.iot-as-mqtt.cn-shanghai.aliyuncs.com');
    expect(hint).toContain('pk.iot-as-mqtt.cn-shanghai.aliyuncs.com');
    expect(hint).toContain('AAAA');
    expect(hint).toContain('support ticket');
    expect(hint).toContain(IPV6_TEST_ENDPOINT.host);
  });
});
