import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { inspect, format } from 'node:util';
import { ConfigurationError } from '../../src/shared/errors.js';
import { signCredentials, signContent, signature } from '../../src/sign/index.js';
import type { SignInput } from '../../src/sign/index.js';
import { signInputArb } from './arbitraries.js';
import { captureError, expectConfigurationError } from './helpers.js';

const example = {
  clientId: '12345',
  deviceName: 'device',
  productKey: 'pk',
  deviceSecret: 'secret',
  timestamp: 789,
} as const;

describe('signCredentials: the platform page worked example', () => {
  it('gives the clientId, user name and password the page shows', () => {
    const credentials = signCredentials({ ...example, signMethod: 'hmacsha1', secureMode: 3 });
    expect(credentials.clientId).toBe('12345|securemode=3,signmethod=hmacsha1,timestamp=789|');
    expect(credentials.username).toBe('device&pk');
    // The page masks the last four characters.
    expect(credentials.password.startsWith('FAFD82A3D602B37FB0FA8B7892F24A477F85')).toBe(true);
    // printf '%s' clientId12345deviceNamedeviceproductKeypktimestamp789 | openssl dgst -sha1 -hmac secret
    expect(credentials.password).toBe('FAFD82A3D602B37FB0FA8B7892F24A477F851A14');
  });

  it('signs the content named on the page', () => {
    expect(signContent({ timestamp: '789', productKey: 'pk', deviceName: 'device', clientId: '12345' })).toBe(
      'clientId12345deviceNamedeviceproductKeypktimestamp789',
    );
  });
});

describe('signCredentials: vectors computed with openssl', () => {
  const cases = [
    {
      // printf '%s' clientId12345deviceNamedeviceproductKeypktimestamp789 | openssl dgst -md5 -hmac secret
      input: { ...example, signMethod: 'hmacmd5' },
      clientId: '12345|securemode=2,signmethod=hmacmd5,timestamp=789|',
      password: '14B198324FE55E1D3C88F2E705E201EE',
    },
    {
      // printf '%s' clientId12345deviceNamedeviceproductKeypktimestamp789 | openssl dgst -sha256 -hmac secret
      input: { ...example, signMethod: 'hmacsha256' },
      clientId: '12345|securemode=2,signmethod=hmacsha256,timestamp=789|',
      password: '6074A46A91B1EBB2CC4EA42790AD0E80202C9843859FC292E57C4EB19FAD9E57',
    },
    {
      // Default method is hmacsha256, default securemode 2.
      // printf '%s' clientId12345deviceNamedeviceproductKeypktimestamp789 | openssl dgst -sha256 -hmac secret
      input: example,
      clientId: '12345|securemode=2,signmethod=hmacsha256,timestamp=789|',
      password: '6074A46A91B1EBB2CC4EA42790AD0E80202C9843859FC292E57C4EB19FAD9E57',
    },
    {
      // No timestamp: absent from the extension and the content.
      // printf '%s' clientId12345deviceNamedeviceproductKeypk | openssl dgst -md5 -hmac secret
      input: { ...example, timestamp: null, signMethod: 'hmacmd5' },
      clientId: '12345|securemode=2,signmethod=hmacmd5|',
      password: '2CE7304EC0DDD548EB1492D65AC0B334',
    },
    {
      // printf '%s' clientId12345deviceNamedeviceproductKeypk | openssl dgst -sha1 -hmac secret
      input: { ...example, timestamp: false, signMethod: 'hmacsha1', secureMode: 3 },
      clientId: '12345|securemode=3,signmethod=hmacsha1|',
      password: '3504E4DF7CE4766D30F796EE973C9CE7FC5425CB',
    },
    {
      // Default clientId is productKey.deviceName.
      // printf '%s' clientIdpk.devicedeviceNamedeviceproductKeypktimestamp789 | openssl dgst -sha256 -hmac secret
      input: { deviceName: 'device', productKey: 'pk', deviceSecret: 'secret', timestamp: 789 },
      clientId: 'pk.device|securemode=2,signmethod=hmacsha256,timestamp=789|',
      password: 'D0DE022DB19C8554BDDAFAE2AE8653F1B32989A785C2E637107DD7B3FF6C21C4',
    },
    {
      // printf '%s' clientIdpk.devicedeviceNamedeviceproductKeypktimestamp789 | openssl dgst -md5 -hmac secret
      input: { deviceName: 'device', productKey: 'pk', deviceSecret: 'secret', timestamp: 789, signMethod: 'hmacmd5' },
      clientId: 'pk.device|securemode=2,signmethod=hmacmd5,timestamp=789|',
      password: '74D77D258E41D7B9C46383256A400879',
    },
  ] satisfies { input: SignInput; clientId: string; password: string }[];

  it.each(cases)('$clientId', ({ input, clientId, password }) => {
    const credentials = signCredentials(input);
    expect(credentials.clientId).toBe(clientId);
    expect(credentials.username).toBe('device&pk');
    expect(credentials.password).toBe(password);
  });

  it('uses Date.now() when no timestamp is given', () => {
    const before = Date.now();
    const { clientId } = signCredentials({ deviceName: 'device', productKey: 'pk', deviceSecret: 'secret' });
    const after = Date.now();
    const stamp = Number(/timestamp=(\d+)\|$/.exec(clientId)?.[1]);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(after);
  });
});

describe('signContent', () => {
  it('sorts by parameter name whatever the input order', () => {
    const entry = fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 12 }));
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: ([name]) => name, maxLength: 8 }), fc.nat(), (entries, seed) => {
        const shuffled = [...entries];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (seed + i * 7919) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        const expected = sorted.map(([name, value]) => name + value).join('');
        expect(signContent(Object.fromEntries(shuffled))).toBe(expected);
        expect(signContent(Object.fromEntries(entries))).toBe(expected);
      }),
    );
  });

  it('leaves out parameters whose value is undefined', () => {
    expect(signContent({ timestamp: undefined, clientId: 'a', deviceName: 'b' })).toBe('clientIdadeviceNameb');
  });

  it('is what signCredentials signs, for any valid input', () => {
    fc.assert(
      fc.property(signInputArb, (input) => {
        const credentials = signCredentials(input);
        const stamp = /[|,]timestamp=(\d+)\|$/.exec(credentials.clientId)?.[1];
        const bare = credentials.clientId.slice(0, credentials.clientId.indexOf('|'));
        const content = signContent({
          clientId: bare,
          deviceName: input.deviceName,
          productKey: input.productKey,
          timestamp: stamp,
        });
        expect(credentials.password).toBe(signature(input.signMethod ?? 'hmacsha256', input.deviceSecret, content));
        expect(credentials.password).toMatch(/^[0-9A-F]+$/);
        expect(credentials.username).toBe(`${input.deviceName}&${input.productKey}`);
        expect(bare).toBe(input.clientId ?? `${input.productKey}.${input.deviceName}`);
      }),
    );
  });
});

describe('signCredentials: the password stays out of print', () => {
  const credentials = signCredentials({ ...example, signMethod: 'hmacsha1', secureMode: 3 });
  const password = 'FAFD82A3D602B37FB0FA8B7892F24A477F851A14';

  it.each([
    ['String()', () => String(credentials)],
    ['template literal', () => `${credentials}`],
    ['util.inspect', () => inspect(credentials)],
    ['util.inspect with showHidden', () => inspect(credentials, { showHidden: true })],
    ['util.format %o', () => format('%o', credentials)],
    ['util.format %j', () => format('%j', credentials)],
    ['JSON.stringify', () => JSON.stringify(credentials)],
    ['nested in an object', () => inspect({ wrapped: credentials })],
  ])('%s shows [redacted], not the password', (_name, render) => {
    const text = render();
    expect(text).not.toContain(password);
    expect(text.toLowerCase()).not.toContain(password.toLowerCase().slice(0, 16));
    expect(text).toContain('[redacted]');
    expect(text).toContain('device&pk');
    expect(text).not.toContain('secret');
  });

  it('still hands the password to code that reads it', () => {
    expect(credentials.password).toBe(password);
    expect(Object.keys(credentials)).toEqual(['clientId', 'username', 'password']);
    expect({ ...credentials }.password).toBe(password);
    expect(Object.isFrozen(credentials)).toBe(true);
  });
});

describe('signCredentials: input validation', () => {
  const valid: SignInput = { productKey: 'pk', deviceName: 'device', deviceSecret: 'secret', timestamp: 789 };
  const secret = 'TopSecret-3f9c1a7e5b';

  const cases: [string, Record<string, unknown>][] = [
    ['productKey', { productKey: '' }],
    ['productKey', { productKey: 42 }],
    ['productKey', { productKey: undefined }],
    ['productKey', { productKey: 'p&k' }],
    ['deviceName', { deviceName: '' }],
    ['deviceName', { deviceName: null }],
    ['deviceName', { deviceName: 'dev&ice' }],
    ['deviceSecret', { deviceSecret: '' }],
    ['deviceSecret', { deviceSecret: 12345678 }],
    ['deviceSecret', { deviceSecret: undefined }],
    ['clientId', { clientId: '' }],
    ['clientId', { clientId: 7 }],
    ['clientId', { clientId: 'a'.repeat(65) }],
    ['clientId', { clientId: 'é'.repeat(33) }],
    ['clientId', { clientId: 'id|x' }],
    ['clientId', { clientId: 'id,x' }],
    ['clientId', { clientId: 'id=x' }],
    ['clientId', { productKey: 'p'.repeat(40), deviceName: 'd'.repeat(24) }],
    ['clientId', { productKey: 'p|k' }],
    ['clientId', { deviceName: 'a=b' }],
    ['signMethod', { signMethod: 'hmacsha512' }],
    ['signMethod', { signMethod: 'HMACSHA1' }],
    ['secureMode', { secureMode: 1 }],
    ['secureMode', { secureMode: '2' }],
    ['timestamp', { timestamp: -1 }],
    ['timestamp', { timestamp: 1.5 }],
    ['timestamp', { timestamp: Number.NaN }],
    ['timestamp', { timestamp: Number.MAX_SAFE_INTEGER + 1 }],
    ['timestamp', { timestamp: '789' }],
    ['timestamp', { timestamp: true }],
  ];

  it.each(cases)('refuses a bad %s: %o', (field, change) => {
    const input = { ...valid, deviceSecret: secret, ...change } as SignInput;
    const error = expectConfigurationError(() => signCredentials(input), field);
    expect(error.message).not.toContain(secret);
    expect(String(error)).not.toContain(secret);
  });

  it('refuses a non-object input', () => {
    expectConfigurationError(() => signCredentials(null as unknown as SignInput), 'credentials');
  });

  it('accepts a clientId of exactly 64 characters and a timestamp of 0', () => {
    const { clientId } = signCredentials({ ...valid, clientId: 'a'.repeat(64), timestamp: 0 });
    expect(clientId).toBe(`${'a'.repeat(64)}|securemode=2,signmethod=hmacsha256,timestamp=0|`);
  });

  it('never puts the secret in an error message, whatever field is wrong', () => {
    const secretArb = fc.stringMatching(/^[A-Za-z0-9]{12,40}$/).map((s) => `S3cret_${s}`);
    const breakage = fc.constantFrom<Record<string, unknown>>(
      ...cases.map(([, change]) => change).filter((change) => !('deviceSecret' in change)),
    );
    fc.assert(
      fc.property(secretArb, breakage, (deviceSecret, change) => {
        const error = captureError(() => signCredentials({ ...valid, deviceSecret, ...change } as SignInput));
        expect(error).toBeInstanceOf(ConfigurationError);
        expect(`${String(error)} ${(error as Error).stack ?? ''}`).not.toContain(deviceSecret);
      }),
    );
  });
});
