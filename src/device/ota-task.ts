/**
 * One job of the OTA agent, and its download: the task's state, the stale partials of its module
 * swept away, the file fetched and verified with {@link downloadFirmware} under the plan's limits
 * (or found verified already, from before a restart), progress reported every `progressStep`
 * percent, the outcome reported to the platform and told to the program, and the download
 * stopped when the program cancels, a newer job replaces it, or the agent closes.
 */
import { join } from 'node:path';
import { nodeFs } from '../shared/builtins.js';
import type { OtaJob } from '../aliyun/ota/ota.js';
import { discardPartial, downloadFirmware, OtaDownloadError, partialPath } from './ota-download.js';
import type { DownloadProgress } from './ota-download.js';
import { OtaError } from './ota-errors.js';
import { firmwareName, rmQuietly, safeName, verifiedFile } from './ota-files.js';
import type { OtaPlan } from './ota-options.js';
import type { DeviceOtaEvents, OtaFirmware, OtaProgress, OtaTaskStatus } from './ota-types.js';

/** Why the program, a newer job or closing stopped a task. */
export type StopReason = 'cancelled' | 'superseded' | 'closed';

/** @internal */
export interface Task {
  readonly job: OtaJob;
  readonly destination: string;
  status: OtaTaskStatus;
  progress: DownloadProgress | undefined;
  /** The last percentage reported to the platform. */
  reported: number;
  controller: AbortController | undefined;
  running: Promise<OtaFirmware> | undefined;
  /** Why the program or a newer job stopped it, if it did. */
  stopped: StopReason | undefined;
  firmware: OtaFirmware | undefined;
}

/**
 * What a download needs of the agent that runs it.
 *
 * @internal
 */
export interface TaskHost {
  readonly plan: OtaPlan;
  /** Reports a step of the task's module to the platform (see OtaReports.step). */
  report(module: string, step: number, desc: string): Promise<void>;
  /** Emits `downloaded` or `failed` (a listener's throw is thrown again on its own). */
  tell<K extends 'downloaded' | 'failed'>(event: K, ...args: DeviceOtaEvents[K]): void;
  /** Emits `progress`. */
  progress(progress: OtaProgress): void;
  /** The task failed: when it is still its module's job, it is one no longer. */
  forget(task: Task): void;
}

/** A new task for `job`, its file to go to the plan's directory. */
export function newTask(job: OtaJob, directory: string): Task {
  return {
    job,
    destination: join(directory, firmwareName(job.module, job)),
    status: 'waiting',
    progress: undefined,
    reported: 0,
    controller: undefined,
    running: undefined,
    stopped: undefined,
    firmware: undefined,
  };
}

/** Starts the task's download, or returns the one under way. */
export function startTask(task: Task, host: TaskHost): Promise<OtaFirmware> {
  task.running ??= download(task, host);
  return task.running;
}

/** Stops a task's download; its partial stays only when closing (for a resume after a restart). */
export async function stopTask(task: Task, why: StopReason): Promise<void> {
  task.stopped ??= why;
  task.controller?.abort(new Error(why));
  await task.running?.catch(() => undefined);
  if (why !== 'closed') await discardPartial(task.destination, task.job);
}

async function download(task: Task, host: TaskHost): Promise<OtaFirmware> {
  const { job } = task;
  const { plan } = host;
  const module = job.module;
  task.status = 'downloading';
  task.controller = new AbortController();
  await sweep(task, plan.directory);
  let result: Awaited<ReturnType<typeof downloadFirmware>>;
  try {
    // Downloaded and verified before a restart, not installed yet: no need to fetch it again.
    result = (await verifiedFile(task.destination, job)) ?? await downloadFirmware({
      ...plan.connection,
      file: job,
      destination: task.destination,
      signal: task.controller.signal,
      keepPartial: true,
      retries: plan.retries,
      idleTimeout: plan.idleTimeout,
      retryDelay: plan.retryDelay,
      minBytesPerSecond: plan.minBytesPerSecond,
      clock: plan.clock,
      onProgress: (progress) => progressed(task, progress, host),
    });
  } catch (cause) {
    if (task.stopped !== undefined) {
      const code = task.stopped === 'closed' ? 'aborted' : task.stopped;
      throw new OtaError(code, `the download of version ${job.version} of module ${module} stopped: ${task.stopped}`, { module, version: job.version, cause });
    }
    await discardPartial(task.destination, job);
    host.forget(task);
    const failure = cause instanceof OtaDownloadError ? cause : new OtaDownloadError('file-error', (cause as Error)?.message ?? String(cause), { cause });
    const error = new OtaError(failure.code, `the download of version ${job.version} of module ${module} failed: ${failure.message}`, {
      module,
      version: job.version,
      step: failure.step,
      cause: failure,
    });
    await host.report(module, failure.step, failure.message);
    host.tell('failed', error);
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
  await host.report(module, 100, 'downloaded and verified');
  host.tell('downloaded', firmware);
  return firmware;
}

function progressed(task: Task, progress: DownloadProgress, host: TaskHost): void {
  task.progress = progress;
  const { module, version } = task.job;
  host.progress({ ...progress, module, version });
  // 100 is reported once the digest matched, not when the last byte came.
  const percent = Math.min(progress.percent, 99);
  if (percent > 0 && percent - task.reported >= host.plan.progressStep) {
    task.reported = percent;
    void host.report(module, percent, '');
  }
}

/** Partials of this module left by other jobs (a process that died, a job replaced meanwhile). */
async function sweep(task: Task, directory: string): Promise<void> {
  const keep = partialPath(task.destination, task.job);
  const prefix = `${safeName(task.job.module)}@`;
  let names: string[];
  try {
    names = await nodeFs().promises.readdir(directory);
  } catch {
    return; // the download reports the directory's problem
  }
  for (const name of names) {
    const path = join(directory, name);
    if (name.startsWith(prefix) && name.endsWith('.part') && path !== keep) await rmQuietly(path);
  }
}
