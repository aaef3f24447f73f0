// End-to-end benchmark against a real broker: mosquitto over TLS on [::1], started here.
//
//   npm run bench:e2e              builds, then runs this file against the built package
//   node bench/e2e.mjs --quick     smaller runs, for a smoke check
//   npm run bench:e2e -- --compare also runs the same scenarios through MQTT.js 5.16.0, which
//                                  `npm run bench:compare` installs into .bench/ (never a
//                                  dependency of this package)
//   npm run bench:e2e -- --vs DIR  also runs qos0 and qos1 from another built checkout of this
//                                  project (e.g. `git worktree add /tmp/old <commit>`, then
//                                  `npm run build` there), interleaved with this one: before/after
//                                  figures from the same run
//   npm run bench:e2e -- --store   the durable outbox instead: QoS 1 with the memory store (the
//                                  default) beside fileStore with each fsync setting, all with
//                                  clean: false, interleaved; `--store-dir DIR` puts the files on
//                                  another file system (default: the OS's temporary directory)
//
// Scenarios, each in a fresh Node.js process so that one cannot warm up or pollute another:
//   floor  a raw TLS socket writes pre-encoded PUBLISH frames (QoS 0, 64 B payload) to a topic
//          it subscribes to and counts the bytes of the copies that come back: the least any
//          client can do for the same traffic.
//   qos0   this client: publish QoS 0 to a topic it subscribes to, 64 B payloads.
//   qos1   this client: publish QoS 1 (up to 1000 in flight) to a topic it subscribes to at QoS
//          1, so every message costs a PUBLISH and a PUBACK each way.
//   store-memory, store-never, store-tick, store-message (with --store)
//          qos1 with clean: false and no store, or fileStore(dir, { fsync }) with 'never' (the
//          default), 'tick' or 'message'. 'message' waits for the disk at every publish, so it
//          runs a tenth of the messages.
//   idle   1000 idle connected clients in one process: heap and RSS per client, beside 1000
//          bare TLS sockets.
//   import the time `import('aliot-mqtt')` adds to a bare `node` start.
//
// mosquitto runs on one core and caps the message rate, so for floor/qos0/qos1 the figure that
// describes this client is its own CPU time per message (user + system, garbage collection
// included, from process.cpuUsage()), reported beside the rate.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';

const quick = process.argv.includes('--quick');
const MESSAGES = quick ? 20_000 : 200_000;
const WINDOW = 1000; // messages sent but not yet seen coming back
const IDLE_CLIENTS = quick ? 200 : 1000;
const root = new URL('../', import.meta.url);
const certFile = (name) => fileURLToPath(new URL(`certs/loopback/${name}`, root));
const TOPIC = '/sys/a1B2c3D4e5F/sensor-00001/thing/event/property/post';
const PAYLOAD = Buffer.alloc(64, 0x61);
/** Where --store runs put their files (the child's argument). */
let STORE_DIR;

// ------------------------------------------------------------------------------------------
// Child mode: one scenario against a broker that is already running.

if (process.argv[2] === '--run') {
  const [, , , scenario, port, storeDir] = process.argv;
  STORE_DIR = storeDir;
  const lib = await import('aliot-mqtt');
  const ca = readFileSync(certFile('ca.pem'), 'utf8');
  const result = await SCENARIOS()[scenario](lib, Number(port), ca);
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

function SCENARIOS() {
  const store = (fsync) => (lib, port, ca) => clientRun(lib, port, ca, 1, fsync);
  return {
    floor,
    qos0,
    qos1,
    idle,
    'mqttjs-qos0': mqttjsQos0,
    'mqttjs-qos1': mqttjsQos1,
    'store-memory': store('memory'),
    'store-never': store('never'),
    'store-tick': store('tick'),
    'store-message': store('message'),
  };
}

/** MQTT.js from .bench/ (npm run bench:compare installs it there), or undefined. */
async function loadMqttJs() {
  try {
    return (await import(new URL('.bench/node_modules/mqtt/build/index.js', root).href)).default;
  } catch {
    return undefined;
  }
}

/** The same workload through MQTT.js 5, for comparison in the same run (`--compare`). */
async function mqttjsRun(port, ca, qos) {
  const mqtt = await loadMqttJs();
  if (mqtt === undefined) throw new Error('MQTT.js is not installed in .bench/: run npm run bench:compare first');
  const client = await mqtt.connectAsync({
    protocol: 'mqtts',
    host: '::1',
    port,
    ca,
    servername: 'localhost',
    clientId: `bench-mqttjs-qos${qos}`,
    keepalive: 60,
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  await client.subscribeAsync(TOPIC, { qos });
  const run = async (count) => {
    let received = 0;
    let sent = 0;
    let wake;
    const onMessage = () => {
      received++;
      if (wake !== undefined && (sent - received <= WINDOW - 64 || received >= count)) {
        const w = wake;
        wake = undefined;
        w();
      }
    };
    client.on('message', onMessage);
    const acks = [];
    while (sent < count) {
      if (sent - received >= WINDOW) await new Promise((resolve) => (wake = resolve));
      const p = client.publishAsync(TOPIC, PAYLOAD, { qos });
      sent++;
      if (qos === 1) acks.push(p);
      else if (sent % 256 === 0) await p;
    }
    while (received < count) await new Promise((resolve) => (wake = resolve));
    await Promise.all(acks);
    client.off('message', onMessage);
  };
  await run(WINDOW * 4); // warm-up
  const m = await measured(() => run(MESSAGES));
  await client.endAsync();
  return rateResult(qos === 0 ? 'MQTT.js 5.16.0 QoS 0' : 'MQTT.js 5.16.0 QoS 1, 1000 in flight', MESSAGES, m);
}

function mqttjsQos0(_lib, port, ca) {
  return mqttjsRun(port, ca, 0);
}
function mqttjsQos1(_lib, port, ca) {
  return mqttjsRun(port, ca, 1);
}

/** Runs `body`, returning wall time and this process's CPU time (user + system) in µs. */
async function measured(body) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await body();
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  return { wallUs: wall, cpuUs: cpu.user + cpu.system };
}

function rateResult(name, messages, m) {
  return {
    name,
    messages,
    perSecond: messages / (m.wallUs / 1e6),
    cpuPerMessageUs: m.cpuUs / messages,
  };
}

async function floor({ encode, PacketDecoder }, port, ca) {
  const socket = tlsConnect({ host: '::1', port, ca, servername: 'localhost', minVersion: 'TLSv1.2' });
  await once(socket, 'secureConnect');
  socket.setNoDelay(true);
  const decoder = new PacketDecoder();
  const next = () =>
    new Promise((resolve) => {
      const onData = (chunk) => {
        const packets = decoder.push(chunk);
        if (packets.length > 0) {
          socket.off('data', onData);
          resolve(packets[0]);
        }
      };
      socket.on('data', onData);
    });
  socket.write(encode({ type: 'connect', clientId: 'floor', keepalive: 0, clean: true }));
  await next();
  socket.write(encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: TOPIC, qos: 0 }] }));
  await next();
  const frame = encode({ type: 'publish', topic: TOPIC, payload: PAYLOAD, qos: 0, retain: false, dup: false });
  // Pre-encoded batches: the floor spends nothing on encoding.
  const BATCH = 64; // the client's scenarios refill their window in the same steps
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => frame));
  const run = async (count) => {
    let received = 0;
    let sent = 0;
    await new Promise((resolve) => {
      const pump = () => {
        while (sent < count && sent - received < WINDOW) {
          socket.write(batch);
          sent += BATCH;
        }
      };
      socket.on('data', (chunk) => {
        received += chunk.length / frame.length; // every incoming frame is a copy of `frame`
        if (received >= count) resolve();
        else pump();
      });
      pump();
    });
    socket.removeAllListeners('data');
  };
  await run(WINDOW * 4); // warm-up
  const m = await measured(() => run(MESSAGES));
  socket.destroy();
  return rateResult('floor: raw TLS socket, pre-encoded', MESSAGES, m);
}

/** `fsync`: undefined for the plain qos0/qos1 runs; 'memory' or a fileStore fsync setting with --store. */
async function clientRun(lib, port, ca, qos, fsync) {
  const dir = fsync === undefined || fsync === 'memory' ? undefined : mkdtempSync(join(STORE_DIR ?? tmpdir(), 'aliot-bench-store-'));
  const client = new lib.MqttClient({
    host: '::1',
    port,
    ca,
    clientId: fsync === undefined ? `bench-qos${qos}` : `bench-store-${fsync}`,
    keepalive: 60,
    maxInflight: 1000,
    offlineQueueSize: 2 * WINDOW,
    ...(fsync === undefined ? {} : { clean: false }),
    ...(dir === undefined ? {} : { store: lib.fileStore(dir, { fsync }) }),
  });
  await client.connect();
  await client.subscribe(TOPIC, { qos });
  const run = async (count) => {
    let received = 0;
    let sent = 0;
    let wake;
    client.on('message', () => {
      received++;
      // Refill in steps of 64, as the floor does with its batches of 64 frames: the same window.
      if (wake !== undefined && (sent - received <= WINDOW - 64 || received >= count)) {
        const w = wake;
        wake = undefined;
        w();
      }
    });
    const acks = [];
    while (sent < count) {
      if (sent - received >= WINDOW) await new Promise((resolve) => (wake = resolve));
      const p = client.publish(TOPIC, PAYLOAD, { qos });
      sent++;
      if (qos === 1) acks.push(p);
      else if (sent % 256 === 0) await p; // let a saturated socket drain
    }
    while (received < count) await new Promise((resolve) => (wake = resolve));
    await Promise.all(acks);
    client.removeAllListeners('message');
  };
  const messages = fsync === 'message' ? MESSAGES / 10 : MESSAGES;
  await run(fsync === 'message' ? WINDOW : WINDOW * 4); // warm-up
  const m = await measured(() => run(messages));
  await client.end();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  const name = fsync === undefined ? (qos === 0 ? 'aliot-mqtt QoS 0' : 'aliot-mqtt QoS 1, 1000 in flight') : fsync === 'memory' ? 'QoS 1, memory store' : `QoS 1, fileStore fsync '${fsync}'`;
  return rateResult(name, messages, m);
}

function qos0(lib, port, ca) {
  return clientRun(lib, port, ca, 0);
}
function qos1(lib, port, ca) {
  return clientRun(lib, port, ca, 1);
}

function settledMemory() {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

async function idle(lib, port, ca) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  const base = settledMemory();
  // Bare TLS sockets: the transport alone, no MQTT.
  const sockets = [];
  for (let i = 0; i < IDLE_CLIENTS; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, IDLE_CLIENTS - i) }, async () => {
        const s = tlsConnect({ host: '::1', port, ca, servername: 'localhost', minVersion: 'TLSv1.2' });
        await once(s, 'secureConnect');
        s.setNoDelay(true);
        s.on('data', () => {});
        sockets.push(s);
      }),
    );
  }
  const bare = settledMemory();
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const afterBare = settledMemory();
  // Connected MQTT clients with a subscription each, as an idle gateway would hold them.
  const clients = [];
  for (let i = 0; i < IDLE_CLIENTS; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, IDLE_CLIENTS - i) }, async (_, j) => {
        const c = new lib.MqttClient({ host: '::1', port, ca, clientId: `idle-${i + j}`, keepalive: 300 });
        await c.connect();
        await c.subscribe(`idle/${i + j}/cmd`, { qos: 1 });
        clients.push(c);
      }),
    );
  }
  const mqtt = settledMemory();
  await Promise.all(clients.map((c) => c.end()));
  const perBareHeap = (bare.heap - base.heap) / IDLE_CLIENTS;
  const perBareRss = (bare.rss - base.rss) / IDLE_CLIENTS;
  const perClientHeap = (mqtt.heap - afterBare.heap) / IDLE_CLIENTS;
  const perClientRss = (mqtt.rss - afterBare.rss) / IDLE_CLIENTS;
  return { clients: IDLE_CLIENTS, perBareHeap, perBareRss, perClientHeap, perClientRss };
}

// ------------------------------------------------------------------------------------------
// Parent mode: start mosquitto, run every scenario in its own process, print the table.

async function freePort() {
  const server = createServer();
  server.listen(0, '::1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

async function startBroker() {
  const dir = mkdtempSync(join(tmpdir(), 'aliot-bench-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      'per_listener_settings false',
      'allow_anonymous true',
      'persistence false',
      'log_dest none',
      'max_queued_messages 100000',
      'max_inflight_messages 0',
      `listener ${port} ::1`,
      `cafile ${certFile('ca.pem')}`,
      `certfile ${certFile('server.pem')}`,
      `keyfile ${certFile('server.key')}`,
      'tls_version tlsv1.2',
      '',
    ].join('\n'),
  );
  // `mosquitto -h` prints its version and exits with 3 on mosquitto 2.0.
  const probe = (p) => spawnSync(p, ['-h'], { encoding: 'utf8' });
  const exe = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', 'mosquitto'].find((p) => probe(p).stdout?.startsWith('mosquitto'));
  if (exe === undefined) throw new Error('mosquitto is needed: apt-get install mosquitto');
  const broker = spawn(exe, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  const ca = readFileSync(certFile('ca.pem'));
  for (let i = 0; ; i++) {
    try {
      const s = tlsConnect({ host: '::1', port, ca, servername: 'localhost' });
      await once(s, 'secureConnect');
      s.destroy();
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    version: probe(exe).stdout.split('\n')[0] ?? '',
    stop: async () => {
      broker.kill('SIGTERM');
      await once(broker, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const vsIndex = process.argv.indexOf('--vs');
const vsDir = vsIndex > 0 ? process.argv[vsIndex + 1] : undefined;
const storeMode = process.argv.includes('--store');
const storeDirIndex = process.argv.indexOf('--store-dir');
const storeDir = storeDirIndex > 0 ? process.argv[storeDirIndex + 1] : storeMode ? tmpdir() : undefined;

function runChild(scenario, port, flags = []) {
  // 'vs-qos0' runs the other checkout's own bench file, which imports that checkout's build.
  const script = scenario.startsWith('vs-') ? join(vsDir, 'bench/e2e.mjs') : fileURLToPath(import.meta.url);
  const name = scenario.startsWith('vs-') ? scenario.slice(3) : scenario;
  const args = [...flags, script, '--run', name, String(port), ...(storeDir === undefined ? [] : [storeDir]), ...(quick ? ['--quick'] : [])];
  const out = execFileSync(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(out);
  if (scenario.startsWith('vs-')) result.name = `${result.name} (--vs)`;
  return result;
}

/**
 * What `import 'aliot-mqtt'` adds to the start of an ES module program: `node empty.mjs` against
 * `node app.mjs` where app.mjs imports the package by its name (both run the ESM loader, which a
 * module program pays for anyway), in interleaved runs so that a burst of load on the machine
 * hits both alike. Also the import alone, timed inside the process.
 */
function importCost() {
  const runs = quick ? 10 : 40;
  const dir = new URL('.bench/', root);
  mkdirSync(dir, { recursive: true });
  const empty = fileURLToPath(new URL('empty.mjs', dir));
  const app = fileURLToPath(new URL('import.mjs', dir));
  writeFileSync(empty, '');
  // Inside the package, so Node resolves the package's own name to its exports.
  writeFileSync(
    app,
    "const t0 = process.hrtime.bigint();\nawait import('aliot-mqtt');\nprocess.stdout.write(String(Number(process.hrtime.bigint() - t0) / 1e6));\n",
  );
  const time = (file) => {
    const t0 = process.hrtime.bigint();
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8' });
    return [Number(process.hrtime.bigint() - t0) / 1e6, Number(out)];
  };
  const bare = [];
  const loaded = [];
  const inside = [];
  for (let i = 0; i < runs; i++) {
    bare.push(time(empty)[0]);
    const [wall, importMs] = time(app);
    loaded.push(wall);
    inside.push(importMs);
  }
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return { bare: median(bare), loaded: median(loaded), inside: median(inside) };
}

/**
 * --store: QoS 1 with the memory store beside the file store with each fsync setting, interleaved,
 * each run in a fresh process; medians, and the file store's figures as ratios of the memory's.
 */
function storeBench() {
  const repeats = quick ? 1 : 5;
  // findmnt names ext4 as such; stat -f (macOS has no findmnt) says ext2/ext3 for it.
  const fsType = [['findmnt', ['-n', '-o', 'FSTYPE', '-T', storeDir]], ['stat', ['-f', '-c', '%T', storeDir]]]
    .map(([command, args]) => spawnSync(command, args, { encoding: 'utf8' }).stdout?.trim())
    .find((type) => type) ?? 'unknown';
  console.log(`medians of ${repeats} interleaved runs, each in a fresh process; store files in ${storeDir} (${fsType})`);
  console.log(`${MESSAGES.toLocaleString('en')} messages per run (fsync 'message': ${(MESSAGES / 10).toLocaleString('en')}), clean: false\n`);
  const runs = { 'store-memory': [], 'store-never': [], 'store-tick': [], 'store-message': [] };
  for (let r = 0; r < repeats; r++) for (const s of Object.keys(runs)) runs[s].push(runChild(s, broker.port));
  const medianOf = (list, key) => list.map((x) => x[key]).sort((a, b) => a - b)[list.length >> 1];
  const rows = Object.values(runs).map((list) => ({ name: list[0].name, perSecond: medianOf(list, 'perSecond'), cpu: medianOf(list, 'cpuPerMessageUs'), all: list }));
  const memory = rows[0];
  const pad = (s, n) => String(s).padStart(n);
  console.log(`${'scenario'.padEnd(30)}${pad('msgs/s', 10)}${pad('CPU µs/msg', 12)}${pad('CPU x', 8)}${pad('rate %', 8)}   runs (CPU µs/msg)`);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(30)}${pad(Math.round(r.perSecond).toLocaleString('en'), 10)}${pad(r.cpu.toFixed(2), 12)}${pad((r.cpu / memory.cpu).toFixed(2), 8)}${pad(
        ((r.perSecond / memory.perSecond) * 100).toFixed(0),
        8,
      )}   ${r.all.map((x) => x.cpuPerMessageUs.toFixed(1)).join(' ')}`,
    );
  }
}

const broker = await startBroker();
if (storeMode) {
  try {
    console.log(`aliot-mqtt durable outbox benchmark: Node.js ${process.version}, ${broker.version.trim()}, TLS on [::1], ${PAYLOAD.length} B payloads, at most ${WINDOW} unanswered`);
    storeBench();
  } finally {
    await broker.stop();
  }
  process.exit(0);
}
try {
  console.log(`aliot-mqtt end-to-end benchmark: Node.js ${process.version}, ${broker.version.trim()}`);
  console.log(`TLS on [::1], topic of ${TOPIC.length} characters, ${PAYLOAD.length} B payloads, ${MESSAGES.toLocaleString('en')} messages per run, at most ${WINDOW} unanswered`);
  console.log(`medians of ${quick ? 1 : 5} interleaved runs of each scenario, each run in a fresh process\n`);
  // Each scenario several times, interleaved, and the median kept: on a shared machine the
  // same run can differ by a third from one minute to the next, and interleaving lets a slow
  // spell hit every scenario alike.
  const repeats = quick ? 1 : 5;
  const compare = process.argv.includes('--compare');
  if (compare && (await loadMqttJs()) === undefined) throw new Error('run npm run bench:compare first: it installs MQTT.js into .bench/');
  const runs = compare ? { floor: [], qos0: [], qos1: [], 'mqttjs-qos0': [], 'mqttjs-qos1': [] } : { floor: [], qos0: [], qos1: [] };
  if (vsDir !== undefined) {
    runs['vs-qos0'] = [];
    runs['vs-qos1'] = [];
    console.log(`--vs: qos0 and qos1 also from ${vsDir}\n`);
  }
  for (let r = 0; r < repeats; r++) for (const s of Object.keys(runs)) runs[s].push(runChild(s, broker.port));
  const medianOf = (list, key) => list.map((x) => x[key]).sort((a, b) => a - b)[list.length >> 1];
  const rows = Object.values(runs).map((list) => ({
    name: list[0].name,
    perSecond: medianOf(list, 'perSecond'),
    cpuPerMessageUs: medianOf(list, 'cpuPerMessageUs'),
  }));
  const floorRow = rows[0];
  const pad = (s, n) => String(s).padStart(n);
  console.log(`${'scenario'.padEnd(36)}${pad('msgs/s', 10)}${pad('CPU µs/msg', 12)}${pad('vs floor', 10)}`);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(36)}${pad(Math.round(r.perSecond).toLocaleString('en'), 10)}${pad(r.cpuPerMessageUs.toFixed(2), 12)}${pad(
        r === floorRow ? '' : `${(r.cpuPerMessageUs / floorRow.cpuPerMessageUs).toFixed(2)}x`,
        10,
      )}`,
    );
  }
  const q0 = rows[1];
  console.log(`\nQoS 0 rate is ${((q0.perSecond / floorRow.perSecond) * 100).toFixed(0)}% of the floor's.`);

  const idleRow = runChild('idle', broker.port, ['--expose-gc']);
  const kib = (b) => (b / 1024).toFixed(2);
  console.log(`\n${idleRow.clients} idle connections in one process (after GC), per connection:`);
  console.log(`  bare TLS socket:            heap ${kib(idleRow.perBareHeap)} KiB, RSS ${kib(idleRow.perBareRss)} KiB`);
  console.log(`  connected MqttClient:       heap ${kib(idleRow.perClientHeap)} KiB, RSS ${kib(idleRow.perClientRss)} KiB`);
  console.log(`  client above bare socket:   heap ${kib(idleRow.perClientHeap - idleRow.perBareHeap)} KiB`);
  if (vsDir !== undefined) {
    const vsIdle = runChild('vs-idle', broker.port, ['--expose-gc']);
    console.log(`  the --vs build's client:    heap ${kib(vsIdle.perClientHeap)} KiB, ${kib(vsIdle.perClientHeap - vsIdle.perBareHeap)} KiB above its bare socket`);
  }

  const imp = importCost();
  console.log(
    `\nimport 'aliot-mqtt' adds ${(imp.loaded - imp.bare).toFixed(1)} ms to the start of an ES module program ` +
      `(${imp.bare.toFixed(1)} ms -> ${imp.loaded.toFixed(1)} ms, medians); the import itself takes ${imp.inside.toFixed(1)} ms inside the process`,
  );
} finally {
  await broker.stop();
}
