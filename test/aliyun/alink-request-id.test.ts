import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readRequestId } from '../../src/aliyun/alink/request-id.js';

describe('readRequestId (the id an unreadable request is answered with)', () => {
  it.each([
    ['a string id', '{"id":"123","method":1}', '123'],
    ['a non-decimal string id', '{"id":"abc"}', 'abc'],
    ['a whole number', '{"id":8,"params":[]}', '8'],
    ['zero', '{"id":0}', '0'],
    ['the largest safe integer', `{"id":${Number.MAX_SAFE_INTEGER}}`, String(Number.MAX_SAFE_INTEGER)],
  ])('reads %s', (_, payload, id) => {
    expect(readRequestId(payload)).toBe(id);
    expect(readRequestId(Buffer.from(payload))).toBe(id);
  });

  it.each([
    ['not JSON', '{"id":"7",'],
    ['a JSON array', '[1,2]'],
    ['null', 'null'],
    ['no id', '{"method":"x"}'],
    ['an empty string id', '{"id":""}'],
    ['a fraction', '{"id":1.5}'],
    ['a negative number', '{"id":-1}'],
    ['an unsafe number', '{"id":9007199254740993}'],
    ['an object id', '{"id":{"a":1}}'],
    ['a boolean id', '{"id":true}'],
    ['bytes that are not UTF-8 JSON', '\u00ff'],
  ])('finds none in %s', (_, payload) => {
    expect(readRequestId(payload)).toBeUndefined();
  });

  it('reads a view into a larger buffer by its own bytes only', () => {
    const memory = Buffer.from('xx{"id":"5"}yy');
    expect(readRequestId(memory.subarray(2, memory.length - 2))).toBe('5');
  });

  it('gives back any non-empty string id as it is', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (id) => {
        expect(readRequestId(JSON.stringify({ id, params: 'not an object' }))).toBe(id);
      }),
    );
  });
});
