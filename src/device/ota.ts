/**
 * OTA for a connected device: report each module's firmware version, take the platform's
 * upgrade jobs (pushed on `/ota/device/upgrade/{pk}/{dn}`, or asked for with
 * `thing.ota.firmware.get`), download and verify their files with {@link downloadFirmware},
 * report progress and failures with the platform's steps, and hand the verified file to the
 * program, which installs it when it chooses and reports the new version.
 *
 * The protocol, as the C Link SDK 4.x documents it (`components/ota/aiot_ota_api.h`) and
 * help.aliyun.com/document_detail/85700 describes it: a device must report its version before
 * the platform pushes it jobs; it downloads the file itself; progress goes up as a percentage;
 * the platform counts the job done only when the device reports the job's version. The C SDK's
 * demo (`demos/fota_basic_demo.c`) reports progress each time it has grown by 5 % and at 100 %,
 * which is this module's default too; -1..-4 report failures (`OTA_FAILURE`).
 *
 * What happens to files: a job's file goes to `${directory}/${module}@${version}.${ext}`,
 * written as a partial file that is renamed only once its size and digest match. A failed or
 * cancelled job leaves nothing behind; a job stopped by {@link DeviceOta.close} (or a process
 * that died) leaves its partial, and the same job, pushed again after a restart, resumes it.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { debug, nodeFs } from '../shared/builtins.js';
import type { Clock } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireText } from '../shared/validate.js';
import { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { PendingReplies } from '../aliyun/alink/pending.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import { DEFAULT_OTA_MODULE, buildFirmwareGet, buildOtaProgress, buildOtaVersion, parseFirmwareGetReply, parseOtaJob } from '../aliyun/ota/ota.js';
import type { OtaJob } from '../aliyun/ota/ota.js';
import { serviceTopic } from '../aliyun/service-topics.js';
import type { PlatformReply } from '../aliyun/wire/envelope.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import { DEFAULT_REPLY_TIMEOUT } from './device-options.js';
import type { Device } from './device-types.js';
import { AlinkReplyError, DeviceError } from './errors.js';
import type { ConnectionChoices } from './https-request.js';
import { MAX_TIMER, resolveTarget } from './https-request.js';
import { discardPartial, downloadFirmware, OtaDownloadError, partialPath } from './ota-download.js';
import type { DownloadProgress } from './ota-download.js';
import { OtaError } from './ota-errors.js';
import { firmwareName, rmQuietly, safeName, verifiedFile } from './ota-files.js';
import type { DeviceOta, DeviceOtaEvents, OtaFirmware, OtaOptions, OtaTask, OtaTaskStatus } from './ota-types.js';

export type { DeviceOta, DeviceOtaEvents, OtaFirmware, OtaOptions, OtaProgress, OtaTask, OtaTaskStatus } from './ota-types.js';

/**
 * Starts OTA on a connected device: subscribes to its upgrade topic and firmware-query replies,
 * reports every module's version, and takes jobs from then on. Every option is checked before
 * any I/O.
 *
 * @example
 * const ota = await createOta(device, { directory: '/var/lib/fw', modules: { default: '1.0.0' } });
 * ota.on('downloaded', async (firmware) => {
 *   await flash(firmware.path);                  // the program decides when
 *   await ota.reportVersion(firmware.version);   // the platform counts the upgrade done
 * });
 * ota.on('failed', (error) => log(error.code, error.message));
 * @throws ConfigurationError for a bad option or a directory that does not exist.
 */
export async function createOta(device: Device, options: OtaOptions): Promise<DeviceOta> {
  const plan = await checkOptions(device, options);
  const ota = new Ota(device, plan);
  await ota.start();
  return ota;
}

interface Plan {
  readonly directory: string;
  readonly modules: ReadonlyMap<string, string>;
  readonly autoDownload: boolean;
  readonly progressStep: number;
  readonly replyTimeout: number;
  readonly retries: number;
  readonly idleTimeout: number;
  readonly retryDelay: number;
  readonly minBytesPerSecond: number | undefined;
  readonly clock: Clock;
  readonly connection: ConnectionChoices;
}

async function checkOptions(device: Device, options: OtaOptions): Promise<Plan> {
  if (typeof device !== 'object' || device === null || typeof device.client?.subscribe !== 'function') {
    throw new ConfigurationError('device', 'expected the device connectDevice resolved with');
  }
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', 'expected { directory, modules }');
  const directory = requireText('directory', options.directory, 'give the directory firmware files go to');
  try {
    if (!(await nodeFs().promises.stat(directory)).isDirectory()) throw new Error('not a directory');
  } catch (cause) {
    throw new ConfigurationError('directory', `${directory} is not a directory this process can use (${(cause as Error).message}); create it first`);
  }
  if (typeof options.modules !== 'object' || options.modules === null || Array.isArray(options.modules)) {
    throw new ConfigurationError('modules', "expected { module: version }, e.g. { default: '1.0.0' }");
  }
  const modules = new Map<string, string>();
  for (const [module, version] of Object.entries(options.modules)) {
    requireText('modules', module, 'give each module a name');
    modules.set(module, requireText(`modules.${module}`, version, "give the version the module runs now, e.g. '1.0.0'"));
  }
  if (modules.size === 0) throw new ConfigurationError('modules', "name at least one module and its version, e.g. { default: '1.0.0' }");
  const autoDownload = options.autoDownload ?? true;
  if (typeof autoDownload !== 'boolean') throw new ConfigurationError('autoDownload', `got ${describeValue(autoDownload)}; use true or false`);
  const clock = options.clock ?? device.client.options.clock;
  const { ca, servername, family, lookup, connectTimeout } = options;
  // The same checks each download makes, made now: a bad choice is the caller's, not a job's failure.
  resolveTarget('localhost', 443, { ca, servername, family, lookup, connectTimeout });
  return {
    directory,
    modules,
    autoDownload,
    progressStep: requireIntegerIn('progressStep', options.progressStep ?? 5, 1, 100, 'give a percentage, e.g. 5'),
    replyTimeout: requireIntegerIn('replyTimeout', options.replyTimeout ?? DEFAULT_REPLY_TIMEOUT, 1, MAX_TIMER, 'give milliseconds, e.g. 10000'),
    retries: requireIntegerIn('retries', options.retries ?? 10, 0, 1000, 'give a count, e.g. 10'),
    idleTimeout: requireIntegerIn('idleTimeout', options.idleTimeout ?? 30_000, 1, MAX_TIMER, 'give milliseconds, e.g. 30000'),
    retryDelay: requireIntegerIn('retryDelay', options.retryDelay ?? 1000, 0, MAX_TIMER, 'give milliseconds, e.g. 1000'),
    minBytesPerSecond:
      options.minBytesPerSecond === undefined
        ? undefined
        : requireIntegerIn('minBytesPerSecond', options.minBytesPerSecond, 0, Number.MAX_SAFE_INTEGER, 'give bytes a second, e.g. 256, or 0 for no floor'),
    clock,
    connection: { ca, servername, family, lookup, connectTimeout },
  };
}

/** The longest `desc` sent with a failure: the console shows a line, not a log. */
const MAX_DESC = 200;

interface Task {
  readonly job: OtaJob;
  readonly destination: string;
  status: OtaTaskStatus;
  progress: DownloadProgress | undefined;
  /** The last percentage reported to the platform. */
  reported: number;
  controller: AbortController | undefined;
  running: Promise<OtaFirmware> | undefined;
  /** Why the program or a newer job stopped it, if it did. */
  stopped: 'cancelled' | 'superseded' | 'closed' | undefined;
  firmware: OtaFirmware | undefined;
}

class Ota extends EventEmitter<DeviceOtaEvents> implements DeviceOta {
  readonly #device: Device;
  readonly #plan: Plan;
  readonly #versions: Map<string, string>;
  readonly #tasks = new Map<string, Task>();
  readonly #ids = new AlinkIdGenerator();
  readonly #replies: PendingReplies<PlatformReply<OtaJob | undefined>>;
  readonly #upgradeTopic: string;
  readonly #getReplyTopic: string;
  readonly #onMessage = (topic: string, payload: Buffer): void => this.#message(topic, payload);
  readonly #onConnect = (): void => void this.#reportVersions();
  readonly #onEnd = (): void => void this.close();
  #closing: Promise<void> | undefined;

  constructor(device: Device, plan: Plan) {
    super();
    this.#device = device;
    this.#plan = plan;
    this.#versions = new Map(plan.modules);
    this.#replies = new PendingReplies(plan.clock);
    this.#upgradeTopic = serviceTopic('ota-upgrade', device);
    this.#getReplyTopic = serviceTopic('ota-firmware-get', device, { reply: true });
  }

  async start(): Promise<void> {
    const client = this.#device.client;
    client.on('message', this.#onMessage);
    try {
      await client.subscribe([this.#upgradeTopic, this.#getReplyTopic], { qos: 1 });
      await this.#reportVersions(true);
    } catch (error) {
      this.#detach();
      throw error;
    }
    // After a reconnect the client has restored the subscriptions; the platform pushes an open
    // job again once the device reports its version.
    client.on('connect', this.#onConnect);
    client.once('end', this.#onEnd);
  }

  versions(): Record<string, string> {
    return Object.fromEntries(this.#versions);
  }

  task(module = DEFAULT_OTA_MODULE): OtaTask | undefined {
    const task = this.#tasks.get(module);
    if (task === undefined) return undefined;
    return { module, job: task.job, status: task.status, path: task.destination, progress: task.progress };
  }

  async reportVersion(version: string, module = DEFAULT_OTA_MODULE): Promise<void> {
    const text = requireText('version', version, "give the version the module runs now, e.g. '2.0.0'");
    requireText('module', module, "give the module's name, or leave it out for 'default'");
    this.#versions.set(module, text);
    const task = this.#tasks.get(module);
    if (task !== undefined && task.job.version === text) this.#tasks.delete(module);
    await this.#device.client.publish(serviceTopic('ota-inform', this.#device), this.#versionPayload(module, text), { qos: 1 });
  }

  async check(module = DEFAULT_OTA_MODULE): Promise<OtaJob | undefined> {
    requireText('module', module, "give the module's name, or leave it out for 'default'");
    const id = this.#ids.next();
    const payload = buildFirmwareGet({ id, module: module === DEFAULT_OTA_MODULE ? undefined : module });
    const method = 'thing.ota.firmware.get';
    const reply = this.#replies.wait(id, {
      topic: this.#getReplyTopic,
      timeout: this.#plan.replyTimeout,
      what: method,
      onTimeout: () => new DeviceError('reply-timeout', `no reply to ${method} (id ${id}) on ${this.#getReplyTopic} within ${this.#plan.replyTimeout} ms`),
    });
    this.#device.client.publish(serviceTopic('ota-firmware-get', this.#device), payload, { qos: 1 }).catch((error: Error) => this.#replies.reject(id, error));
    const answer = await reply;
    if (!answer.ok) {
      throw new AlinkReplyError(method, { id, code: answer.code, message: answer.message, data: answer.data });
    }
    if (answer.data !== undefined) this.#offer(answer.data);
    return answer.data;
  }

  download(module = DEFAULT_OTA_MODULE): Promise<OtaFirmware> {
    const task = this.#tasks.get(module);
    if (task === undefined) return Promise.reject(new ConfigurationError('module', `module ${JSON.stringify(module)} has no job; wait for the job event, or call check()`));
    if (task.firmware !== undefined) return Promise.resolve(task.firmware);
    return this.#start(task);
  }

  async cancel(module = DEFAULT_OTA_MODULE): Promise<boolean> {
    const task = this.#tasks.get(module);
    if (task === undefined) return false;
    this.#tasks.delete(module);
    await this.#stop(task, 'cancelled');
    if (task.status === 'downloaded') await rmQuietly(task.destination);
    const error = new OtaError('cancelled', `the job for version ${task.job.version} of module ${module} was cancelled by the program; its files were removed`, {
      module,
      version: task.job.version,
      step: -1,
    });
    await this.#report(module, -1, 'cancelled by the device');
    this.#tell('failed', error);
    return true;
  }

  async fail(step: -1 | -4, desc: string, module = DEFAULT_OTA_MODULE): Promise<void> {
    if (step !== -1 && step !== -4) throw new ConfigurationError('step', `got ${describeValue(step)}; use -4 (burn failed) or -1 (upgrade failed)`);
    if (typeof desc !== 'string') throw new ConfigurationError('desc', 'expected a short description for the console');
    requireText('module', module, "give the module's name, or leave it out for 'default'");
    const task = this.#tasks.get(module);
    this.#tasks.delete(module);
    if (task !== undefined) await this.#stop(task, 'cancelled');
    await this.#report(module, step, desc);
    this.#tell('failed', new OtaError('install-failed', `installing version ${task?.job.version ?? '(unknown)'} of module ${module} failed: ${desc}`, { module, version: task?.job.version, step }));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#detach();
      this.#replies.rejectAll((id, what) => new DeviceError('device-ended', `OTA was closed before the reply to ${what} (id ${id}) came`));
      await Promise.all([...this.#tasks.values()].map((task) => this.#stop(task, 'closed')));
      this.#tasks.clear();
    })();
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------------
  // Jobs

  #message(topic: string, payload: Buffer): void {
    if (this.#closing !== undefined) return;
    if (topic === this.#upgradeTopic) {
      let job: OtaJob;
      try {
        job = parseOtaJob(payload).job;
      } catch (error) {
        if (!(error instanceof PlatformPayloadError)) throw error;
        this.#malformed(payload, error);
        return;
      }
      this.#offer(job);
    } else if (topic === this.#getReplyTopic) {
      let reply: PlatformReply<OtaJob | undefined>;
      try {
        reply = parseFirmwareGetReply(payload);
      } catch (error) {
        if (!(error instanceof PlatformPayloadError)) throw error;
        const id = readRequestId(payload);
        const failure = new OtaError('malformed-job', `cannot read the answer to thing.ota.firmware.get: ${error.message}`, { cause: error });
        if (id === undefined || !this.#replies.reject(id, failure)) this.#error(failure);
        return;
      }
      this.#replies.settle(reply.id, topic, reply);
    }
  }

  /** A job from a push or a query. */
  #offer(job: OtaJob): void {
    if (this.#closing !== undefined) return;
    const module = job.module;
    if (!this.#versions.has(module)) {
      const known = [...this.#versions.keys()].join(', ');
      void this.#refuse(job, 'unknown-module', `a job for module ${JSON.stringify(module)}, which this device does not have (it has ${known}); reported as failed`);
      return;
    }
    if (job.protocol !== 'https') {
      void this.#refuse(job, 'unsupported-job', `the job for version ${job.version} of module ${module} sends its file over MQTT; this device downloads over HTTPS only; reported as failed`);
      return;
    }
    const current = this.#tasks.get(module);
    if (current !== undefined && sameJob(current.job, job)) {
      // The platform sends an open job again (after a version report, a reconnect, a query).
      if (current.status === 'downloaded') void this.#report(module, 100, 'downloaded and verified');
      return;
    }
    if (current !== undefined) {
      this.#tasks.delete(module);
      void this.#stop(current, 'superseded').then(() =>
        this.#tell('failed', new OtaError('superseded', `the job for version ${current.job.version} of module ${module} was replaced by one for version ${job.version}`, { module, version: current.job.version })),
      );
    }
    if (this.#versions.get(module) === job.version) {
      // Installed already (a version report that was lost, a job made twice): say so again.
      void this.#reportVersions(false, module);
      return;
    }
    const task: Task = {
      job,
      destination: join(this.#plan.directory, firmwareName(module, job)),
      status: 'waiting',
      progress: undefined,
      reported: 0,
      controller: undefined,
      running: undefined,
      stopped: undefined,
      firmware: undefined,
    };
    this.#tasks.set(module, task);
    this.#tell('job', job);
    if (this.#plan.autoDownload && this.#tasks.get(module) === task) this.#start(task).catch(() => {}); // told through the events
  }

  #start(task: Task): Promise<OtaFirmware> {
    task.running ??= this.#download(task);
    return task.running;
  }

  async #download(task: Task): Promise<OtaFirmware> {
    const { job } = task;
    const module = job.module;
    task.status = 'downloading';
    task.controller = new AbortController();
    await this.#sweep(task);
    let result: Awaited<ReturnType<typeof downloadFirmware>>;
    try {
      // Downloaded and verified before a restart, not installed yet: no need to fetch it again.
      result = (await verifiedFile(task.destination, job)) ?? await downloadFirmware({
        ...this.#plan.connection,
        file: job,
        destination: task.destination,
        signal: task.controller.signal,
        keepPartial: true,
        retries: this.#plan.retries,
        idleTimeout: this.#plan.idleTimeout,
        retryDelay: this.#plan.retryDelay,
        minBytesPerSecond: this.#plan.minBytesPerSecond,
        clock: this.#plan.clock,
        onProgress: (progress) => this.#progressed(task, progress),
      });
    } catch (cause) {
      if (task.stopped !== undefined) {
        const code = task.stopped === 'closed' ? 'aborted' : task.stopped;
        throw new OtaError(code, `the download of version ${job.version} of module ${module} stopped: ${task.stopped}`, { module, version: job.version, cause });
      }
      await discardPartial(task.destination, job);
      if (this.#tasks.get(module) === task) this.#tasks.delete(module);
      const failure = cause instanceof OtaDownloadError ? cause : new OtaDownloadError('file-error', (cause as Error)?.message ?? String(cause), { cause });
      const error = new OtaError(failure.code, `the download of version ${job.version} of module ${module} failed: ${failure.message}`, {
        module,
        version: job.version,
        step: failure.step,
        cause: failure,
      });
      await this.#report(module, failure.step, failure.message);
      this.#tell('failed', error);
      throw error;
    }
    const firmware: OtaFirmware = {
      module,
      version: job.version,
      path: result.path,
      size: result.size,
      signMethod: result.signMethod,
      digest: result.digest,
      job,
      resumes: result.resumes,
    };
    task.status = 'downloaded';
    task.firmware = firmware;
    await this.#report(module, 100, 'downloaded and verified');
    this.#tell('downloaded', firmware);
    return firmware;
  }

  #progressed(task: Task, progress: DownloadProgress): void {
    task.progress = progress;
    const { module, version } = task.job;
    this.emit('progress', { ...progress, module, version });
    // 100 is reported once the digest matched, not when the last byte came.
    const percent = Math.min(progress.percent, 99);
    if (percent > 0 && percent - task.reported >= this.#plan.progressStep) {
      task.reported = percent;
      void this.#report(module, percent, '');
    }
  }

  /** Stops a task's download; its partial stays only when closing (for a resume after a restart). */
  async #stop(task: Task, why: 'cancelled' | 'superseded' | 'closed'): Promise<void> {
    task.stopped ??= why;
    task.controller?.abort(new Error(why));
    await task.running?.catch(() => undefined);
    if (why !== 'closed') await discardPartial(task.destination, task.job);
  }

  /** Partials of this module left by other jobs (a process that died, a job replaced meanwhile). */
  async #sweep(task: Task): Promise<void> {
    const keep = partialPath(task.destination, task.job);
    const prefix = `${safeName(task.job.module)}@`;
    let names: string[];
    try {
      names = await nodeFs().promises.readdir(this.#plan.directory);
    } catch {
      return; // the download reports the directory's problem
    }
    for (const name of names) {
      const path = join(this.#plan.directory, name);
      if (name.startsWith(prefix) && name.endsWith('.part') && path !== keep) await rmQuietly(path);
    }
  }

  /** A job refused before any download: reported as upgrade failed (-1) so that it does not hang on the platform. */
  async #refuse(job: OtaJob, code: 'unknown-module' | 'unsupported-job', message: string): Promise<void> {
    await this.#report(job.module, -1, message);
    this.#tell('failed', new OtaError(code, message, { module: job.module, version: job.version, step: -1 }));
  }

  /**
   * A push that cannot be read. When it names one of this device's modules and no job of that
   * module is under way, it is reported as failed (-1), so that the platform's job does not wait
   * forever; while one is under way, that download goes on and the push is only reported here.
   */
  #malformed(payload: Uint8Array, cause: PlatformPayloadError): void {
    const module = readModule(payload);
    const message = `cannot read the OTA job pushed on ${this.#upgradeTopic}: ${cause.message}`;
    if (module !== undefined && this.#versions.has(module) && !this.#tasks.has(module)) {
      void this.#report(module, -1, `malformed job: ${cause.message}`).then(() =>
        this.#tell('failed', new OtaError('malformed-job', `${message}; reported as failed`, { module, step: -1, cause })),
      );
      return;
    }
    this.#error(new OtaError('malformed-job', `${message}; ignored`, { module, cause }));
  }

  // -------------------------------------------------------------------------------------------
  // Reports

  async #reportVersions(initial = false, only?: string): Promise<void> {
    const topic = serviceTopic('ota-inform', this.#device);
    const sends = [...this.#versions].filter(([module]) => only === undefined || module === only).map(([module, version]) =>
      this.#device.client.publish(topic, this.#versionPayload(module, version), { qos: 1 }),
    );
    if (initial) {
      await Promise.all(sends);
      return;
    }
    const results = await Promise.allSettled(sends);
    for (const result of results) {
      if (result.status === 'rejected') this.#error(new OtaError('report-failed', `could not report a module's version: ${(result.reason as Error)?.message}`, { cause: result.reason }));
    }
  }

  #versionPayload(module: string, version: string): string {
    // The default module is reported without `module`, as the C SDK does when none is set.
    return buildOtaVersion({ id: this.#ids.next(), version, module: module === DEFAULT_OTA_MODULE ? undefined : module });
  }

  /**
   * Progress at QoS 0, as the C SDK sends it (a lost one is overtaken by the next); the final
   * word (100, a failure) at QoS 1, so that it survives a dropped connection.
   */
  async #report(module: string, step: number, desc: string): Promise<void> {
    const payload = buildOtaProgress({
      id: this.#ids.next(),
      step,
      desc: desc.length > MAX_DESC ? `${desc.slice(0, MAX_DESC - 1)}…` : desc,
      module: module === DEFAULT_OTA_MODULE ? undefined : module,
    });
    const final = step === 100 || step < 0;
    try {
      await this.#device.client.publish(serviceTopic('ota-progress', this.#device), payload, { qos: final ? 1 : 0 });
    } catch (error) {
      if (!final) return;
      this.#error(new OtaError('report-failed', `could not report step ${step} of module ${module} to the platform: ${(error as Error)?.message}`, { module, step, cause: error }));
    }
  }

  /**
   * Emits an event from inside the agent's own promises: a listener that throws there must not
   * vanish into a promise nobody awaits, so its error is thrown again on its own, as a throwing
   * listener of any Node.js callback would be.
   */
  #tell<K extends 'job' | 'downloaded' | 'failed'>(event: K, ...args: DeviceOtaEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: DeviceOtaEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }

  #error(error: OtaError): void {
    if (debug.enabled) debug('ota: %s', error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #detach(): void {
    const client = this.#device.client;
    client.off('message', this.#onMessage);
    client.off('connect', this.#onConnect);
    client.off('end', this.#onEnd);
  }
}

function sameJob(a: OtaJob, b: OtaJob): boolean {
  return a.version === b.version && a.size === b.size && a.signMethod === b.signMethod && a.sign === b.sign;
}

function readModule(payload: Uint8Array): string | undefined {
  try {
    const data = (JSON.parse(Buffer.from(payload).toString('utf8')) as { data?: { module?: unknown } } | null)?.data;
    if (typeof data !== 'object' || data === null) return undefined;
    return typeof data.module === 'string' && data.module !== '' ? data.module : DEFAULT_OTA_MODULE;
  } catch {
    return undefined;
  }
}

