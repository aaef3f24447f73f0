import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AlinkTopics } from '../../src/aliyun/index.js';
import type { AlinkRequestTopic, AlinkTopic } from '../../src/aliyun/index.js';
import { expectConfigurationError } from '../sign/helpers.js';

const topics = new AlinkTopics({ productKey: 'pk', deviceName: 'dev' });

describe('AlinkTopics builders: the topics on the platform page', () => {
  it.each([
    [topics.propertyPost(), '/sys/pk/dev/thing/event/property/post'],
    [topics.propertyPostReply(), '/sys/pk/dev/thing/event/property/post_reply'],
    [topics.eventPost('alarm'), '/sys/pk/dev/thing/event/alarm/post'],
    [topics.eventPost('alarm_reply'), '/sys/pk/dev/thing/event/alarm_reply/post'],
    [topics.eventPostReply('alarm'), '/sys/pk/dev/thing/event/alarm/post_reply'],
    [topics.propertySet(), '/sys/pk/dev/thing/service/property/set'],
    [topics.propertySetReply(), '/sys/pk/dev/thing/service/property/set_reply'],
    [topics.serviceCall('reboot'), '/sys/pk/dev/thing/service/reboot'],
    [topics.serviceCallReply('reboot'), '/sys/pk/dev/thing/service/reboot_reply'],
    [topics.rrpcRequest('1234567890'), '/sys/pk/dev/rrpc/request/1234567890'],
    [topics.rrpcResponse('1234567890'), '/sys/pk/dev/rrpc/response/1234567890'],
    [topics.user('update'), '/pk/dev/user/update'],
    [topics.user('a/b/c'), '/pk/dev/user/a/b/c'],
    [topics.serviceFilter(), '/sys/pk/dev/thing/service/#'],
    [topics.postReplyFilter(), '/sys/pk/dev/thing/event/+/post_reply'],
    [topics.rrpcRequestFilter(), '/sys/pk/dev/rrpc/request/+'],
  ])('%s', (built, expected) => {
    expect(built).toBe(expected);
  });
});

describe('AlinkTopics.parse', () => {
  it.each<[string, AlinkTopic]>([
    ['/sys/pk/dev/thing/event/property/post', { kind: 'property-post' }],
    ['/sys/pk/dev/thing/event/property/post_reply', { kind: 'reply', to: { kind: 'property-post' } }],
    ['/sys/pk/dev/thing/event/alarm/post', { kind: 'event-post', identifier: 'alarm' }],
    ['/sys/pk/dev/thing/event/alarm/post_reply', { kind: 'reply', to: { kind: 'event-post', identifier: 'alarm' } }],
    ['/sys/pk/dev/thing/service/property/set', { kind: 'property-set' }],
    ['/sys/pk/dev/thing/service/property/set_reply', { kind: 'reply', to: { kind: 'property-set' } }],
    ['/sys/pk/dev/thing/service/reboot', { kind: 'service-call', identifier: 'reboot' }],
    ['/sys/pk/dev/thing/service/reboot_reply', { kind: 'reply', to: { kind: 'service-call', identifier: 'reboot' } }],
    ['/sys/pk/dev/rrpc/request/1234567890', { kind: 'rrpc-request', messageId: '1234567890' }],
    ['/sys/pk/dev/rrpc/response/1234567890', { kind: 'rrpc-response', messageId: '1234567890' }],
    ['/pk/dev/user/update', { kind: 'user', path: 'update' }],
    ['/pk/dev/user/a/b', { kind: 'user', path: 'a/b' }],
  ])('%s', (topic, expected) => {
    expect(topics.parse(topic)).toEqual(expected);
  });

  it.each([
    '/sys/other/dev/thing/event/property/post',
    '/sys/pk/other/thing/event/property/post',
    '/sys/pk/devx/thing/event/property/post',
    '/sys/pk/dev',
    '/sys/pk/dev/',
    '/sys/pk/dev/thing/event/alarm',
    '/sys/pk/dev/thing/event/alarm/get',
    '/sys/pk/dev/thing/event/alarm/post/extra',
    '/sys/pk/dev/thing/service/',
    '/sys/pk/dev/thing/service/_reply',
    '/sys/pk/dev/thing/service/property/get',
    '/sys/pk/dev/thing/service/a/b/c',
    '/sys/pk/dev/thing/other/x',
    '/sys/pk/dev/thing//property/post',
    '/sys/pk/dev/rrpc/request/',
    '/sys/pk/dev/rrpc/request/1/2',
    '/sys/pk/dev/rrpc/other/1',
    '/sys/pk/dev/ota/device/upgrade',
    '/pk/dev/user/',
    '/pk/dev/other/update',
    'sys/pk/dev/thing/event/property/post',
    '',
  ])('does not recognise %j', (topic) => {
    expect(topics.parse(topic)).toBeUndefined();
  });

  const level = fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,20}$/);
  const requestArb: fc.Arbitrary<AlinkRequestTopic> = fc.oneof(
    fc.constant({ kind: 'property-post' } as const),
    level.filter((id) => id !== 'property').map((id) => ({ kind: 'event-post', identifier: id }) as const),
    fc.constant({ kind: 'property-set' } as const),
    level.filter((id) => !id.endsWith('_reply')).map((id) => ({ kind: 'service-call', identifier: id }) as const),
  );

  it('reads back every topic the builders make, for any device', () => {
    fc.assert(
      fc.property(level, level, requestArb, level, fc.array(level, { minLength: 1, maxLength: 4 }), (pk, dn, request, messageId, path) => {
        const device = new AlinkTopics({ productKey: pk, deviceName: dn });
        expect(device.parse(device.request(request))).toEqual(request);
        expect(device.parse(device.reply(request))).toEqual({ kind: 'reply', to: request });
        expect(device.parse(device.rrpcRequest(messageId))).toEqual({ kind: 'rrpc-request', messageId });
        expect(device.parse(device.rrpcResponse(messageId))).toEqual({ kind: 'rrpc-response', messageId });
        expect(device.parse(device.user(path.join('/')))).toEqual({ kind: 'user', path: path.join('/') });
      }),
    );
  });

  it('never recognises another device’s topics', () => {
    fc.assert(
      fc.property(level, level, requestArb, (pk, dn, request) => {
        fc.pre(pk !== 'pk' || dn !== 'dev');
        const other = new AlinkTopics({ productKey: pk, deviceName: dn });
        expect(topics.parse(other.request(request))).toBeUndefined();
        expect(topics.parse(other.user('x'))).toBeUndefined();
      }),
    );
  });
});

describe('AlinkTopics: validation', () => {
  it.each([
    ['productKey', () => new AlinkTopics({ productKey: '', deviceName: 'dev' })],
    ['productKey', () => new AlinkTopics({ productKey: 'p/k', deviceName: 'dev' })],
    ['deviceName', () => new AlinkTopics({ productKey: 'pk', deviceName: 'd+' })],
    ['deviceName', () => new AlinkTopics({ productKey: 'pk', deviceName: '#' })],
    ['identifier', () => topics.eventPost('')],
    ['identifier', () => topics.eventPost('a/b')],
    ['identifier', () => topics.eventPost('property')],
    ['identifier', () => topics.serviceCall('_reply')],
    ['identifier', () => topics.serviceCall('+')],
    ['identifier', () => topics.serviceCall('reboot_reply')],
    ['identifier', () => topics.serviceCallReply('#')],
    ['messageId', () => topics.rrpcRequest('')],
    ['messageId', () => topics.rrpcResponse('1/2')],
    ['path', () => topics.user('')],
    ['path', () => topics.user('/update')],
    ['path', () => topics.user('a//b')],
    ['path', () => topics.user('a/')],
    ['path', () => topics.user('a/+')],
    ['path', () => topics.user('#')],
  ] as const)('refuses a bad %s', (field, action) => {
    expectConfigurationError(action, field);
  });
});
