/**
 * The stand-in's OTA side, spoken to with a bare MQTT client: jobs pushed or queued, the file on
 * its HTTPS server, version reports and progress moving the job's state as the platform moves it,
 * firmware queries, cancellation, and the faults a test can ask it to serve.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFirmwareGetReply, parseOtaJob, serviceTopic } from '../../src/aliyun/index.js';
import { EmulatorError } from '../../src/emulator/index.js';
import type { Emulator, OtaJobEvent } from '../../src/emulator/index.js';
import type { PublishPacket } from '../../src/packet/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { connected, subscribe, sync } from './raw-client.js';
import type { RawClient } from './raw-client.js';
import { emulatorPerTest, LAMP, SENSOR } from './fixtures.js';

const start = emulatorPerTest();
const FILE = randomBytes(200_000);
const md5 = createHash('md5').update(FILE).digest('hex');
const sha256 = createHash('sha256').update(FILE).digest('hex');

const upgrade = serviceTopic('ota-upgrade', LAMP);
const inform = serviceTopic('ota-inform', LAMP);
const progress = serviceTopic('ota-progress', LAMP);
const firmwareGet = serviceTopic('ota-firmware-get', LAMP);
const firmwareGetReply = serviceTopic('ota-firmware-get', LAMP, { reply: true });

function send(client: RawClient, topic: string, payload: string | object): void {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  client.send({ type: 'publish', topic, payload: Buffer.from(text), qos: 0, retain: false, dup: false });
}

/** The next PUBLISH on `topic`, acknowledging QoS 1 ones on the way. */
async function receive(client: RawClient, topic: string): Promise<PublishPacket> {
  for (;;) {
    const packet = await client.next('publish');
    if (packet.qos === 1) client.send({ type: 'puback', packetId: packet.packetId! });
    if (packet.topic === topic) return packet;
  }
}

/** A lamp online and subscribed to its upgrade topic and firmware-query replies. */
async function lampOnline(emulator: Emulator): Promise<RawClient> {
  const lamp = await connected(emulator, LAMP);
  await subscribe(lamp, 1, [upgrade, 1], [firmwareGetReply, 1]);
  return lamp;
}

function fetch(url: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { ca, servername: 'localhost', headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

const stateOf = (emulator: Emulator, id: number): string | undefined => emulator.otaJobs().find((job) => job.id === id)?.state;

describe('OTA jobs on the stand-in', () => {
  it('pushes a job to an online, subscribed device (NOTIFIED), in the platform’s format, and serves its file over HTTPS', async () => {
    const emulator = await start();
    const lamp = await lampOnline(emulator);
    const events: OtaJobEvent[] = [];
    emulator.on('ota', (event) => events.push(event));
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2.0.0', file: FILE, extData: { note: 'x' } });
    expect(job).toMatchObject({ id: 1, module: 'default', version: '2.0.0', size: FILE.length, signMethod: 'md5', sign: md5, state: 'NOTIFIED', notices: 1 });
    const pushed = await receive(lamp, upgrade);
    const message = parseOtaJob(pushed.payload);
    expect(message).toMatchObject({ id: '1', code: '1000', message: 'success' });
    expect(message.job).toMatchObject({ version: '2.0.0', size: FILE.length, signMethod: 'md5', sign: md5, url: job.url, module: 'default', extData: { note: 'x' } });
    expect(JSON.parse(Buffer.from(pushed.payload).toString()).data.md5).toBe(md5);
    expect(job.url).toMatch(new RegExp(`^https://\\[::1\\]:${emulator.https!.port}/ota/1/[0-9a-f]{16}/firmware\\.bin$`));
    const file = await fetch(job.url, emulator.https!.ca);
    expect(file.status).toBe(200);
    expect(file.body.equals(FILE)).toBe(true);
    const part = await fetch(job.url, emulator.https!.ca, { range: 'bytes=150000-' });
    expect(part.status).toBe(206);
    expect(part.body.equals(FILE.subarray(150_000))).toBe(true);
    expect(emulator.otaJobs()[0]!.downloads).toBe(2);
    expect(events.map((e) => [e.change, e.job.state])).toEqual([
      ['created', 'QUEUED'],
      ['notified', 'NOTIFIED'],
    ]);
  });

  it('queues a job for an offline device, and pushes it when the device reports a version for the module', async () => {
    const emulator = await start();
    const job = await emulator.pushOtaJob({ ...SENSOR, module: 'MCU', version: '1.1', file: FILE, signMethod: 'sha256' });
    expect(job.state).toBe('QUEUED');
    const sensor = await connected(emulator, SENSOR);
    const sensorUpgrade = serviceTopic('ota-upgrade', SENSOR);
    await subscribe(sensor, 1, [sensorUpgrade, 1]);
    // A version for another module brings nothing; one for MCU brings the job.
    send(sensor, serviceTopic('ota-inform', SENSOR), { id: '1', params: { version: '0.1' } });
    await sync(sensor);
    expect(stateOf(emulator, job.id)).toBe('QUEUED');
    send(sensor, serviceTopic('ota-inform', SENSOR), { id: '2', params: { version: '1.0', module: 'MCU' } });
    const pushed = parseOtaJob((await receive(sensor, sensorUpgrade)).payload);
    expect(pushed.job).toMatchObject({ module: 'MCU', version: '1.1', signMethod: 'sha256', sign: sha256 });
    expect(stateOf(emulator, job.id)).toBe('NOTIFIED');
    expect(emulator.otaVersions(SENSOR.productKey, SENSOR.deviceName)).toEqual({ default: '0.1', MCU: '1.0' });
  });

  it('progress moves the job to IN_PROGRESS and is recorded; the job’s version reported means SUCCEEDED', async () => {
    const emulator = await start();
    const lamp = await lampOnline(emulator);
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2.0.0', file: FILE });
    send(lamp, progress, { id: '5', params: { step: '10', desc: '' } });
    send(lamp, progress, { id: '6', params: { step: 55, desc: 'half' } });
    send(lamp, progress, { id: '7', params: { step: '100', desc: '' } });
    await sync(lamp);
    const now = emulator.otaJobs()[0]!;
    expect(now.state).toBe('IN_PROGRESS');
    expect(now.progress.map(({ step, desc }) => [step, desc])).toEqual([
      [10, ''],
      [55, 'half'],
      [100, ''],
    ]);
    // Reporting the old version again (a restart) pushes the job again; the new one ends it.
    send(lamp, inform, { id: '8', params: { version: '1.0.0' } });
    await receive(lamp, upgrade);
    await receive(lamp, upgrade);
    expect(emulator.otaJobs()[0]!.notices).toBe(2);
    send(lamp, inform, { id: '9', params: { version: '2.0.0' } });
    await sync(lamp);
    expect(stateOf(emulator, job.id)).toBe('SUCCEEDED');
    expect((await fetch(job.url, emulator.https!.ca)).status).toBe(404);
  });

  it('a negative step fails the job (the file is no longer served); progress for other modules or unreadable is ignored', async () => {
    const emulator = await start();
    const lamp = await lampOnline(emulator);
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2.0.0', file: FILE });
    send(lamp, progress, { id: '1', params: { step: '-3', desc: 'bad digest', module: 'wifi' } });
    send(lamp, progress, '{"id":"2","params":{"step":"101"}}');
    send(lamp, progress, 'not json');
    await sync(lamp);
    expect(stateOf(emulator, job.id)).toBe('NOTIFIED');
    send(lamp, progress, { id: '3', params: { step: '-2', desc: 'disk full' } });
    await sync(lamp);
    const failed = emulator.otaJobs()[0]!;
    expect(failed.state).toBe('FAILED');
    expect(failed.progress.at(-1)).toMatchObject({ step: -2, desc: 'disk full' });
    expect((await fetch(job.url, emulator.https!.ca)).status).toBe(404);
    // A failed job is over: a new one may be made for the module.
    expect((await emulator.pushOtaJob({ ...LAMP, version: '2.0.1', file: FILE })).state).toBe('NOTIFIED');
  });

  it('answers thing.ota.firmware.get with the open job of the module, or empty data', async () => {
    const emulator = await start();
    const lamp = await lampOnline(emulator);
    send(lamp, firmwareGet, { id: '11', version: '1.0', params: {}, method: 'thing.ota.firmware.get' });
    const none = parseFirmwareGetReply((await receive(lamp, firmwareGetReply)).payload);
    expect(none).toMatchObject({ ok: true, id: '11', code: 200, data: undefined });
    const job = await emulator.pushOtaJob({ ...LAMP, module: 'MCU', version: '3', file: FILE });
    await receive(lamp, upgrade);
    // The C SDK's form: no method, a numeric id.
    send(lamp, firmwareGet, '{"id":12,"params":{"module":"MCU"}}');
    const answer = parseFirmwareGetReply((await receive(lamp, firmwareGetReply)).payload);
    expect(answer).toMatchObject({ ok: true, id: '12', data: { module: 'MCU', version: '3', url: job.url, sign: md5 } });
    expect(emulator.otaJobs()[0]!.notices).toBe(2);
  });

  it('one open job per device and module; cancelling ends it and stops serving its file', async () => {
    const emulator = await start();
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    await expect(emulator.pushOtaJob({ ...LAMP, version: '3', file: FILE })).rejects.toMatchObject({ code: 'ota-job-active' });
    expect((await emulator.pushOtaJob({ ...LAMP, module: 'MCU', version: '3', file: FILE })).state).toBe('QUEUED');
    expect(emulator.cancelOtaJob(job.id).state).toBe('CANCELED');
    expect((await fetch(job.url, emulator.https!.ca)).status).toBe(404);
    expect(emulator.cancelOtaJob(job.id).state).toBe('CANCELED');
    expect(() => emulator.cancelOtaJob(99)).toThrow(EmulatorError);
    expect((await emulator.pushOtaJob({ ...LAMP, version: '3', file: FILE })).id).toBe(3);
  });

  it('announces another size or digest when asked (to test a device’s checks), and serves the file from a path', async () => {
    const emulator = await start();
    const dir = mkdtempSync(join(tmpdir(), 'aliot-ota-file-'));
    try {
      const path = join(dir, 'lamp fw v2.bin');
      writeFileSync(path, FILE);
      const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: path, size: 10, sign: 'AB'.repeat(16) });
      expect(job).toMatchObject({ size: 10, sign: 'ab'.repeat(16) });
      expect(job.url).toMatch(/\/lamp_fw_v2\.bin$/);
      expect((await fetch(job.url, emulator.https!.ca)).body.equals(FILE)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve.dropAfter cuts the first answer after that many bytes; a resume gets the rest', async () => {
    const emulator = await start();
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, serve: { dropAfter: 50_000 } });
    await expect(fetch(job.url, emulator.https!.ca)).rejects.toThrow();
    const rest = await fetch(job.url, emulator.https!.ca, { range: 'bytes=40000-' });
    expect(rest.body.equals(FILE.subarray(40_000))).toBe(true);
    expect(emulator.otaJobs()[0]!.downloads).toBe(2);
  });

  it('serve.bytesPerSecond paces the file on the stand-in’s clock', async () => {
    const clock = new VirtualClock();
    const emulator = await start({ clock });
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, serve: { bytesPerSecond: 50_000 } });
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      const request = httpsRequest(job.url, { ca: emulator.https!.ca, servername: 'localhost', agent: false }, (response) => {
        response.on('data', (chunk: Buffer) => (received += chunk.length));
        response.on('end', resolve);
      });
      request.on('error', reject);
      request.end();
    });
    // 5,000 bytes every 100 ms of the clock, and not a byte without it: 200,000 bytes take 4 s.
    for (let tick = 1; tick <= FILE.length / 5_000; tick += 1) {
      await expect.poll(() => clock.pending()).toBeGreaterThan(0);
      expect(received).toBe(5_000 * (tick - 1));
      clock.advance(100);
      await expect.poll(() => received).toBe(5_000 * tick);
    }
    await done;
    expect(received).toBe(FILE.length);
    expect(clock.now()).toBe(4_000);
  });

  it('checks its options: an unknown device, an empty or unreadable file, a bad digest or method', async () => {
    const emulator = await start();
    const cases: [string, Record<string, unknown>][] = [
      ['deviceName', { productKey: LAMP.productKey, deviceName: 'nobody' }],
      ['file', { file: Buffer.alloc(0) }],
      ['file', { file: '/nonexistent/fw.bin' }],
      ['file', { file: 42 }],
      ['sign', { sign: 'xyz' }],
      ['signMethod', { signMethod: 'sha1' }],
      ['version', { version: '' }],
      ['size', { size: 0 }],
    ];
    for (const [field, change] of cases) {
      const error = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, ...change } as never).catch((e: unknown) => e);
      expect(error, field).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field, JSON.stringify(change)).toBe(field);
    }
    expect(emulator.otaJobs()).toEqual([]);
    expect(emulator.https).toBeUndefined();
  });
});

describe('the HTTPS server of the stand-in', () => {
  it('starts with the emulator on httpPort, over plain-TCP MQTT too (with the loopback certificate), and closes with it', async () => {
    const emulator = await start({ httpPort: 0, tls: false });
    expect(emulator.https).toMatchObject({ url: `https://[::1]:${emulator.https!.port}` });
    expect(emulator.https!.ca).toContain('BEGIN CERTIFICATE');
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    expect((await fetch(job.url, emulator.https!.ca)).status).toBe(200);
    await emulator.close();
    await expect(fetch(job.url, emulator.https!.ca)).rejects.toThrow(/ECONNREFUSED/);
    await expect(emulator.pushOtaJob({ ...LAMP, version: '3', file: FILE })).rejects.toMatchObject({ code: 'closed' });
  });

  it('refuses a bad httpPort, and a host that is not the loopback, before listening', async () => {
    await expect(start({ httpPort: 70_000 })).rejects.toThrow(ConfigurationError);
    await expect(start({ httpPort: 0, host: '::' })).rejects.toThrow(/loopback only/);
  });
});
