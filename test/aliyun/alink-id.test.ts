import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AlinkIdGenerator, MAX_ALINK_ID } from '../../src/aliyun/index.js';
import { expectConfigurationError } from '../sign/helpers.js';

describe('AlinkIdGenerator', () => {
  it('counts up from 1 in decimal strings', () => {
    const ids = new AlinkIdGenerator();
    expect([ids.next(), ids.next(), ids.next()]).toEqual(['1', '2', '3']);
  });

  it('never repeats within a long run', () => {
    const ids = new AlinkIdGenerator();
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(ids.next());
    expect(seen.size).toBe(100_000);
  });

  it('wraps from 4294967295 to 1, never giving 0 or an unsafe number', () => {
    const ids = new AlinkIdGenerator(MAX_ALINK_ID - 1);
    expect([ids.next(), ids.next(), ids.next(), ids.next()]).toEqual(['4294967294', '4294967295', '1', '2']);
  });

  it('gives a positive decimal string in range from any start', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_ALINK_ID }), fc.integer({ min: 1, max: 5 }), (start, count) => {
        const ids = new AlinkIdGenerator(start);
        for (let i = 0; i < count; i++) {
          const id = ids.next();
          expect(id).toMatch(/^[1-9]\d*$/);
          expect(Number(id)).toBeLessThanOrEqual(MAX_ALINK_ID);
          expect(Number(id)).toBe(((start - 1 + i) % MAX_ALINK_ID) + 1);
        }
      }),
    );
  });

  it('keeps one sequence per generator', () => {
    const a = new AlinkIdGenerator();
    const b = new AlinkIdGenerator();
    a.next();
    expect(b.next()).toBe('1');
  });

  it.each([0, -1, 1.5, MAX_ALINK_ID + 1, Number.NaN])('refuses start %d', (start) => {
    expectConfigurationError(() => new AlinkIdGenerator(start), 'start');
  });
});
