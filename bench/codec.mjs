// Codec benchmark: ns/op for encode and decode of the packets a platform device sends and
// receives most, each beside a floor (allocating and copying the same bytes), and the
// PacketDecoder's throughput over 16 KiB chunks.
//
//   npm run bench                   builds, then runs this file against the built package
//   node bench/codec.mjs --quick    fewer and shorter rounds, for a smoke check
//   npm run bench:compare           also measures mqtt-packet (the codec under MQTT.js) on the
//                                   same packets in the same run; it is installed into .bench/
//                                   for the comparison only, never a dependency of this package
//   node bench/codec.mjs --vs DIR   before/after: every figure of this checkout's build (A) and
//                                   of another built checkout in DIR (B; say a git worktree of
//                                   main), both loaded in one process per figure and timed round
//                                   by round, alternating, so that the machine's drift falls on
//                                   both alike; prints both and the median ratio of the rounds
//
// Method: every measurement runs in a fresh Node.js process, so one case's JIT feedback cannot
// slow down or speed up another's. In that process: a calibration that sizes a round to about
// ROUND_MS, untimed rounds for WARMUP_MS, then ROUNDS timed rounds. The table gives the median round's
// ns/op and the spread (fastest..slowest round).
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CASES, CHUNK, STREAM_PACKETS, caseRounds, streamRound } from './codec-workload.mjs';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 5 : 25;
const WARMUP_MS = quick ? 300 : 1500;
const ROUND_MS = quick ? 20 : 40;
const OPS = ['encode', 'encodeInto', 'decode', 'floor'];

// ------------------------------------------------------------------------------------------
// Child mode: one measurement, printed as JSON.

if (process.argv[2] === '--run') {
  const [, , , name, op] = process.argv;
  const codec = await import('aliot-mqtt');
  let result;
  if (op.startsWith('mqtt-packet ')) result = await runMqttPacket(codec, name, op.slice('mqtt-packet '.length));
  else result = name === 'stream' ? runStream(codec, op) : runCase(codec, name, op);
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

// Before/after in one process: this checkout's build (A) and another's (B), round by round.
if (process.argv[2] === '--run-vs') {
  const [, , , name, op, dir] = process.argv;
  const codecA = await import('aliot-mqtt');
  const codecB = await import(pathToFileURL(join(resolve(dir), 'dist', 'pkg', 'index.js')).href);
  // A copy of the timed loops for each build (see codec-workload.mjs).
  const workloadA = await import(new URL('./codec-workload.mjs?build=a', import.meta.url).href);
  const workloadB = await import(new URL('./codec-workload.mjs?build=b', import.meta.url).href);
  const roundOf = (workload, codec) => (name === 'stream' ? workload.streamRound(codec, op).round : workload.caseRounds(codec, name)[op]);
  process.stdout.write(JSON.stringify(timePaired(roundOf(workloadA, codecA), roundOf(workloadB, codecB))));
  process.exit(0);
}

/** mqtt-packet from .bench/ (see bench:compare), or undefined when it is not installed. */
async function loadMqttPacket() {
  const at = new URL('../.bench/node_modules/mqtt-packet/mqtt.js', import.meta.url);
  try {
    return (await import(at.href)).default;
  } catch {
    return undefined;
  }
}

/** Our packet objects in mqtt-packet's shape (`cmd` for `type`, `clientId`, `protocolVersion`...). */
function toMqttPacket(p) {
  if (p.type === 'connect') {
    return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: p.clean, clientId: p.clientId, keepalive: p.keepalive, username: p.username, password: p.password };
  }
  if (p.type === 'publish') {
    const out = { cmd: 'publish', topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup };
    if (p.qos > 0) out.messageId = p.packetId;
    return out;
  }
  return { cmd: p.type };
}

async function runMqttPacket({ encode }, name, op) {
  const mp = await loadMqttPacket();
  if (mp === undefined) throw new Error('mqtt-packet is not installed: run npm run bench:compare');
  let sink = 0;
  if (name === 'stream') {
    const one = encode(CASES['PUBLISH QoS 0, 64 B']());
    const stream = Buffer.alloc(one.length * STREAM_PACKETS);
    for (let i = 0; i < STREAM_PACKETS; i++) stream.set(one, i * one.length);
    const chunks = [];
    for (let i = 0; i < stream.length; i += CHUNK) chunks.push(stream.subarray(i, i + CHUNK));
    const result = timeRounds((n) => {
      for (let k = 0; k < n; k++) {
        const parser = mp.parser({ protocolVersion: 4 });
        let packets = 0;
        parser.on('packet', () => packets++);
        for (const c of chunks) parser.parse(c);
        if (packets !== STREAM_PACKETS) throw new Error(`mqtt-packet parsed ${packets} of ${STREAM_PACKETS}`);
        sink ^= packets;
      }
    });
    return { ...result, bytes: stream.length, packets: STREAM_PACKETS, frame: one.length, sink: sink & 1 };
  }
  const packet = toMqttPacket(CASES[name]());
  const frame = Buffer.from(encode(CASES[name]()));
  let round;
  if (op === 'encode') {
    round = (n) => {
      for (let i = 0; i < n; i++) sink ^= mp.generate(packet).length;
    };
  } else {
    // mqtt-packet parses through a stateful parser that emits 'packet': the way it is used.
    const parser = mp.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => (sink ^= p.cmd.length));
    round = (n) => {
      for (let i = 0; i < n; i++) parser.parse(frame);
    };
  }
  return { ...timeRounds(round), size: frame.length, sink: sink & 1 };
}

function timeRounds(round) {
  // Size a round: double the operation count until a round takes a quarter of ROUND_MS.
  let ops = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    round(ops);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= ROUND_MS / 4) {
      ops = Math.max(1, Math.round((ops * ROUND_MS) / ms));
      break;
    }
    ops *= 2;
  }
  // Warm up by time: on a small shared machine V8 can take most of a second to settle on its
  // optimised code, and rounds timed before that measure the compiler, not the codec.
  const warmUntil = Date.now() + WARMUP_MS;
  while (Date.now() < warmUntil) round(ops);
  const perOp = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    round(ops);
    perOp.push(Number(process.hrtime.bigint() - t0) / ops);
  }
  perOp.sort((a, b) => a - b);
  return { median: perOp[perOp.length >> 1], min: perOp[0], max: perOp[perOp.length - 1] };
}

/**
 * Times `roundA` and `roundB` alternately, round by round (which goes first alternates too), so
 * that the machine's drift and the process's state fall on both alike. Returns each one's ns/op
 * and the median of the rounds' ratios.
 */
function timePaired(roundA, roundB) {
  let ops = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    roundA(ops);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= ROUND_MS / 4) {
      ops = Math.max(1, Math.round((ops * ROUND_MS) / ms));
      break;
    }
    ops *= 2;
  }
  const time = (round) => {
    const t0 = process.hrtime.bigint();
    round(ops);
    return Number(process.hrtime.bigint() - t0) / ops;
  };
  const warmUntil = Date.now() + 2 * WARMUP_MS;
  while (Date.now() < warmUntil) {
    roundA(ops);
    roundB(ops);
  }
  const a = [];
  const b = [];
  for (let r = 0; r < 2 * ROUNDS; r++) {
    if (r % 2 === 0) {
      a.push(time(roundA));
      b.push(time(roundB));
    } else {
      b.push(time(roundB));
      a.push(time(roundA));
    }
  }
  const ratio = median(a.map((x, i) => x / b[i]));
  const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
  return { a: stats(a), b: stats(b), ratio };
}

function median(xs) {
  return [...xs].sort((x, y) => x - y)[xs.length >> 1];
}

function runCase(codec, name, op) {
  const size = codec.encode(CASES[name]()).length;
  const rounds = caseRounds(codec, name);
  const result = timeRounds(rounds[op]);
  return { ...result, size, sink: rounds.sink() & 1 };
}

function runStream(codec, op) {
  const { round, bytes, frame, sink } = streamRound(codec, op);
  // One "op" is one pass over the whole stream.
  const result = timeRounds(round);
  return { ...result, bytes, packets: STREAM_PACKETS, frame, sink: sink() & 1 };
}

// ------------------------------------------------------------------------------------------
// Parent mode: run every measurement in its own process and print the table.

const self = fileURLToPath(import.meta.url);
const runScript = (script, name, op) =>
  JSON.parse(execFileSync(process.execPath, [script, '--run', name, op, ...(quick ? ['--quick'] : [])], { encoding: 'utf8' }));
const run = (name, op) => runScript(self, name, op);

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const rate = (perSecond) =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
const line = (cells, widths) =>
  cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');

const vsAt = process.argv.indexOf('--vs');
if (vsAt >= 0) {
  const dir = process.argv[vsAt + 1];
  if (dir === undefined) {
    console.error('--vs needs the directory of another built checkout');
    process.exit(2);
  }
  console.log(`aliot-mqtt codec, this checkout (A) against ${resolve(dir)} (B): Node.js ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log(
    `each figure from its own process holding both builds: ${2 * WARMUP_MS} ms warm-up, then ${2 * ROUNDS} rounds of ~${ROUND_MS} ms, A and B alternating`,
  );
  console.log('ns/op medians (fastest round); A/B = median of the rounds\' ratios: below 1.00 A is faster\n');
  const widths = [30, 12, 18, 18, 6];
  console.log(line(['packet', 'operation', 'A ns/op', 'B ns/op', 'A/B'], widths));
  const both = (x) => `${fmt(x.median)} (${fmt(x.min)})`;
  const compare = (name, op, label) => {
    const argv = [self, '--run-vs', name, op, dir, ...(quick ? ['--quick'] : [])];
    const r = JSON.parse(execFileSync(process.execPath, argv, { encoding: 'utf8' }));
    console.log(line([label, op, both(r.a), both(r.b), r.ratio.toFixed(2)], widths));
  };
  for (const name of Object.keys(CASES)) for (const op of ['encode', 'encodeInto', 'decode']) compare(name, op, name);
  compare('stream', 'decode', 'PacketDecoder, 16 KiB chunks');
  process.exit(0);
}

console.log(`aliot-mqtt codec benchmark: Node.js ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`);
console.log(
  `each figure from its own process: ${WARMUP_MS} ms warm-up, then ${ROUNDS} timed rounds of ~${ROUND_MS} ms; median (fastest..slowest round)`,
);
console.log('floor = Buffer.allocUnsafe(n) and copying the same n bytes into it\n');
const widths = [30, 6, 18, 8, 14, 9];
console.log(line(['packet', 'bytes', 'operation', 'ns/op', 'spread', 'ops/s'], widths));
const compare = process.argv.includes('--compare') && (await loadMqttPacket()) !== undefined;
if (process.argv.includes('--compare') && !compare) {
  console.error('mqtt-packet is not installed in .bench/: run `npm run bench:compare`');
  process.exit(1);
}
const ops = compare ? [...OPS, 'mqtt-packet encode', 'mqtt-packet decode'] : OPS;
for (const name of Object.keys(CASES)) {
  let first = true;
  for (const op of ops) {
    const r = run(name, op);
    console.log(
      line([first ? name : '', first ? r.size : '', op, fmt(r.median), `${fmt(r.min)}..${fmt(r.max)}`, rate(1e9 / r.median)], widths),
    );
    first = false;
  }
}

console.log(`\nPacketDecoder: ${STREAM_PACKETS.toLocaleString('en')} PUBLISH QoS 0 frames of 64 B payload, in 16 KiB chunks`);
const sw = [30, 12, 9, 10, 16];
console.log(line(['', 'packets/s', 'MB/s', 'ms/pass', 'spread (ms)'], sw));
for (const op of compare ? ['decode', 'floor', 'mqtt-packet decode'] : ['decode', 'floor']) {
  const r = run('stream', op);
  const ms = r.median / 1e6;
  console.log(
    line(
      [
        op === 'decode' ? `push() all chunks` : op === 'floor' ? 'floor: copy the chunks' : 'mqtt-packet parser',
        op === 'floor' ? '' : rate(r.packets / (ms / 1e3)),
        (r.bytes / 1e6 / (ms / 1e3)).toFixed(0),
        ms.toFixed(2),
        `${(r.min / 1e6).toFixed(2)}..${(r.max / 1e6).toFixed(2)}`,
      ],
      sw,
    ),
  );
}
