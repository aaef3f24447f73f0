/**
 * toTransportError is handed whatever a socket, a resolver or a signal produced. The property test
 * in errors.test.ts draws from fc.anything(), which only sometimes makes an object that cannot be
 * turned into text (a null prototype: no toString, no Symbol.toPrimitive); this pins that case.
 */
import { describe, expect, it } from 'vitest';
import { TransportError } from '../../src/transport/errors.js';
import { toTransportError } from '../../src/transport/failures.js';

describe('toTransportError with a cause that cannot be turned into text', () => {
  it.each(['tcp', 'tls'] as const)('in the %s phase: a socket-error that names its kind, never a throw', (phase) => {
    const cause = Object.create(null) as object;
    const error = toTransportError(cause, { host: '::1', port: 1883, family: 6, phase });
    expect(error.code).toBe('socket-error');
    expect(error.summary).toContain('[object Object]');
    expect(error.cause).toBe(cause);
  });
});

describe('an error code that names a property of every object', () => {
  it.each(['valueOf', 'toString', 'constructor', '__proto__', 'hasOwnProperty'])('%s is an unknown code, not a crash', (code) => {
    const error = Object.assign(new Error('odd'), { code });
    const result = toTransportError(error, { host: '::1', port: 8883, family: 6, phase: 'tls' });
    expect(result).toBeInstanceOf(TransportError);
  });
});
