import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ALINK_METHODS,
  AlinkPayloadError,
  buildAlinkReply,
  buildAlinkRequest,
  parseAlinkReply,
  parseAlinkRequest,
} from '../../src/aliyun/index.js';
import type { AlinkPayloadErrorCode } from '../../src/aliyun/index.js';
import { captureError, expectConfigurationError } from '../sign/helpers.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function expectPayloadError(action: () => unknown, code: AlinkPayloadErrorCode): void {
  const error = captureError(action);
  expect(error).toBeInstanceOf(AlinkPayloadError);
  expect((error as AlinkPayloadError).code).toBe(code);
  expect((error as AlinkPayloadError).name).toBe('AlinkPayloadError');
}

describe('Alink method names', () => {
  it('follow the topics', () => {
    expect(ALINK_METHODS.propertyPost).toBe('thing.event.property.post');
    expect(ALINK_METHODS.eventPost('alarm')).toBe('thing.event.alarm.post');
    expect(ALINK_METHODS.propertySet).toBe('thing.service.property.set');
    expect(ALINK_METHODS.serviceCall('reboot')).toBe('thing.service.reboot');
  });
});

describe('buildAlinkRequest / buildAlinkReply', () => {
  it('write the page’s request shape, fields in its order', () => {
    expect(buildAlinkRequest({ id: '123', method: ALINK_METHODS.propertyPost, params: { temperature: 21.5 } })).toBe(
      '{"id":"123","version":"1.0","params":{"temperature":21.5},"method":"thing.event.property.post"}',
    );
    expect(buildAlinkRequest({ id: '7', method: 'thing.service.reboot', version: '2.0' })).toBe(
      '{"id":"7","version":"2.0","params":{},"method":"thing.service.reboot"}',
    );
  });

  it('write the page’s reply shape', () => {
    expect(buildAlinkReply({ id: '123' })).toBe('{"id":"123","code":200,"data":{}}');
    expect(buildAlinkReply({ id: '9', code: 460, data: null, message: 'request parameter error' })).toBe(
      '{"id":"9","code":460,"data":null,"message":"request parameter error"}',
    );
  });

  it.each([
    ['id', () => buildAlinkRequest({ id: '', method: 'm' })],
    ['id', () => buildAlinkRequest({ id: 123 as unknown as string, method: 'm' })],
    ['method', () => buildAlinkRequest({ id: '1', method: '' })],
    ['version', () => buildAlinkRequest({ id: '1', method: 'm', version: '' })],
    ['params', () => buildAlinkRequest({ id: '1', method: 'm', params: [1, 2] as unknown as Record<string, unknown> })],
    ['params', () => buildAlinkRequest({ id: '1', method: 'm', params: { big: 1n } })],
    ['id', () => buildAlinkReply({ id: '' })],
    ['code', () => buildAlinkReply({ id: '1', code: 200.5 })],
    ['message', () => buildAlinkReply({ id: '1', message: 5 as unknown as string })],
    ['data', () => buildAlinkReply({ id: '1', data: { big: 1n } })],
  ] as const)('refuse a bad %s', (field, action) => {
    expectConfigurationError(action, field);
  });
});

describe('parseAlinkRequest', () => {
  it('reads the page’s request from bytes and from text', () => {
    const text = '{"id":"123","version":"1.0","params":{"power":1},"method":"thing.service.property.set"}';
    const expected = { id: '123', version: '1.0', method: 'thing.service.property.set', params: { power: 1 } };
    expect(parseAlinkRequest(text)).toEqual(expected);
    expect(parseAlinkRequest(bytes(text))).toEqual(expected);
  });

  it('fills in absent version and params', () => {
    expect(parseAlinkRequest('{"id":"1","method":"thing.service.reboot"}')).toEqual({
      id: '1',
      version: undefined,
      method: 'thing.service.reboot',
      params: {},
    });
  });

  it('reads back whatever buildAlinkRequest writes', () => {
    const params = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 });
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), params, (id, method, version, p) => {
        const parsed = parseAlinkRequest(bytes(buildAlinkRequest({ id, method, version, params: p })));
        expect(parsed).toEqual({ id, method, version, params: JSON.parse(JSON.stringify(p)) });
      }),
    );
  });

  it.each<[AlinkPayloadErrorCode, Uint8Array | string]>([
    ['invalid-utf8', new Uint8Array([0x7b, 0xff, 0x7d])],
    ['invalid-json', '{"id":"1",'],
    ['invalid-json', ''],
    ['not-an-object', '[]'],
    ['not-an-object', 'null'],
    ['not-an-object', '"text"'],
    ['missing-id', '{"method":"m"}'],
    ['bad-id', '{"id":123,"method":"m"}'],
    ['bad-id', '{"id":"","method":"m"}'],
    ['bad-id', '{"id":null,"method":"m"}'],
    ['missing-method', '{"id":"1"}'],
    ['bad-method', '{"id":"1","method":7}'],
    ['bad-version', '{"id":"1","method":"m","version":1}'],
    ['bad-params', '{"id":"1","method":"m","params":[1]}'],
    ['bad-params', '{"id":"1","method":"m","params":null}'],
    ['bad-params', '{"id":"1","method":"m","params":"x"}'],
  ])('refuses with %s: %s', (code, payload) => {
    expectPayloadError(() => parseAlinkRequest(payload), code);
  });
});

describe('parseAlinkReply', () => {
  it('reads the page’s reply', () => {
    expect(parseAlinkReply(bytes('{"id":"123","code":200,"data":{}}'))).toEqual({ id: '123', code: 200, data: {} });
  });

  it('keeps message and method when present, and data of any kind', () => {
    expect(
      parseAlinkReply('{"id":"1","code":6813,"data":null,"message":"bad","method":"thing.event.property.post"}'),
    ).toEqual({ id: '1', code: 6813, data: null, message: 'bad', method: 'thing.event.property.post' });
    expect(parseAlinkReply('{"id":"1","code":200}')).toEqual({ id: '1', code: 200, data: undefined });
  });

  it('reads back whatever buildAlinkReply writes', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.integer(),
        fc.jsonValue(),
        fc.option(fc.string(), { nil: undefined }),
        (id, code, data, message) => {
          const parsed = parseAlinkReply(buildAlinkReply({ id, code, data, message }));
          expect(parsed).toEqual({
            id,
            code,
            data: JSON.parse(JSON.stringify(data)),
            ...(message === undefined ? {} : { message }),
          });
        },
      ),
    );
  });

  it.each<[AlinkPayloadErrorCode, string]>([
    ['invalid-json', 'not json'],
    ['not-an-object', '200'],
    ['missing-id', '{"code":200}'],
    ['bad-id', '{"id":1,"code":200}'],
    ['missing-code', '{"id":"1","data":{}}'],
    ['bad-code', '{"id":"1","code":"200"}'],
    ['bad-code', '{"id":"1","code":200.5}'],
    ['bad-code', '{"id":"1","code":null}'],
    ['bad-message', '{"id":"1","code":200,"message":{}}'],
    ['bad-method', '{"id":"1","code":200,"method":1}'],
  ])('refuses with %s: %s', (code, payload) => {
    expectPayloadError(() => parseAlinkReply(payload), code);
  });
});
