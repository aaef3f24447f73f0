/**
 * Why an OTA job ended without success, or what went wrong beside one: the error of
 * {@link createOta}'s `failed` and `error` events. Branch on `code`; the message is for a log.
 */
import type { OtaDownloadErrorCode } from './ota-download.js';

export type OtaErrorCode =
  /** The download failed (`cause` is the {@link OtaDownloadError}); the code is its code. */
  | OtaDownloadErrorCode
  /** A job that cannot be read: not JSON, a field missing or malformed (`cause` is the PlatformPayloadError). */
  | 'malformed-job'
  /** A job for a module this device did not declare in `modules`. */
  | 'unknown-module'
  /** A job this library cannot carry out: its file comes over MQTT (`dProtocol: mqtt`), not HTTPS. */
  | 'unsupported-job'
  /** The program cancelled the job (`ota.cancel`). */
  | 'cancelled'
  /** A newer job for the same module arrived while this one was under way; it replaced this one. */
  | 'superseded'
  /** The program reported that installing the firmware failed (`ota.fail`). */
  | 'install-failed'
  /** A report to the platform (version, progress 100, failure) could not be sent (`cause` is the client's error). */
  | 'report-failed';

export class OtaError extends Error {
  override readonly name = 'OtaError';
  readonly code: OtaErrorCode;
  /** The OTA module the job was for, when known. */
  readonly module: string | undefined;
  /** The job's target version, when known. */
  readonly version: string | undefined;
  /**
   * The step reported to the platform for this failure (-1 upgrade, -2 download, -3
   * verification, -4 burn failed), or `undefined` when none was (a superseded job, a job that
   * could not be read, a failed report).
   */
  readonly step: number | undefined;

  constructor(
    code: OtaErrorCode,
    message: string,
    details: { readonly module?: string | undefined; readonly version?: string | undefined; readonly step?: number | undefined; readonly cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.module = details.module;
    this.version = details.version;
    this.step = details.step;
  }
}
