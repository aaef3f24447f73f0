import { describe, expect, it } from 'vitest';
import { platformConnackHint } from '../../src/aliyun/index.js';
import type { RefusedReturnCode } from '../../src/aliyun/index.js';
import { connackCodeForVerifyFailure } from '../../src/sign/index.js';

describe('platformConnackHint', () => {
  it.each([
    [1, 'unacceptable protocol version', /3\.1\.1/],
    [2, 'identifier rejected', /clientId/],
    [3, 'server unavailable', /keepalive.*30\.\.1200|30\.\.1200.*keepalive/],
    [4, 'bad user name or password', /deviceSecret/],
    [5, 'not authorized', /productKey\/deviceName\/deviceSecret/],
  ] as const)('reads %i as %s', (code, meaning, cause) => {
    const hint = platformConnackHint(code);
    expect(hint.returnCode).toBe(code);
    expect(hint.meaning).toBe(meaning);
    expect(hint.cause).toMatch(cause);
    expect(hint.fix.length).toBeGreaterThan(10);
  });

  it('mentions the securemode under code 3, the code verifyCredentials gives a mismatch', () => {
    expect(connackCodeForVerifyFailure('securemode-mismatch')).toBe(3);
    expect(platformConnackHint(3).cause).toContain('securemode');
  });

  it('mentions the sign method under code 2, the code verifyCredentials gives an unknown one', () => {
    expect(connackCodeForVerifyFailure('bad-sign-method')).toBe(2);
    expect(platformConnackHint(2).cause).toContain('signmethod');
  });

  it.each([0, 6, -1, 1.5, 255])('has nothing for %d', (code) => {
    expect(platformConnackHint(code)).toBeUndefined();
  });

  it('cannot be changed by a caller', () => {
    const hint = platformConnackHint(4 as RefusedReturnCode);
    expect(() => {
      (hint as { meaning: string }).meaning = 'changed';
    }).toThrow(TypeError);
  });
});
