/**
 * The public shape of the stand-in's OTA jobs: what `pushOtaJob` takes, what a job looks like,
 * and the `ota` event. Types only, so that the emulator's public types name them without
 * importing the service (which imports the sessions, which import those public types).
 */
import type { DigestMethod } from '../../aliyun/wire/digest.js';

/** How the file is served: slowly, or cut off part way. */
export interface OtaServeFaults {
  /** Cut the connection after this many bytes of an answer (the first `drops` answers); a resume then continues. */
  readonly dropAfter?: number | undefined;
  /** How many answers `dropAfter` cuts; default 1. */
  readonly drops?: number | undefined;
  /** Send at most this many bytes a second (on the stand-in's clock); default as fast as the peer reads. */
  readonly bytesPerSecond?: number | undefined;
}

/** A job's state, named as the platform's API names it. */
export type OtaJobState = 'QUEUED' | 'NOTIFIED' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'CANCELED';

/** What {@link Emulator.pushOtaJob} takes. */
export interface OtaJobOptions {
  readonly productKey: string;
  readonly deviceName: string;
  /** The OTA module; default `'default'`. */
  readonly module?: string | undefined;
  /** The version the device is to reach. */
  readonly version: string;
  /** The firmware: a file's path (read when the job is made, served from disk), or its bytes. */
  readonly file: string | Uint8Array;
  /** The digest the job carries; default `'md5'`, as the platform's example job (page 89307). */
  readonly signMethod?: DigestMethod | undefined;
  /** Passed to the device as the job's `extData`. */
  readonly extData?: unknown;
  /** The last segment of the file's URL; default the file's name, or `firmware.bin`. */
  readonly fileName?: string | undefined;
  /** Announce this size instead of the file's (to test a device's size check). */
  readonly size?: number | undefined;
  /** Announce this digest instead of the file's (to test a device's digest check). */
  readonly sign?: string | undefined;
  /** Serve the file slowly, or cut the connection part way (to test resuming). */
  readonly serve?: OtaServeFaults | undefined;
}

/** One progress report as the stand-in received it. */
export interface OtaProgressRecord {
  /** 0..100, or -1 upgrade, -2 download, -3 verification, -4 burn failed. */
  readonly step: number;
  readonly desc: string;
  /** On the stand-in's clock. */
  readonly at: number;
}

/** A job as it stands (a snapshot: read it again for news). */
export interface OtaJobInfo {
  readonly id: number;
  readonly productKey: string;
  readonly deviceName: string;
  readonly module: string;
  readonly version: string;
  /** Where the file is served: `https://[::1]:port/ota/…`. */
  readonly url: string;
  /** What the job announces (the file's own unless the options said otherwise). */
  readonly size: number;
  readonly signMethod: DigestMethod;
  readonly sign: string;
  readonly state: OtaJobState;
  /** Every progress report for this job, oldest first. */
  readonly progress: readonly OtaProgressRecord[];
  /** Times the job was sent to the device (pushes and firmware-get answers). */
  readonly notices: number;
  /** Requests for the file that were answered with bytes (a resume counts again). */
  readonly downloads: number;
}

/** What the `ota` event says happened to a job. */
export type OtaJobChange = 'created' | 'notified' | 'progress' | 'succeeded' | 'failed' | 'canceled';

/** The `ota` event. */
export interface OtaJobEvent {
  readonly change: OtaJobChange;
  readonly job: OtaJobInfo;
}

