/**
 * The session feed on its own: bounded history, masked passwords, cut frames and lost packets.
 * The emulator is replaced by an EventEmitter: the feed only listens to its events.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Emulator, PacketEvent } from '../../src/emulator/types.js';
import { encode } from '../../src/packet/codec.js';
import type { Packet } from '../../src/packet/types.js';
import { MAX_FRAME_KEPT, SessionFeed } from '../../src/web/feed.js';

const traced = { id: 7, remoteAddress: '::1', productKey: 'pk', deviceName: 'dev', clientId: 'pk.dev' };

function fakeEmulator(): { emulator: Emulator; send: (direction: 'in' | 'out', packet: Packet) => void } {
  const emitter = new EventEmitter();
  return {
    emulator: emitter as unknown as Emulator,
    send: (direction, packet) => {
      const event: PacketEvent = { direction, packet, bytes: encode(packet), connection: traced };
      emitter.emit('packet', event);
    },
  };
}

const note = (text: string) => ({ kind: 'note' as const, level: 'info' as const, text });

describe('history', () => {
  it('keeps the newest events up to the count limit and says how many were dropped', () => {
    const feed = new SessionFeed({ events: 5, bytes: 1e9 });
    for (let i = 1; i <= 12; i++) feed.record(note(`n${i}`));
    expect(feed.since().map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(feed.dropped).toBe(7);
    expect(feed.last).toBe(12);
    expect(feed.since(10).map((e) => e.seq)).toEqual([11, 12]);
    expect(feed.since(12)).toEqual([]);
  });

  it('keeps within the byte limit, however large one event is, but always keeps the newest', () => {
    const feed = new SessionFeed({ events: 1000, bytes: 2000 });
    for (let i = 0; i < 50; i++) feed.record(note('x'.repeat(300)));
    const kept = feed.since();
    expect(kept.reduce((sum, e) => sum + e.json.length, 0)).toBeLessThanOrEqual(2000);
    expect(kept.length).toBeGreaterThan(1);
    feed.record(note('y'.repeat(10_000)));
    expect(feed.since().map((e) => e.seq)).toEqual([51]);
  });

  it('stays bounded over a long run: of 50,000 events, the newest 10', () => {
    const feed = new SessionFeed({ events: 10, bytes: 1e9 });
    for (let i = 0; i < 50_000; i++) feed.record(note(String(i)));
    expect(feed.since()).toHaveLength(10);
    expect(feed.since()[0]!.seq).toBe(49_991);
  });

  it('hands each event to every listener until it stops listening', () => {
    const feed = new SessionFeed();
    const seen: number[] = [];
    const stop = feed.listen((e) => seen.push(e.seq));
    feed.record(note('a'));
    stop();
    feed.record(note('b'));
    expect(seen).toEqual([1]);
  });

  it('stamps events with milliseconds since the feed began', () => {
    let now = 1000;
    const feed = new SessionFeed(undefined, () => now);
    now = 1012.34;
    expect(JSON.parse(feed.record(note('a')).json).t).toBe(12.3);
  });
});

describe('packets', () => {
  it('shows a CONNECT with its password bytes masked, and nothing of the password', () => {
    const { emulator, send } = fakeEmulator();
    const feed = new SessionFeed();
    feed.watch(emulator);
    const password = new TextEncoder().encode('S3CRET-HMAC-VALUE');
    send('in', { type: 'connect', protocolName: 'MQTT', protocolLevel: 4, clientId: 'c', clean: true, keepalive: 60, username: 'u', password } as Packet);
    const event = JSON.parse(feed.since()[0]!.json);
    expect(event.type).toBe('CONNECT');
    expect(event.direction).toBe('up');
    expect(event.hex.endsWith('**'.repeat(password.length))).toBe(true);
    expect(event.hex.slice(0, -2 * password.length)).not.toContain('*');
    expect(feed.since()[0]!.json).not.toContain(Buffer.from(password).toString('hex'));
    expect(feed.since()[0]!.json).not.toContain('S3CRET');
    expect(event.fields).toEqual({ clientId: 'c', username: 'u', keepalive: 60, clean: true });
  });

  it('keeps a large frame only up to MAX_FRAME_KEPT bytes, with its real size', () => {
    const { emulator, send } = fakeEmulator();
    const feed = new SessionFeed();
    feed.watch(emulator);
    send('out', { type: 'publish', topic: 't', payload: new Uint8Array(100_000), qos: 0, retain: false, dup: false } as Packet);
    const event = JSON.parse(feed.since()[0]!.json);
    expect(event.truncated).toBe(true);
    expect(event.hex).toHaveLength(2 * MAX_FRAME_KEPT);
    expect(event.size).toBe(encode({ type: 'publish', topic: 't', payload: new Uint8Array(100_000), qos: 0, retain: false, dup: false } as Packet).length);
    expect(event.direction).toBe('down');
  });

  it('marks what the stand-in sends on a cut connection as lost, and only that', () => {
    const { emulator, send } = fakeEmulator();
    const feed = new SessionFeed();
    feed.watch(emulator);
    send('out', { type: 'puback', packetId: 1 });
    feed.cut(7);
    send('in', { type: 'pingreq' });
    send('out', { type: 'puback', packetId: 2 });
    const lost = feed.since().map((e) => JSON.parse(e.json).lost);
    expect(lost).toEqual([false, false, true]);
  });
});
