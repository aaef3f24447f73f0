import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseServiceTopic, serviceTopic } from '../../src/aliyun/index.js';
import type { ServiceTopicKind } from '../../src/aliyun/index.js';
import { expectConfigurationError } from '../sign/helpers.js';

const gw = { productKey: 'gwPk', deviceName: 'gw1' };

const EXPECTED: [ServiceTopicKind, string, boolean][] = [
  ['topo-add', '/sys/gwPk/gw1/thing/topo/add', true],
  ['topo-get', '/sys/gwPk/gw1/thing/topo/get', true],
  ['topo-delete', '/sys/gwPk/gw1/thing/topo/delete', true],
  ['topo-change', '/sys/gwPk/gw1/thing/topo/change', true],
  ['sub-register', '/sys/gwPk/gw1/thing/sub/register', true],
  ['login', '/ext/session/gwPk/gw1/combine/login', true],
  ['batch-login', '/ext/session/gwPk/gw1/combine/batch_login', true],
  ['logout', '/ext/session/gwPk/gw1/combine/logout', true],
  ['batch-logout', '/ext/session/gwPk/gw1/combine/batch_logout', true],
  ['thing-disable', '/sys/gwPk/gw1/thing/disable', true],
  ['thing-enable', '/sys/gwPk/gw1/thing/enable', true],
  ['thing-delete', '/sys/gwPk/gw1/thing/delete', true],
  ['pack-post', '/sys/gwPk/gw1/thing/event/property/pack/post', true],
  ['history-post', '/sys/gwPk/gw1/thing/event/property/history/post', true],
  ['ntp-request', '/ext/ntp/gwPk/gw1/request', false],
  ['ntp-response', '/ext/ntp/gwPk/gw1/response', false],
  ['shadow-update', '/shadow/update/gwPk/gw1', false],
  ['shadow-get', '/shadow/get/gwPk/gw1', false],
  ['config-get', '/sys/gwPk/gw1/thing/config/get', true],
  ['config-push', '/sys/gwPk/gw1/thing/config/push', true],
  ['tags-update', '/sys/gwPk/gw1/thing/deviceinfo/update', true],
  ['tags-delete', '/sys/gwPk/gw1/thing/deviceinfo/delete', true],
  ['ota-inform', '/ota/device/inform/gwPk/gw1', false],
  ['ota-upgrade', '/ota/device/upgrade/gwPk/gw1', false],
  ['ota-progress', '/ota/device/progress/gwPk/gw1', false],
  ['ota-firmware-get', '/sys/gwPk/gw1/thing/ota/firmware/get', true],
  ['session-error', '/ext/error/gwPk/gw1', false],
];

describe('serviceTopic / parseServiceTopic', () => {
  it.each(EXPECTED)('%s is %s, and parses back', (kind, topic, hasReply) => {
    expect(serviceTopic(kind, gw)).toBe(topic);
    expect(parseServiceTopic(topic)).toEqual({ kind, reply: false, ...gw });
    if (hasReply) {
      expect(serviceTopic(kind, gw, { reply: true })).toBe(`${topic}_reply`);
      expect(parseServiceTopic(`${topic}_reply`)).toEqual({ kind, reply: true, ...gw });
    } else {
      expectConfigurationError(() => serviceTopic(kind, gw, { reply: true }), 'reply');
    }
  });

  it('round-trips any kind for any valid device', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,16}$/);
    fc.assert(
      fc.property(fc.constantFrom(...EXPECTED), name, name, fc.boolean(), ([kind, , hasReply], productKey, deviceName, wantReply) => {
        const reply = wantReply && hasReply;
        expect(parseServiceTopic(serviceTopic(kind, { productKey, deviceName }, { reply }))).toEqual({ kind, reply, productKey, deviceName });
      }),
    );
  });

  it.each([
    '/sys/pk/dn/thing/event/property/post',
    '/sys/pk/dn/thing/topo/add/extra',
    '/sys/pk/dn/thing/topo',
    '/ext/ntp/pk/dn/request/x',
    '/ext/ntp/pk/dn',
    '/ext/error/pk',
    '/ext/error/pk/dn/x',
    '/shadow/update/pk',
    '/shadow/delete/pk/dn',
    '/ota/device/inform/pk',
    '/ota/device/upgrade_reply/pk/dn',
    '/sys/pk/dn/thing/ota/firmware/get_reply_reply',
    '/sys//dn/thing/topo/add',
    'sys/pk/dn/thing/topo/add',
    '/pk/dn/user/update',
    '/ext/register',
  ])('does not claim %s', (topic) => {
    expect(parseServiceTopic(topic)).toBeUndefined();
  });

  it('refuses an identity that cannot be a topic level', () => {
    expectConfigurationError(() => serviceTopic('login', { productKey: 'a+b', deviceName: 'd' }), 'device.productKey');
    expectConfigurationError(() => serviceTopic('login', { productKey: 'p', deviceName: '' }), 'device.deviceName');
  });
});
