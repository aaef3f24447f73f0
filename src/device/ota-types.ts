/**
 * The public shape of the OTA side: {@link downloadFirmware}'s options, progress and result, and
 * {@link createOta}'s options, the agent's methods and events, and what they carry.
 */
import type { EventEmitter } from 'node:events';
import type { Clock } from '../shared/clock.js';
import type { OtaJob } from '../aliyun/ota/ota.js';
import type { DigestMethod } from '../aliyun/wire/digest.js';
import type { ConnectionChoices } from './https-request.js';
import type { OtaError } from './ota-errors.js';

/** The file to fetch: what an OTA job says (an `OtaJob` over HTTPS works as it is). */
export interface FirmwareFile {
  readonly url: string | undefined;
  /** Bytes. */
  readonly size: number;
  readonly signMethod: DigestMethod;
  /** Hex digest of the whole file. */
  readonly sign: string;
}

/** Where the download stands, as {@link DownloadFirmwareOptions.onProgress} hears it. */
export interface DownloadProgress {
  /** Bytes of the file on disk so far. */
  readonly received: number;
  readonly total: number;
  /** `floor(100 * received / total)`. */
  readonly percent: number;
  /** Bytes over the network per second since the download started (restarts included). */
  readonly bytesPerSecond: number;
  /** Connections resumed so far. */
  readonly resumes: number;
}

/** What {@link downloadFirmware} needs. */
export interface DownloadFirmwareOptions extends ConnectionChoices {
  readonly file: FirmwareFile;
  /** The path the verified file is renamed to. Its directory must exist. */
  readonly destination: string;
  /** Cancels the download; the partial file is removed (kept with `keepPartial`). */
  readonly signal?: AbortSignal | undefined;
  /** Resumes after a dropped or stalled connection (or a 5xx answer) before giving up; default 5. */
  readonly retries?: number | undefined;
  /** Milliseconds without a byte before a connection counts as stalled; default 30000. */
  readonly idleTimeout?: number | undefined;
  /**
   * The slowest a connection may be: one that brings fewer bytes than this per second, over a
   * whole `idleTimeout`, counts as stalled too and is resumed on a new connection (a server that
   * trickles a byte now and then would otherwise hold the download for ever). Default 256; 0
   * turns the check off.
   */
  readonly minBytesPerSecond?: number | undefined;
  /** Milliseconds before the first resume, doubling each time up to 30 s; default 1000. */
  readonly retryDelay?: number | undefined;
  /** Keep the partial file when the download fails on the network or is aborted, for a later call to resume; default false. */
  readonly keepPartial?: boolean | undefined;
  /**
   * Hears the progress at most once per percent and at least once a second while bytes arrive,
   * and once at 100 %. A throw from it ends the download (`handler-failed`).
   */
  readonly onProgress?: ((progress: DownloadProgress) => void) | undefined;
  /** Time for the stall check, the progress rate and the resume delays; default the system clock. */
  readonly clock?: Clock | undefined;
}

/** A verified download. */
export interface DownloadResult {
  /** The destination. */
  readonly path: string;
  readonly size: number;
  readonly signMethod: DigestMethod;
  /** Lower-case hex digest, equal to the job's. */
  readonly digest: string;
  /** Connections resumed. */
  readonly resumes: number;
  /** Bytes that came over the network, restarts included. */
  readonly transferred: number;
}

/** What {@link createOta} takes besides the device. */
export interface OtaOptions extends ConnectionChoices {
  /** The directory verified files go to; it must exist. */
  readonly directory: string;
  /**
   * The device's OTA modules and the version each runs now, e.g. `{ default: '1.0.0', MCU:
   * '0.9.1' }`; `default` is the module of a job that names none. Reported at start and after
   * every reconnect. A job for another module is refused (step -1).
   */
  readonly modules: Readonly<Record<string, string>>;
  /** Download each job as it arrives (default `true`); with `false`, call {@link DeviceOta.download}. */
  readonly autoDownload?: boolean | undefined;
  /** Report progress to the platform each time it has grown by this many percent, 1..100; default 5. */
  readonly progressStep?: number | undefined;
  /** Milliseconds `check` waits for the platform's answer; default 10000. */
  readonly replyTimeout?: number | undefined;
  /** Resumes after a dropped or stalled connection before a download fails; default 10. */
  readonly retries?: number | undefined;
  /** Milliseconds without a byte before a download's connection counts as stalled; default 30000. */
  readonly idleTimeout?: number | undefined;
  /** Milliseconds before the first resume, doubling up to 30 s; default 1000. */
  readonly retryDelay?: number | undefined;
  /** A connection slower than this (bytes a second, over an idle timeout) is resumed on a new one; default 256, 0 for none. */
  readonly minBytesPerSecond?: number | undefined;
  /** Time for the reply timeout and the downloads; default the device client's clock. */
  readonly clock?: Clock | undefined;
}

/** Where a module's job stands. */
export type OtaTaskStatus =
  /** Arrived; not downloading (`autoDownload: false`, until `download`). */
  | 'waiting'
  | 'downloading'
  /** Verified and in place; the platform was told 100 %. Waiting for the program to install it and report the version. */
  | 'downloaded';

/** A module's open job, as {@link DeviceOta.task} shows it. */
export interface OtaTask {
  readonly module: string;
  readonly job: OtaJob;
  readonly status: OtaTaskStatus;
  /** Where the verified file goes (is, once `downloaded`). */
  readonly path: string;
  /** The download's last progress, once it started. */
  readonly progress: DownloadProgress | undefined;
}

/** A verified firmware file, ready to install. */
export interface OtaFirmware {
  readonly module: string;
  readonly version: string;
  readonly path: string;
  readonly size: number;
  readonly signMethod: OtaJob['signMethod'];
  /** Lower-case hex, equal to the job's. */
  readonly digest: string;
  readonly job: OtaJob;
  /** Connections resumed during the download. */
  readonly resumes: number;
}

/** The download's progress, with the module and version it is for. */
export interface OtaProgress extends DownloadProgress {
  readonly module: string;
  readonly version: string;
}

export interface DeviceOtaEvents {
  /** A job was accepted for one of the device's modules (before its download starts). */
  job: [job: OtaJob];
  /** Download progress, at most once per percent and at least once a second while bytes come. */
  progress: [progress: OtaProgress];
  /** The file is verified and in place, and the platform was told 100 %: install it, then `reportVersion`. */
  downloaded: [firmware: OtaFirmware];
  /** A job ended without success; `error.step` is what the platform was told (if anything). */
  failed: [error: OtaError];
  /**
   * Something that is not one job's end went wrong: a push that could not be read while a job is
   * under way, a report that could not be sent. Without a listener these go to the
   * `NODE_DEBUG=aliot` log only.
   */
  error: [error: OtaError];
}

/** OTA for one device; see {@link createOta}. */
export interface DeviceOta extends EventEmitter<DeviceOtaEvents> {
  /** The versions the device runs, by module, as last reported. */
  versions(): Record<string, string>;
  /** The module's open job, if any. */
  task(module?: string): OtaTask | undefined;
  /**
   * Reports that `module` (default `'default'`) now runs `version`: after installing a job's
   * firmware, this is what tells the platform the upgrade succeeded. Resolves once the platform
   * acknowledged the report (QoS 1).
   *
   * @throws ConfigurationError for an empty version or module.
   */
  reportVersion(version: string, module?: string): Promise<void>;
  /**
   * Asks the platform whether a job waits for `module` (`thing.ota.firmware.get`) and resolves
   * with it, or `undefined`. A job that comes is handled as a pushed one.
   *
   * @throws AlinkReplyError when the platform answers with an error code; DeviceError
   *   `reply-timeout` without an answer in time; OtaError `malformed-job` for an answer that
   *   cannot be read.
   */
  check(module?: string): Promise<OtaJob | undefined>;
  /**
   * Starts (or joins) the download of the module's job and resolves with the verified file.
   *
   * @throws ConfigurationError when the module has no job; OtaError when the job fails (it was
   *   reported as the `failed` event says too).
   */
  download(module?: string): Promise<OtaFirmware>;
  /**
   * Abandons the module's job: stops its download, removes its partial file (and a downloaded
   * file not yet reported installed), and reports step -1. Resolves `false` when there was none.
   */
  cancel(module?: string): Promise<boolean>;
  /**
   * Reports that installing the module's firmware failed: step -4 (burn failed, the default) or
   * -1 (upgrade failed), with a description for the console. The job is over; its file is left
   * where it is.
   */
  fail(step: -1 | -4, desc: string, module?: string): Promise<void>;
  /**
   * Stops: no more jobs are taken, downloads stop and keep their partial files for the same job
   * after a restart. Called by itself when the device ends.
   */
  close(): Promise<void>;
}

