// The codec benchmark's workload (bench/codec.mjs): a platform device's packets, and the timed
// loops over them for a given build of the codec. A module of its own so that a before/after run
// (codec.mjs --vs) can load a separate copy of these loops for each build: loops shared by two
// builds would see two callees at every call site and time neither as it runs alone.

// The topic is a 55-character Alink property post.
const productKey = 'a1B2c3D4e5F';
const deviceName = 'sensor-00001';
const topic = `/sys/${productKey}/${deviceName}/thing/event/property/post`;
if (topic.length !== 55) throw new Error(`topic is ${topic.length} characters, not 55`);

const connect = () => ({
  type: 'connect',
  clientId: `${productKey}.${deviceName}|securemode=2,signmethod=hmacsha256,timestamp=1764000000000|`,
  keepalive: 300,
  clean: true,
  username: `${deviceName}&${productKey}`,
  password: Buffer.from('5E1D0C5A4F3B2A1908F7E6D5C4B3A29180706F5E4D3C2B1A09F8E7D6C5B4A392', 'latin1'),
});
const publish = (qos, size) => () => ({
  type: 'publish',
  topic,
  payload: Buffer.alloc(size, 0x61),
  qos,
  retain: false,
  dup: false,
  packetId: qos > 0 ? 4242 : undefined,
});

export const CASES = {
  'CONNECT (platform credentials)': connect,
  'PUBLISH QoS 0, 64 B': publish(0, 64),
  'PUBLISH QoS 1, 64 B': publish(1, 64),
  'PUBLISH QoS 0, 1 KiB': publish(0, 1024),
  'PUBLISH QoS 1, 1 KiB': publish(1, 1024),
  'PUBLISH QoS 0, 64 KiB': publish(0, 65536),
  'PUBLISH QoS 1, 64 KiB': publish(1, 65536),
  PINGREQ: () => ({ type: 'pingreq' }),
};
export const STREAM_PACKETS = 100_000;
export const CHUNK = 16 * 1024;

/** The timed loop of each operation on one packet, for `codec`; `sink()` keeps the results alive. */
export function caseRounds({ encode, encodeInto, decode }, name) {
  const packet = CASES[name]();
  const frame = encode(packet);
  const size = frame.length;
  const target = new Uint8Array(size + 64);
  let sink = 0;
  return {
    sink: () => sink,
    encode: (n) => {
      for (let i = 0; i < n; i++) sink ^= encode(packet).length;
    },
    encodeInto: (n) => {
      for (let i = 0; i < n; i++) sink ^= encodeInto(packet, target, 16);
    },
    decode: (n) => {
      for (let i = 0; i < n; i++) sink ^= decode(frame).type.length;
    },
    // The floor: what allocating and filling the same number of bytes costs.
    floor: (n) => {
      for (let i = 0; i < n; i++) {
        const copy = Buffer.allocUnsafe(size);
        copy.set(frame);
        sink ^= copy[size >> 1];
      }
    },
  };
}

// Many 64 B QoS 0 PUBLISH frames back to back, cut into 16 KiB chunks wherever the cut falls,
// as a socket delivers them; the floor copies the same chunks. One op is one pass over the stream.
export function streamRound({ encode, PacketDecoder }, op) {
  const one = encode(CASES['PUBLISH QoS 0, 64 B']());
  const stream = new Uint8Array(one.length * STREAM_PACKETS);
  for (let i = 0; i < STREAM_PACKETS; i++) stream.set(one, i * one.length);
  const chunks = [];
  for (let i = 0; i < stream.length; i += CHUNK) chunks.push(stream.subarray(i, i + CHUNK));
  let sink = 0;
  const round =
    op === 'decode'
      ? (n) => {
          for (let k = 0; k < n; k++) {
            const decoder = new PacketDecoder({ maxPacketSize: 1 << 20 });
            let packets = 0;
            for (const c of chunks) packets += decoder.push(c).length;
            if (packets !== STREAM_PACKETS) throw new Error(`decoded ${packets} of ${STREAM_PACKETS} packets`);
            sink ^= packets;
          }
        }
      : (n) => {
          for (let k = 0; k < n; k++) {
            for (const c of chunks) {
              const copy = Buffer.allocUnsafe(c.length);
              copy.set(c);
              sink ^= copy[0];
            }
          }
        };
  return { round, bytes: stream.length, frame: one.length, sink: () => sink };
}
