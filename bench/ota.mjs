// OTA download throughput: downloadFirmware (streaming to disk, SHA-256 checked before it
// reports success, fsync before the rename) against curl fetching the same file from the same
// HTTPS server on [::1], both writing into the same directory.
//
//   npm run bench:ota                                 256 MiB file, 5 interleaved pairs
//   node bench/ota.mjs --size 128 --pairs 9           (size in MiB)
//   node bench/ota.mjs --server standin               from the stand-in's own HTTPS server
//   node bench/ota.mjs --vs /tmp/old-checkout         also another build's downloadFirmware
//                                                     (its dist/, built), in the same rounds
//
// Method: one HTTPS server in its own process serves one random file: by default Node's https
// with the loopback certificate and fs.createReadStream (1 MiB reads); with --server standin,
// the stand-in's HTTPS server (aliot emulator's, what OTA jobs are served by). Each pair runs
// curl (`curl -s --cacert certs/loopback/ca.pem -o FILE URL`, time from curl's own time_total,
// CPU from /usr/bin/time) and a fresh Node.js process that calls downloadFirmware once (time and
// process.cpuUsage() around that call), in alternating order, so both see the same server and
// the same noise. The table gives each side's median MB/s and CPU seconds, and the median of the
// pair-by-pair ratios. Process start-up is excluded on both sides (curl's CPU includes its own,
// a few milliseconds).
//
// With --vs, each round runs curl, this build and the other build in an order that rotates, and
// the table adds the other build and the ratio of the two builds round by round.
//
// The machine's load moves these figures a lot; the CPU seconds move less than the rates.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const argument = (name, fallback) => {
  const index = process.argv.indexOf(name);
  return index < 0 ? fallback : process.argv[index + 1];
};
const SIZE_MIB = Number(argument('--size', 256));
const PAIRS = Number(argument('--pairs', 5));
const SERVER = argument('--server', 'node');
const VS = argument('--vs', undefined);
if (SERVER !== 'node' && SERVER !== 'standin') throw new Error('--server is node or standin');
const root = fileURLToPath(new URL('../', import.meta.url));
const ca = join(root, 'certs/loopback/ca.pem');

const work = mkdtempSync(join(tmpdir(), 'aliot-ota-bench-'));
const source = join(work, 'firmware.bin');
const size = SIZE_MIB * 1024 * 1024;
let sha256;
{
  const hash = createHash('sha256');
  const block = 4 * 1024 * 1024;
  const chunks = [];
  for (let written = 0; written < size; written += block) {
    const chunk = randomBytes(Math.min(block, size - written));
    hash.update(chunk);
    chunks.push(chunk);
  }
  writeFileSync(source, Buffer.concat(chunks));
  sha256 = hash.digest('hex');
}

// The server, in its own process; it prints the file's URL.
const nodeServer = `
  const https = require('node:https'), fs = require('node:fs'), path = require('node:path');
  const dir = ${JSON.stringify(join(root, 'certs/loopback'))};
  const file = ${JSON.stringify(source)};
  const size = fs.statSync(file).size;
  const server = https.createServer({ cert: fs.readFileSync(path.join(dir, 'server.pem')), key: fs.readFileSync(path.join(dir, 'server.key')) }, (req, res) => {
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream', etag: '"bench"' });
    fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
  });
  server.listen(0, '::1', () => process.stdout.write('https://[::1]:' + server.address().port + '/firmware.bin\\n'));
`;
const standinServer = `
  const { startEmulator } = await import(${JSON.stringify(new URL('../dist/emulator/index.js', import.meta.url).href)});
  const device = { productKey: 'a1Bench', deviceName: 'bench', deviceSecret: 'bench-secret' };
  const emulator = await startEmulator({ devices: [device], httpPort: 0 });
  const job = await emulator.pushOtaJob({ ...device, version: '2', file: ${JSON.stringify(source)}, signMethod: 'sha256' });
  process.stdout.write(job.url + '\\n');
`;
const server =
  SERVER === 'node'
    ? spawn(process.execPath, ['-e', nodeServer], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, ['--input-type=module', '-e', standinServer], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  server.stdout.once('data', (data) => resolve(String(data).trim()));
  server.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
});

// One download by downloadFirmware, in a fresh process; prints seconds and CPU seconds.
const clientCode = `
  const { downloadFirmware } = await import(process.argv[1]);
  const { readFileSync } = await import('node:fs');
  const caPem = readFileSync(${JSON.stringify(ca)}, 'utf8');
  const cpu = process.cpuUsage();
  const started = performance.now();
  await downloadFirmware({
    file: { url: ${JSON.stringify(url)}, size: ${size}, signMethod: 'sha256', sign: ${JSON.stringify(sha256)} },
    destination: process.argv[2],
    ca: caPem,
  });
  const used = process.cpuUsage(cpu);
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 }));
`;

const thisBuild = new URL('../dist/device/ota-download.js', import.meta.url).href;
const otherBuild = VS === undefined ? undefined : pathToFileURL(join(VS, 'dist/device/ota-download.js')).href;

function runAliot(index, build = thisBuild) {
  const destination = join(work, `aliot-${index}.bin`);
  const { seconds, cpu } = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', clientCode, build, destination], { encoding: 'utf8' }));
  if (statSync(destination).size !== size) throw new Error('downloadFirmware wrote a file of the wrong size');
  rmSync(destination);
  return { rate: size / seconds / 1e6, cpu };
}

function runCurl(index) {
  const destination = join(work, `curl-${index}.bin`);
  const result = spawnSync('/usr/bin/time', ['-f', '%U %S', 'curl', '-s', '--cacert', ca, '-o', destination, '-w', '%{time_total}', url], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`curl failed: ${result.stderr}`);
  const seconds = Number(result.stdout);
  const [user, system] = result.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  if (statSync(destination).size !== size) throw new Error('curl wrote a file of the wrong size');
  rmSync(destination);
  return { rate: size / seconds / 1e6, cpu: user + system };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const aliot = [];
const curl = [];
const other = [];
try {
  runCurl('warm');
  runAliot('warm');
  if (otherBuild !== undefined) runAliot('warm', otherBuild);
  const contenders = [() => curl.push(runCurl('c')), () => aliot.push(runAliot('a'))];
  if (otherBuild !== undefined) contenders.push(() => other.push(runAliot('o', otherBuild)));
  for (let pair = 0; pair < PAIRS; pair += 1) {
    const first = pair % contenders.length;
    for (const run of [...contenders.slice(first), ...contenders.slice(0, first)]) run();
  }
} finally {
  server.kill();
  rmSync(work, { recursive: true, force: true });
}

const rates = (runs) => runs.map((run) => run.rate);
const fmt = (runs) =>
  `${median(rates(runs)).toFixed(0)} MB/s (${Math.min(...rates(runs)).toFixed(0)}..${Math.max(...rates(runs)).toFixed(0)}), CPU ${median(runs.map((run) => run.cpu)).toFixed(2)} s`;
console.log(`OTA download of a ${SIZE_MIB} MiB file over HTTPS on [::1] from the ${SERVER === 'node' ? 'Node https' : "stand-in's HTTPS"} server, ${PAIRS} interleaved pairs, median (slowest..fastest):`);
console.log(`  curl ${execFileSync('curl', ['--version'], { encoding: 'utf8' }).split(' ')[1]} -o file        ${fmt(curl)}`);
console.log(`  downloadFirmware, sha256 on  ${fmt(aliot)}`);
const ratios = aliot.map((run, pair) => run.rate / curl[pair].rate);
console.log(`  ratio, pair by pair          ${(100 * median(ratios)).toFixed(0)} % of curl (${ratios.map((r) => (100 * r).toFixed(0)).join(', ')})`);
if (otherBuild !== undefined) {
  console.log(`  the other build (${VS})  ${fmt(other)}`);
  const againstCurl = other.map((run, pair) => run.rate / curl[pair].rate);
  console.log(`  the other build, by round    ${(100 * median(againstCurl)).toFixed(0)} % of curl`);
  const builds = aliot.map((run, pair) => run.rate / other[pair].rate);
  console.log(`  this build / the other       ${median(builds).toFixed(2)}x (${builds.map((r) => r.toFixed(2)).join(', ')})`);
}
