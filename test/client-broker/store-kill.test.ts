/**
 * The durable outbox's guarantee with real kills against a real mosquitto over TLS on [::1]: a
 * plain `node` program on the built package (publisher.mjs) publishes QoS 1 messages with
 * `clean: false, store: fileStore(dir)`, is killed with SIGKILL at a seeded random moment, and is
 * started again on the same directory and client id, round after round; a last round drains
 * what is left. An independent subscriber with a persistent session (clean: false, QoS 1) listens
 * throughout. Checked:
 *
 * - Every message whose publish() had returned a tick before the kill ("accepted") reaches the
 *   subscriber, and after each kill the store holds every accepted message whose PUBACK the child
 *   had not reported, and none that it had.
 * - The next process restores exactly what the store holds, and its first connection sends those
 *   messages first, in their order: under their stored packet ids with DUP 1 when the broker kept
 *   the session, DUP 0 when it did not (some rounds connect with clean: true to make it forget).
 * - Each connection sends messages in increasing order, and the subscriber's first arrivals are in
 *   increasing order: a stored message never goes out after a newer one [MQTT-4.6.0-6].
 * - Once drained, the store is empty: a message leaves it with its PUBACK.
 */
import { expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { fileStore } from '../../src/store/index.js';
import type { StoredEntry } from '../../src/store/types.js';
import { describeWithBroker } from '../support/mosquitto.js';
import { prng, spawnChild, tempDir } from '../store/support.js';
import type { Child } from '../store/support.js';
import { brokerOptions, uniqueId, until, useBroker } from './support.js';

const PUBLISHER = fileURLToPath(new URL('./publisher.mjs', import.meta.url));
const KILLS = 12;
const SEED = Number(process.env['STORE_KILL_SEED'] ?? 20_261_125);

const numberOf = (payload: Uint8Array): number => Number(Buffer.from(payload).toString('ascii', 0, 8));
const numbers = (child: Child, word: string): number[] => child.lines.filter((l) => l.startsWith(`${word} `)).map((l) => Number(l.split(' ')[1]));

interface Send {
  readonly n: number;
  readonly dup: boolean;
  readonly packetId: number;
}

interface Connection {
  readonly sessionPresent: boolean;
  readonly sends: Send[];
  /** The messages a PUBACK arrived for (the child printed it before the store heard of it). */
  readonly pubacked: Set<number>;
}

/** The PUBLISHes the child wrote and the PUBACKs it got, per connection (a `connack` line starts one). */
function connections(child: Child): Connection[] {
  const list: Connection[] = [];
  let byId = new Map<number, number>();
  for (const line of child.lines) {
    const [word, a, b, c] = line.split(' ');
    if (word === 'connack') {
      list.push({ sessionPresent: a === '1', sends: [], pubacked: new Set() });
      byId = new Map();
      continue;
    }
    if (word !== 'send' && word !== 'puback') continue;
    const current = list.at(-1);
    if (current === undefined) throw new Error(`${line} before any CONNACK`);
    if (word === 'send') {
      current.sends.push({ n: Number(a), dup: b === '1', packetId: Number(c) });
      byId.set(Number(c), Number(a));
    } else {
      const n = byId.get(Number(a));
      if (n === undefined) throw new Error(`PUBACK for id ${a}, which no PUBLISH on this connection carried`);
      current.pubacked.add(n);
    }
  }
  return list;
}

/** What the store holds now, as the next process will find it (opened and closed again). */
async function stored(dir: string, clientId: string): Promise<StoredEntry[]> {
  const store = fileStore(dir);
  const damaged: Error[] = [];
  const entries = store.open(clientId, { writeFailed: () => {}, damaged: (error) => damaged.push(error) });
  await store.close();
  expect(damaged).toEqual([]);
  return [...entries];
}

describeWithBroker('SIGKILL of a publishing process with a file store, against mosquitto', () => {
  const suite = useBroker();

  it(`every message accepted a tick before a kill reaches a persistent subscriber, stored ones first (${KILLS} kills, seed ${SEED}; STORE_KILL_SEED=<n> to vary)`, { timeout: 180_000 }, async () => {
    const broker = suite.broker;
    const dir = tempDir();
    const clientId = uniqueId('killed');
    const topic = `store/kill/${clientId}`;
    const random = prng(SEED);

    const subscriber = suite.pool.track(brokerOptions(broker, { clientId: uniqueId('sink'), clean: false }));
    await subscriber.connect();
    await subscriber.subscribe(topic, { qos: 1 });
    const arrivals: number[] = [];
    const seen = new Set<number>();
    subscriber.on('message', (_topic, payload) => {
      const n = numberOf(payload);
      arrivals.push(n);
      seen.add(n);
    });

    const accepted = new Set<number>();
    const acked = new Set<number>();
    /** Messages whose PUBACK arrived and that the store no longer holds. */
    const settled = new Set<number>();
    let left: StoredEntry[] = [];
    let cleanRounds = 0;
    let sessionKeptRounds = 0;
    let restoredTotal = 0;
    for (let round = 0; round <= KILLS; round++) {
      const last = round === KILLS;
      const first = (round + 1) * 1_000_000;
      // Every fourth round from the third, and some others, connects with clean: true: the broker
      // forgets the session and the stored messages go out as new ones.
      const clean = !last && round > 0 && (round % 4 === 2 || random() < 0.15);
      const child = spawnChild(
        [String(broker.tlsPort), dir, clientId, topic, String(Math.floor(random() * 2 ** 31)), String(first), last ? 'drain' : 'run', clean ? '1' : '0'],
        undefined,
        PUBLISHER,
      );
      const context = `round ${round} (seed ${SEED})`;
      expect(await child.waitFor(() => true), context).toBe(`open ${left.length}`);
      restoredTotal += left.length;
      if (last) {
        expect(await child.waitFor((line) => line === 'drained' || line.startsWith('exited')), context).toBe('drained');
        expect((await child.exited).code, context).toBe(0);
      } else {
        // Some kills before the first CONNACK (the messages are then only queued and stored).
        const target = random() < 0.2 ? 1 + Math.floor(random() * 30) : 50 + Math.floor(random() * 1500);
        let count = 0;
        await child.waitFor((line) => (line.startsWith('accepted ') && ++count >= target) || line.startsWith('exited'));
        if (random() < 0.5) await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 30)));
        child.process.kill('SIGKILL');
        expect((await child.exited).signal, context).toBe('SIGKILL');
      }
      const unexpected = child.lines.filter((l) => !/^(open|connack|send|puback|accepted|acked|restored) /.test(l) && l !== 'drained');
      expect(unexpected, `${context}: rejections or errors`).toEqual([]);
      for (const n of numbers(child, 'accepted')) accepted.add(n);
      for (const n of numbers(child, 'acked')) acked.add(n);

      // The first connection sends what the store held, first and in order: the sent ones under
      // their ids, DUP set exactly when the broker kept the session [MQTT-3.3.1-1, MQTT-4.4.0-1].
      const conns = connections(child);
      const firstConnection = conns[0];
      if (firstConnection !== undefined && left.length > 0) {
        if (firstConnection.sessionPresent) sessionKeptRounds += 1;
        else cleanRounds += 1;
        firstConnection.sends.slice(0, left.length).forEach((send, i) => {
          const entry = left[i]!;
          expect(send.n, `${context}: stored message ${i} sent in its place`).toBe(numberOf(entry.payload));
          const resent = entry.packetId !== undefined;
          expect(send.dup, `${context}: DUP of stored message ${send.n}`).toBe(resent && firstConnection.sessionPresent);
          if (resent) expect(send.packetId, `${context}: id of stored message ${send.n}`).toBe(entry.packetId);
        });
        for (const send of firstConnection.sends.slice(left.length)) expect(send.n, context).toBeGreaterThanOrEqual(first);
      }
      for (const { sends } of conns) {
        expect(sends.filter((send, i) => i > 0 && send.n <= sends[i - 1]!.n), `${context}: sends out of order`).toEqual([]);
      }

      // What the next process will find: every accepted message whose PUBACK had not arrived (a
      // restored one has no promise, hence no "acked" line: its PUBACK line counts), none whose
      // acknowledgement the child had seen a tick go by after.
      left = await stored(dir, clientId);
      const held = new Set(left.map((e) => numberOf(e.payload)));
      const pubacked = new Set(conns.flatMap((c) => [...c.pubacked]));
      for (const n of pubacked) settled.add(n);
      const lost = [...accepted].filter((n) => !acked.has(n) && !settled.has(n) && !held.has(n));
      expect(lost, `${context}: accepted, not acknowledged, and not stored`).toEqual([]);
      expect([...held].filter((n) => acked.has(n)), `${context}: acknowledged yet stored`).toEqual([]);
      // A PUBACK the kill cut off before the store heard of it: still stored, so still owed.
      for (const n of held) settled.delete(n);
    }
    expect(left, 'the store after draining').toEqual([]);
    expect(accepted.size).toBeGreaterThan(3000);
    // Both kinds of restart happened (the seed decides; the default seed gives both).
    expect(sessionKeptRounds, 'rounds that resent stored messages with DUP').toBeGreaterThan(0);
    expect(cleanRounds, 'rounds that sent stored messages as new ones').toBeGreaterThan(0);
    expect(restoredTotal).toBeGreaterThan(0);

    await until(subscriber, 'message', () => [...accepted].every((n) => seen.has(n)), 30_000).catch(() => undefined);
    expect([...accepted].filter((n) => !seen.has(n)), 'accepted messages the subscriber never got').toEqual([]);
    const once = new Set<number>();
    const firstArrivals = arrivals.filter((n) => !once.has(n) && once.add(n) !== undefined);
    expect(firstArrivals.filter((n, i) => i > 0 && n <= firstArrivals[i - 1]!), 'first arrivals out of order').toEqual([]);
  });
});
