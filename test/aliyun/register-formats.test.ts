import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { buildRegisterForm, parseRegisterAnswer, parseRegisterAnswerMessage, parseRegnwlAnswerMessage, registerHost, registrationConnectCredentials, REGISTER_PATH, tokenConnectCredentials } from '../../src/aliyun/index.js';
import { buildRegisterAnswer, buildRegisterAnswerMessage, buildRegnwlAnswerMessage, isTokenClientId, parseRegisterForm, parseRegistrationClientId, verifyRegistrationSign } from '../../src/aliyun/cloud-formats.js';
import { expectConfigurationError } from '../sign/helpers.js';
import { expectPayloadError, json } from './platform-helpers.js';

const DEVICE = { productKey: 'a1PB5fp1234', deviceName: 'dev01', productSecret: 'prodSecretXYZ' };

describe('registration over HTTPS: the form', () => {
  it('posts to iot-auth.{region}.aliyuncs.com/auth/register/device', () => {
    expect(registerHost()).toBe('iot-auth.cn-shanghai.aliyuncs.com');
    expect(registerHost('ap-southeast-1')).toBe('iot-auth.ap-southeast-1.aliyuncs.com');
    expect(REGISTER_PATH).toBe('/auth/register/device');
    expectConfigurationError(() => registerHost('mars-1' as never), 'region');
  });

  it('writes the C SDK body; the signature is reproducible with openssl', () => {
    // printf '%s' 'deviceNamedev01productKeya1PB5fp1234random8f3c2a1b' | openssl dgst -sha256 -hmac prodSecretXYZ
    expect(buildRegisterForm({ ...DEVICE, random: '8f3c2a1b' })).toBe(
      'productKey=a1PB5fp1234&deviceName=dev01&random=8f3c2a1b&sign=2be2c75c9f059b1347bdfc205c31044522250c0ff8acdb3772979e5d097c9a08&signMethod=hmacsha256',
    );
  });

  it('round-trips: the platform’s side reads it and verifies the signature with the product secret', () => {
    const form = parseRegisterForm(buildRegisterForm({ ...DEVICE, signMethod: 'hmacmd5' }));
    expect(form).toMatchObject({ productKey: 'a1PB5fp1234', deviceName: 'dev01', signMethod: 'hmacmd5' });
    expect(form.random).toMatch(/^[0-9a-f]{16}$/);
    expect(verifyRegistrationSign(form, 'prodSecretXYZ')).toBe(true);
    expect(verifyRegistrationSign(form, 'wrong')).toBe(false);
  });

  it('reads the method in the page’s spelling (HmacMD5) and refuses a form with missing fields', () => {
    expect(parseRegisterForm('productKey=p&deviceName=d&random=1&sign=ab&signMethod=HmacMD5').signMethod).toBe('hmacmd5');
    expectPayloadError(() => parseRegisterForm('productKey=p&deviceName=d&random=1&signMethod=hmacsha1'), 'missing-field', 'sign');
    expectPayloadError(() => parseRegisterForm('productKey=p&deviceName=d&random=1&sign=ab&signMethod=rsa'), 'bad-field', 'signMethod');
  });

  it('refuses bad input before anything is signed, and never quotes the product secret', () => {
    const error = expectConfigurationError(() => buildRegisterForm({ ...DEVICE, deviceName: 'a/b' }), 'deviceName');
    expect(error.message).not.toContain('prodSecretXYZ');
    expectConfigurationError(() => buildRegisterForm({ ...DEVICE, productSecret: '' }), 'productSecret');
    expectConfigurationError(() => buildRegisterForm({ ...DEVICE, signMethod: 'sha256' as never }), 'signMethod');
  });
});

describe('registration over HTTPS: the answer', () => {
  it('reads the page’s success answer, the secret hidden from print', () => {
    const answer = parseRegisterAnswer(json({ code: 200, data: { productKey: 'a1PB5fp1234', deviceName: 'dev01', deviceSecret: 'adsfweafdsf' }, message: 'success' }));
    expect(answer.ok).toBe(true);
    if (!answer.ok) return;
    expect(answer.credentials).toMatchObject({ productKey: 'a1PB5fp1234', deviceName: 'dev01', deviceSecret: 'adsfweafdsf' });
    expect(inspect(answer.credentials)).not.toContain('adsfweafdsf');
    expect(JSON.stringify(answer.credentials)).not.toContain('adsfweafdsf');
  });

  it('keeps a refusal’s code and message', () => {
    expect(parseRegisterAnswer(buildRegisterAnswer({ code: 6288, message: 'sign check error' }))).toEqual({ ok: false, code: 6288, message: 'sign check error' });
    expect(parseRegisterAnswer(buildRegisterAnswer({ credentials: { productKey: 'p', deviceName: 'd', deviceSecret: 's' } }))).toMatchObject({ ok: true });
  });

  it('refuses an answer that is not the platform’s JSON', () => {
    expectPayloadError(() => parseRegisterAnswer('<html>502</html>'), 'invalid-json', '');
    expectPayloadError(() => parseRegisterAnswer(json({ code: 200, data: { productKey: 'p', deviceName: 'd' } })), 'missing-field', 'data.deviceSecret');
    expectPayloadError(() => parseRegisterAnswer(json({ data: {} })), 'missing-field', 'code');
  });
});

describe('registration over MQTT', () => {
  it('builds the C SDK CONNECT (aiot_dynregmq_send_request): dn.pk clientId, lower-case HMAC-SHA256 password', () => {
    const credentials = registrationConnectCredentials({ ...DEVICE, authType: 'register', random: '8f3c2a1b' });
    expect(credentials.clientId).toBe('dev01.a1PB5fp1234|random=8f3c2a1b,authType=register,securemode=2,signmethod=hmacsha256|');
    expect(credentials.username).toBe('dev01&a1PB5fp1234');
    // printf '%s' 'deviceNamedev01productKeya1PB5fp1234random8f3c2a1b' | openssl dgst -sha256 -hmac prodSecretXYZ
    expect(credentials.password).toBe('2be2c75c9f059b1347bdfc205c31044522250c0ff8acdb3772979e5d097c9a08');
    expect(inspect(credentials)).not.toContain(credentials.password);
  });

  it('adds instanceId and the page’s securemode=-2 when asked, and reads either back', () => {
    const credentials = registrationConnectCredentials({ ...DEVICE, authType: 'regnwl', random: 'r1', instanceId: 'iot-06z00ab', secureMode: -2 });
    expect(credentials.clientId).toBe('dev01.a1PB5fp1234|random=r1,authType=regnwl,securemode=-2,signmethod=hmacsha256,instanceId=iot-06z00ab|');
    expect(parseRegistrationClientId(credentials.clientId)).toEqual({ authType: 'regnwl', random: 'r1', signMethod: 'hmacsha256', secureMode: -2, instanceId: 'iot-06z00ab' });
    expect(parseRegistrationClientId('dev.pk|random=9,authType=register,securemode=2,signmethod=hmacmd5|')).toMatchObject({ authType: 'register', signMethod: 'hmacmd5', secureMode: 2 });
  });

  it('tells registration, token and ordinary clientIds apart, and refuses a malformed registration', () => {
    expect(parseRegistrationClientId('12345|securemode=2,signmethod=hmacsha1|')).toBeUndefined();
    expect(parseRegistrationClientId('plain')).toBeUndefined();
    expect(isTokenClientId('cid|securemode=-2,authType=connwl|')).toBe(true);
    expect(isTokenClientId('cid|securemode=2|')).toBe(false);
    expectPayloadError(() => parseRegistrationClientId('d.p|authType=register,securemode=2|'), 'bad-field', 'random');
    expectPayloadError(() => parseRegistrationClientId('d.p|random=1,authType=register,securemode=3|'), 'bad-field', 'securemode');
    expectPayloadError(() => parseRegistrationClientId('d.p|random=1,authType=regnwl,securemode=2,signmethod=rsa|'), 'bad-field', 'signmethod');
  });

  it('reads /ext/register (the secret) and /ext/regnwl (clientId and token), refusing another device’s answer', () => {
    const device = { productKey: 'a1PB5fp1234', deviceName: 'dev01' };
    const secret = parseRegisterAnswerMessage(buildRegisterAnswerMessage({ ...device, deviceSecret: 'S3cret' }), device);
    expect(secret).toMatchObject({ ...device, deviceSecret: 'S3cret' });
    expect(inspect(secret)).not.toContain('S3cret');
    expect(parseRegisterAnswerMessage('{"deviceSecret":"x"}', device).deviceSecret).toBe('x');
    expectPayloadError(() => parseRegisterAnswerMessage(json({ productKey: 'other', deviceSecret: 'x' }), device), 'bad-field', 'productKey');
    expectPayloadError(() => parseRegisterAnswerMessage('{}', device), 'missing-field', 'deviceSecret');

    const token = parseRegnwlAnswerMessage(buildRegnwlAnswerMessage({ ...device, clientId: 'cid123', deviceToken: 'T0ken' }), device);
    expect(token).toMatchObject({ clientId: 'cid123', deviceToken: 'T0ken' });
    expect(inspect(token)).not.toContain('T0ken');
    expectPayloadError(() => parseRegnwlAnswerMessage(json({ clientId: 'a|b', deviceToken: 't' }), device), 'bad-field', 'clientId');
  });

  it('turns a token into the connwl CONNECT fields', () => {
    const credentials = tokenConnectCredentials({ productKey: 'pk', deviceName: 'dn', clientId: 'cid123', deviceToken: 'T0ken' });
    expect(credentials).toMatchObject({ clientId: 'cid123|securemode=-2,authType=connwl|', username: 'dn&pk', password: 'T0ken' });
    expect(inspect(credentials)).not.toContain('T0ken');
    expectConfigurationError(() => tokenConnectCredentials({ productKey: 'pk', deviceName: 'dn', clientId: '', deviceToken: 't' }), 'clientId');
  });
});
