import { describe, expect, it } from 'vitest';
import { buildFirmwareGet, buildOtaProgress, buildOtaVersion, OTA_FAILURE, parseFirmwareGetReply, parseOtaJob } from '../../src/aliyun/index.js';
import { buildOtaJob, parseFirmwareGet, parseOtaProgress, parseOtaVersion } from '../../src/aliyun/cloud-formats.js';
import { expectConfigurationError } from '../sign/helpers.js';
import { expectPayloadError, json } from './platform-helpers.js';

const MD5 = '93230c3bde425a9d7984a594ac55ea1e';

/** The single-file HTTPS job of help.aliyun.com/document_detail/89307, with its masked values filled in. */
const PAGE_JOB = {
  code: '1000',
  data: {
    size: 432945,
    version: '2.0.0',
    isDiff: 1,
    url: 'https://iotx-ota.oss-cn-shanghai.aliyuncs.com/nopoll_0.4.4.tar.gz?Expires=1502955804&OSSAccessKeyId=XXX&Signature=XfgJu7P6DW',
    md5: MD5,
    digestsign: 'A4WOP1SYHJ6DDDJD9',
    sign: MD5,
    signMethod: 'MD5',
    module: 'MCU',
    extData: { key1: 'value1', _package_udi: '{"ota_notice":"x"}' },
  },
  id: 1626969597470,
  message: 'success',
};

describe('version report', () => {
  it('writes one module per message, module left out for the default', () => {
    expect(buildOtaVersion({ id: '123', version: '1.0.1', module: 'MCU' })).toBe('{"id":"123","version":"1.0","params":{"version":"1.0.1","module":"MCU"}}');
    expect(parseOtaVersion(buildOtaVersion({ id: '1', version: '2' }))).toEqual({ id: '1', version: '2', module: 'default' });
  });

  it('reads the C SDK report (numeric id, no version field)', () => {
    expect(parseOtaVersion('{"id":7, "params":{"version":"1.0.0","module":"wifi"}}')).toEqual({ id: '7', version: '1.0.0', module: 'wifi' });
    expectPayloadError(() => parseOtaVersion('{"id":7,"params":{}}'), 'missing-field', 'params.version');
    expectConfigurationError(() => buildOtaVersion({ id: '1', version: '' }), 'version');
  });
});

describe('upgrade job', () => {
  it('reads the page’s job: numeric id, string code, MD5 in capitals', () => {
    const message = parseOtaJob(json(PAGE_JOB));
    expect(message).toMatchObject({ id: '1626969597470', code: '1000', message: 'success' });
    expect(message.job).toEqual({
      version: '2.0.0',
      size: 432945,
      module: 'MCU',
      signMethod: 'md5',
      sign: MD5,
      protocol: 'https',
      url: PAGE_JOB.data.url,
      streamId: undefined,
      streamFileId: undefined,
      isDiff: true,
      digestSign: 'A4WOP1SYHJ6DDDJD9',
      extData: PAGE_JOB.data.extData,
    });
  });

  it('reads the C SDK’s spellings (Sha256, Md5) and a job over MQTT (dProtocol, streamId, no url)', () => {
    const sha = 'ab'.repeat(32);
    expect(parseOtaJob(json({ ...PAGE_JOB, data: { ...PAGE_JOB.data, signMethod: 'Sha256', sign: sha } })).job.signMethod).toBe('sha256');
    const mqtt = { size: 432945, version: '2.0.0', isDiff: 1, signMethod: 'MD5', dProtocol: 'mqtt', streamId: 1397345, streamFileId: 1, md5: MD5, sign: MD5, module: 'MCU' };
    const job = parseOtaJob(json({ code: '1000', data: mqtt, id: 1507707025, message: 'success' })).job;
    expect(job).toMatchObject({ protocol: 'mqtt', url: undefined, streamId: 1397345, streamFileId: 1 });
  });

  it('round-trips the jobs it writes; an absent module is the default module', () => {
    const text = buildOtaJob({ id: 42, job: { version: '3.1', size: 10, url: 'https://[::1]:8443/fw.bin', signMethod: 'sha256', sign: 'CD'.repeat(32) } });
    expect(JSON.parse(text)).toMatchObject({ code: '1000', id: 42, data: { signMethod: 'SHA256', module: 'default', isDiff: 0 } });
    expect(parseOtaJob(text).job).toMatchObject({ version: '3.1', size: 10, signMethod: 'sha256', sign: 'cd'.repeat(32), url: 'https://[::1]:8443/fw.bin', module: 'default' });
    const { module: _unused, ...withoutModule } = PAGE_JOB.data;
    expect(parseOtaJob(json({ ...PAGE_JOB, data: withoutModule })).job.module).toBe('default');
  });

  it.each([
    ['data.size', { size: 0 }, 'bad-field'],
    ['data.size', { size: '12kb' }, 'bad-field'],
    ['data.signMethod', { signMethod: 'CRC32' }, 'bad-field'],
    ['data.sign', { sign: MD5.slice(2) }, 'bad-field'],
    ['data.sign', { sign: 'zz' + MD5.slice(2) }, 'bad-field'],
    ['data.url', { url: 'http://example.com/fw.bin' }, 'bad-field'],
    ['data.url', { url: undefined }, 'missing-field'],
    ['data.version', { version: '' }, 'bad-field'],
    ['data.dProtocol', { dProtocol: 'ftp' }, 'bad-field'],
    ['data.isDiff', { isDiff: 'yes' }, 'bad-field'],
  ] as const)('refuses a job with a bad %s', (field, change, code) => {
    expectPayloadError(() => parseOtaJob(json({ ...PAGE_JOB, data: { ...PAGE_JOB.data, ...change } })), code, field);
  });

  it('refuses a push without data or id', () => {
    expectPayloadError(() => parseOtaJob(json({ code: '1000', id: 1 })), 'missing-field', 'data');
    expectPayloadError(() => parseOtaJob(json({ code: '1000', data: PAGE_JOB.data })), 'missing-field', 'id');
    expectPayloadError(() => parseOtaJob(json({ code: '1000', data: PAGE_JOB.data, id: -1 })), 'bad-field', 'id');
  });
});

describe('progress', () => {
  it('writes the step as a string, as the C SDK does, and reads it back', () => {
    expect(buildOtaProgress({ id: '123', step: OTA_FAILURE.upgradeFailed, desc: 'no package', module: 'MCU' })).toBe(
      '{"id":"123","version":"1.0","params":{"step":"-1","desc":"no package","module":"MCU"}}',
    );
    expect(parseOtaProgress(buildOtaProgress({ id: '1', step: 55 }))).toEqual({ id: '1', step: 55, desc: '', module: 'default' });
    expect(parseOtaProgress('{"id":3, "params":{"step":"-3","desc":""}}').step).toBe(-3);
  });

  it('has the platform’s four failure codes', () => {
    expect(OTA_FAILURE).toEqual({ upgradeFailed: -1, downloadFailed: -2, verifyFailed: -3, burnFailed: -4 });
  });

  it('refuses steps outside 0..100 and -4..-1', () => {
    expectConfigurationError(() => buildOtaProgress({ id: '1', step: 101 }), 'step');
    expectConfigurationError(() => buildOtaProgress({ id: '1', step: -5 }), 'step');
    expectConfigurationError(() => buildOtaProgress({ id: '1', step: 50.5 }), 'step');
    expectPayloadError(() => parseOtaProgress('{"id":"1","params":{"step":"-9"}}'), 'bad-field', 'params.step');
    expectPayloadError(() => parseOtaProgress('{"id":"1","params":{"step":"half"}}'), 'bad-field', 'params.step');
  });
});

describe('firmware get', () => {
  it('writes the page’s request and reads the C SDK’s (no method, numeric id, bare params)', () => {
    expect(buildFirmwareGet({ id: '5', module: 'MCU' })).toBe('{"id":"5","version":"1.0","params":{"module":"MCU"},"method":"thing.ota.firmware.get"}');
    expect(parseFirmwareGet(buildFirmwareGet({ id: '6' }))).toEqual({ id: '6', module: 'default' });
    expect(parseFirmwareGet('{"id":9, "params":{"module":"wifi"}}')).toEqual({ id: '9', module: 'wifi' });
  });

  it('reads a reply with a job, an empty reply (nothing to do) and a refusal', () => {
    expect(parseFirmwareGetReply(json({ id: '5', code: 200, data: PAGE_JOB.data }))).toMatchObject({ ok: true, data: { version: '2.0.0', module: 'MCU' } });
    expect(parseFirmwareGetReply(json({ id: '5', code: 200, data: {} }))).toMatchObject({ ok: true, data: undefined });
    expect(parseFirmwareGetReply(json({ id: '5', code: 460, message: 'request parameter error' }))).toMatchObject({ ok: false, code: 460 });
  });
});
