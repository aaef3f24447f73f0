// PacketDecoder memory: what a frame that arrives a few bytes at a time costs while it is held.
//
//   npm run bench:memory                      builds, then runs this file against the built package
//   node --expose-gc bench/decoder-memory.mjs [--size BYTES] [--chunk BYTES]
//
// A PUBLISH frame of --size bytes (default 1 MiB) is pushed in --chunk-byte pieces (default 1),
// each piece a fresh Uint8Array as a socket delivers them. Before the last piece, after a full
// garbage collection, the heap and the ArrayBuffer memory the process holds are measured against
// the same measurement taken before the first piece: that difference is what the decoder keeps
// for the partial frame. The run also times the pushes (ns per byte), for frames of a quarter and
// of the full size, so that a cost growing faster than the frame shows as a rising ns/byte.
//
// Exits 1 when the decoder holds more than twice the frame's size (the target of issue 10).
import { PacketDecoder, encode } from 'aliot-mqtt';

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc (npm run bench:memory does)');
  process.exit(2);
}
const gc = globalThis.gc;

const arg = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
};
const SIZE = arg('--size', 1 << 20);
const CHUNK = arg('--chunk', 1);

/** A PUBLISH QoS 0 frame of exactly `size` bytes (topic "t", the rest payload). */
function frameOf(size) {
  // 1 type byte, the Remaining Length (1..4 bytes), 3 topic bytes, payload.
  for (let rl = 1; rl <= 4; rl++) {
    const payload = size - 1 - rl - 3;
    const frame = encode({ type: 'publish', topic: 't', payload: new Uint8Array(payload).fill(0x61), qos: 0, retain: false, dup: false });
    if (frame.length === size) return { frame, payload };
  }
  throw new Error(`no PUBLISH frame of exactly ${size} bytes`);
}

/** Bytes of heap and of ArrayBuffer memory (Buffers, Uint8Arrays) the process holds, after a full GC. */
function held() {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function run(size, chunk) {
  const { frame, payload } = frameOf(size);
  const decoder = new PacketDecoder({ maxPacketSize: size });
  const before = held();
  const t0 = process.hrtime.bigint();
  let last = 0;
  for (let i = 0; i + chunk < size; i += chunk) {
    // A fresh chunk each time, as a socket hands over a new Buffer per read.
    if (decoder.push(new Uint8Array(frame.subarray(i, i + chunk))).length !== 0) throw new Error('a packet before the frame was complete');
    last = i + chunk;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const kept = held() - before;
  const packets = decoder.push(new Uint8Array(frame.subarray(last)));
  if (packets.length !== 1 || packets[0].payload.length !== payload) throw new Error('the frame did not decode');
  return { kept, nsPerByte: ns / last };
}

const mib = (n) => `${(n / (1 << 20)).toFixed(2)} MiB`;
console.log(`PacketDecoder memory: Node.js ${process.version}; a PUBLISH frame pushed in ${CHUNK}-byte chunks, each a fresh Uint8Array`);
console.log('held = heap + ArrayBuffer memory after a full GC, before the last chunk, minus the same before the first\n');
run(64 * 1024, CHUNK); // warm-up, not shown: the first figures would time the JIT compiler
let worst = 0;
for (const size of [SIZE >> 2, SIZE]) {
  const r = run(size, CHUNK);
  const ratio = r.kept / size;
  if (size === SIZE) worst = ratio;
  console.log(`frame ${mib(size).padStart(9)}: held ${mib(r.kept).padStart(10)} = ${ratio.toFixed(2).padStart(6)}x the frame, ${r.nsPerByte.toFixed(1).padStart(7)} ns per byte pushed`);
}
const ok = worst <= 2;
console.log(`\n${ok ? 'ok' : 'FAIL'}: the ${mib(SIZE)} frame held ${worst.toFixed(2)}x its size (target: at most 2x)`);
process.exit(ok ? 0 : 1);
