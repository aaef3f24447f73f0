/**
 * The test support the session tests stand on: VirtualClock and the in-memory duplex pair and
 * FakeServer. If these lie, every virtual-time test lies with them.
 */
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/packet/codec.js';
import { duplexPair, FakeServer } from '../support/fake-server.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { failOnUnhandledRejections, settle, settled, track } from './harness.js';

failOnUnhandledRejections();

describe('VirtualClock', () => {
  it('fires nothing until advanced, then each due timer at its own time, earliest first, same-time ones in the order set', () => {
    const clock = new VirtualClock(1_000);
    const fired: Array<[string, number]> = [];
    const at = (name: string) => () => fired.push([name, clock.now()]);
    clock.setTimeout(at('c'), 30);
    clock.setTimeout(at('a'), 10);
    clock.setTimeout(at('b1'), 20);
    clock.setTimeout(at('b2'), 20);
    expect(clock.pending()).toBe(4);
    expect(clock.nextDue()).toBe(1_010);
    expect(fired).toEqual([]);
    expect(clock.advance(25)).toBe(3);
    expect(fired).toEqual([
      ['a', 1_010],
      ['b1', 1_020],
      ['b2', 1_020],
    ]);
    expect(clock.now()).toBe(1_025);
    expect(clock.pending()).toBe(1);
  });

  it('fires timers set by callbacks during advance when they fall due before its end, and not those after', () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    const tick = (): void => {
      fired.push(clock.now());
      clock.setTimeout(tick, 40);
    };
    clock.setTimeout(tick, 40);
    clock.advance(100);
    expect(fired).toEqual([40, 80]);
    expect(clock.nextDue()).toBe(120);
    // A zero delay set during advance fires in the same advance.
    clock.setTimeout(() => clock.setTimeout(() => fired.push(-clock.now()), 0), 5);
    clock.advance(5);
    expect(fired).toEqual([40, 80, -105]);
  });

  it('clearTimeout cancels, also from inside another callback; unknown handles are ignored', () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const later = clock.setTimeout(() => fired.push('later'), 20);
    clock.setTimeout(() => {
      fired.push('first');
      clock.clearTimeout(later);
    }, 10);
    clock.clearTimeout(undefined);
    clock.clearTimeout(12345);
    clock.advance(50);
    expect(fired).toEqual(['first']);
    expect(clock.pending()).toBe(0);
  });

  it('refuses to move backwards', () => {
    const clock = new VirtualClock();
    expect(() => clock.advance(-1)).toThrow(RangeError);
    clock.advance(10);
    expect(clock.advanceTo(5)).toBe(0);
    expect(clock.now()).toBe(10);
  });
});

describe('duplexPair', () => {
  it('carries bytes both ways, chunk for chunk, and counts writes', async () => {
    const [a, b] = duplexPair();
    const atB: string[] = [];
    const atA: string[] = [];
    b.on('data', (chunk: Buffer) => atB.push(chunk.toString()));
    a.on('data', (chunk: Buffer) => atA.push(chunk.toString()));
    a.write('one');
    a.write(Uint8Array.of(0x74, 0x77, 0x6f));
    b.write('back');
    await settle();
    expect(atB).toEqual(['one', 'two']);
    expect(atA).toEqual(['back']);
    expect(a.writes).toBe(2);
    expect(a.bytesWritten).toBe(6);
  });

  it('applies backpressure: a reader that stops reading makes write() return false, and drain follows reading', async () => {
    const [a, b] = duplexPair({ highWaterMark: 100 });
    b.pause();
    let drained = 0;
    a.on('drain', () => drained++);
    const results: boolean[] = [];
    for (let i = 0; i < 5; i++) results.push(a.write(Buffer.alloc(60)));
    await settle();
    expect(results.at(-1)).toBe(false);
    expect(a.writableLength).toBeGreaterThan(0);
    expect(drained).toBe(0);
    let read = 0;
    b.on('data', (chunk: Buffer) => (read += chunk.length));
    b.resume();
    await settle();
    expect(read).toBe(300);
    expect(drained).toBe(1);
    expect(a.writableLength).toBe(0);
  });

  it('end() on one side is end of stream for the other, after the data; both then close', async () => {
    const [a, b] = duplexPair();
    const got: string[] = [];
    b.on('data', (chunk: Buffer) => got.push(chunk.toString()));
    const ended = new Promise<void>((resolve) => b.once('end', () => resolve()));
    a.on('data', () => {});
    const closedA = new Promise<void>((resolve) => a.once('close', () => resolve()));
    const closedB = new Promise<void>((resolve) => b.once('close', () => resolve()));
    a.end('last');
    await ended;
    expect(got).toEqual(['last']);
    await Promise.all([closedA, closedB]);
  });

  it('destroy() on one side closes the other', async () => {
    const [a, b] = duplexPair();
    const closed = new Promise<void>((resolve) => b.once('close', () => resolve()));
    a.destroy();
    await closed;
    expect(b.destroyed).toBe(true);
  });
});

describe('FakeServer', () => {
  it('hands out connections, decodes what the client writes, and sends what the test says', async () => {
    const server = new FakeServer();
    const first = track(server.next('pingreq'));
    const socket = await server.openSocket({ host: '::1', port: 1 });
    expect(server.connectionCount).toBe(1);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write(encode({ type: 'pingreq' }));
    await settled(first);
    expect(first.value).toEqual({ type: 'pingreq' });
    server.send({ type: 'pingresp' });
    await settle();
    expect(Buffer.concat(received)).toEqual(Buffer.of(0xd0, 0x00));
    server.close();
    await server.current!.closed;
    expect(socket.destroyed).toBe(true);
  });

  it('fails openSocket on demand', async () => {
    const server = new FakeServer();
    const error = new Error('refused');
    server.failOpen(error);
    const failed = track(server.openSocket({ host: '::1', port: 1 }));
    const fine = track(server.openSocket({ host: '::1', port: 1 }));
    await settle();
    expect(failed.error).toBe(error);
    expect(fine.status).toBe('fulfilled');
    expect(server.opens).toHaveLength(2);
    expect(server.connectionCount).toBe(1);
    server.failAllOpens(error);
    const again = track(server.openSocket({ host: '::1', port: 1 }));
    await settle();
    expect(again.error).toBe(error);
  });

  it('next() fails when the connection closes or the client sends bytes that are not MQTT', async () => {
    const server = new FakeServer();
    const socket = await server.openSocket({ host: '::1', port: 1 });
    const waiting = track(server.next('connect'));
    socket.write(Buffer.of(0x00, 0x00));
    await settle();
    expect(waiting.status).toBe('rejected');
    expect(server.current!.decodeError).toBeDefined();
    socket.destroy();
    await server.current!.closed;
    const after = track(server.next('connect'));
    await settle();
    expect(after.status).toBe('rejected');
  });
});
