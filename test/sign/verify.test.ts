import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  connackCodeForVerifyFailure,
  parseClientId,
  signCredentials,
  verifyCredentials,
} from '../../src/sign/index.js';
import type { SecretLookup, VerifyFailureReason, VerifyResult } from '../../src/sign/index.js';
import { signInputArb } from './arbitraries.js';

const secrets = new Map([['pk/device', 'secret']]);
const lookup: SecretLookup = (productKey, deviceName) => secrets.get(`${productKey}/${deviceName}`);

/** The page's worked example, over TCP. */
const page = {
  clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=789|',
  username: 'device&pk',
  password: 'FAFD82A3D602B37FB0FA8B7892F24A477F851A14',
};

function reasonOf(result: VerifyResult): VerifyFailureReason | 'ok' {
  return result.ok ? 'ok' : result.reason;
}

describe('verifyCredentials: accepts', () => {
  it('the page example, and reports what it read', () => {
    expect(verifyCredentials(page, lookup, { transport: 'tcp' })).toEqual({
      ok: true,
      productKey: 'pk',
      deviceName: 'device',
      clientId: '12345',
      signMethod: 'hmacsha1',
      secureMode: 3,
      timestamp: 789,
    });
  });

  it('lower-case hex', () => {
    expect(verifyCredentials({ ...page, password: page.password.toLowerCase() }, lookup).ok).toBe(true);
  });

  it('the password as the UTF-8 bytes CONNECT carries', () => {
    expect(verifyCredentials({ ...page, password: new TextEncoder().encode(page.password) }, lookup).ok).toBe(true);
  });

  it('unknown extension fields from the vendor SDKs, in any position', () => {
    const clientId = '12345|_v=sdk-c-4.1.0,securemode=3,lan=C,signmethod=hmacsha1,ext=1,_ss=1,timestamp=789,gw=0|';
    expect(verifyCredentials({ ...page, clientId }, lookup, { transport: 'tcp' }).ok).toBe(true);
  });

  it('no signmethod as hmacmd5, as the platform assumes', () => {
    // printf '%s' clientId12345deviceNamedeviceproductKeypktimestamp789 | openssl dgst -md5 -hmac secret
    const result = verifyCredentials(
      { clientId: '12345|securemode=2,timestamp=789|', username: 'device&pk', password: '14b198324fe55e1d3c88f2e705e201ee' },
      lookup,
      { transport: 'tls' },
    );
    expect(result).toMatchObject({ ok: true, signMethod: 'hmacmd5', secureMode: 2 });
  });

  it('no timestamp, leaving it out of the result', () => {
    // printf '%s' clientId12345deviceNamedeviceproductKeypk | openssl dgst -sha1 -hmac secret
    const result = verifyCredentials(
      { clientId: '12345|securemode=3,signmethod=hmacsha1|', username: 'device&pk', password: '3504E4DF7CE4766D30F796EE973C9CE7FC5425CB' },
      lookup,
    );
    expect(result.ok).toBe(true);
    expect(result).not.toHaveProperty('timestamp');
  });

  it('the sign method name in any case', () => {
    const clientId = '12345|securemode=3,signmethod=HmacSHA1,timestamp=789|';
    expect(verifyCredentials({ ...page, clientId }, lookup)).toMatchObject({ ok: true, signMethod: 'hmacsha1' });
  });

  it('anything signCredentials makes, over the matching transport', () => {
    fc.assert(
      fc.property(signInputArb, (input) => {
        const credentials = signCredentials(input);
        const lookupOne: SecretLookup = (productKey, deviceName) =>
          productKey === input.productKey && deviceName === input.deviceName ? input.deviceSecret : undefined;
        const transport = (input.secureMode ?? 2) === 2 ? 'tls' : 'tcp';
        const result = verifyCredentials(credentials, lookupOne, { transport });
        expect(result).toMatchObject({
          ok: true,
          productKey: input.productKey,
          deviceName: input.deviceName,
          clientId: input.clientId ?? `${input.productKey}.${input.deviceName}`,
          signMethod: input.signMethod ?? 'hmacsha256',
          secureMode: input.secureMode ?? 2,
        });
        if (typeof input.timestamp === 'number') expect(result).toMatchObject({ timestamp: input.timestamp });
        if (input.timestamp === null || input.timestamp === false) expect(result).not.toHaveProperty('timestamp');
      }),
    );
  });
});

describe('verifyCredentials: refuses', () => {
  it('any password with one hex digit changed to another value', () => {
    fc.assert(
      fc.property(
        signInputArb,
        fc.nat(),
        fc.integer({ min: 1, max: 15 }),
        (input, position, delta) => {
          const credentials = signCredentials(input);
          const index = position % credentials.password.length;
          const digit = parseInt(credentials.password[index]!, 16);
          const flipped = ((digit + delta) % 16).toString(16).toUpperCase();
          const password = credentials.password.slice(0, index) + flipped + credentials.password.slice(index + 1);
          const result = verifyCredentials({ ...credentials, password }, () => input.deviceSecret);
          expect(reasonOf(result)).toBe('bad-signature');
        },
      ),
    );
  });

  it('any password with a character replaced by a non-hex one', () => {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom('g', 'Z', ' ', '-', 'é', '\u0000'), (position, replacement) => {
        const index = position % page.password.length;
        const password = page.password.slice(0, index) + replacement + page.password.slice(index + 1);
        expect(reasonOf(verifyCredentials({ ...page, password }, lookup))).toBe('bad-signature');
      }),
    );
  });

  it('a signature made with the wrong secret', () => {
    fc.assert(
      fc.property(signInputArb, fc.string({ minLength: 1 }), (input, otherSecret) => {
        // HMAC pads short keys with zero bytes, so 'a' and 'a\0' are the same key.
        fc.pre(otherSecret.replace(/\0+$/, '') !== input.deviceSecret.replace(/\0+$/, ''));
        const credentials = signCredentials(input);
        expect(reasonOf(verifyCredentials(credentials, () => otherSecret))).toBe('bad-signature');
      }),
    );
  });

  const cases: [VerifyFailureReason, Partial<typeof page>, ('tls' | 'tcp')?][] = [
    ['malformed-extension', { clientId: '12345' }],
    ['malformed-extension', { clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=789' }],
    ['malformed-extension', { clientId: '12345|securemode=3|signmethod=hmacsha1|' }],
    ['malformed-extension', { clientId: '12345|signmethod=hmacsha1,timestamp=789|' }],
    ['malformed-extension', { clientId: '12345||' }],
    ['malformed-extension', { clientId: '12345|securemode=1,signmethod=hmacsha1|' }],
    ['malformed-extension', { clientId: '12345|securemode=,signmethod=hmacsha1|' }],
    ['malformed-extension', { clientId: '12345|securemode=3,signmethod=hmacsha1,|' }],
    ['malformed-extension', { clientId: '12345|securemode=3,=x,signmethod=hmacsha1|' }],
    ['malformed-extension', { clientId: '12345|securemode=3,gw|' }],
    ['malformed-extension', { clientId: '12345|securemode=3,securemode=3,signmethod=hmacsha1|' }],
    ['malformed-extension', { clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=7a9|' }],
    ['malformed-extension', { clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=-789|' }],
    ['malformed-extension', { clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=99999999999999999|' }],
    ['malformed-client-id', { clientId: '|securemode=3,signmethod=hmacsha1,timestamp=789|' }],
    ['malformed-client-id', { clientId: `${'1'.repeat(65)}|securemode=3,signmethod=hmacsha1|` }],
    ['malformed-client-id', { clientId: '12,345|securemode=3,signmethod=hmacsha1|' }],
    ['malformed-client-id', { clientId: '12=345|securemode=3,signmethod=hmacsha1|' }],
    ['bad-sign-method', { clientId: '12345|securemode=3,signmethod=hmacsha512,timestamp=789|' }],
    ['bad-sign-method', { clientId: '12345|securemode=3,signmethod=,timestamp=789|' }],
    ['malformed-username', { username: undefined }],
    ['malformed-username', { username: '' }],
    ['malformed-username', { username: 'devicepk' }],
    ['malformed-username', { username: '&pk' }],
    ['malformed-username', { username: 'device&' }],
    ['malformed-username', { username: 'device&pk&x' }],
    ['unknown-device', { username: 'device&other' }],
    ['unknown-device', { username: 'other&pk' }],
    ['unknown-device', { username: 'pk&device' }],
    ['bad-signature', { password: undefined }],
    ['bad-signature', { password: '' }],
    ['bad-signature', { password: 'FAFD82A3D602B37FB0FA8B7892F24A477F851A1' }],
    ['bad-signature', { password: 'FAFD82A3D602B37FB0FA8B7892F24A477F851A140' }],
    ['bad-signature', { password: '0xFD82A3D602B37FB0FA8B7892F24A477F851A14' }],
    // The right hex for a different method: the announced method decides.
    ['bad-signature', { clientId: '12345|securemode=3,signmethod=hmacsha256,timestamp=789|' }],
    // The signature covers the timestamp.
    ['bad-signature', { clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=790|' }],
    ['bad-signature', { clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=0789|' }],
    ['bad-signature', { clientId: '12345|securemode=3,signmethod=hmacsha1|' }],
    ['securemode-mismatch', {}, 'tls'],
    ['securemode-mismatch', { clientId: '12345|securemode=2,signmethod=hmacsha1,timestamp=789|' }, 'tcp'],
  ];

  it.each(cases)('%s: %o over %s', (reason, change, transport) => {
    const result = verifyCredentials({ ...page, ...change }, lookup, { transport });
    expect(reasonOf(result)).toBe(reason);
    if (!result.ok) {
      expect(result.message).not.toContain('secret');
      expect(result.message.toUpperCase()).not.toContain(page.password.slice(0, 12));
    }
  });

  it('an empty secret as an unknown device', () => {
    expect(reasonOf(verifyCredentials(page, () => ''))).toBe('unknown-device');
  });

  it('ignores securemode against the transport when no transport is given', () => {
    expect(verifyCredentials(page, lookup).ok).toBe(true);
  });

  it('keeps the secret and password out of every failure message', () => {
    const secretArb = fc.stringMatching(/^[A-Za-z0-9]{16,32}$/).map((s) => `S3cret_${s}`);
    fc.assert(
      fc.property(signInputArb, secretArb, fc.constantFrom(...cases), (input, deviceSecret, [, change, transport]) => {
        const credentials = signCredentials({ ...input, deviceSecret, signMethod: 'hmacsha1', secureMode: 3, timestamp: 789 });
        const result = verifyCredentials({ ...credentials, ...change }, () => deviceSecret, { transport });
        if (!result.ok) {
          expect(result.message).not.toContain(deviceSecret);
          expect(result.message).not.toContain(credentials.password);
        }
      }),
    );
  });
});

describe('parseClientId', () => {
  it('keeps every extension field', () => {
    const parsed = parseClientId('abc|securemode=2,_v=sdk-c-4.1.0,lan=C,signmethod=hmacsha256|');
    expect(parsed).toEqual({
      ok: true,
      clientId: 'abc',
      secureMode: 2,
      signMethod: 'hmacsha256',
      timestamp: undefined,
      fields: { securemode: '2', _v: 'sdk-c-4.1.0', lan: 'C', signmethod: 'hmacsha256' },
    });
  });

  it('does not let a __proto__ field touch the prototype', () => {
    const parsed = parseClientId('abc|securemode=2,__proto__=x|');
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(Object.getPrototypeOf(parsed.fields)).toBe(Object.prototype);
      expect(Object.hasOwn(parsed.fields, '__proto__')).toBe(true);
    }
  });
});

describe('connackCodeForVerifyFailure', () => {
  it.each([
    ['malformed-client-id', 2],
    ['malformed-extension', 2],
    ['bad-sign-method', 2],
    ['securemode-mismatch', 3],
    ['malformed-username', 4],
    ['bad-signature', 4],
    ['unknown-device', 5],
  ] satisfies [VerifyFailureReason, number][])('%s -> %i', (reason, code) => {
    expect(connackCodeForVerifyFailure(reason)).toBe(code);
  });
});
