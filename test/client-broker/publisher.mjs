// A publishing process for the SIGKILL test (store-kill.test.ts): a plain program on the built
// package (dist/pkg, as a user imports it; `npm test` builds first), publishing QoS 1 messages
// with a file store to mosquitto until it is killed.
//
//   node publisher.mjs <port> <dir> <clientId> <topic> <seed> <first> run|drain <clean 0|1>
//
// run:   publishes 1..20 messages a tick, numbered from <first> (the payload is the number, 8
//        digits, then filler), from the moment the client is made (the first ones while it
//        connects, so offline), pausing while more than 2,000 are unacknowledged. Until killed.
// drain: publishes 100 messages numbered from <first>, waits for them and for every restored
//        message to be acknowledged, prints "drained", ends the client and exits.
//
// Lines (one write syscall each, straight to the pipe, so that a kill cannot lose a line the
// process had printed; see test/store/child.mjs):
//   open <n>              the client was made; n messages restored from the store
//   connack <0|1>         a CONNACK arrived (before what is sent on its connection); 1 when the
//                         broker kept the session
//   send <n> <dup> <id>   a PUBLISH of message n went into the socket's next write
//   puback <id>           a PUBACK arrived, printed before the client handles it (and so before
//                         the store hears of it: from here on a kill may or may not keep it)
//   accepted <n>          publish() of message n had returned and the tick has ended
//   acked <n>             its promise resolved (PUBACK), and that tick has ended
//   rejected <n> <code>   its promise rejected
//   restored <a> <r>      the restored event
//   error <code> <text>   the error event
import { existsSync, readFileSync, writeSync } from 'node:fs';

const build = new URL('../../dist/pkg/index.js', import.meta.url);
if (!existsSync(build)) {
  process.stderr.write('dist/pkg/index.js is missing: run `npm run build` first\n');
  process.exit(2);
}
const { MqttClient, fileStore } = await import(build.href);

const [port, dir, clientId, topic, seed, first, mode, clean] = process.argv.slice(2);
const say = (line) => writeSync(1, `${line}\n`);

function prng(value) {
  let a = value >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(Number(seed));
const payloadOf = (n) => `${String(n).padStart(8, '0')}:${'x'.repeat(n % 50)}`;
const numberOf = (payload) => Number(Buffer.from(payload).toString('ascii', 0, 8));

const client = new MqttClient({
  host: '::1',
  port: Number(port),
  ca: readFileSync(new URL('../../certs/loopback/ca.pem', import.meta.url), 'utf8'),
  family: 6,
  clientId,
  clean: clean === '1',
  store: fileStore(dir),
  reconnect: { initialDelay: 20, maxDelay: 200 },
  offlineQueueSize: 100_000,
});
say(`open ${client.restoredCount}`);
client.on('packetreceive', (packet) => {
  if (packet.type === 'connack') say(`connack ${packet.sessionPresent ? 1 : 0}`);
  else if (packet.type === 'puback') say(`puback ${packet.packetId}`);
});
client.on('error', (error) => say(`error ${error.code ?? error.name} ${error.message.replace(/\n/g, ' ')}`));
client.on('restored', (acknowledged, refused) => say(`restored ${acknowledged} ${refused}`));
client.on('packetsend', (packet) => {
  if (packet.type === 'publish') say(`send ${numberOf(packet.payload)} ${packet.dup ? 1 : 0} ${packet.packetId}`);
});
client.connect().catch(() => undefined); // the client keeps trying; errors are on 'error'

let next = Number(first);
const pending = new Set();

function publishOne() {
  const n = next++;
  const state = { n, settled: undefined };
  pending.add(n);
  client.publish(topic, payloadOf(n), { qos: 1 }).then(
    () => {
      pending.delete(n);
      setImmediate(() => say(`acked ${n}`));
    },
    (error) => {
      pending.delete(n);
      state.settled = 'rejected';
      say(`rejected ${n} ${error.code ?? error.name}`);
    },
  );
  return state;
}

if (mode === 'drain') {
  for (let i = 0; i < 100; i++) publishOne();
  const check = () => {
    if (pending.size === 0 && client.restoredCount === 0) {
      say('drained');
      client.end().then(() => process.exit(0));
    } else setTimeout(check, 20);
  };
  check();
} else {
  const tick = () => {
    if (client.queuedCount + client.inflightCount > 2000) {
      setTimeout(tick, 5);
      return;
    }
    const count = 1 + Math.floor(random() * 20);
    const published = [];
    for (let i = 0; i < count; i++) published.push(publishOne());
    setImmediate(() => {
      // The tick that accepted them has ended (a refusal would have rejected by now).
      const accepted = published.filter((p) => p.settled === undefined).map((p) => `accepted ${p.n}`);
      if (accepted.length > 0) say(accepted.join('\n'));
      tick();
    });
  };
  tick();
}
