/**
 * The client's use of a durable outbox store (the `store` option), in virtual time against the
 * fake server: what it stores and when, what it sends of what a previous process left (in flight
 * under the old identifiers with DUP when the server kept the session, as new ones when it did
 * not; before anything new), the `restored` count and event, a write that fails after publish
 * returned, end() and giving up (the messages stay stored), the offline limit, QoS 0.
 *
 * A recording store checks the calls; the file store checks what a next process would find.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MqttClient } from '../../src/client/client.js';
import { MqttClientError } from '../../src/client/errors.js';
import { MqttProtocolError } from '../../src/packet/errors.js';
import type { PublishPacket } from '../../src/packet/types.js';
import { fileStore, StoreError } from '../../src/store/index.js';
import type { OutboxStore, OutboxStoreHooks, StoredEntry, StoredMessage } from '../../src/store/types.js';
import {
  CONNACK_OK,
  connect,
  connectedSession,
  elapse,
  expectRejected,
  failOnUnhandledRejections,
  session,
  settle,
  settled,
  track,
} from './harness.js';

failOnUnhandledRejections();

type Call = ['open', string] | ['add', string, number | undefined] | ['sent', number, number] | ['acknowledged', number] | ['close'];

/** A store in memory that records every call; `left` is what a "previous process" left in it. */
class RecordingStore implements OutboxStore {
  readonly calls: Call[] = [];
  readonly live = new Map<number, StoredEntry>();
  hooks: OutboxStoreHooks | undefined;
  #nextKey = 100;
  /** When set, `add` throws it. */
  refuse: Error | undefined;

  constructor(readonly left: StoredEntry[] = []) {
    for (const entry of left) this.live.set(entry.key, entry);
  }

  open(clientId: string, hooks: OutboxStoreHooks): readonly StoredEntry[] {
    this.calls.push(['open', clientId]);
    this.hooks = hooks;
    return this.left;
  }
  add(message: StoredMessage): number {
    if (this.refuse !== undefined) throw this.refuse;
    const key = this.#nextKey++;
    this.calls.push(['add', message.topic, message.packetId]);
    this.live.set(key, { key, topic: message.topic, payload: Uint8Array.from(message.payload), retain: message.retain, packetId: message.packetId });
    return key;
  }
  sent(key: number, packetId: number): void {
    this.calls.push(['sent', key, packetId]);
    this.live.set(key, { ...this.live.get(key)!, packetId });
  }
  acknowledged(key: number): void {
    this.calls.push(['acknowledged', key]);
    this.live.delete(key);
  }
  close(): Promise<void> {
    this.calls.push(['close']);
    return Promise.resolve();
  }
  /** Topics of the messages it holds, in key order. */
  topics(): string[] {
    return [...this.live.values()].sort((a, b) => a.key - b.key).map((e) => e.topic);
  }
}

const entry = (key: number, topic: string, packetId?: number): StoredEntry => ({ key, topic, payload: Buffer.from(`payload of ${topic}`), retain: false, packetId });

/** The PUBLISH packets a server connection has received so far, as [topic, packetId, dup]. */
const publishes = (packets: PublishPacket[]): Array<[string, number | undefined, boolean]> => packets.map((p) => [p.topic, p.packetId, p.dup]);

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aliot-client-store-'));
  dirs.push(dir);
  return dir;
}

describe('what the client stores', () => {
  it('a QoS 1 publish is added before publish returns, with its packet id when it goes out at once (one record), and leaves with its PUBACK', async () => {
    const store = new RecordingStore();
    const s = await connectedSession({ store, clean: false });
    expect(store.calls).toEqual([['open', 'device-1']]);
    const sent = track(s.client.publish('t/1', 'one', { qos: 1 }));
    // Synchronously: the store heard of it before publish returned.
    expect(store.calls.slice(1)).toEqual([['add', 't/1', 1]]);
    const publish = await s.connection.next('publish');
    expect(publish.packetId).toBe(1);
    expect(store.calls.filter((c) => c[0] === 'sent')).toEqual([]); // the id went in with the add
    s.connection.send({ type: 'puback', packetId: 1 });
    await settled(sent);
    expect(sent.status).toBe('fulfilled');
    expect(store.calls.slice(2)).toEqual([['acknowledged', 100]]);
    expect(store.live.size).toBe(0);
  });

  it('QoS 0 is never stored, online or offline', async () => {
    const store = new RecordingStore();
    const s = session({ store, clean: false });
    void track(s.client.publish('t/offline', 'x', { qos: 0 }));
    await connect(s);
    await settled(track(s.client.publish('t/online', 'y', { qos: 0 })));
    expect(s.server.current!.packets('publish').map((p) => p.topic)).toEqual(['t/offline', 't/online']);
    expect(store.calls).toEqual([['open', 'device-1']]);
  });

  it('an offline publish is stored at once (without an id), and its id is recorded when it goes out', async () => {
    const store = new RecordingStore();
    const s = session({ store, clean: false });
    void track(s.client.publish('t/offline', 'x', { qos: 1 }));
    expect(store.calls.slice(1)).toEqual([['add', 't/offline', undefined]]);
    await connect(s);
    const publish = await s.server.current!.next('publish');
    expect(store.calls.slice(2)).toEqual([['sent', 100, publish.packetId]]);
  });

  it('offlineQueueSize bounds what is stored: a publish over the limit is refused and not stored', async () => {
    const store = new RecordingStore();
    const s = session({ store, clean: false, offlineQueueSize: 2 });
    const accepted = [track(s.client.publish('t/1', 'x', { qos: 1 })), track(s.client.publish('t/2', 'x', { qos: 1 }))];
    const third = track(s.client.publish('t/3', 'x', { qos: 1 }));
    await settled(third);
    expectRejected(third, 'queue-full', MqttClientError);
    expect(store.topics()).toEqual(['t/1', 't/2']);
    expect(accepted.map((a) => a.status)).toEqual(['pending', 'pending']);
  });

  it('a store without room refuses the publish with its StoreError and nothing is sent', async () => {
    const store = new RecordingStore();
    const s = await connectedSession({ store, clean: false });
    store.refuse = new StoreError('store-full', 'no room');
    const refused = track(s.client.publish('t/full', 'x', { qos: 1 }));
    await settled(refused);
    expectRejected(refused, 'store-full', StoreError);
    void track(s.client.publish('t/after', 'x', { qos: 0 }));
    const next = await s.connection.next('publish');
    expect(next.topic).toBe('t/after'); // the refused one never went out
    expect(s.client.inflightCount).toBe(0);
  });

  it('a topic the codec refuses is the codec\'s error, not the store\'s (a topic over 65,535 bytes)', async () => {
    const s = await connectedSession({ store: fileStore(tempDir()), clean: false });
    const refused = track(s.client.publish('x'.repeat(70_000), 'x', { qos: 1 }));
    await settled(refused);
    expect(refused.error).toBeInstanceOf(MqttProtocolError);
    const wildcard = track(s.client.publish('t/#', 'x', { qos: 1 }));
    await settled(wildcard);
    expect(wildcard.error).toBeInstanceOf(MqttProtocolError);
    expect((s.client.options.store as ReturnType<typeof fileStore>).stats().messages).toBe(0);
  });
});

describe('what a previous process left', () => {
  const left = (): StoredEntry[] => [entry(1, 'old/a', 7), entry(2, 'old/b', 8), entry(3, 'old/c')];

  it('with the session kept: the sent ones again under their ids with DUP, then the unsent one, then new ones [MQTT-3.3.1-1, MQTT-4.4.0-1]', async () => {
    const store = new RecordingStore(left());
    const s = session({ store, clean: false });
    expect(s.client.restoredCount).toBe(3);
    expect(s.client.queuedCount).toBe(1);
    expect(s.client.inflightCount).toBe(2);
    void track(s.client.publish('new/offline', 'x', { qos: 1 }));
    const connection = await connect(s, { ...CONNACK_OK, sessionPresent: true });
    void track(s.client.publish('new/online', 'x', { qos: 1 }));
    await settle();
    expect(publishes(connection.packets('publish'))).toEqual([
      ['old/a', 7, true],
      ['old/b', 8, true],
      ['old/c', 9, false],
      ['new/offline', 10, false],
      ['new/online', 11, false],
    ]);
    expect(Buffer.from(connection.packets('publish')[0]!.payload).toString()).toBe('payload of old/a');
    // The unsent one's new id is recorded; the resent ones keep theirs (no record).
    expect(store.calls.filter((c) => c[0] === 'sent')).toEqual([['sent', 3, 9], ['sent', 100, 10]]);
  });

  it('without the session: the same messages in the same order as new ones (DUP 0), before anything new', async () => {
    const store = new RecordingStore(left());
    const s = session({ store, clean: false });
    void track(s.client.publish('new/offline', 'x', { qos: 1 }));
    const connection = await connect(s, { ...CONNACK_OK, sessionPresent: false });
    await settle();
    expect(publishes(connection.packets('publish'))).toEqual([
      ['old/a', 7, false],
      ['old/b', 8, false],
      ['old/c', 9, false],
      ['new/offline', 10, false],
    ]);
  });

  it('restoredCount counts down with the PUBACKs and `restored` reports when all are acknowledged; they leave the store', async () => {
    const store = new RecordingStore(left());
    const s = session({ store, clean: false });
    const reports: Array<[number, number]> = [];
    s.client.on('restored', (acknowledged, refused) => reports.push([acknowledged, refused]));
    const connection = await connect(s, { ...CONNACK_OK, sessionPresent: true });
    await settle();
    for (const [i, id] of [7, 8, 9].entries()) {
      expect(s.client.restoredCount).toBe(3 - i);
      connection.send({ type: 'puback', packetId: id });
      await settle();
    }
    expect(s.client.restoredCount).toBe(0);
    expect(reports).toEqual([[3, 0]]);
    expect(store.live.size).toBe(0);
  });

  it('a restored message the server refuses (it closes the connection right after it, twice) counts as refused and is reported', async () => {
    const store = new RecordingStore([entry(1, 'old/poison', 7), entry(2, 'old/fine', 8)]);
    const s = session({ store, clean: false, reconnect: { initialDelay: 10, maxDelay: 10 } });
    const reports: Array<[number, number]> = [];
    s.client.on('restored', (acknowledged, refused) => reports.push([acknowledged, refused]));
    let connection = await connect(s, { ...CONNACK_OK, sessionPresent: true });
    s.server.autoConnack({ ...CONNACK_OK, sessionPresent: true });
    // The first loss makes the oldest a suspect; two probes answered by a close refuse it.
    for (let i = 0; i < 3; i++) {
      await connection.next('publish');
      connection.close();
      await connection.closed;
      await elapse(s.clock, 50);
      connection = s.server.current!;
    }
    const after = await connection.next('publish');
    expect(after.topic).toBe('old/fine');
    connection.send({ type: 'puback', packetId: after.packetId! });
    await settle();
    expect(s.errors.map((e) => (e as MqttClientError).code)).toContain('message-refused');
    expect(reports).toEqual([[1, 1]]);
    expect(store.live.size).toBe(0);
  });

  it('a restored message that cannot be sent is reported (never dropped silently) and counted as refused', async () => {
    // Not a valid PUBLISH topic: a store written by something else, or edited by hand.
    const store = new RecordingStore([entry(1, 'old/+/bad'), entry(2, 'old/good')]);
    const s = session({ store, clean: false });
    const reports: Array<[number, number]> = [];
    s.client.on('restored', (acknowledged, refused) => reports.push([acknowledged, refused]));
    const connection = await connect(s);
    const sent = await connection.next('publish');
    expect(sent.topic).toBe('old/good');
    expect(s.errors[0]).toBeInstanceOf(MqttProtocolError);
    connection.send({ type: 'puback', packetId: sent.packetId! });
    await settle();
    expect(reports).toEqual([[1, 1]]);
    expect(store.live.size).toBe(0);
  });

  it('with nobody listening on error, a restored message refused or impossible to send is a process warning', async () => {
    const store = new RecordingStore([entry(1, 'old/+/bad'), entry(2, 'old/poison', 7)]);
    const s = session({ store, clean: false, reconnect: { initialDelay: 10, maxDelay: 10 } });
    s.client.removeAllListeners('error');
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      let connection = await connect(s, { ...CONNACK_OK, sessionPresent: true });
      s.server.autoConnack({ ...CONNACK_OK, sessionPresent: true });
      for (let i = 0; i < 3; i++) {
        await connection.next('publish');
        connection.close();
        await connection.closed;
        await elapse(s.clock, 50);
        connection = s.server.current!;
      }
      await settle();
      expect(warnings.map((w) => [(w as { code?: string }).code, w.message.slice(0, 40)])).toEqual([
        ['ALIOT_STORE_LOST', expect.stringContaining('topic') as unknown as string],
        ['ALIOT_STORE_LOST', 'the server closed the connection right a'],
      ]);
      expect(s.client.restoredCount).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('restored queued messages count against maxQueuedBytes and offlineQueueSize like any queued message', async () => {
    const store = new RecordingStore([entry(1, 'old/a'), entry(2, 'old/b')]);
    const s = session({ store, clean: false, offlineQueueSize: 2 });
    const refused = track(s.client.publish('new', 'x', { qos: 1 }));
    await settled(refused);
    expectRejected(refused, 'queue-full');
    expect((refused.error as Error).message).toMatch(/offlineQueueSize 2/);
    // 'old/a' and its payload 'payload of old/a' are 21 bytes, as are old/b's.
    const bytes = session({ store: new RecordingStore([entry(1, 'old/a'), entry(2, 'old/b')]), clean: false, maxQueuedBytes: 43 });
    const tooMany = track(bytes.client.publish('n', 'xy', { qos: 1 }));
    await settled(tooMany);
    expectRejected(tooMany, 'queue-full');
    expect((tooMany.error as Error).message).toMatch(/42 bytes wait/);
  });
});

describe('a write that fails after publish returned', () => {
  it('a queued message leaves the queue (not sent) and its publish rejects with the StoreError', async () => {
    const store = new RecordingStore();
    const s = session({ store, clean: false });
    const first = track(s.client.publish('t/1', 'x', { qos: 1 }));
    const second = track(s.client.publish('t/2', 'x', { qos: 1 }));
    const error = new StoreError('store-full', 'writing failed, no room');
    store.hooks!.writeFailed([100], error);
    await settled(first);
    expect(first.error).toBe(error);
    expect(s.client.queuedCount).toBe(1);
    const connection = await connect(s);
    const publish = await connection.next('publish');
    expect(publish.topic).toBe('t/2');
    await settle();
    expect(connection.packets('publish')).toHaveLength(1);
    connection.send({ type: 'puback', packetId: publish.packetId! });
    await settled(second);
    expect(second.status).toBe('fulfilled');
  });

  it('a message already on the wire rejects with the StoreError but keeps its id until its PUBACK', async () => {
    const store = new RecordingStore();
    const s = await connectedSession({ store, clean: false });
    const first = track(s.client.publish('t/1', 'x', { qos: 1 }));
    const publish = await s.connection.next('publish');
    const error = new StoreError('store-io', 'writing failed');
    store.hooks!.writeFailed([100], error);
    await settled(first);
    expect(first.error).toBe(error);
    expect(s.client.inflightCount).toBe(1); // the server may have it: the id stays taken
    const next = track(s.client.publish('t/2', 'x', { qos: 1 }));
    expect((await s.connection.next('publish')).packetId).not.toBe(publish.packetId);
    s.connection.send({ type: 'puback', packetId: publish.packetId! });
    await settle();
    expect(s.client.inflightCount).toBe(1);
    expect(s.connection.isClosed).toBe(false);
    expect(next.status).toBe('pending');
    // The store was never told about a message it does not hold.
    expect(store.calls.filter((c) => c[0] === 'acknowledged')).toEqual([]);
  });
});

describe('end() and giving up', () => {
  it('end() rejects the unacknowledged publishes, and the store keeps them for the next process, in order', async () => {
    const dir = tempDir();
    const s = await connectedSession({ store: fileStore(dir), clean: false });
    const inflight = track(s.client.publish('t/1', 'one', { qos: 1 }));
    await s.connection.next('publish');
    const report = await s.client.end({ force: true });
    await settled(inflight);
    expectRejected(inflight, 'client-ended');
    expect(report.unacknowledged.map((m) => m.topic)).toEqual(['t/1']);
    const next = fileStore(dir);
    expect(next.open('device-1', { writeFailed: () => {} }).map((e) => [e.topic, e.packetId])).toEqual([['t/1', 1]]);
    await next.close();
  });

  it('end() in the same tick as the publishes: they are written by the close, and restored ones are not counted as refused', async () => {
    const dir = tempDir();
    const seed = fileStore(dir);
    seed.open('device-1', { writeFailed: () => {} });
    seed.add({ topic: 'old/a', payload: Buffer.from('a'), retain: false, packetId: 3 });
    await seed.close();
    const s = session({ store: fileStore(dir), clean: false });
    const reports: unknown[] = [];
    s.client.on('restored', (...args) => reports.push(args));
    const published = [track(s.client.publish('t/1', 'x', { qos: 1 })), track(s.client.publish('t/2', 'y', { qos: 1 }))];
    const report = await s.client.end({ force: true });
    expect(report.unacknowledged.map((m) => m.topic)).toEqual(['old/a', 't/1', 't/2']);
    for (const p of published) await settled(p);
    expect(reports).toEqual([]);
    const next = fileStore(dir);
    expect(next.open('device-1', { writeFailed: () => {} }).map((e) => e.topic)).toEqual(['old/a', 't/1', 't/2']);
    await next.close();
  });

  it('reconnect off and the connection lost: publishes reject saying the message stays stored; the next connect() sends them first', async () => {
    const store = new RecordingStore();
    const s = await connectedSession({ store, clean: false, reconnect: false, maxInflight: 1 });
    const first = track(s.client.publish('t/1', 'x', { qos: 1 }));
    const second = track(s.client.publish('t/2', 'x', { qos: 1 }));
    const qos0 = track(s.client.publish('t/0', 'x', { qos: 0 }));
    const firstPublish = await s.connection.next('publish');
    s.connection.close();
    await s.connection.closed;
    for (const p of [first, second]) {
      await settled(p);
      expectRejected(p, 'connection-closed', MqttClientError);
      expect((p.error as Error).message).toMatch(/stays in the durable store/);
    }
    await settled(qos0);
    expect((qos0.error as Error).message).not.toMatch(/durable store/);
    expect(s.client.state).toBe('disconnected');
    expect(s.client.restoredCount).toBe(2);
    expect(store.topics()).toEqual(['t/1', 't/2']);

    const reports: Array<[number, number]> = [];
    s.client.on('restored', (acknowledged, refused) => reports.push([acknowledged, refused]));
    const connection = await connect(s, { ...CONNACK_OK, sessionPresent: true });
    const again = await connection.next('publish');
    expect([again.topic, again.packetId, again.dup]).toEqual(['t/1', firstPublish.packetId, true]);
    connection.send({ type: 'puback', packetId: again.packetId! });
    const then = await connection.next('publish');
    expect(then.topic).toBe('t/2');
    connection.send({ type: 'puback', packetId: then.packetId! });
    await settle();
    expect(reports).toEqual([[2, 0]]);
    expect(store.live.size).toBe(0);
  });
});

describe('the store at construction', () => {
  it('two clients on one directory with one client id: the second gets store-locked at construction', async () => {
    const dir = tempDir();
    const first = new MqttClient({ host: '::1', clientId: 'gw-1', clean: false, store: fileStore(dir), reconnect: false });
    expect(() => new MqttClient({ host: '::1', clientId: 'gw-1', clean: false, store: fileStore(dir), reconnect: false })).toThrow(
      expect.objectContaining({ name: 'StoreError', code: 'store-locked' }),
    );
    // Another client id in the same directory has a store of its own.
    const other = new MqttClient({ host: '::1', clientId: 'gw-2', clean: false, store: fileStore(dir), reconnect: false });
    await first.end();
    await other.end();
    // Released by end(): the next one opens it.
    const next = new MqttClient({ host: '::1', clientId: 'gw-1', clean: false, store: fileStore(dir), reconnect: false });
    await next.end();
  });

  it('one fileStore object given to two clients: store-locked, with the fix in the message', async () => {
    const store = fileStore(tempDir());
    const first = new MqttClient({ host: '::1', clientId: 'gw-1', clean: false, store, reconnect: false });
    expect(() => new MqttClient({ host: '::1', clientId: 'gw-2', clean: false, store, reconnect: false })).toThrow(/give each client its own fileStore/);
    await first.end();
  });

  it("the platform's signing extension is not part of the store's name: each process's new timestamp finds the same store", async () => {
    const dir = tempDir();
    const withStamp = (t: number): string => `gw-1|securemode=2,signmethod=hmacsha256,timestamp=${t}|`;
    const s = session({ store: fileStore(dir), clean: false, clientId: withStamp(1) });
    void track(s.client.publish('t/1', 'x', { qos: 1 }));
    await s.client.end({ force: true });
    const next = new MqttClient({ host: '::1', clientId: withStamp(2), clean: false, store: fileStore(dir), reconnect: false });
    expect(next.restoredCount).toBe(1);
    await next.end();
  });

  it('a store that is not an object with the five methods is a ConfigurationError', () => {
    expect(() => new MqttClient({ host: '::1', clientId: 'x', store: {} as OutboxStore })).toThrow(expect.objectContaining({ name: 'ConfigurationError', field: 'store' }));
  });
});
