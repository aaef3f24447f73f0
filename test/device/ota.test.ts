/**
 * createOta end to end: a device against the stand-in on [::1], jobs pushed by the stand-in's
 * test API, files over its HTTPS server; the faults of issue 11 (a wrong digest or size, a
 * download cut half way, a full disk, a job for an unknown module, a job that cannot be read),
 * cancelling, closing and resuming after a restart.
 */
import { once } from 'node:events';
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceTopic } from '../../src/aliyun/index.js';
import { connectDevice, createOta, DeviceError, OtaError } from '../../src/device/index.js';
import type { Device, DeviceOta, OtaFirmware, OtaOptions, OtaProgress } from '../../src/device/index.js';
import type { Emulator, HttpLogEntry, OtaJobState } from '../../src/emulator/index.js';
import { ConfigurationError } from '../../src/shared/errors.js';
import { emulatorPerTest, LAMP } from '../emulator/fixtures.js';
import { mountTmpfs, unmountTmpfs } from '../support/tmpfs.js';

const start = emulatorPerTest();
const FILE = randomBytes(600_000);
const md5 = createHash('md5').update(FILE).digest('hex');

let dir: string;
const devices: Device[] = [];
const agents: DeviceOta[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aliot-ota-agent-'));
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((ota) => ota.close()));
  await Promise.all(devices.splice(0).map((device) => device.end({ force: true })));
  rmSync(dir, { recursive: true, force: true });
});

async function online(emulator: Emulator, options: Partial<OtaOptions> = {}): Promise<{ device: Device; ota: DeviceOta }> {
  const device = await connectDevice({ ...LAMP, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca, reconnect: { initialDelay: 10 } });
  devices.push(device);
  const ota = await createOta(device, { directory: dir, modules: { default: '1.0.0' }, ca: emulator.ca, retryDelay: 1, ...options });
  agents.push(ota);
  return { device, ota };
}

/** Resolves once job `id` on the stand-in is in `state`. */
function untilState(emulator: Emulator, id: number, state: OtaJobState): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => emulator.otaJobs().find((job) => job.id === id)?.state === state;
    if (check()) return resolve();
    const listener = (): void => {
      if (!check()) return;
      emulator.off('ota', listener);
      resolve();
    };
    emulator.on('ota', listener);
  });
}

async function failure(ota: DeviceOta): Promise<OtaError> {
  const [error] = (await once(ota, 'failed')) as [OtaError];
  return error;
}

/** The progress steps the device reported for job `id`. */
const steps = (emulator: Emulator, id: number): number[] => emulator.otaJobs().find((job) => job.id === id)!.progress.map((p) => p.step);

describe('createOta: a job from push to installed', () => {
  it('reports versions, downloads a pushed job, reports progress in 5 % steps and 100, then the new version', async () => {
    const emulator = await start();
    const { ota } = await online(emulator, { modules: { default: '1.0.0', MCU: '0.9' } });
    expect(emulator.otaVersions(LAMP.productKey, LAMP.deviceName)).toEqual({ default: '1.0.0', MCU: '0.9' });
    const progress: OtaProgress[] = [];
    ota.on('progress', (p) => progress.push(p));
    const jobEvent = once(ota, 'job');
    const downloaded = once(ota, 'downloaded') as Promise<[OtaFirmware]>;
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2.0.0', file: FILE });
    expect((await jobEvent)[0]).toMatchObject({ version: '2.0.0', sign: md5 });
    const [firmware] = await downloaded;
    expect(firmware).toMatchObject({ module: 'default', version: '2.0.0', path: join(dir, 'default@2.0.0.bin'), size: FILE.length, signMethod: 'md5', digest: md5 });
    expect(readFileSync(firmware.path).equals(FILE)).toBe(true);
    expect(readdirSync(dir)).toEqual(['default@2.0.0.bin']);
    expect(ota.task()).toMatchObject({ status: 'downloaded', path: firmware.path });
    expect(progress.at(-1)).toMatchObject({ module: 'default', version: '2.0.0', percent: 100 });
    await untilState(emulator, job.id, 'IN_PROGRESS');
    await expect.poll(() => steps(emulator, job.id).at(-1)).toBe(100);
    const reported = steps(emulator, job.id);
    expect(reported.slice(0, -1).every((step, i, all) => step > 0 && step < 100 && (i === 0 || step - all[i - 1]! >= 5))).toBe(true);
    expect(reported.length).toBeLessThanOrEqual(21);
    // The program installs it when it chooses, and says so.
    await ota.reportVersion('2.0.0');
    await untilState(emulator, job.id, 'SUCCEEDED');
    expect(ota.versions()).toEqual({ default: '2.0.0', MCU: '0.9' });
    expect(ota.task()).toBeUndefined();
  });

  it('a SHA-256 job for a named module, with autoDownload off: waits for download()', async () => {
    const emulator = await start();
    const { ota } = await online(emulator, { modules: { default: '1', MCU: '0.9' }, autoDownload: false });
    const jobEvent = once(ota, 'job');
    await emulator.pushOtaJob({ ...LAMP, module: 'MCU', version: '1.0', file: FILE, signMethod: 'sha256' });
    await jobEvent;
    expect(ota.task('MCU')).toMatchObject({ status: 'waiting', module: 'MCU' });
    expect(emulator.otaJobs()[0]!.downloads).toBe(0);
    const firmware = await ota.download('MCU');
    expect(firmware).toMatchObject({ module: 'MCU', version: '1.0', signMethod: 'sha256', path: join(dir, 'MCU@1.0.bin') });
    await expect(ota.download('default')).rejects.toThrow(ConfigurationError);
  });

  it('asks for a waiting job with check(): the job comes in the reply and downloads; no job: undefined', async () => {
    const emulator = await start();
    const { ota } = await online(emulator, { modules: { default: '1', MCU: '0.9' } });
    expect(await ota.check()).toBeUndefined();
    const job = await emulator.pushOtaJob({ ...LAMP, module: 'MCU', version: '1.0', file: FILE });
    const downloaded = once(ota, 'downloaded');
    expect(await ota.check('MCU')).toMatchObject({ module: 'MCU', version: '1.0', url: job.url });
    await downloaded;
    expect(emulator.otaJobs()[0]!.downloads).toBe(1); // the push and the reply: one download
  });

  it('check() without an answer: DeviceError reply-timeout', async () => {
    const emulator = await start();
    const { device, ota } = await online(emulator, { replyTimeout: 100 });
    await device.client.unsubscribe(serviceTopic('ota-firmware-get', LAMP, { reply: true }));
    await expect(ota.check()).rejects.toMatchObject({ code: 'reply-timeout' });
    await expect(ota.check()).rejects.toBeInstanceOf(DeviceError);
  });

  it('a job for the version the module runs already is answered with the version, not downloaded', async () => {
    const emulator = await start();
    await online(emulator, { modules: { default: '2.0.0' } });
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2.0.0', file: FILE });
    await untilState(emulator, job.id, 'SUCCEEDED');
    expect(emulator.otaJobs()[0]!.downloads).toBe(0);
  });

  it('the same job pushed again is not downloaded twice; a downloaded one is reported at 100 again', async () => {
    const emulator = await start();
    const { device, ota } = await online(emulator);
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, serve: { bytesPerSecond: 2_000_000 } });
    await once(ota, 'progress');
    // A version report makes the stand-in push the open job again, mid-download.
    await device.client.publish(serviceTopic('ota-inform', LAMP), '{"id":"90","params":{"version":"1.0.0"}}', { qos: 1 });
    await once(ota, 'downloaded');
    const hundreds = (): number => steps(emulator, job.id).filter((s) => s === 100).length;
    await expect.poll(hundreds).toBe(1);
    await device.client.publish(serviceTopic('ota-inform', LAMP), '{"id":"91","params":{"version":"1.0.0"}}', { qos: 1 });
    await expect.poll(hundreds).toBe(2);
    expect(emulator.otaJobs()[0]!.downloads).toBe(1);
  });

  it('after a reconnect, it reports its versions again (and the stand-in pushes an open job again)', async () => {
    const emulator = await start();
    const { device } = await online(emulator, { autoDownload: false });
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    await untilState(emulator, job.id, 'NOTIFIED');
    // A second login of the same device kicks this one off; it comes back by itself.
    const { RawClient } = await import('../emulator/raw-client.js');
    const { connectPacket } = await import('../emulator/raw-client.js');
    const intruder = await RawClient.open(emulator);
    intruder.send(connectPacket(LAMP, { sign: { secureMode: 2 } }));
    await once(device.client, 'connect');
    await expect.poll(() => emulator.otaJobs()[0]!.notices).toBe(2);
    intruder.socket.destroy();
  });
});

describe('createOta: the faults of issue 11', () => {
  it('a download cut half way is resumed with Range, and the file is whole', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const log: HttpLogEntry[] = [];
    emulator.on('http', (entry) => log.push(entry));
    await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, serve: { dropAfter: 250_000 } });
    const [firmware] = (await once(ota, 'downloaded')) as [OtaFirmware];
    expect(firmware.resumes).toBe(1);
    expect(readFileSync(firmware.path).equals(FILE)).toBe(true);
    expect(log.map((entry) => [entry.status, entry.complete])).toEqual([
      [200, false],
      [206, true],
    ]);
  });

  it('a file whose digest is not the job’s: digest-mismatch, step -3 reported, no file left', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, sign: '0'.repeat(32) });
    const error = await failure(ota);
    expect(error).toBeInstanceOf(OtaError);
    expect(error).toMatchObject({ code: 'digest-mismatch', step: -3, module: 'default', version: '2' });
    expect((error.cause as Error).name).toBe('OtaDownloadError');
    await untilState(emulator, job.id, 'FAILED');
    expect(emulator.otaJobs()[0]!.progress.at(-1)).toMatchObject({ step: -3 });
    expect(emulator.otaJobs()[0]!.progress.at(-1)!.desc).toMatch(/md5 is [0-9a-f]{32}, the job says 0{32}/);
    expect(readdirSync(dir)).toEqual([]);
    expect(ota.task()).toBeUndefined();
  });

  it('a file of another size than the job says: size-mismatch, step -3, no file left', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, size: FILE.length - 1 });
    expect(await failure(ota)).toMatchObject({ code: 'size-mismatch', step: -3 });
    await untilState(emulator, job.id, 'FAILED');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a job for a module the device does not have: unknown-module, step -1 reported, nothing fetched', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const job = await emulator.pushOtaJob({ ...LAMP, module: 'wifi', version: '2', file: FILE });
    const error = await failure(ota);
    expect(error).toMatchObject({ code: 'unknown-module', step: -1, module: 'wifi' });
    expect(error.message).toContain('it has default');
    await untilState(emulator, job.id, 'FAILED');
    expect(emulator.otaJobs()[0]!.progress.at(-1)!.desc).toContain('"wifi"');
    expect(emulator.otaJobs()[0]!.downloads).toBe(0);
  });

  it('a push that is not JSON: an error event, nothing reported, nothing lost', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const errors: OtaError[] = [];
    ota.on('error', (error) => errors.push(error));
    await emulator.publish(serviceTopic('ota-upgrade', LAMP), '{"code":"1000","data":', 1);
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]).toMatchObject({ code: 'malformed-job', module: undefined, step: undefined });
    expect(errors[0]!.cause).toMatchObject({ name: 'PlatformPayloadError', code: 'invalid-json' });
  });

  it('a job with a malformed field for one of its modules: reported failed (-1), so that it does not hang', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const progress: string[] = [];
    emulator.on('packet', ({ direction, packet }) => {
      if (direction === 'in' && packet.type === 'publish' && packet.topic === serviceTopic('ota-progress', LAMP)) progress.push(Buffer.from(packet.payload).toString());
    });
    const failed = failure(ota);
    const bad = { code: '1000', id: 7, message: 'success', data: { size: 10, version: '2', url: 'https://[::1]/f', signMethod: 'MD5', sign: 'xyz', md5: 'xyz' } };
    await emulator.publish(serviceTopic('ota-upgrade', LAMP), JSON.stringify(bad), 1);
    const error = await failed;
    expect(error).toMatchObject({ code: 'malformed-job', module: 'default', step: -1 });
    expect(error.message).toContain('data.sign');
    await expect.poll(() => progress.length).toBe(1);
    expect(JSON.parse(progress[0]!).params).toMatchObject({ step: '-1' });
  });

  it('a job whose file comes over MQTT: unsupported-job, step -1', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const mqttJob = { code: '1000', id: 8, message: 'success', data: { size: 10, version: '2', signMethod: 'Md5', sign: md5, dProtocol: 'mqtt', streamId: 5, streamFileId: 1 } };
    await emulator.publish(serviceTopic('ota-upgrade', LAMP), JSON.stringify(mqttJob), 1);
    expect(await failure(ota)).toMatchObject({ code: 'unsupported-job', step: -1 });
  });

  it('a progress listener that throws ends the download: handler-failed, reported -1, no file left', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    ota.on('progress', () => {
      throw new Error('the display broke');
    });
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    const error = await failure(ota);
    expect(error).toMatchObject({ code: 'handler-failed', step: -1 });
    expect(error.message).toContain('the display broke');
    await untilState(emulator, job.id, 'FAILED');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a version that tries to climb out of the directory is made a plain file name', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    await emulator.pushOtaJob({ ...LAMP, version: '../../../../tmp/evil', file: FILE });
    const [firmware] = (await once(ota, 'downloaded')) as [OtaFirmware];
    expect(firmware.path).toBe(join(dir, 'default@_._.._.._.._tmp_evil.bin'));
    expect(readdirSync(dir)).toEqual(['default@_._.._.._.._tmp_evil.bin']);
  });
});

describe('createOta: cancelling, replacing, closing, resuming after a restart', () => {
  it('cancel() mid-download: stops, reports -1, leaves no half file', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, serve: { bytesPerSecond: 200_000 } });
    await once(ota, 'progress');
    const failed = failure(ota);
    expect(await ota.cancel()).toBe(true);
    expect(await failed).toMatchObject({ code: 'cancelled', step: -1 });
    await untilState(emulator, job.id, 'FAILED');
    expect(readdirSync(dir)).toEqual([]);
    expect(await ota.cancel()).toBe(false);
  });

  it('fail() after a download: the program’s burn failure is reported (-4)', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    await once(ota, 'downloaded');
    const failed = failure(ota);
    await ota.fail(-4, 'flash write error at 0x8000');
    expect(await failed).toMatchObject({ code: 'install-failed', step: -4 });
    await untilState(emulator, job.id, 'FAILED');
    expect(emulator.otaJobs()[0]!.progress.at(-1)).toMatchObject({ step: -4, desc: 'flash write error at 0x8000' });
    await expect(ota.fail(-3 as never, 'x')).rejects.toThrow(ConfigurationError);
  });

  it('a newer job for the module replaces one under way: superseded, its partial removed, the new one downloaded', async () => {
    const emulator = await start();
    const { ota } = await online(emulator);
    const first = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, serve: { bytesPerSecond: 200_000 } });
    await once(ota, 'progress');
    emulator.cancelOtaJob(first.id);
    const failed = failure(ota);
    const other = randomBytes(1000);
    await emulator.pushOtaJob({ ...LAMP, version: '3', file: other });
    expect(await failed).toMatchObject({ code: 'superseded', version: '2', step: undefined });
    const [firmware] = (await once(ota, 'downloaded')) as [OtaFirmware];
    expect(firmware.version).toBe('3');
    expect(readdirSync(dir)).toEqual(['default@3.bin']);
  });

  it('close() mid-download keeps the partial; after a restart the same job resumes with Range', async () => {
    const emulator = await start();
    const first = await online(emulator);
    const log: HttpLogEntry[] = [];
    emulator.on('http', (entry) => log.push(entry));
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE, serve: { bytesPerSecond: 300_000, drops: 0 } });
    // Until a few blocks are on disk (the writer writes 1 MiB blocks, and flushes on close).
    await new Promise<void>((resolve) => first.ota.on('progress', (p) => p.received > 100_000 && resolve()));
    await first.ota.close();
    await first.device.end();
    const partials = readdirSync(dir);
    expect(partials).toHaveLength(1);
    expect(partials[0]).toMatch(/^default@2\.bin\.[0-9a-f]{16}\.part$/);
    // The "restarted" program: a new connection, a new agent; the stand-in pushes the open job again.
    emulator.cancelOtaJob(job.id);
    const again = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    const second = await online(emulator);
    const [firmware] = (await once(second.ota, 'downloaded')) as [OtaFirmware];
    expect(readFileSync(firmware.path).equals(FILE)).toBe(true);
    expect(log.at(-1)).toMatchObject({ status: 206, complete: true });
    expect(readdirSync(dir)).toEqual(['default@2.bin']);
    expect(again.url).not.toBe(job.url);
  });

  it('a file downloaded and verified before a restart, not installed yet, is not fetched again', async () => {
    const emulator = await start();
    writeFileSync(join(dir, 'default@2.bin'), FILE);
    const { ota } = await online(emulator);
    await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    const [firmware] = (await once(ota, 'downloaded')) as [OtaFirmware];
    expect(firmware).toMatchObject({ path: join(dir, 'default@2.bin'), digest: md5, resumes: 0 });
    expect(emulator.otaJobs()[0]!.downloads).toBe(0);
  });

  it('a file of the same name that is not the job’s is fetched again and replaced', async () => {
    const emulator = await start();
    writeFileSync(join(dir, 'default@2.bin'), Buffer.alloc(FILE.length));
    const { ota } = await online(emulator);
    await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    const [firmware] = (await once(ota, 'downloaded')) as [OtaFirmware];
    expect(readFileSync(firmware.path).equals(FILE)).toBe(true);
    expect(emulator.otaJobs()[0]!.downloads).toBe(1);
  });

  it('stale partials of the module from other jobs are swept when a download starts', async () => {
    const emulator = await start();
    writeFileSync(join(dir, 'default@1.5.bin.0123456789abcdef.part'), 'old');
    writeFileSync(join(dir, 'MCU@1.bin.0123456789abcdef.part'), 'another module');
    writeFileSync(join(dir, 'notes.txt'), 'the program’s own');
    const { ota } = await online(emulator);
    await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    await once(ota, 'downloaded');
    expect(readdirSync(dir).sort()).toEqual(['MCU@1.bin.0123456789abcdef.part', 'default@2.bin', 'notes.txt']);
  });

  it('ends with the device', async () => {
    const emulator = await start();
    const { device, ota } = await online(emulator);
    await device.end();
    await expect(ota.close()).resolves.toBeUndefined();
  });
});

describe('createOta: options', () => {
  it('checks every option before any I/O', async () => {
    const emulator = await start();
    const device = await connectDevice({ ...LAMP, endpoint: { host: '::1', port: emulator.port }, ca: emulator.ca });
    devices.push(device);
    const cases: [string, Partial<OtaOptions>][] = [
      ['directory', { directory: join(dir, 'missing') }],
      ['directory', { directory: '' }],
      ['modules', { modules: {} }],
      ['modules', { modules: [] as never }],
      ['modules.default', { modules: { default: '' } }],
      ['autoDownload', { autoDownload: 'yes' as never }],
      ['progressStep', { progressStep: 0 }],
      ['retries', { retries: -1 }],
      ['minBytesPerSecond', { minBytesPerSecond: 1.5 }],
      ['replyTimeout', { replyTimeout: 0 }],
      ['family', { family: 5 as never }],
      ['connectTimeout', { connectTimeout: 0 }],
    ];
    for (const [field, change] of cases) {
      const error = await createOta(device, { directory: dir, modules: { default: '1' }, ...change }).catch((e: unknown) => e);
      expect(error, field).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe(field);
    }
    await expect(createOta({} as never, { directory: dir, modules: { default: '1' } })).rejects.toThrow(ConfigurationError);
    expect(emulator.otaVersions(LAMP.productKey, LAMP.deviceName)).toEqual({});
  });
});

const tmpfs = mountTmpfs('512k', 'aliot-ota-tmpfs-');
describe.runIf(tmpfs !== undefined)('createOta: a disk that fills up (a 512 KiB tmpfs)', () => {
  const disk = tmpfs!;
  afterAll(() => unmountTmpfs(disk));
  afterEach(() => {
    for (const name of readdirSync(disk)) rmSync(join(disk, name), { recursive: true, force: true });
  });
  it.sequential('a file larger than the free space: disk-full, step -2, before any byte is fetched', async () => {
    const emulator = await start();
    const { ota } = await online(emulator, { directory: disk });
    const job = await emulator.pushOtaJob({ ...LAMP, version: '2', file: FILE });
    expect(await failure(ota)).toMatchObject({ code: 'disk-full', step: -2 });
    await untilState(emulator, job.id, 'FAILED');
    expect(emulator.otaJobs()[0]!.downloads).toBe(0);
    expect(readdirSync(disk)).toEqual([]);
  });

  it.sequential('a disk that fills up while the file is written (ENOSPC): disk-full, step -2, the partial removed', async () => {
    const emulator = await start();
    const small = randomBytes(300_000);
    const { ota } = await online(emulator, { directory: disk });
    await emulator.pushOtaJob({ ...LAMP, version: '2', file: small, serve: { bytesPerSecond: 400_000 } });
    await once(ota, 'progress');
    // Another program takes the room meanwhile.
    mkdirSync(join(disk, 'other'));
    try {
      writeFileSync(join(disk, 'other', 'log'), Buffer.alloc(400_000));
    } catch {
      // filled to the last byte
    }
    const error = await failure(ota);
    expect(error).toMatchObject({ code: 'disk-full', step: -2 });
    expect(((error.cause as Error).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(readdirSync(disk)).toEqual(['other']);
  });
});
