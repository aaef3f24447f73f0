import { describe, expect, it } from 'vitest';
import { PendingReplies } from '../../src/aliyun/alink/pending.js';
import { VirtualClock } from '../support/virtual-clock.js';

class Timeout extends Error {
  readonly code = 'timeout';
}

function table(): { clock: VirtualClock; pending: PendingReplies<string> } {
  const clock = new VirtualClock();
  return { clock, pending: new PendingReplies<string>(clock) };
}

const waitOn = (pending: PendingReplies<string>, id: string, topic = 't/reply', owner?: object): Promise<string> =>
  pending.wait(id, { topic, timeout: 1_000, what: `request ${id}`, onTimeout: () => new Timeout(id), owner });

describe('PendingReplies', () => {
  it('settles a wait with the reply of its id on its topic, and clears its timer', async () => {
    const { clock, pending } = table();
    const reply = waitOn(pending, '7');
    expect(clock.pending()).toBe(1);
    expect(pending.settle('7', 't/reply', 'ok')).toBe(true);
    await expect(reply).resolves.toBe('ok');
    expect(clock.pending()).toBe(0);
    expect(pending.size).toBe(0);
  });

  it('does not settle on another topic, with another id, or twice', async () => {
    const { pending } = table();
    const reply = waitOn(pending, '7');
    expect(pending.settle('7', 'other/reply', 'wrong topic')).toBe(false);
    expect(pending.settle('8', 't/reply', 'wrong id')).toBe(false);
    expect(pending.settle('7', 't/reply', 'right')).toBe(true);
    expect(pending.settle('7', 't/reply', 'late')).toBe(false);
    await expect(reply).resolves.toBe('right');
  });

  it('rejects with the caller\'s error at the timeout, in virtual time, and forgets the id', async () => {
    const { clock, pending } = table();
    const reply = waitOn(pending, '7');
    clock.advance(999);
    expect(pending.size).toBe(1);
    clock.advance(1);
    await expect(reply).rejects.toBeInstanceOf(Timeout);
    expect(pending.size).toBe(0);
    expect(pending.settle('7', 't/reply', 'late')).toBe(false);
  });

  it('rejects one wait by id', async () => {
    const { clock, pending } = table();
    const reply = waitOn(pending, '7');
    const failure = new Error('publish failed');
    expect(pending.reject('7', failure)).toBe(true);
    expect(pending.reject('7', failure)).toBe(false);
    await expect(reply).rejects.toBe(failure);
    expect(clock.pending()).toBe(0);
  });

  it('rejects the waits of one owner, or all, with an error built for each', async () => {
    const { clock, pending } = table();
    const a = {};
    const b = {};
    const first = waitOn(pending, '1', 't/reply', a);
    const second = waitOn(pending, '2', 't/reply', b);
    const third = waitOn(pending, '3', 't/reply', a);
    const built: string[] = [];
    const failWith = (id: string, what: string): Error => {
      built.push(`${id}:${what}`);
      return new Error(id);
    };
    expect(pending.rejectAll(failWith, a)).toBe(2);
    await expect(first).rejects.toThrow('1');
    await expect(third).rejects.toThrow('3');
    expect(pending.size).toBe(1);
    expect(pending.rejectAll(failWith)).toBe(1);
    await expect(second).rejects.toThrow('2');
    expect(built).toEqual(['1:request 1', '3:request 3', '2:request 2']);
    expect(clock.pending()).toBe(0);
  });

  it('refuses to wait twice on one id, which would orphan the first wait', async () => {
    const { pending } = table();
    const first = waitOn(pending, '7');
    expect(() => waitOn(pending, '7')).toThrow(Error);
    expect(pending.settle('7', 't/reply', 'first')).toBe(true);
    await expect(first).resolves.toBe('first');
  });
});
