import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkKeepalive,
  checkPlatformConnect,
  checkPlatformPublish,
  checkPlatformSubscribe,
  PLATFORM_LIMITS,
} from '../../src/aliyun/index.js';
import { expectConfigurationError } from '../sign/helpers.js';

describe('checkKeepalive', () => {
  it('accepts every whole number of seconds in 30..1200', () => {
    fc.assert(fc.property(fc.integer({ min: 30, max: 1200 }), (seconds) => {
      expect(checkKeepalive(seconds)).toBe(seconds);
    }));
  });

  it('refuses anything else, quoting the rule', () => {
    const outside = fc.oneof(
      fc.integer({ max: 29 }),
      fc.integer({ min: 1201 }),
      fc.double({ min: 30, max: 1200, noInteger: true }),
      fc.constantFrom(Number.NaN, Infinity, '300', null, undefined),
    );
    fc.assert(fc.property(outside, (seconds) => {
      const error = expectConfigurationError(() => checkKeepalive(seconds), 'keepalive');
      expect(error.message).toContain('30..1200');
    }));
  });

  it('has the documented numbers', () => {
    expect(PLATFORM_LIMITS).toEqual({
      minKeepalive: 30,
      maxKeepalive: 1200,
      defaultKeepalive: 300,
      maxPayloadBytes: 262_144,
      maxTopicLength: 128,
      maxQos: 1,
      maxPacketBytes: 262_281,
    });
  });
});

describe('checkPlatformConnect', () => {
  it('accepts a keepalive in range and no will', () => {
    expect(() => checkPlatformConnect({ keepalive: 300 })).not.toThrow();
  });
  it('refuses a will', () => {
    const will = { topic: 't', payload: new Uint8Array(), qos: 0, retain: false };
    expectConfigurationError(() => checkPlatformConnect({ keepalive: 300, will }), 'will');
  });
  it('refuses a keepalive out of range', () => {
    expectConfigurationError(() => checkPlatformConnect({ keepalive: 0 }), 'keepalive');
  });
});

describe('checkPlatformPublish', () => {
  const topic = '/sys/pk/dev/thing/event/property/post';

  it('accepts QoS 0 and 1, unretained, up to the limits', () => {
    expect(() => checkPlatformPublish(topic, new Uint8Array(262_144), { qos: 1 })).not.toThrow();
    expect(() => checkPlatformPublish('t'.repeat(128), 'x', { qos: 0, retain: false })).not.toThrow();
  });

  it.each([
    ['qos', () => checkPlatformPublish(topic, '', { qos: 2 })],
    ['qos', () => checkPlatformPublish(topic, '', { qos: -1 })],
    ['retain', () => checkPlatformPublish(topic, '', { qos: 0, retain: true })],
    ['payload', () => checkPlatformPublish(topic, new Uint8Array(262_145), { qos: 0 })],
    // 131,073 two-byte characters are 262,146 UTF-8 bytes.
    ['payload', () => checkPlatformPublish(topic, 'é'.repeat(131_073), { qos: 0 })],
    ['topic', () => checkPlatformPublish('t'.repeat(129), '', { qos: 0 })],
    // 65 two-byte characters are 130 UTF-8 bytes.
    ['topic', () => checkPlatformPublish('é'.repeat(65), '', { qos: 0 })],
  ] as const)('refuses a bad %s', (field, action) => {
    expectConfigurationError(action, field);
  });

  it('counts a string payload in UTF-8 bytes at the boundary', () => {
    expect(() => checkPlatformPublish(topic, 'é'.repeat(131_072), { qos: 0 })).not.toThrow();
  });
});

describe('checkPlatformSubscribe', () => {
  it('accepts QoS 0 and 1', () => {
    expect(() => checkPlatformSubscribe('/sys/pk/dev/thing/service/#', 1)).not.toThrow();
  });
  it('refuses QoS 2 and long filters', () => {
    expectConfigurationError(() => checkPlatformSubscribe('/a', 2), 'qos');
    expectConfigurationError(() => checkPlatformSubscribe('a'.repeat(129), 0), 'topic');
  });
});
