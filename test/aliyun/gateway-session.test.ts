import { describe, expect, it } from 'vitest';
import { buildBatchLogin, buildBatchLogout, buildSubLogin, buildSubLogout, checkOnlineCapacity, GATEWAY_LIMITS, inBatches, NO_ACTIVE_SESSION, parseBatchSessionReply, parseLifecycleNotice, parseSessionError, parseSessionReply } from '../../src/aliyun/index.js';
import { buildLifecycleNotice, buildSessionError, parseBatchLogin, parseBatchLogout, parseSubLogin, parseSubLogout, verifySubDeviceSign } from '../../src/aliyun/cloud-formats.js';
import { expectConfigurationError } from '../sign/helpers.js';
import { expectPayloadError, json } from './platform-helpers.js';

const sub = (n: number) => ({ productKey: 'subPk', deviceName: `tag${n}`, deviceSecret: `s${n}` });

describe('single login', () => {
  it('writes the page’s shape: no method, cleanSession as a string', () => {
    const body = JSON.parse(buildSubLogin({ id: '123', subDevice: sub(1), timestamp: 1581417203000, signMethod: 'hmacmd5' }));
    expect(Object.keys(body)).toEqual(['id', 'version', 'params']);
    expect(Object.keys(body.params)).toEqual(['productKey', 'deviceName', 'clientId', 'timestamp', 'signMethod', 'sign', 'cleanSession']);
    expect(body.params).toMatchObject({ clientId: 'subPk&tag1', timestamp: '1581417203000', signMethod: 'hmacMd5', cleanSession: 'true' });
    const parsed = parseSubLogin(JSON.stringify(body));
    expect(parsed.subDevice.cleanSession).toBe(true);
    expect(verifySubDeviceSign(parsed.subDevice, 's1')).toBe(true);
  });

  it('reads what the Node.js SDK 1.2.8 sends: signUtil output, numeric timestamp, method ""', () => {
    // lib/gateway.js login(): params = signUtil(device); sign = HMAC-SHA1 (see gateway-sign.test.ts)
    const payload = json({
      id: '1',
      version: '1.0',
      params: { productKey: 'a1PB5fp1234', deviceName: 'sub01', clientId: 'a1PB5fp1234&sub01', timestamp: 1700000000000, signMethod: 'hmacsha1', sign: '0b603cd201a6b9c178144afa1b1ac880dfff9815' },
      method: '',
    });
    const { subDevice } = parseSubLogin(payload);
    expect(subDevice).toMatchObject({ timestamp: '1700000000000', signMethod: 'hmacsha1', cleanSession: true });
    expect(verifySubDeviceSign(subDevice, 'subSecret01')).toBe(true);
  });

  it('refuses a login without a sign or with a bad cleanSession', () => {
    expectPayloadError(() => parseSubLogin(json({ id: '1', params: { productKey: 'p', deviceName: 'd', clientId: 'c', timestamp: '1', signMethod: 'hmacSha1' } })), 'missing-field', 'params.sign');
    expectPayloadError(
      () => parseSubLogin(json({ id: '1', params: { productKey: 'p', deviceName: 'd', clientId: 'c', timestamp: '1', signMethod: 'hmacSha1', sign: 'AA', cleanSession: 'yes' } })),
      'bad-field',
      'params.cleanSession',
    );
    expectConfigurationError(() => buildSubLogin({ id: '1', subDevice: sub(1), cleanSession: 'no' as never }), 'cleanSession');
  });
});

describe('batch login', () => {
  it('writes the C SDK / Python linkkit shape: signMethod once, deviceList entries', () => {
    const body = JSON.parse(buildBatchLogin({ id: '2', subDevices: [sub(1), sub(2)], cleanSession: false, timestamp: 1700000000000 }));
    expect(Object.keys(body.params)).toEqual(['signMethod', 'deviceList']);
    expect(body.params.signMethod).toBe('hmacSha256');
    expect(Object.keys(body.params.deviceList[0])).toEqual(['productKey', 'deviceName', 'clientId', 'timestamp', 'cleanSession', 'sign']);
    expect(body.params.deviceList[1]).toMatchObject({ deviceName: 'tag2', cleanSession: 'false', timestamp: '1700000000000' });
  });

  it('round-trips 50, refuses 51, and signs each with its own secret', () => {
    const fifty = Array.from({ length: GATEWAY_LIMITS.maxBatchLogin }, (_, i) => sub(i));
    const parsed = parseBatchLogin(buildBatchLogin({ id: '3', subDevices: fifty }));
    expect(parsed.subDevices).toHaveLength(50);
    parsed.subDevices.forEach((entry, i) => {
      expect(entry.signMethod).toBe('hmacsha256');
      expect(verifySubDeviceSign(entry, `s${i}`)).toBe(true);
    });
    expect(expectConfigurationError(() => buildBatchLogin({ id: '3', subDevices: [...fifty, sub(50)] }), 'subDevices').message).toMatch(/at most 50/);
  });

  it('takes a device’s own signMethod over the batch’s (the page puts it beside each device)', () => {
    const payload = json({
      id: '4',
      params: {
        signMethod: 'hmacSha256',
        deviceList: [{ productKey: 'p', deviceName: 'd', clientId: 'c', timestamp: '1', signMethod: 'hmacmd5', sign: 'AA', cleanSession: 'true' }],
      },
    });
    expect(parseBatchLogin(payload).subDevices[0]!.signMethod).toBe('hmacmd5');
    expectPayloadError(() => parseBatchLogin(json({ id: '4', params: { deviceList: [{ productKey: 'p', deviceName: 'd', clientId: 'c', timestamp: '1', sign: 'AA' }] } })), 'missing-field', 'params.deviceList[0].signMethod');
  });

  it('reads a batch reply and a refusal naming the devices at fault', () => {
    const ok = parseBatchSessionReply(json({ id: '5', code: 200, message: 'success', data: [{ productKey: 'p', deviceName: 'd1' }] }));
    expect(ok).toMatchObject({ ok: true, data: [{ productKey: 'p', deviceName: 'd1' }], message: 'success' });
    const refused = parseBatchSessionReply(json({ id: '5', code: 6100, message: 'device not found', data: [{ productKey: 'p', deviceName: 'd9' }] }));
    expect(refused).toMatchObject({ ok: false, code: 6100, data: [{ productKey: 'p', deviceName: 'd9' }] });
  });
});

describe('logout', () => {
  it('writes single and batch logouts and reads them back', () => {
    const single = buildSubLogout({ id: '6', subDevice: { productKey: 'p', deviceName: 'd' } });
    expect(single).toBe('{"id":"6","version":"1.0","params":{"productKey":"p","deviceName":"d"}}');
    expect(parseSubLogout(single).subDevice).toEqual({ productKey: 'p', deviceName: 'd' });
    const batch = buildBatchLogout({ id: '7', subDevices: [{ productKey: 'p', deviceName: 'a' }, { productKey: 'p', deviceName: 'b' }] });
    expect(JSON.parse(batch).params).toEqual([{ productKey: 'p', deviceName: 'a' }, { productKey: 'p', deviceName: 'b' }]);
    expect(parseBatchLogout(batch).subDevices).toHaveLength(2);
    expect(parseSessionReply(json({ id: '6', code: 200, data: { productKey: 'p', deviceName: 'd' } }))).toMatchObject({ ok: true, data: { productKey: 'p', deviceName: 'd' } });
  });

  it('refuses more than 50 in a batch logout', () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ productKey: 'p', deviceName: `d${i}` }));
    expectConfigurationError(() => buildBatchLogout({ id: '1', subDevices: many }), 'subDevices');
  });
});

describe('the cloud’s notices', () => {
  it('reads disable, enable and delete, and refuses other methods', () => {
    for (const action of ['disable', 'enable', 'delete'] as const) {
      expect(parseLifecycleNotice(buildLifecycleNotice({ id: '8', action }))).toEqual({ id: '8', action });
    }
    expect(buildLifecycleNotice({ id: '8', action: 'disable' })).toBe('{"id":"8","version":"1.0","params":{},"method":"thing.disable"}');
    expectPayloadError(() => parseLifecycleNotice(json({ id: '8', params: {}, method: 'thing.reset' })), 'wrong-method', 'method');
    expectPayloadError(() => parseLifecycleNotice(json({ id: '8', params: {} })), 'wrong-method', 'method');
  });

  it('reads the session error notice (code 520: no session, log in again)', () => {
    const text = buildSessionError({ id: '9', subDevice: { productKey: 'p', deviceName: 'd' } });
    expect(text).toBe('{"id":"9","code":520,"data":{"productKey":"p","deviceName":"d"},"message":"device not login"}');
    expect(parseSessionError(text)).toEqual({ id: '9', code: NO_ACTIVE_SESSION, message: 'device not login', subDevice: { productKey: 'p', deviceName: 'd' } });
    expectPayloadError(() => parseSessionError(json({ id: '9', code: 520, data: {} })), 'missing-field', 'data.productKey');
  });
});

describe('gateway limits', () => {
  it('allows up to 2,000 online sub-devices and refuses more', () => {
    expect(() => checkOnlineCapacity(1950, 50)).not.toThrow();
    expect(expectConfigurationError(() => checkOnlineCapacity(1951, 50), 'subDevices').message).toMatch(/2000/);
    expectConfigurationError(() => checkOnlineCapacity(-1, 1), 'online');
  });

  it('cuts a list into batches of at most 50, in order', () => {
    const items = Array.from({ length: 120 }, (_, i) => i);
    const batches = inBatches(items);
    expect(batches.map((b) => b.length)).toEqual([50, 50, 20]);
    expect(batches.flat()).toEqual(items);
    expect(inBatches([])).toEqual([]);
    expectConfigurationError(() => inBatches(items, 51), 'size');
  });
});
