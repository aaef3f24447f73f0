// A process that uses a file store, for the tests that need a second process or a real kill.
// It imports the per-file build of the store (`npm test` builds first; `npx tsc -p
// tsconfig.build.json` for a run of these tests alone).
//
//   node child.mjs hold <dir> <clientId>
//       opens the store, prints "open <n>" (n stored messages) and holds it until stdin ends;
//       a StoreError on open is printed as "error <code>" and the process exits 3.
//   node child.mjs publish <dir> <clientId> <seed> <fsync> <first>
//       what a publishing client does to its store: each tick adds 1..20 messages with ids from
//       <first> on (payloads derived from the id), marks older ones sent and acknowledges some;
//       prints "acking <id>" before it acknowledges, and once the tick has ended (in
//       setImmediate) "added <id>" and "acked <id>" lines.
//       Runs until killed.
//   node child.mjs exit-now <dir> <clientId>
//       adds two messages and calls process.exit(0) in the same tick.
//   node child.mjs fill <dir> <clientId>
//       (run under `ulimit -f`) adds 1 KiB messages, 8 a tick, until a write fails; then adds
//       one a tick until one is refused, acknowledges the older half, and adds again. After each tick it
//       prints "added <id>" for what was stored, "lost <id>" for what writeFailed reported,
//       "refused <id> <code>" for an add that threw, "acked <id>"; then closes and exits.
//   node child.mjs compact <dir> <clientId>
//       opens a store that already holds messages, prints "open <n>", then compacts it over and
//       over until killed.
import { existsSync, writeSync } from 'node:fs';

const build = new URL('../../dist/store/index.js', import.meta.url);
if (!existsSync(build)) {
  process.stderr.write('dist/store/index.js is missing: run `npm run build` (or `npx tsc -p tsconfig.build.json`) first\n');
  process.exit(2);
}
const { fileStore, StoreError } = await import(build.href);

const [mode, dir, clientId, ...rest] = process.argv.slice(2);
// A write syscall to the pipe, never process.stdout: a pipe's stream buffers in the process when
// the reader is slower, and a killed process takes those lines with it. (Not touching
// process.stdout also leaves the descriptor blocking, so a full pipe just waits.)
const say = (line) => writeSync(1, `${line}\n`);
const hooks = {
  writeFailed: (keys, error) => say(`failed ${keys.join(',')} ${error.code}`),
  damaged: (error) => say(`damaged ${error.code}`),
};

/** The payload of message `id`: its id, then a length and bytes that both follow from the id. */
export function payloadOf(id) {
  const length = 8 + ((id * 37) % 200);
  const bytes = Buffer.alloc(length);
  bytes.writeUInt32BE(id, 0);
  for (let i = 4; i < length; i++) bytes[i] = (id * 7 + i) & 0xff;
  return bytes;
}

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let store;
let entries;
try {
  store = fileStore(dir, { fsync: mode === 'publish' ? rest[1] : 'never' });
  entries = store.open(clientId, hooks);
} catch (error) {
  if (error instanceof StoreError) {
    say(`error ${error.code}`);
    process.exit(3);
  }
  throw error;
}
say(`open ${entries.length}`);

if (mode === 'exit-now') {
  store.add({ topic: 'exit/1', payload: Buffer.from('one'), retain: false, packetId: undefined });
  store.add({ topic: 'exit/2', payload: Buffer.from('two'), retain: false, packetId: undefined });
  process.exit(0);
} else if (mode === 'hold') {
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await store.close();
    process.exit(0);
  });
} else if (mode === 'fill') {
  const failedKeys = new Set();
  hooks.writeFailed = (keys) => keys.forEach((key) => failedKeys.add(key));
  const stored = [];
  let nextId = 1;
  let phase = 'fill';
  const addOne = (lines, batch) => {
    const id = nextId++;
    try {
      batch.push([store.add({ topic: `fill/${id}`, payload: Buffer.alloc(1024, id), retain: false, packetId: undefined }), id]);
    } catch (error) {
      lines.push(`refused ${id} ${error.code}`);
      return false;
    }
    return true;
  };
  const settle = (lines, batch) => {
    for (const [key, id] of batch) {
      if (failedKeys.has(key)) lines.push(`lost ${id}`);
      else {
        stored.push([key, id]);
        lines.push(`added ${id}`);
      }
    }
  };
  const step = async () => {
    const lines = [];
    const batch = [];
    if (phase === 'fill') {
      for (let i = 0; i < 8; i++) addOne(lines, batch);
    } else if (phase === 'refuse') {
      // One a tick: after a failed write the store writes an add at once, so one that does not
      // fit is refused; one that fits clears the failure, and the next tick's batch may fail again.
      if (!addOne(lines, batch)) phase = 'refused';
    } else if (phase === 'ack') {
      for (const [key, id] of stored.splice(0, stored.length >> 1)) {
        store.acknowledged(key);
        lines.push(`acked ${id}`);
      }
    } else {
      for (let i = 0; i < 4; i++) addOne(lines, batch);
    }
    await new Promise((resolve) => setImmediate(resolve));
    settle(lines, batch);
    say(lines.join('\n'));
    if (phase === 'fill' && failedKeys.size > 0) phase = 'refuse';
    else if (phase === 'refuse' && nextId > 200) say('never refused');
    else if (phase === 'refused') phase = 'ack';
    else if (phase === 'ack') phase = 'again';
    else if (phase === 'again') {
      await store.close();
      say('closed');
      process.exit(0);
    }
    step();
  };
  step();
} else if (mode === 'compact') {
  const spin = () => {
    store.compact();
    setImmediate(spin);
  };
  spin();
} else if (mode === 'publish') {
  const random = prng(Number(rest[0]));
  let nextId = Number(rest[2]);
  // What this process stored: [key, id], oldest first; the ones already sent.
  const live = entries.map((e) => [e.key, e.payload.length >= 4 ? Buffer.from(e.payload).readUInt32BE(0) : -1]);
  let sentUpTo = 0;
  let packetId = 1;
  const tick = () => {
    const added = [];
    const acked = [];
    const count = 1 + Math.floor(random() * 20);
    for (let i = 0; i < count; i++) {
      const id = nextId++;
      const key = store.add({ topic: `devices/d1/messages/${id % 7}`, payload: payloadOf(id), retain: id % 5 === 0, packetId: undefined });
      live.push([key, id]);
      added.push(id);
    }
    // Send the next few (as the client does on the wire) and acknowledge some of the oldest.
    while (sentUpTo < live.length && random() < 0.9) {
      store.sent(live[sentUpTo][0], packetId);
      packetId = (packetId % 65535) + 1;
      sentUpTo++;
    }
    const acking = [];
    while (sentUpTo > 0 && live.length > 50 && random() < 0.95) {
      const [key, id] = live.shift();
      acking.push([key, id]);
      sentUpTo--;
    }
    // Said before the store hears of it: a kill from here on may or may not keep these.
    if (acking.length > 0) say(acking.map(([, id]) => `acking ${id}`).join('\n'));
    for (const [key, id] of acking) {
      store.acknowledged(key);
      acked.push(id);
    }
    setImmediate(() => {
      // The tick that stored these has ended: from here on they must survive a kill.
      say(added.map((id) => `added ${id}`).concat(acked.map((id) => `acked ${id}`)).join('\n'));
      tick();
    });
  };
  tick();
}
