// Gateway benchmark: a gateway with 1,000 logged-in sub-devices against the local stand-in over
// TLS on [::1].
//
//   npm run bench:gateway               builds, then runs this file against the built package
//   node bench/gateway.mjs --quick      fewer posts and rounds, for a smoke check
//   node bench/gateway.mjs --sub-devices 2000 --posts 40000 --rounds 7
//
// The stand-in runs in a child process of its own, so that its work is not counted; the client
// runs in another fresh child (started with --expose-gc), which measures:
//   login  the time from loginAll(1,000 sub-devices) to its promise resolving, the first time:
//          20 batch logins of 50, one after the other, each signed per sub-device and checked by
//          the stand-in.
//   heap   V8 heap used after a full GC, before and after the logins (the credentials already
//          exist before, as a program's own data), divided by the number of sub-devices; and
//          once more after a round of posts from every sub-device. What grows with the posts in
//          flight, the packet layer's bounded topic caches and V8's compiled code for these paths
//          (a first login, post and logout of all) are there before the baseline.
//   post   client CPU time (user + system, GC included, process.cpuUsage()) per property post
//          that resolves with its reply: a sub-device's post through the gateway, and a plain
//          device's post (connectDevice) in the same process, in alternating rounds, at the same
//          QoS and with the same number of posts in flight. Medians of the rounds.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(name);
  return at < 0 ? fallback : Number(argv[at + 1]);
};
const quick = argv.includes('--quick');
const SUB_DEVICES = option('--sub-devices', 1000);
const POSTS = option('--posts', quick ? 4000 : 20_000);
const ROUNDS = option('--rounds', quick ? 3 : 5);
const WINDOW = 500; // posts in flight at once
const root = new URL('../', import.meta.url);
const CA = readFileSync(fileURLToPath(new URL('certs/loopback/ca.pem', root)), 'utf8');
const GATEWAY = { productKey: 'a1BenchGw', deviceName: 'gw1', deviceSecret: 'gw1-secret' };
const PLAIN = { productKey: 'a1BenchPk', deviceName: 'plain', deviceSecret: 'plain-secret' };
const subDevices = (n) =>
  Array.from({ length: n }, (_, i) => ({ productKey: 'a1BenchSub', deviceName: `meter${String(i + 1).padStart(5, '0')}`, deviceSecret: `meter-secret-${i + 1}` }));

// ------------------------------------------------------------------------------------------
// The stand-in, in its own process: prints its port, runs until its stdin closes.

if (argv[0] === '--serve') {
  const { startEmulator } = await import('aliot-mqtt/emulator');
  const subs = subDevices(SUB_DEVICES);
  const emulator = await startEmulator({
    devices: [GATEWAY, PLAIN, ...subs],
    topology: [{ gateway: GATEWAY, subDevices: subs.map(({ productKey, deviceName }) => ({ productKey, deviceName })) }],
  });
  process.stdout.write(`${emulator.port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void emulator.close().then(() => process.exit(0)));
}

// ------------------------------------------------------------------------------------------
// The client, in its own process: prints its figures as JSON.

if (argv[0] === '--client') {
  const port = Number(argv[1]);
  const { connectDevice, connectGateway, decode, encode } = await import('aliot-mqtt');
  const endpoint = { host: '::1', port };
  const credentials = subDevices(SUB_DEVICES);
  const gateway = await connectGateway({ ...GATEWAY, endpoint, ca: CA, replyTimeout: 60_000 });
  const plain = await connectDevice({ ...PLAIN, endpoint, ca: CA, replyTimeout: 60_000 });
  const heapNow = () => {
    globalThis.gc();
    globalThis.gc();
    return process.memoryUsage().heapUsed;
  };

  /** CPU microseconds per post for `count` posts made by `post(i)`, `WINDOW` at a time. */
  const measure = async (count, post) => {
    let next = 0;
    const cpu = process.cpuUsage();
    const worker = async () => {
      while (next < count) await post(next++);
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: WINDOW }, worker));
    const wall = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    return { cpuUs: (used.user + used.system) / count, rate: count / (wall / 1000) };
  };
  let subs = [];
  const rounds = (qos) => ({
    sub: (count) => measure(count, (i) => subs[i % subs.length].postProperties({ Power: i, Voltage: 230.1 }, { qos })),
    plain: (count) => measure(count, (i) => plain.postProperties({ Power: i, Voltage: 230.1 }, { qos })),
  });

  // What grows with the number of posts in flight (the clients' in-flight tables, the reply
  // tables, timers) grows before the baseline, so that the heap figures are the sub-devices' own.
  await measure(4 * WINDOW, (i) => plain.postProperties({ Power: i }, { qos: 1 }));
  await measure(4 * WINDOW, (i) => gateway.device.postProperties({ Power: i }, { qos: 1 }));
  // The packet layer remembers the wire form of up to 1,024 topics sent and 512 received,
  // process-wide: a fixed cost, filled here to its bound (topics as long as the sub-devices')
  // so that it neither grows nor shrinks while the sub-devices post.
  const heapEmptyCaches = heapNow();
  const fill = Array.from({ length: 1024 }, (_, i) => `/a1BenchPk/plain/user/fill/abcdefghijklmnopq${String(i).padStart(5, '0')}`);
  await Promise.all(fill.map((topic) => plain.client.publish(topic, 'x')));
  // The stand-in, as the platform, sends a device none of its own messages back: the received
  // topics are filled by decoding, which goes through the same process-wide cache.
  for (const topic of fill) decode(encode({ type: 'publish', topic, payload: new Uint8Array(1), qos: 0, retain: false, dup: false }));
  const heapCaches = heapNow();

  // The first login, as a program meets it: timed.
  const started = performance.now();
  subs = await gateway.loginAll(credentials);
  const loginMs = performance.now() - started;
  const online = gateway.onlineCount;
  // A post from each and a logout of all compile what the measured pass runs, so that the heap
  // figures below hold the sub-devices' own state, not V8's compiled code.
  await rounds(1).sub(subs.length);
  await gateway.logoutAll(credentials);
  subs = []; // the handles of the first pass go: logged out, nobody holds them
  const heapBefore = heapNow();
  subs = await gateway.loginAll(credentials);
  const heapAfter = heapNow();
  await rounds(1).sub(subs.length);
  const heapUsed = heapNow();
  await rounds(1).plain(subs.length);
  const results = {};
  for (const qos of [1, 0]) {
    const run = rounds(qos);
    const sub = [];
    const device = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternating, so that the machine's noise falls on both alike.
      sub.push(await run.sub(POSTS));
      device.push(await run.plain(POSTS));
    }
    results[`qos${qos}`] = { sub, device };
  }
  await gateway.end();
  await plain.end();
  process.stdout.write(
    JSON.stringify({
      loginMs,
      topicCaches: heapCaches - heapEmptyCaches,
      heapPerSubDevice: (heapAfter - heapBefore) / SUB_DEVICES,
      heapPerSubDeviceAfterPosts: (heapUsed - heapBefore) / SUB_DEVICES,
      online,
      results,
    }),
  );
  process.exit(0);
}

// ------------------------------------------------------------------------------------------
// The parent: starts both, prints the figures.

if (argv[0] !== '--serve' && argv[0] !== '--client') {
  const script = fileURLToPath(import.meta.url);
  const server = spawn(process.execPath, [script, '--serve', '--sub-devices', String(SUB_DEVICES)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    server.on('exit', (code) => reject(new Error(`the stand-in exited with ${code}`)));
  });
  const client = spawn(
    process.execPath,
    ['--expose-gc', '--no-flush-bytecode', script, '--client', String(port), '--sub-devices', String(SUB_DEVICES), '--posts', String(POSTS), '--rounds', String(ROUNDS)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  client.stdout.on('data', (chunk) => (out += chunk));
  const code = await new Promise((resolve) => client.on('exit', resolve));
  server.stdin.end();
  if (code !== 0) throw new Error(`the client exited with ${code}`);
  const figures = JSON.parse(out);
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const line = (label, value) => console.log(`${label.padEnd(46)} ${value}`);
  console.log(`gateway with ${SUB_DEVICES} sub-devices against the stand-in over TLS on [::1] (node ${process.version})`);
  line(`login of ${figures.online} sub-devices (batches of 50)`, `${figures.loginMs.toFixed(0)} ms`);
  line('heap per logged-in sub-device', `${figures.heapPerSubDevice.toFixed(0)} B`);
  line('heap per sub-device, after a post from each', `${figures.heapPerSubDeviceAfterPosts.toFixed(0)} B`);
  line("  (the packet layer's topic caches, full)", `${(figures.topicCaches / 1024).toFixed(0)} KiB in all, before the sub-devices`);
  for (const qos of ['qos1', 'qos0']) {
    const { sub, device } = figures.results[qos];
    const subCpu = median(sub.map((r) => r.cpuUs));
    const deviceCpu = median(device.map((r) => r.cpuUs));
    line(`client CPU per post, ${qos.toUpperCase()}: sub-device / device`, `${subCpu.toFixed(1)} / ${deviceCpu.toFixed(1)} us = ${(subCpu / deviceCpu).toFixed(2)}x`);
    line(`  rounds (sub-device)`, sub.map((r) => r.cpuUs.toFixed(1)).join(' '));
    line(`  rounds (device)`, device.map((r) => r.cpuUs.toFixed(1)).join(' '));
    line(`  posts per second: sub-device / device`, `${median(sub.map((r) => r.rate)).toFixed(0)} / ${median(device.map((r) => r.rate)).toFixed(0)}`);
  }
}
