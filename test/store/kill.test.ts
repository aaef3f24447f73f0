/**
 * The guarantee, with real kills: a child process stores messages as a publishing client would
 * (adds, sents and acknowledgements, a tick at a time) and prints "added <id>" once the tick that
 * stored it has ended; it is killed with SIGKILL at a seeded random moment, again and again on the
 * same directory. After each kill the store holds every message whose "added" line was printed and
 * that the child had not begun to acknowledge, none whose "acked" line was printed, in publish
 * order, byte for byte; anything else it holds is a message the child really added.
 */
import { describe, expect, it } from 'vitest';
import { openStore, prng, spawnChild, tempDir } from './support.js';

/** The child's payload for message `id` (test/store/child.mjs, payloadOf). */
function payloadOf(id: number): Buffer {
  const length = 8 + ((id * 37) % 200);
  const bytes = Buffer.alloc(length);
  bytes.writeUInt32BE(id, 0);
  for (let i = 4; i < length; i++) bytes[i] = (id * 7 + i) & 0xff;
  return bytes;
}

const KILLS = 12;
const SEED = Number(process.env['STORE_KILL_SEED'] ?? 1_234_567);

describe('SIGKILL at random moments', () => {
  it(`every message whose add had returned a tick before the kill survives (${KILLS} kills, seed ${SEED}; STORE_KILL_SEED=<n> to vary)`, async () => {
    const dir = tempDir();
    const random = prng(SEED);
    let live = new Set<number>();
    let confirmedTotal = 0;
    for (let round = 0; round < KILLS; round++) {
      const fsync = round % 4 === 3 ? 'tick' : 'never';
      const first = (round + 1) * 1_000_000;
      const child = spawnChild(['publish', dir, 'publisher', String(Math.floor(random() * 2 ** 31)), fsync, String(first)]);
      expect(await child.waitFor(() => true)).toBe(`open ${live.size}`);
      const target = 50 + Math.floor(random() * 1500);
      let seen = 0;
      await child.waitFor((line) => (line.startsWith('added ') && ++seen >= target) || line.startsWith('exited'));
      if (random() < 0.5) await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 20)));
      child.process.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');

      // Every line read was printed after the tick that it reports had ended.
      const added = child.lines.filter((l) => l.startsWith('added ')).map((l) => Number(l.slice(6)));
      const acked = new Set(child.lines.filter((l) => l.startsWith('acked ')).map((l) => Number(l.slice(6))));
      // Printed before the child told the store: gone if the kill came after the tick, else kept.
      const acking = new Set(child.lines.filter((l) => l.startsWith('acking ')).map((l) => Number(l.slice(7))));
      expect(child.lines.filter((l) => !/^(open|added|acking|acked) \d+$/.test(l))).toEqual([]);
      confirmedTotal += added.length;
      const mustHave = [...live, ...added].filter((id) => !acking.has(id));

      const { store, entries, damaged } = openStore(dir, {}, 'publisher');
      expect(damaged).toEqual([]);
      const ids = entries.map((e) => Buffer.from(e.payload).readUInt32BE(0));
      const present = new Set(ids);
      expect(mustHave.filter((id) => !present.has(id)), `round ${round}: lost`).toEqual([]);
      expect(ids.filter((id) => acked.has(id)), `round ${round}: acknowledged yet back`).toEqual([]);
      entries.forEach((entry, i) => {
        const id = ids[i]!;
        // Nothing the child did not add: earlier rounds' live messages, or this round's ids.
        expect(live.has(id) || (id >= first && id < first + 1_000_000), `unknown id ${id}`).toBe(true);
        expect(Buffer.from(entry.payload).equals(payloadOf(id))).toBe(true);
        expect(entry.topic).toBe(`devices/d1/messages/${id % 7}`);
        expect(entry.retain).toBe(id % 5 === 0);
        if (i > 0) {
          expect(entry.key).toBeGreaterThan(entries[i - 1]!.key);
          expect(id).toBeGreaterThan(ids[i - 1]!);
        }
      });
      live = present;
      await store.close();
    }
    expect(confirmedTotal).toBeGreaterThan(3000);
  }, 120_000);
});
