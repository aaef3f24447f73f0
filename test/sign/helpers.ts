/** Small helpers shared by the credentials and platform tests. */
import { expect } from 'vitest';
import { ConfigurationError } from '../../src/shared/errors.js';

/** The error `action` throws; fails the test when it throws none. */
export function captureError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, none was thrown');
}

/** Asserts that `action` throws a ConfigurationError for `field`, and returns it. */
export function expectConfigurationError(action: () => unknown, field: string): ConfigurationError {
  const error = captureError(action);
  expect(error).toBeInstanceOf(ConfigurationError);
  expect((error as ConfigurationError).field).toBe(field);
  return error as ConfigurationError;
}
