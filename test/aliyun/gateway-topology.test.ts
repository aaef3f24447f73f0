import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { buildSubRegister, buildTopoAdd, buildTopoDelete, buildTopoGet, parseSubRegisterReply, parseTopoChange, parseTopologyReply, signSubDevice } from '../../src/aliyun/index.js';
import { buildTopoChange, parseSubRegister, parseTopoAdd, parseTopoDelete, verifySubDeviceSign } from '../../src/aliyun/cloud-formats.js';
import { expectConfigurationError } from '../sign/helpers.js';
import { expectPayloadError, json } from './platform-helpers.js';

const sub = (n: number) => ({ productKey: 'subPk', deviceName: `meter${n}`, deviceSecret: `secret${n}` });

describe('thing.topo.add', () => {
  it('writes one signed entry per sub-device, in the page’s shape', () => {
    const text = buildTopoAdd({ id: '7', subDevices: [sub(1), sub(2)], timestamp: 1524448722000, signMethod: 'hmacsha1' });
    const body = JSON.parse(text);
    expect(Object.keys(body)).toEqual(['id', 'version', 'params', 'method']);
    expect(body.method).toBe('thing.topo.add');
    expect(body.params).toHaveLength(2);
    expect(Object.keys(body.params[0])).toEqual(['productKey', 'deviceName', 'clientId', 'timestamp', 'signmethod', 'sign']);
    expect(body.params[0]).toMatchObject({ productKey: 'subPk', deviceName: 'meter1', clientId: 'subPk&meter1', timestamp: '1524448722000', signmethod: 'hmacSha1' });
    expect(body.params[0].sign).toBe(signSubDevice(sub(1), { timestamp: 1524448722000, signMethod: 'hmacsha1' }).sign);
    expect(text).not.toContain('secret1');
  });

  it('round-trips: the platform’s side reads each entry and its signature verifies', () => {
    const parsed = parseTopoAdd(buildTopoAdd({ id: '8', subDevices: [sub(1), sub(2), sub(3)] }));
    expect(parsed.id).toBe('8');
    expect(parsed.subDevices.map((d) => d.deviceName)).toEqual(['meter1', 'meter2', 'meter3']);
    parsed.subDevices.forEach((entry, i) => expect(verifySubDeviceSign(entry, `secret${i + 1}`)).toBe(true));
    expect(verifySubDeviceSign(parsed.subDevices[0]!, 'secret2')).toBe(false);
  });

  it('reads what the C Link SDK 4.x sends: no method, clientId pk.dn, signmethod hmacSha256 (aiot_subdev_send_topo_add)', () => {
    const signed = signSubDevice({ ...sub(4), clientId: 'subPk.meter4' }, { timestamp: 1700000000000 });
    const payload = json({
      id: '12',
      version: '1.0',
      params: [{ productKey: 'subPk', deviceName: 'meter4', clientId: 'subPk.meter4', timestamp: '1700000000000', signmethod: 'hmacSha256', sign: signed.sign.toLowerCase() }],
    });
    const [entry] = parseTopoAdd(payload).subDevices;
    expect(entry).toMatchObject({ clientId: 'subPk.meter4', signMethod: 'hmacsha256', timestamp: '1700000000000' });
    expect(verifySubDeviceSign(entry!, 'secret4')).toBe(true);
  });

  it('refuses more than 30 sub-devices, an empty list and a duplicate before signing', () => {
    const many = Array.from({ length: 31 }, (_, i) => sub(i));
    expect(expectConfigurationError(() => buildTopoAdd({ id: '1', subDevices: many }), 'subDevices').message).toMatch(/at most 30/);
    expect(() => buildTopoAdd({ id: '1', subDevices: many.slice(0, 30) })).not.toThrow();
    expectConfigurationError(() => buildTopoAdd({ id: '1', subDevices: [] }), 'subDevices');
    expect(expectConfigurationError(() => buildTopoAdd({ id: '1', subDevices: [sub(1), sub(1)] }), 'subDevices[1]').message).toMatch(/twice/);
    const error = expectConfigurationError(() => buildTopoAdd({ id: '1', subDevices: [sub(1), { ...sub(2), deviceSecret: '' }] }), 'subDevices[1].deviceSecret');
    expect(error.message).not.toContain('secret');
  });

  it.each([
    ['params', { id: '1', params: {} }, 'bad-field'],
    ['params[0].clientId', { id: '1', params: [{ productKey: 'p', deviceName: 'd', timestamp: '1', signmethod: 'hmacSha1', sign: 'AB' }] }, 'missing-field'],
    ['params[0].signmethod', { id: '1', params: [{ productKey: 'p', deviceName: 'd', clientId: 'c', timestamp: '1', signmethod: 'sha256', sign: 'AB' }] }, 'bad-field'],
    ['params[0].timestamp', { id: '1', params: [{ productKey: 'p', deviceName: 'd', clientId: 'c', timestamp: '12a', signmethod: 'hmacSha1', sign: 'AB' }] }, 'bad-field'],
    ['params[0].deviceName', { id: '1', params: [{ productKey: 'p', deviceName: 'a/b', clientId: 'c', timestamp: '1', signmethod: 'hmacSha1', sign: 'AB' }] }, 'bad-field'],
    ['method', { id: '1', params: [], method: 'thing.topo.delete' }, 'wrong-method'],
    ['id', { params: [] }, 'missing-field'],
  ] as const)('refuses a request with a bad %s', (field, body, code) => {
    expectPayloadError(() => parseTopoAdd(json(body)), code, field);
  });
});

describe('topology replies, get and delete', () => {
  it('reads the page’s add reply: data lists the sub-devices', () => {
    const reply = parseTopologyReply(json({ id: '123', code: 200, data: [{ deviceName: 'deviceName1234', productKey: '1234556554' }] }));
    expect(reply).toEqual({ ok: true, id: '123', code: 200, message: undefined, data: [{ productKey: '1234556554', deviceName: 'deviceName1234' }] });
  });

  it('keeps a refusal’s code, message and raw data', () => {
    const reply = parseTopologyReply(json({ id: '5', code: 401, message: 'request auth error', data: { x: 1 } }));
    expect(reply).toEqual({ ok: false, id: '5', code: 401, message: 'request auth error', data: { x: 1 } });
  });

  it('refuses a success without the device list', () => {
    expectPayloadError(() => parseTopologyReply(json({ id: '5', code: 200, data: {} })), 'bad-field', 'data');
    expectPayloadError(() => parseTopologyReply(json({ id: '5', code: '200', data: [] })), 'bad-field', 'code');
    expectPayloadError(() => parseTopologyReply('[1]'), 'not-an-object', '');
    expectPayloadError(() => parseTopologyReply('{'), 'invalid-json', '');
    expectPayloadError(() => parseTopologyReply(new Uint8Array([0xc3, 0x28])), 'invalid-utf8', '');
  });

  it('writes get with empty params and delete with the identities', () => {
    expect(buildTopoGet({ id: '3' })).toBe('{"id":"3","version":"1.0","params":{},"method":"thing.topo.get"}');
    const text = buildTopoDelete({ id: '4', subDevices: [{ productKey: 'p', deviceName: 'd1' }, { productKey: 'p', deviceName: 'd2' }] });
    expect(text).toBe('{"id":"4","version":"1.0","params":[{"productKey":"p","deviceName":"d1"},{"productKey":"p","deviceName":"d2"}],"method":"thing.topo.delete"}');
    expect(parseTopoDelete(text)).toEqual({ id: '4', subDevices: [{ productKey: 'p', deviceName: 'd1' }, { productKey: 'p', deviceName: 'd2' }] });
    expectConfigurationError(() => buildTopoDelete({ id: '4', subDevices: [{ productKey: 'p', deviceName: 'd&x' }] }), 'subDevices[0].deviceName');
  });
});

describe('thing.topo.change', () => {
  it('reads the page’s notice and maps the status codes', () => {
    const notice = json({ id: '123', version: '1.0', params: { status: 0, subList: [{ productKey: 'a1hRrzD', deviceName: 'abcd' }] }, method: 'thing.topo.change' });
    expect(parseTopoChange(notice)).toEqual({ id: '123', status: 'created', subDevices: [{ productKey: 'a1hRrzD', deviceName: 'abcd' }] });
    for (const status of ['created', 'deleted', 'enabled', 'disabled'] as const) {
      expect(parseTopoChange(buildTopoChange({ id: '1', status, subDevices: [{ productKey: 'p', deviceName: 'd' }] })).status).toBe(status);
    }
    expect(JSON.parse(buildTopoChange({ id: '1', status: 'disabled', subDevices: [{ productKey: 'p', deviceName: 'd' }] })).params.status).toBe(8);
  });

  it('refuses an unknown status or a missing list', () => {
    expectPayloadError(() => parseTopoChange(json({ id: '1', params: { status: 3, subList: [] }, method: 'thing.topo.change' })), 'bad-field', 'params.status');
    expectPayloadError(() => parseTopoChange(json({ id: '1', params: { status: 1 }, method: 'thing.topo.change' })), 'missing-field', 'params.subList');
    expectConfigurationError(() => buildTopoChange({ id: '1', status: 'paused' as never, subDevices: [] }), 'status');
  });
});

describe('thing.sub.register', () => {
  it('writes the identities and reads the reply with the secrets hidden from print', () => {
    const text = buildSubRegister({ id: '9', subDevices: [{ productKey: 'p', deviceName: 'new1' }] });
    expect(text).toBe('{"id":"9","version":"1.0","params":[{"productKey":"p","deviceName":"new1"}],"method":"thing.sub.register"}');
    expect(parseSubRegister(text).subDevices).toEqual([{ productKey: 'p', deviceName: 'new1' }]);
    const reply = parseSubRegisterReply(json({ id: '9', code: 200, data: [{ iotId: '12344', productKey: 'p', deviceName: 'new1', deviceSecret: 'S3cr3tValue' }] }));
    expect(reply.ok).toBe(true);
    if (!reply.ok) return;
    const [device] = reply.data;
    expect(device).toMatchObject({ productKey: 'p', deviceName: 'new1', deviceSecret: 'S3cr3tValue', iotId: '12344' });
    expect(inspect(device)).not.toContain('S3cr3tValue');
    expect(JSON.stringify(device)).not.toContain('S3cr3tValue');
    expect(String(device)).not.toContain('S3cr3tValue');
  });

  it('keeps the platform’s refusal (6402: a gateway cannot add itself)', () => {
    const reply = parseSubRegisterReply(json({ id: '9', code: 6402, message: 'topo relation cannot add by self', data: null }));
    expect(reply).toMatchObject({ ok: false, code: 6402, message: 'topo relation cannot add by self' });
  });

  it('refuses a success without a secret, never quoting one', () => {
    const error = expectPayloadError(() => parseSubRegisterReply(json({ id: '9', code: 200, data: [{ productKey: 'p', deviceName: 'd', deviceSecret: 12345 }] })), 'bad-field', 'data[0].deviceSecret');
    expect(error.message).not.toContain('12345');
  });
});
