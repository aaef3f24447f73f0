/** Helpers for the tests of the platform's service formats. */
import { expect } from 'vitest';
import { PlatformPayloadError } from '../../src/aliyun/index.js';
import type { PlatformPayloadErrorCode } from '../../src/aliyun/index.js';
import { captureError } from '../sign/helpers.js';

/** Asserts that `action` throws a PlatformPayloadError with `code` (and `field`, when given). */
export function expectPayloadError(action: () => unknown, code: PlatformPayloadErrorCode, field?: string): PlatformPayloadError {
  const error = captureError(action);
  expect(error).toBeInstanceOf(PlatformPayloadError);
  const payloadError = error as PlatformPayloadError;
  expect(payloadError.name).toBe('PlatformPayloadError');
  expect(payloadError.code).toBe(code);
  if (field !== undefined) expect(payloadError.field).toBe(field);
  return payloadError;
}

/** JSON text of `value`. */
export const json = (value: unknown): string => JSON.stringify(value);
