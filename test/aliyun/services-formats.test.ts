import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildConfigGet, buildNtpRequest, buildShadowClearDesired, buildShadowDelete, buildShadowGet, buildShadowUpdate, buildTagsDelete, buildTagsUpdate, ntpTime, parseConfigGetReply, parseConfigPush, parseNtpResponse, parseShadowMessage, TAG_LIMITS } from '../../src/aliyun/index.js';
import { buildConfigGetReply, buildConfigPush, buildNtpResponse, buildShadowMessage, parseConfigGet, parseNtpRequest, parseShadowRequest, parseTagsDelete, parseTagsUpdate } from '../../src/aliyun/cloud-formats.js';
import { expectConfigurationError } from '../sign/helpers.js';
import { expectPayloadError, json } from './platform-helpers.js';

describe('NTP', () => {
  it('writes the C SDK request (times as strings) and reads both forms', () => {
    expect(buildNtpRequest({ deviceSendTime: 1571724098000 })).toBe('{"deviceSendTime":"1571724098000"}');
    expect(parseNtpRequest('{"deviceSendTime":"1571724098000"}')).toEqual({ deviceSendTime: 1571724098000 });
    expect(parseNtpRequest('{"deviceSendTime":1571724098000}')).toEqual({ deviceSendTime: 1571724098000 });
  });

  it('computes the accurate time, the offset and the round trip: (srt + sst + drt - dst) / 2', () => {
    const response = parseNtpResponse('{"deviceSendTime":"1000","serverRecvTime":"5100","serverSendTime":"5102"}');
    expect(ntpTime(response, 1204)).toEqual({ time: 5203, offset: 3999, roundTrip: 202 });
  });

  it('recovers the server clock exactly for any offset and symmetric delays', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_500_000_000_000, max: 2_000_000_000_000 }),
        fc.integer({ min: -86_400_000, max: 86_400_000 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 50 }),
        (deviceSend, offset, oneWay, processing) => {
          const serverRecv = deviceSend + offset + oneWay;
          const serverSend = serverRecv + processing;
          const deviceRecv = deviceSend + 2 * oneWay + processing;
          const sync = ntpTime(parseNtpResponse(buildNtpResponse({ deviceSendTime: deviceSend, serverRecvTime: serverRecv, serverSendTime: serverSend })), deviceRecv);
          expect(sync.time).toBe(deviceRecv + offset);
          expect(sync.offset).toBe(offset);
          expect(sync.roundTrip).toBe(2 * oneWay);
        },
      ),
    );
  });

  it('refuses a reply without times, a server that answered before it heard, and a receive time before the send time', () => {
    expectPayloadError(() => parseNtpResponse('{"deviceSendTime":"1","serverRecvTime":"2"}'), 'missing-field', 'serverSendTime');
    expectPayloadError(() => parseNtpResponse('{"deviceSendTime":"1","serverRecvTime":"9","serverSendTime":"8"}'), 'bad-field', 'serverSendTime');
    expectPayloadError(() => parseNtpResponse('{"deviceSendTime":"-1","serverRecvTime":"9","serverSendTime":"9"}'), 'bad-field', 'deviceSendTime');
    expectConfigurationError(() => ntpTime({ deviceSendTime: 100, serverRecvTime: 1, serverSendTime: 1 }, 99), 'deviceRecvTime');
    expectConfigurationError(() => buildNtpRequest({ deviceSendTime: 1.5 }), 'deviceSendTime');
  });
});

describe('device shadow', () => {
  it('writes the C SDK requests', () => {
    expect(buildShadowGet()).toBe('{"method":"get"}');
    expect(buildShadowUpdate({ reported: { color: 'red' }, version: 1 })).toBe('{"method":"update","state":{"reported":{"color":"red"}},"version":1}');
    expect(buildShadowClearDesired({ version: 3 })).toBe('{"method":"update","state":{"desired":"null"},"version":3}');
    expect(buildShadowDelete({ keys: ['color'], version: 4 })).toBe('{"method":"delete","state":{"reported":{"color":"null"}},"version":4}');
    expect(buildShadowDelete({ keys: 'all', version: -1 })).toBe('{"method":"delete","state":{"reported":"null"},"version":-1}');
  });

  it('reads them back on the platform’s side', () => {
    expect(parseShadowRequest(buildShadowGet())).toEqual({ method: 'get' });
    expect(parseShadowRequest(buildShadowUpdate({ reported: { a: 1 }, version: 2 }))).toEqual({ method: 'update', reported: { a: 1 }, clearDesired: false, version: 2 });
    expect(parseShadowRequest(buildShadowClearDesired({ version: 3 }))).toEqual({ method: 'update', reported: undefined, clearDesired: true, version: 3 });
    expect(parseShadowRequest(buildShadowDelete({ keys: ['a', 'b'], version: 4 }))).toEqual({ method: 'delete', keys: ['a', 'b'], version: 4 });
    expect(parseShadowRequest(buildShadowDelete({ keys: 'all', version: 5 }))).toEqual({ method: 'delete', keys: 'all', version: 5 });
  });

  it('reads the platform’s messages: accepted, document, error and the desired-state control', () => {
    expect(parseShadowMessage('{"method":"reply","payload":{"status":"success","version":1},"timestamp":1469564576}')).toEqual({ kind: 'accepted', version: 1, timestamp: 1469564576 });
    const document = parseShadowMessage(
      json({ method: 'reply', payload: { status: 'success', state: { reported: { color: 'green' }, desired: { color: 'red' } }, metadata: { m: 1 } }, version: 2, timestamp: 1469564492 }),
    );
    expect(document).toEqual({ kind: 'document', state: { reported: { color: 'green' }, desired: { color: 'red' } }, metadata: { m: 1 }, version: 2, timestamp: 1469564492 });
    expect(parseShadowMessage(json({ method: 'reply', payload: { status: 'error', content: { errorcode: '409', errormessage: 'version conflict' } }, timestamp: 1 }))).toEqual({
      kind: 'error',
      errorCode: '409',
      errorMessage: 'version conflict',
      timestamp: 1,
    });
    const control = parseShadowMessage(json({ method: 'control', payload: { status: 'success', state: { desired: { color: 'blue' } } }, version: 7, timestamp: 2 }));
    expect(control).toMatchObject({ kind: 'control', state: { desired: { color: 'blue' }, reported: undefined }, version: 7 });
  });

  it('round-trips every message it writes', () => {
    const messages = [
      { kind: 'accepted', version: 3, timestamp: 10 },
      { kind: 'error', errorCode: '403', errorMessage: 'version not a number', timestamp: 11 },
      { kind: 'document', state: { reported: { a: 1 }, desired: undefined }, metadata: { reported: { a: { timestamp: 1 } } }, version: 4, timestamp: 12 },
      { kind: 'control', state: { reported: undefined, desired: { b: 2 } }, metadata: undefined, version: 5, timestamp: 13 },
    ] as const;
    for (const message of messages) expect(parseShadowMessage(buildShadowMessage(message))).toEqual(message);
  });

  it('refuses malformed requests and messages', () => {
    expectPayloadError(() => parseShadowRequest('{"method":"update","state":{"reported":{}}}'), 'missing-field', 'version');
    expectPayloadError(() => parseShadowRequest('{"method":"update","state":{"desired":{"x":1}},"version":1}'), 'bad-field', 'state.desired');
    expectPayloadError(() => parseShadowRequest('{"method":"patch"}'), 'wrong-method', 'method');
    expectPayloadError(() => parseShadowMessage('{"method":"reply","payload":{"status":"success","state":{}}}'), 'missing-field', 'timestamp');
    expectPayloadError(() => parseShadowMessage('{"method":"control","payload":{"status":"success","state":{}},"timestamp":1}'), 'missing-field', 'version');
    expectPayloadError(() => parseShadowMessage('{"method":"reply","payload":{"status":"maybe"},"timestamp":1}'), 'bad-field', 'payload.status');
    expectConfigurationError(() => buildShadowUpdate({ reported: {}, version: 1 }), 'reported');
    expectConfigurationError(() => buildShadowUpdate({ reported: { a: 1 }, version: -2 }), 'version');
    expectConfigurationError(() => buildShadowDelete({ keys: [], version: 1 }), 'keys');
  });
});

const FILE = {
  configId: '3cfda5091d5b4f53b51621cf4bbf86ec',
  configSize: 16,
  sign: 'a'.repeat(64),
  signMethod: 'sha256' as const,
  url: 'https://otx-devicecenter-thing-config-cn-shanghai-online.oss-cn-shanghai.aliyuncs.com/x',
  getType: 'file' as const,
};

describe('remote configuration', () => {
  it('asks for the product’s file, as the Node.js SDK does', () => {
    const text = buildConfigGet({ id: '3' });
    expect(text).toBe('{"id":"3","version":"1.0","params":{"configScope":"product","getType":"file"},"method":"thing.config.get"}');
    expect(parseConfigGet(text)).toEqual({ id: '3', configScope: 'product', getType: 'file' });
  });

  it('reads the reply example of the Node.js SDK 1.2.8 (lib/thing.js getConfig)', () => {
    const reply = parseConfigGetReply(
      json({ code: 200, data: { ...FILE, sign: 'A'.repeat(64), signMethod: 'Sha256' }, id: '3', method: 'thing.config.get', version: '1.0' }),
    );
    expect(reply).toMatchObject({ ok: true, data: { ...FILE, sign: 'a'.repeat(64) } });
  });

  it('round-trips a push and a get reply', () => {
    expect(parseConfigPush(buildConfigPush({ id: '4', config: FILE }))).toEqual({ id: '4', config: FILE });
    expect(parseConfigGetReply(buildConfigGetReply({ id: '5', config: FILE }))).toMatchObject({ ok: true, data: FILE });
  });

  it('refuses a file with a bad digest, method, url or type', () => {
    const push = (config: unknown) => json({ id: '1', params: config, method: 'thing.config.push' });
    expectPayloadError(() => parseConfigPush(push({ ...FILE, sign: 'abc' })), 'bad-field', 'params.sign');
    expectPayloadError(() => parseConfigPush(push({ ...FILE, signMethod: 'crc32' })), 'bad-field', 'params.signMethod');
    expectPayloadError(() => parseConfigPush(push({ ...FILE, url: 'http://x/y' })), 'bad-field', 'params.url');
    expectPayloadError(() => parseConfigPush(push({ ...FILE, url: 'not a url' })), 'bad-field', 'params.url');
    expectPayloadError(() => parseConfigPush(push({ ...FILE, getType: 'content' })), 'bad-field', 'params.getType');
    expectPayloadError(() => parseConfigPush(push({ ...FILE, configSize: -3 })), 'bad-field', 'params.configSize');
  });
});

describe('tags', () => {
  it('writes and reads the page’s shapes', () => {
    const update = buildTagsUpdate({ id: '1', tags: { Temperature: '36.8', maker: 'ACME_01' } });
    expect(update).toBe('{"id":"1","version":"1.0","params":[{"attrKey":"Temperature","attrValue":"36.8"},{"attrKey":"maker","attrValue":"ACME_01"}],"method":"thing.deviceinfo.update"}');
    expect(parseTagsUpdate(update).tags).toEqual({ Temperature: '36.8', maker: 'ACME_01' });
    const remove = buildTagsDelete({ id: '2', keys: ['Temperature'] });
    expect(remove).toBe('{"id":"2","version":"1.0","params":[{"attrKey":"Temperature"}],"method":"thing.deviceinfo.delete"}');
    expect(parseTagsDelete(remove).keys).toEqual(['Temperature']);
  });

  it('applies the page’s limits: keys of 30, values of 128 with CJK counting 2, 200 entries', () => {
    expect(() => buildTagsUpdate({ id: '1', tags: { ['k'.repeat(30)]: 'v' } })).not.toThrow();
    expectConfigurationError(() => buildTagsUpdate({ id: '1', tags: { ['k'.repeat(31)]: 'v' } }), `tags.${'k'.repeat(31)}`);
    expect(() => buildTagsUpdate({ id: '1', tags: { k: '温'.repeat(64) } })).not.toThrow();
    expectConfigurationError(() => buildTagsUpdate({ id: '1', tags: { k: '温'.repeat(65) } }), 'tags.k');
    expectConfigurationError(() => buildTagsUpdate({ id: '1', tags: { k: 'two words' } }), 'tags.k');
    expectConfigurationError(() => buildTagsUpdate({ id: '1', tags: { 'a b': 'v' } }), 'tags.a b');
    const many = Object.fromEntries(Array.from({ length: TAG_LIMITS.maxTags + 1 }, (_, i) => [`k${i}`, 'v']));
    expectConfigurationError(() => buildTagsUpdate({ id: '1', tags: many }), 'tags');
    expectConfigurationError(() => buildTagsUpdate({ id: '1', tags: {} }), 'tags');
    expectConfigurationError(() => buildTagsDelete({ id: '1', keys: ['ok', ''] }), 'keys[1]');
  });

  it('refuses on the platform’s side what it would refuse', () => {
    expectPayloadError(() => parseTagsUpdate(json({ id: '1', params: [{ attrKey: 'k', attrValue: 'a b' }], method: 'thing.deviceinfo.update' })), 'bad-field', 'params[0].attrValue');
    expectPayloadError(() => parseTagsUpdate(json({ id: '1', params: [{ attrValue: 'v' }], method: 'thing.deviceinfo.update' })), 'missing-field', 'params[0].attrKey');
    expectPayloadError(() => parseTagsDelete(json({ id: '1', params: {}, method: 'thing.deviceinfo.delete' })), 'bad-field', 'params');
  });
});
