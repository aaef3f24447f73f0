/**
 * The gateway signatures. Every vector can be reproduced with openssl; the command is beside it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseSignMethodName, signRegistration, signSubDevice } from '../../src/aliyun/index.js';
import { verifyRegistrationSign, verifySubDeviceSign } from '../../src/aliyun/cloud-formats.js';
import { expectConfigurationError } from '../sign/helpers.js';

describe('signSubDevice', () => {
  it('matches the worked value of the BatchAddThingTopo page (help.aliyun.com/document_detail/145672)', () => {
    // printf '%s' 'clientId868575026974305deviceName868575026974305productKeya1PB5fp1234timestamp1646277090411' \
    //   | openssl dgst -md5 -hmac 1234        -> 3ba0dfa4c477b40c007d84d30d6466cc
    const signed = signSubDevice(
      { productKey: 'a1PB5fp1234', deviceName: '868575026974305', deviceSecret: '1234', clientId: '868575026974305' },
      { timestamp: 1646277090411, signMethod: 'hmacmd5' },
    );
    expect(signed.sign).toBe('3BA0DFA4C477B40C007D84D30D6466CC');
    expect(signed).toMatchObject({ clientId: '868575026974305', timestamp: '1646277090411', signMethod: 'hmacmd5' });
  });

  it('matches the Node.js SDK 1.2.8 signUtil (lib/utils.js) for the same sub-device and time', () => {
    // signUtil({productKey:'a1PB5fp1234',deviceName:'sub01',deviceSecret:'subSecret01'}) with Date.now() = 1700000000000
    // printf '%s' 'clientIda1PB5fp1234&sub01deviceNamesub01productKeya1PB5fp1234timestamp1700000000000' \
    //   | openssl dgst -sha1 -hmac subSecret01  -> 0b603cd201a6b9c178144afa1b1ac880dfff9815
    const device = { productKey: 'a1PB5fp1234', deviceName: 'sub01', deviceSecret: 'subSecret01' };
    const sha1 = signSubDevice(device, { timestamp: 1700000000000, signMethod: 'hmacsha1' });
    expect(sha1.clientId).toBe('a1PB5fp1234&sub01');
    expect(sha1.sign.toLowerCase()).toBe('0b603cd201a6b9c178144afa1b1ac880dfff9815');
    // ... | openssl dgst -sha256 -hmac subSecret01 -> b19201cab65539f1771b1e6e3d6663518369d5cdf1586fed92a3729c6c159520
    const sha256 = signSubDevice(device, { timestamp: 1700000000000 });
    expect(sha256.signMethod).toBe('hmacsha256');
    expect(sha256.sign).toBe('B19201CAB65539F1771B1E6E3D6663518369D5CDF1586FED92A3729C6C159520');
  });

  it('verifies its own signatures in either case, and refuses a wrong secret, field or length', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9]{1,12}$/),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.constantFrom('hmacmd5' as const, 'hmacsha1' as const, 'hmacsha256' as const),
        fc.nat(),
        (productKey, deviceName, deviceSecret, signMethod, timestamp) => {
          const signed = signSubDevice({ productKey, deviceName, deviceSecret }, { timestamp, signMethod });
          expect(verifySubDeviceSign(signed, deviceSecret)).toBe(true);
          expect(verifySubDeviceSign({ ...signed, sign: signed.sign.toLowerCase() }, deviceSecret)).toBe(true);
          expect(verifySubDeviceSign(signed, `${deviceSecret}x`)).toBe(false);
          expect(verifySubDeviceSign({ ...signed, timestamp: `${timestamp + 1}` }, deviceSecret)).toBe(false);
          expect(verifySubDeviceSign({ ...signed, sign: signed.sign.slice(1) }, deviceSecret)).toBe(false);
        },
      ),
    );
  });

  it.each([
    ['productKey', { deviceName: 'd', deviceSecret: 's' }],
    ['deviceName', { productKey: 'p', deviceName: 'a/b', deviceSecret: 's' }],
    ['deviceSecret', { productKey: 'p', deviceName: 'd', deviceSecret: '' }],
    ['clientId', { productKey: 'p', deviceName: 'd', deviceSecret: 's', clientId: '' }],
  ])('refuses a bad %s before signing', (field, device) => {
    expectConfigurationError(() => signSubDevice(device as never), field);
  });

  it('never puts the secret in an error', () => {
    const error = expectConfigurationError(() => signSubDevice({ productKey: 'p', deviceName: 'd', deviceSecret: 'TopSecret' }, { timestamp: -1 }), 'timestamp');
    expect(error.message).not.toContain('TopSecret');
  });
});

describe('signRegistration', () => {
  it('signs deviceName, productKey, random with the product secret, lower-case hex', () => {
    const input = { productKey: 'a1PB5fp1234', deviceName: 'dev01', productSecret: 'prodSecretXYZ', random: '8f3c2a1b' };
    // printf '%s' 'deviceNamedev01productKeya1PB5fp1234random8f3c2a1b' | openssl dgst -sha256 -hmac prodSecretXYZ
    expect(signRegistration(input)).toBe('2be2c75c9f059b1347bdfc205c31044522250c0ff8acdb3772979e5d097c9a08');
    // ... | openssl dgst -sha1 -hmac prodSecretXYZ
    expect(signRegistration({ ...input, signMethod: 'hmacsha1' })).toBe('ade0d1bbba3a3b35045814a91461e257578962e0');
    // ... | openssl dgst -md5 -hmac prodSecretXYZ
    expect(signRegistration({ ...input, signMethod: 'hmacmd5' })).toBe('1bc37fa7a4ef714f6ecf821afa47fc5f');
  });

  it('verifies in either case and refuses another secret or random', () => {
    const fields = { productKey: 'pk', deviceName: 'dn', random: 'abc123', signMethod: 'hmacsha256' as const };
    const sign = signRegistration({ ...fields, productSecret: 'ps' });
    expect(verifyRegistrationSign({ ...fields, sign }, 'ps')).toBe(true);
    expect(verifyRegistrationSign({ ...fields, sign: sign.toUpperCase() }, 'ps')).toBe(true);
    expect(verifyRegistrationSign({ ...fields, sign }, 'other')).toBe(false);
    expect(verifyRegistrationSign({ ...fields, random: 'abc124', sign }, 'ps')).toBe(false);
  });

  it('refuses a random with separators and an empty product secret', () => {
    expectConfigurationError(() => signRegistration({ productKey: 'p', deviceName: 'd', productSecret: 's', random: 'a&b' }), 'random');
    expectConfigurationError(() => signRegistration({ productKey: 'p', deviceName: 'd', productSecret: '', random: 'ab' }), 'productSecret');
  });
});

describe('parseSignMethodName', () => {
  it('reads the names in any case', () => {
    expect(parseSignMethodName('hmacSha256')).toBe('hmacsha256');
    expect(parseSignMethodName('HmacMD5')).toBe('hmacmd5');
    expect(parseSignMethodName('hmacsha1')).toBe('hmacsha1');
    expect(parseSignMethodName('sha256')).toBeUndefined();
  });
});
