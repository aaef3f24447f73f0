// The raw cost of the durable outbox store, without a network: what fileStore adds per QoS 1
// message (add, then sent, then acknowledged a tick later, 100 B payload), with each fsync
// setting, beside doing nothing and beside an in-memory map.
//
//   npm run bench:store                  builds, then runs this file
//   node bench/store.mjs --quick         smaller runs, for a smoke check
//   node bench/store.mjs --dir <path>    the store on another file system (an SD card, a tmpfs)
//   node bench/store.mjs --batch <n>     messages per tick (default 64)
//
// The workload is what a publishing client does to its store: each tick (a setImmediate) adds
// <batch> messages and marks them sent, as they go straight on the wire, and acknowledges the
// <batch> of the tick before, whose PUBACKs have arrived meanwhile; so about 2 x <batch> messages
// are stored at any moment and the file is compacted as it goes.
//
// Scenarios, each in a fresh Node.js process, each several times, interleaved, the median kept:
//   none            the loop alone: building the messages and ticking, no store
//   memory          a Map per message (set on add, a field on sent, delete on acknowledged): the
//                   least any store can do
//   file never      fileStore, fsync 'never' (the default): one write syscall per tick
//   file tick       fsync 'tick': a write and an fdatasync per tick
//   file message    fsync 'message': a write and an fdatasync per add, before add returns
// Reported: CPU time (user + system, from process.cpuUsage) and wall time per message, and the
// rate. With fsync the process mostly waits for the disk, so wall time is the figure that counts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const argument = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : process.argv[at + 1];
};
const quick = process.argv.includes('--quick');
const BATCH = Number(argument('--batch', '64'));
const PAYLOAD = Buffer.alloc(100, 0x61);
const TOPIC = '/sys/a1B2c3D4e5F/sensor-00001/thing/event/property/post';

// ------------------------------------------------------------------------------------------
// Child mode: one scenario.

if (process.argv[2] === '--run') {
  const [, , , scenario, count, dir] = process.argv;
  const result = await runScenario(scenario, Number(count), dir);
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

async function runScenario(scenario, count, dir) {
  const { fileStore } = await import(new URL('../dist/store/index.js', import.meta.url).href);
  let store;
  if (scenario.startsWith('file ')) {
    store = fileStore(dir, { fsync: scenario.slice(5) });
    store.open('bench', { writeFailed: (keys, error) => { throw error; } });
  } else if (scenario === 'memory') {
    const map = new Map();
    let next = 1;
    store = {
      add: (message) => {
        const key = next++;
        map.set(key, { ...message });
        return key;
      },
      sent: (key, packetId) => void (map.get(key).packetId = packetId),
      acknowledged: (key) => void map.delete(key),
      close: async () => {},
    };
  } else {
    let next = 1;
    store = { add: () => next++, sent: () => {}, acknowledged: () => {}, close: async () => {} };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  // Warm up the code paths (and the file), then measure.
  await workload(store, Math.min(count, 20 * BATCH), tick);
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await workload(store, count, tick);
  const wallNs = Number(process.hrtime.bigint() - start);
  const used = process.cpuUsage(cpu);
  const stats = store.stats?.();
  await store.close();
  return {
    scenario,
    count,
    cpuPerMessageUs: (used.user + used.system) / count,
    wallPerMessageUs: wallNs / 1000 / count,
    perSecond: count / (wallNs / 1e9),
    compactions: stats?.compactions ?? 0,
  };
}

async function workload(store, count, tick) {
  let previous = [];
  let packetId = 1;
  for (let done = 0; done < count; ) {
    const keys = [];
    for (let i = 0; i < BATCH && done < count; i++, done++) {
      const key = store.add({ topic: TOPIC, payload: PAYLOAD, retain: false, packetId: undefined });
      store.sent(key, packetId);
      packetId = packetId === 65535 ? 1 : packetId + 1;
      keys.push(key);
    }
    for (const key of previous) store.acknowledged(key);
    previous = keys;
    await tick();
  }
  for (const key of previous) store.acknowledged(key);
  await tick();
}

// ------------------------------------------------------------------------------------------
// Parent: every scenario in fresh processes, interleaved, medians.

const self = fileURLToPath(import.meta.url);
const base = argument('--dir', undefined);
// fsync per add waits for the disk at every message: fewer of those, or a run takes minutes.
const counts = quick
  ? { none: 20_000, memory: 20_000, 'file never': 20_000, 'file tick': 5_000, 'file message': 300 }
  : { none: 200_000, memory: 200_000, 'file never': 200_000, 'file tick': 50_000, 'file message': 3_000 };
const repeats = quick ? 1 : 5;

function runChild(scenario) {
  const dir = mkdtempSync(join(base ?? tmpdir(), 'aliot-bench-store-'));
  try {
    const child = spawnSync(process.execPath, [self, '--run', scenario, String(counts[scenario]), dir, '--batch', String(BATCH)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`${scenario} failed:\n${child.stderr}`);
    return JSON.parse(child.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const where = base ?? tmpdir();
console.log(`aliot-mqtt store benchmark: Node.js ${process.version}, ${process.platform}, store in ${where}`);
console.log(`add + sent + acknowledged per message, ${PAYLOAD.length} B payload, topic of ${TOPIC.length} characters, ${BATCH} messages per tick`);
console.log(`medians of ${repeats} interleaved runs of each scenario, each run in a fresh process\n`);
const runs = Object.fromEntries(Object.keys(counts).map((s) => [s, []]));
for (let r = 0; r < repeats; r++) for (const s of Object.keys(runs)) runs[s].push(runChild(s));
const medianOf = (list, key) => list.map((x) => x[key]).sort((a, b) => a - b)[list.length >> 1];
const pad = (s, n) => String(s).padStart(n);
console.log(`${'scenario'.padEnd(16)}${pad('messages', 10)}${pad('CPU µs/msg', 12)}${pad('wall µs/msg', 13)}${pad('msgs/s', 11)}${pad('compactions', 13)}`);
for (const [scenario, list] of Object.entries(runs)) {
  console.log(
    `${scenario.padEnd(16)}${pad(counts[scenario].toLocaleString('en'), 10)}${pad(medianOf(list, 'cpuPerMessageUs').toFixed(2), 12)}${pad(
      medianOf(list, 'wallPerMessageUs').toFixed(2),
      13,
    )}${pad(Math.round(medianOf(list, 'perSecond')).toLocaleString('en'), 11)}${pad(medianOf(list, 'compactions'), 13)}`,
  );
}
