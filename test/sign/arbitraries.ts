/** fast-check arbitraries for valid signing input, shared by the sign and verify tests. */
import fc from 'fast-check';
import type { SignInput } from '../../src/sign/index.js';

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Any non-empty string without `&`: a productKey or deviceName the signer accepts. */
export const nameArb = fc.string({ minLength: 1, maxLength: 24, unit: 'binary' }).filter((s) => !s.includes('&'));

/** A bare clientId the signer accepts: 1..64 UTF-8 bytes, no `|`, `,` or `=`. */
export const clientIdArb = fc
  .string({ minLength: 1, maxLength: 64, unit: 'binary' })
  .filter((s) => !/[|,=]/.test(s) && utf8Bytes(s) <= 64);

/** A secret: any non-empty string. */
export const secretArb = fc.string({ minLength: 1, maxLength: 64, unit: 'binary' });

/** Valid input for signCredentials, every option either given or left to its default. */
export const signInputArb: fc.Arbitrary<SignInput> = fc
  .record({
    productKey: nameArb,
    deviceName: nameArb,
    deviceSecret: secretArb,
    clientId: clientIdArb,
    timestamp: fc.oneof(fc.maxSafeNat(), fc.constantFrom(null, false)),
    signMethod: fc.constantFrom('hmacmd5', 'hmacsha1', 'hmacsha256'),
    secureMode: fc.constantFrom(2, 3),
  } as const, { requiredKeys: ['productKey', 'deviceName', 'deviceSecret'] })
  .filter((input) => input.clientId !== undefined || utf8Bytes(`${input.productKey}.${input.deviceName}`) <= 64)
  .filter((input) => input.clientId !== undefined || !/[|,=]/.test(`${input.productKey}.${input.deviceName}`));
