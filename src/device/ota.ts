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
 *
 * This module is the agent's handle: its subscriptions, the messages it takes, the choice of what
 * to do with a job, the program's calls and the events. Its parts live beside it: the options
 * (`ota-options.ts`), a job's download (`ota-task.ts`), what is reported to the platform
 * (`ota-reports.ts`), and the public types (`ota-types.ts`).
 */
import { EventEmitter } from 'node:events';
import { debug } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireText } from '../shared/validate.js';
import { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { PendingReplies } from '../aliyun/alink/pending.js';
import { readRequestId } from '../aliyun/alink/request-id.js';
import { DEFAULT_OTA_MODULE, buildFirmwareGet, parseFirmwareGetReply, parseOtaJob } from '../aliyun/ota/ota.js';
import type { OtaJob } from '../aliyun/ota/ota.js';
import { serviceTopic } from '../aliyun/service-topics.js';
import type { PlatformReply } from '../aliyun/wire/envelope.js';
import { PlatformPayloadError } from '../aliyun/wire/errors.js';
import type { Device } from './device-types.js';
import { AlinkReplyError, DeviceError } from './errors.js';
import { OtaError } from './ota-errors.js';
import { rmQuietly } from './ota-files.js';
import { checkOtaOptions, type OtaPlan } from './ota-options.js';
import { OtaReports } from './ota-reports.js';
import { newTask, startTask, stopTask, type Task, type TaskHost } from './ota-task.js';
import type { DeviceOta, DeviceOtaEvents, OtaFirmware, OtaOptions, OtaTask } from './ota-types.js';

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
  const plan = await checkOtaOptions(device, options);
  const ota = new Ota(device, plan);
  await ota.start();
  return ota;
}

class Ota extends EventEmitter<DeviceOtaEvents> implements DeviceOta {
  readonly #device: Device;
  readonly #plan: OtaPlan;
  readonly #versions: Map<string, string>;
  readonly #tasks = new Map<string, Task>();
  readonly #ids = new AlinkIdGenerator();
  readonly #reports: OtaReports;
  /** What a task's download uses of the agent. */
  readonly #host: TaskHost;
  readonly #replies: PendingReplies<PlatformReply<OtaJob | undefined>>;
  readonly #upgradeTopic: string;
  readonly #getReplyTopic: string;
  readonly #onMessage = (topic: string, payload: Buffer): void => this.#message(topic, payload);
  readonly #onConnect = (): void => void this.#reports.versions(this.#versions);
  readonly #onEnd = (): void => void this.close();
  #closing: Promise<void> | undefined;

  constructor(device: Device, plan: OtaPlan) {
    super();
    this.#device = device;
    this.#plan = plan;
    this.#versions = new Map(plan.modules);
    this.#reports = new OtaReports(device, this.#ids, (error) => this.#error(error));
    this.#host = {
      plan,
      report: (module, step, desc) => this.#reports.step(module, step, desc),
      tell: (event, ...args) => this.#tell(event, ...args),
      progress: (progress) => void this.emit('progress', progress),
      forget: (task) => {
        if (this.#tasks.get(task.job.module) === task) this.#tasks.delete(task.job.module);
      },
    };
    this.#replies = new PendingReplies(plan.clock);
    this.#upgradeTopic = serviceTopic('ota-upgrade', device);
    this.#getReplyTopic = serviceTopic('ota-firmware-get', device, { reply: true });
  }

  async start(): Promise<void> {
    const client = this.#device.client;
    client.on('message', this.#onMessage);
    try {
      await client.subscribe([this.#upgradeTopic, this.#getReplyTopic], { qos: 1 });
      await this.#reports.versions(this.#versions, true);
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
    await this.#reports.version(module, text);
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
    return startTask(task, this.#host);
  }

  async cancel(module = DEFAULT_OTA_MODULE): Promise<boolean> {
    const task = this.#tasks.get(module);
    if (task === undefined) return false;
    this.#tasks.delete(module);
    await stopTask(task, 'cancelled');
    if (task.status === 'downloaded') await rmQuietly(task.destination);
    const error = new OtaError('cancelled', `the job for version ${task.job.version} of module ${module} was cancelled by the program; its files were removed`, {
      module,
      version: task.job.version,
      step: -1,
    });
    await this.#reports.step(module, -1, 'cancelled by the device');
    this.#tell('failed', error);
    return true;
  }

  async fail(step: -1 | -4, desc: string, module = DEFAULT_OTA_MODULE): Promise<void> {
    if (step !== -1 && step !== -4) throw new ConfigurationError('step', `got ${describeValue(step)}; use -4 (burn failed) or -1 (upgrade failed)`);
    if (typeof desc !== 'string') throw new ConfigurationError('desc', 'expected a short description for the console');
    requireText('module', module, "give the module's name, or leave it out for 'default'");
    const task = this.#tasks.get(module);
    this.#tasks.delete(module);
    if (task !== undefined) await stopTask(task, 'cancelled');
    await this.#reports.step(module, step, desc);
    this.#tell('failed', new OtaError('install-failed', `installing version ${task?.job.version ?? '(unknown)'} of module ${module} failed: ${desc}`, { module, version: task?.job.version, step }));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#detach();
      this.#replies.rejectAll((id, what) => new DeviceError('device-ended', `OTA was closed before the reply to ${what} (id ${id}) came`));
      await Promise.all([...this.#tasks.values()].map((task) => stopTask(task, 'closed')));
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
      if (current.status === 'downloaded') void this.#reports.step(module, 100, 'downloaded and verified');
      return;
    }
    if (current !== undefined) {
      this.#tasks.delete(module);
      void stopTask(current, 'superseded').then(() =>
        this.#tell('failed', new OtaError('superseded', `the job for version ${current.job.version} of module ${module} was replaced by one for version ${job.version}`, { module, version: current.job.version })),
      );
    }
    if (this.#versions.get(module) === job.version) {
      // Installed already (a version report that was lost, a job made twice): say so again.
      void this.#reports.versions(this.#versions, false, module);
      return;
    }
    const task = newTask(job, this.#plan.directory);
    this.#tasks.set(module, task);
    this.#tell('job', job);
    if (this.#plan.autoDownload && this.#tasks.get(module) === task) startTask(task, this.#host).catch(() => {}); // told through the events
  }

  /** A job refused before any download: reported as upgrade failed (-1) so that it does not hang on the platform. */
  async #refuse(job: OtaJob, code: 'unknown-module' | 'unsupported-job', message: string): Promise<void> {
    await this.#reports.step(job.module, -1, message);
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
      void this.#reports.step(module, -1, `malformed job: ${cause.message}`).then(() =>
        this.#tell('failed', new OtaError('malformed-job', `${message}; reported as failed`, { module, step: -1, cause })),
      );
      return;
    }
    this.#error(new OtaError('malformed-job', `${message}; ignored`, { module, cause }));
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

