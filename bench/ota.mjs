// OTA download throughput: downloadFirmware (streaming to disk, SHA-256 checked before it
// reports success) against curl fetching the same file from the same HTTPS server on [::1],
// both writing into the same directory.
//
//   npm run build && node bench/ota.mjs              256 MiB file, 5 interleaved pairs
//   node bench/ota.mjs --size 64 --pairs 3          a smaller run (size in MiB)
//
// Method: one HTTPS server in its own process (Node's https with the loopback certificate,
// fs.createReadStream with 1 MiB reads) serves one random file. Each pair runs curl
// (`curl -s --cacert certs/loopback/ca.pem -o FILE URL`, time from curl's own time_total) and a
// fresh Node.js process that calls downloadFirmware once (time measured around that call), in
// alternating order, so both see the same server and the same noise. The table gives each side's
// median MB/s and the median of the pair-by-pair ratios. Process start-up is excluded on both sides.
//
// The machine's load moves these figures a lot; for CPU seconds as well as wall time, time the two
// whole processes with farm-bench against a server left running (start-up then included):
//   farm-bench -n 8 --vs "curl -s --cacert certs/loopback/ca.pem -o /tmp/c.bin https://[::1]:PORT/" -- node client.mjs PORT
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const argument = (name, fallback) => {
  const index = process.argv.indexOf(name);
  return index < 0 ? fallback : Number(process.argv[index + 1]);
};
const SIZE_MIB = argument('--size', 256);
const PAIRS = argument('--pairs', 5);
const root = fileURLToPath(new URL('../', import.meta.url));
const ca = join(root, 'certs/loopback/ca.pem');

const work = mkdtempSync(join(tmpdir(), 'aliot-ota-bench-'));
const source = join(work, 'firmware.bin');
const size = SIZE_MIB * 1024 * 1024;
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
  var sha256 = hash.digest('hex');
}

// The server, in its own process.
const serverCode = `
  const https = require('node:https'), fs = require('node:fs'), path = require('node:path');
  const dir = ${JSON.stringify(join(root, 'certs/loopback'))};
  const file = ${JSON.stringify(source)};
  const size = fs.statSync(file).size;
  const server = https.createServer({ cert: fs.readFileSync(path.join(dir, 'server.pem')), key: fs.readFileSync(path.join(dir, 'server.key')) }, (req, res) => {
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream', etag: '"bench"' });
    fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
  });
  server.listen(0, '::1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;
const server = spawn(process.execPath, ['-e', serverCode], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  server.stdout.once('data', (data) => resolve(Number(String(data).trim())));
  server.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
});
const url = `https://[::1]:${port}/firmware.bin`;

// One download by downloadFirmware, in a fresh process; prints the seconds it took.
const clientCode = `
  const { downloadFirmware } = await import(${JSON.stringify(new URL('../dist/device/ota-download.js', import.meta.url).href)});
  const { readFileSync } = await import('node:fs');
  const started = performance.now();
  await downloadFirmware({
    file: { url: ${JSON.stringify(url)}, size: ${size}, signMethod: 'sha256', sign: ${JSON.stringify(sha256)} },
    destination: process.argv[1],
    ca: readFileSync(${JSON.stringify(ca)}, 'utf8'),
  });
  process.stdout.write(String((performance.now() - started) / 1000));
`;

function runAliot(index) {
  const destination = join(work, `aliot-${index}.bin`);
  const seconds = Number(execFileSync(process.execPath, ['--input-type=module', '-e', clientCode, destination], { encoding: 'utf8' }));
  if (statSync(destination).size !== size) throw new Error('downloadFirmware wrote a file of the wrong size');
  rmSync(destination);
  return size / seconds / 1e6;
}

function runCurl(index) {
  const destination = join(work, `curl-${index}.bin`);
  const seconds = Number(execFileSync('curl', ['-s', '--cacert', ca, '-o', destination, '-w', '%{time_total}', url], { encoding: 'utf8' }));
  if (statSync(destination).size !== size) throw new Error('curl wrote a file of the wrong size');
  rmSync(destination);
  return size / seconds / 1e6;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const aliot = [];
const curl = [];
try {
  runCurl('warm');
  runAliot('warm');
  for (let pair = 0; pair < PAIRS; pair += 1) {
    if (pair % 2 === 0) {
      curl.push(runCurl(pair));
      aliot.push(runAliot(pair));
    } else {
      aliot.push(runAliot(pair));
      curl.push(runCurl(pair));
    }
  }
} finally {
  server.kill();
  rmSync(work, { recursive: true, force: true });
}

const fmt = (values) => `${median(values).toFixed(0)} MB/s (${Math.min(...values).toFixed(0)}..${Math.max(...values).toFixed(0)})`;
console.log(`OTA download of a ${SIZE_MIB} MiB file over HTTPS on [::1], ${PAIRS} interleaved pairs, median (slowest..fastest):`);
console.log(`  curl ${execFileSync('curl', ['--version'], { encoding: 'utf8' }).split(' ')[1]} -o file        ${fmt(curl)}`);
console.log(`  downloadFirmware, sha256 on  ${fmt(aliot)}`);
const ratios = aliot.map((rate, pair) => rate / curl[pair]);
console.log(`  ratio, pair by pair          ${(100 * median(ratios)).toFixed(0)} % of curl (${ratios.map((r) => (100 * r).toFixed(0)).join(', ')})`);
