import { describe, expect, it } from 'vitest';
import { READ_BUFFER_BYTES, SocketIntake } from '../../src/device/socket-intake.js';

/** Plays Node's part: writes `bytes` into the intake's buffer and calls back, as a TLS socket does per record. */
function deliver(intake: SocketIntake, bytes: Buffer): boolean {
  const buffer = intake.onread.buffer as Buffer;
  bytes.copy(buffer);
  return intake.onread.callback(bytes.byteLength, buffer);
}

describe('SocketIntake', () => {
  it('holds, copied and in order, what comes before a taker, asks for a pause, and gives it to the next taker first', () => {
    const intake = new SocketIntake();
    expect(deliver(intake, Buffer.from('one'))).toBe(false);
    expect(deliver(intake, Buffer.from('two'))).toBe(false);
    // The buffer is used again: the backlog must not be a view of it.
    expect(intake.backlogBytes).toBe(6);
    const seen: string[] = [];
    expect(
      intake.give((bytes) => {
        seen.push(String(bytes));
        return true;
      }),
    ).toBe(true);
    expect(intake.backlogBytes).toBe(0);
    deliver(intake, Buffer.from('three'));
    expect(seen).toEqual(['one', 'two', 'three']);
  });

  it('a taker that hands over while it reads the backlog leaves the rest held, for the next one; its last answer is returned', () => {
    const intake = new SocketIntake();
    for (const word of ['head', 'body1', 'body2']) deliver(intake, Buffer.from(word));
    const first: string[] = [];
    const more = intake.give((bytes) => {
      first.push(String(bytes));
      intake.hold();
      return false;
    });
    expect(more).toBe(false);
    expect(first).toEqual(['head']);
    deliver(intake, Buffer.from('body3'));
    const second: string[] = [];
    let answers = [true, false, true];
    expect(intake.give((bytes) => (second.push(String(bytes)), answers.shift()!))).toBe(true);
    expect(second).toEqual(['body1', 'body2', 'body3']);
    // A taker that says false (the disk is behind) still gets every held chunk.
    intake.hold();
    for (const word of ['c', 'd']) deliver(intake, Buffer.from(word));
    const third: string[] = [];
    answers = [false, false];
    expect(intake.give((bytes) => (third.push(String(bytes)), answers.shift()!))).toBe(false);
    expect(third).toEqual(['c', 'd']);
  });

  it('hands a taker views of the read buffer, the whole buffer when it is full, and passes on its answer', () => {
    const intake = new SocketIntake();
    const seen: Buffer[] = [];
    let answer = true;
    intake.give((bytes) => {
      seen.push(bytes);
      return answer;
    });
    expect(deliver(intake, Buffer.from('abc'))).toBe(true);
    expect(String(seen[0])).toBe('abc');
    expect(seen[0]!.buffer).toBe((intake.onread.buffer as Buffer).buffer);
    answer = false;
    expect(deliver(intake, Buffer.alloc(READ_BUFFER_BYTES, 1))).toBe(false);
    expect(seen[1]).toBe(intake.onread.buffer);
    intake.hold();
    deliver(intake, Buffer.from('later'));
    expect(seen).toHaveLength(2);
    expect(intake.backlogBytes).toBe(5);
  });

  it('drops what comes after stop()', () => {
    const intake = new SocketIntake();
    intake.stop();
    expect(deliver(intake, Buffer.from('late'))).toBe(false);
    expect(intake.backlogBytes).toBe(0);
  });

  it('a taker that throws does not throw into Node: onError hears it, and later bytes are dropped', () => {
    const intake = new SocketIntake();
    const errors: unknown[] = [];
    intake.onError = (error) => errors.push(error);
    let calls = 0;
    intake.give(() => {
      calls += 1;
      throw new Error('bug');
    });
    expect(deliver(intake, Buffer.from('x'))).toBe(false);
    expect(deliver(intake, Buffer.from('y'))).toBe(false);
    expect(calls).toBe(1);
    expect((errors[0] as Error).message).toBe('bug');
  });
});
