/**
 * The OTA errors: why a download failed ({@link OtaDownloadError}, with the step to report to the
 * platform, and the helpers that name a failure: a resumable one, a wrong size, a file or a full
 * disk), and why an OTA job ended without success or what went wrong beside one ({@link OtaError},
 * the error of {@link createOta}'s `failed` and `error` events). Branch on `code`; the message is
 * for a log.
 */
import { OTA_FAILURE } from '../aliyun/ota/ota.js';
import { TransportError } from '../transport/errors.js';

/** Why a download failed. */
export type OtaDownloadErrorCode =
  /** The server answered with a status that will not change on retry (4xx); `status` holds it. */
  | 'http-status'
  /** The server's length differs from the job's size, or it sent more, or ended short. */
  | 'size-mismatch'
  /** All bytes arrived but their digest is not the job's. */
  | 'digest-mismatch'
  /** The connection failed, dropped or stalled, and kept doing so through every resume (`cause` is the last error). */
  | 'network'
  /** The disk has no room for the file (checked before starting, and on every write). */
  | 'disk-full'
  /** The partial file or the destination could not be written or renamed (`cause` says why). */
  | 'file-error'
  /** `signal` aborted. */
  | 'aborted'
  /** `onProgress` threw (`cause`). */
  | 'handler-failed';

/** A failed download. `step` is what to report to the platform as progress. */
export class OtaDownloadError extends Error {
  override readonly name = 'OtaDownloadError';
  readonly code: OtaDownloadErrorCode;
  /** The platform's failure step for this failure: -2 download failed, -3 verification failed, -1 otherwise. */
  readonly step: number;
  /** For `http-status`: the HTTP status. */
  readonly status: number | undefined;

  constructor(code: OtaDownloadErrorCode, message: string, details: { cause?: unknown; status?: number } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.step = STEP_OF[code];
  }
}

const STEP_OF: Readonly<Record<OtaDownloadErrorCode, number>> = {
  'http-status': OTA_FAILURE.downloadFailed,
  'size-mismatch': OTA_FAILURE.verifyFailed,
  'digest-mismatch': OTA_FAILURE.verifyFailed,
  network: OTA_FAILURE.downloadFailed,
  'disk-full': OTA_FAILURE.downloadFailed,
  'file-error': OTA_FAILURE.downloadFailed,
  aborted: OTA_FAILURE.upgradeFailed,
  'handler-failed': OTA_FAILURE.upgradeFailed,
};

/**
 * A failure of one connection that a resume may cure.
 *
 * @internal
 */
export class Retriable extends Error {}

/** @internal */
export function retriable(error: unknown): Retriable {
  const message = error instanceof TransportError ? error.message : (error as Error)?.message ?? String(error);
  return new Retriable(message, { cause: error });
}

/** @internal */
export function sizeMismatch(message: string): OtaDownloadError {
  return new OtaDownloadError('size-mismatch', `${message}: the file is not the job's; it was deleted`);
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/**
 * A file system failure while `what`: `disk-full` for the codes of a full disk or quota, else `file-error`.
 *
 * @internal
 */
export function fileError(error: unknown, what: string): OtaDownloadError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code !== undefined && DISK_FULL.has(code)) {
    return new OtaDownloadError('disk-full', `${what}: the disk is full (${code}); make room and retry`, { cause: error });
  }
  return new OtaDownloadError('file-error', `${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** Why an OTA job ended without success, or what went wrong beside one. */
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

/** The error of {@link createOta}'s `failed` and `error` events. */
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
