/**
 * Every parser of the service formats, fed arbitrary bytes, arbitrary JSON and near-miss payloads:
 * each returns or throws a PlatformPayloadError, never anything else.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as device from '../../src/aliyun/index.js';
import * as cloud from '../../src/aliyun/cloud-formats.js';

const aliyun = { ...device, ...cloud };
import { PlatformPayloadError } from '../../src/aliyun/index.js';

const identity = { productKey: 'pk', deviceName: 'dn' };

const PARSERS: Record<string, (payload: Uint8Array | string) => unknown> = {
  parseTopoAdd: aliyun.parseTopoAdd,
  parseTopologyReply: aliyun.parseTopologyReply,
  parseTopoDelete: aliyun.parseTopoDelete,
  parseTopoChange: aliyun.parseTopoChange,
  parseSubRegister: aliyun.parseSubRegister,
  parseSubRegisterReply: aliyun.parseSubRegisterReply,
  parseSubLogin: aliyun.parseSubLogin,
  parseBatchLogin: aliyun.parseBatchLogin,
  parseSessionReply: aliyun.parseSessionReply,
  parseBatchSessionReply: aliyun.parseBatchSessionReply,
  parseSubLogout: aliyun.parseSubLogout,
  parseBatchLogout: aliyun.parseBatchLogout,
  parseLifecycleNotice: aliyun.parseLifecycleNotice,
  parseSessionError: aliyun.parseSessionError,
  parsePackPost: aliyun.parsePackPost,
  parseHistoryPost: aliyun.parseHistoryPost,
  parseNtpRequest: aliyun.parseNtpRequest,
  parseNtpResponse: aliyun.parseNtpResponse,
  parseShadowRequest: aliyun.parseShadowRequest,
  parseShadowMessage: aliyun.parseShadowMessage,
  parseConfigGet: aliyun.parseConfigGet,
  parseConfigGetReply: aliyun.parseConfigGetReply,
  parseConfigPush: aliyun.parseConfigPush,
  parseTagsUpdate: aliyun.parseTagsUpdate,
  parseTagsDelete: aliyun.parseTagsDelete,
  parseRegisterAnswer: aliyun.parseRegisterAnswer,
  parseRegisterForm: (payload) => aliyun.parseRegisterForm(typeof payload === 'string' ? payload : Buffer.from(payload).toString('latin1')),
  parseRegisterAnswerMessage: (payload) => aliyun.parseRegisterAnswerMessage(payload, identity),
  parseRegnwlAnswerMessage: (payload) => aliyun.parseRegnwlAnswerMessage(payload, identity),
  parseOtaVersion: aliyun.parseOtaVersion,
  parseOtaJob: aliyun.parseOtaJob,
  parseFirmwareGetReply: aliyun.parseFirmwareGetReply,
  parseOtaProgress: aliyun.parseOtaProgress,
  parseFirmwareGet: aliyun.parseFirmwareGet,
};

function onlyTypedErrors(parse: (payload: Uint8Array | string) => unknown, payload: Uint8Array | string): void {
  try {
    parse(payload);
  } catch (error) {
    expect(error).toBeInstanceOf(PlatformPayloadError);
  }
}

/** JSON shaped like the envelopes, with fields that are often of the wrong kind. */
const nearMiss = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, 0, -1, 1.5, '', '1', 'null', 'hmacSha256', 'MD5', 'https://x/y', 200, '200', 520),
    fc.string(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('id', 'code', 'data', 'params', 'method', 'version', 'productKey', 'deviceName', 'deviceSecret', 'sign', 'signMethod', 'signmethod', 'clientId', 'timestamp', 'deviceList', 'status', 'subList', 'state', 'reported', 'desired', 'payload', 'size', 'url', 'step', 'value', 'time', 'identity', 'properties', 'events', 'subDevices', 'attrKey', 'attrValue', 'deviceSendTime', 'serverRecvTime', 'serverSendTime'),
      tie('value'),
      { maxKeys: 6 },
    ),
  ),
})).value;

describe('service parsers under fuzz', () => {
  it.each(Object.entries(PARSERS))('%s throws only PlatformPayloadError on arbitrary bytes', (_name, parse) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => onlyTypedErrors(parse, bytes)), { numRuns: 200 });
  });

  it.each(Object.entries(PARSERS))('%s throws only PlatformPayloadError on near-miss JSON', (_name, parse) => {
    fc.assert(fc.property(nearMiss, (value) => onlyTypedErrors(parse, JSON.stringify(value) ?? 'null')), { numRuns: 300 });
  });
});
