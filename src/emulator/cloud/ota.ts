/**
 * OTA, the cloud's side: upgrade jobs pushed to a device and module, their files served over the
 * stand-in's HTTPS server, the device's version reports and progress recorded, and each job's
 * state as the platform keeps it.
 *
 * Sources. States and what moves them: help.aliyun.com "View update status" (待推送 QUEUED: the
 * device is offline or the push waits; 已推送 NOTIFIED: the device got the notice and reported no
 * progress yet; 升级中 IN_PROGRESS: it reported progress; SUCCEEDED; FAILED; CANCELED) and the
 * OpenAPI `ListOTAUnfinishedTaskByDevice` (TaskStatus CONFIRM, QUEUED, NOTIFIED, IN_PROGRESS).
 * Success is judged by the version the device reports, not by its progress (page 85700 "IoT
 * Platform checks whether an OTA update succeeds on a device based on the version number that
 * is reported by the device"; C Link SDK 4.x `aiot_ota_api.h`: a device that does not report the
 * new version after the upgrade is counted as failed); a negative step is a failure. An offline
 * device gets the notice once it is online again; a device that left a job unprocessed is sent
 * it again (help.aliyun.com "Why is an OTA update package always being pushed"): the stand-in
 * pushes an open job again whenever the device reports a version for its module, as every SDK
 * does after connecting, and answers `thing.ota.firmware.get` with it.
 *
 * Where it differs: one open job per device and module (a second is refused until the first is
 * over or cancelled), no CONFIRM state (no app confirmation), no upgrade timeout, no batches.
 */
import { buildAlinkReply } from '../../aliyun/alink/payload.js';
import { ALINK_REPLY_CODES } from '../../aliyun/alink/codes.js';
import { buildOtaJob, parseFirmwareGet, parseOtaProgress, parseOtaVersion } from '../../aliyun/cloud-formats.js';
import { DEFAULT_OTA_MODULE } from '../../aliyun/ota/ota.js';
import { parseServiceTopic, serviceTopic } from '../../aliyun/service-topics.js';
import { DIGEST_HEX_LENGTH } from '../../aliyun/wire/digest.js';
import { PlatformPayloadError } from '../../aliyun/wire/errors.js';
import { ConfigurationError } from '../../shared/errors.js';
import { describeValue, requireIntegerIn, requireText } from '../../shared/validate.js';
import { nodeCrypto } from '../../shared/builtins.js';
import { EmulatorError } from '../errors.js';
import type { HttpsServer } from '../http/server.js';
import type { OnlineDevice } from '../presence.js';
import type { CloudContext } from './service.js';
import { loadOtaFile } from './ota-file.js';
import type { OtaJobChange, OtaJobEvent, OtaJobInfo, OtaJobOptions, OtaJobState, OtaProgressRecord } from './ota-types.js';

export type { OtaJobChange, OtaJobEvent, OtaJobInfo, OtaJobOptions, OtaJobState, OtaProgressRecord, OtaServeFaults } from './ota-types.js';

/** What the OTA service needs besides the cloud context. */
export interface OtaHost {
  /** The online device, or `undefined`. */
  online(productKey: string, deviceName: string): OnlineDevice | undefined;
  /** Whether the stand-in knows this device. */
  registered(productKey: string, deviceName: string): boolean;
  /** The HTTPS server, started on first use. */
  https(): Promise<HttpsServer>;
  changed(event: OtaJobEvent): void;
}

const OPEN: ReadonlySet<OtaJobState> = new Set(['QUEUED', 'NOTIFIED', 'IN_PROGRESS']);

interface Job extends Omit<OtaJobInfo, 'state' | 'progress' | 'notices' | 'downloads'> {
  readonly extData: unknown;
  state: OtaJobState;
  readonly progress: OtaProgressRecord[];
  notices: number;
  downloads: number;
  /** Takes the file's route off the HTTPS server. */
  unroute: () => void;
}

export class OtaJobs {
  readonly #cloud: CloudContext;
  readonly #host: OtaHost;
  readonly #jobs = new Map<number, Job>();
  /** Versions devices reported, by `pk/dn`, then module. */
  readonly #versions = new Map<string, Map<string, string>>();
  #nextId = 1;

  constructor(cloud: CloudContext, host: OtaHost) {
    this.#cloud = cloud;
    this.#host = host;
  }

  /**
   * Makes a job, serves its file, and pushes it if the device is online and subscribed to its
   * upgrade topic (else it waits, QUEUED, for the device's next version report or firmware get).
   */
  async push(options: OtaJobOptions): Promise<OtaJobInfo> {
    if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', 'expected { productKey, deviceName, version, file }');
    const productKey = requireText('productKey', options.productKey, 'the device’s ProductKey');
    const deviceName = requireText('deviceName', options.deviceName, 'the device’s DeviceName');
    if (!this.#host.registered(productKey, deviceName)) {
      throw new ConfigurationError('deviceName', `device ${deviceName} of product ${productKey} is not one of the stand-in's devices; add it to devices`);
    }
    const module = options.module === undefined ? DEFAULT_OTA_MODULE : requireText('module', options.module, "the OTA module's name, or leave it out for 'default'");
    const version = requireText('version', options.version, "the version the device is to reach, e.g. '2.0.0'");
    const signMethod = options.signMethod ?? 'md5';
    if (signMethod !== 'md5' && signMethod !== 'sha256') throw new ConfigurationError('signMethod', `got ${describeValue(signMethod)}; use 'md5' or 'sha256'`);
    if (options.sign !== undefined && (typeof options.sign !== 'string' || !new RegExp(`^[0-9a-fA-F]{${DIGEST_HEX_LENGTH[signMethod]}}$`).test(options.sign))) {
      throw new ConfigurationError('sign', `must be ${DIGEST_HEX_LENGTH[signMethod]} hex digits (a ${signMethod} digest)`);
    }
    const announcedSize = options.size === undefined ? undefined : requireIntegerIn('size', options.size, 1, Number.MAX_SAFE_INTEGER, 'give bytes');
    const open = this.#open(productKey, deviceName, module);
    if (open !== undefined) {
      throw new EmulatorError('ota-job-active', `job ${open.id} (version ${open.version}) is still ${open.state} for module ${module} of device ${deviceName}; cancel it first`);
    }
    const file = await loadOtaFile(options.file, signMethod, options.fileName);
    const serve = options.serve ?? {};
    const id = this.#nextId++;
    const https = await this.#host.https();
    // A fresh unguessable segment per job: the platform's URLs are signed OSS links.
    const path = `/ota/${id}/${nodeCrypto().randomBytes(8).toString('hex')}/${file.name}`;
    const served = file.served(serve, this.#cloud.clock, () => (job.downloads += 1));
    const again = this.#open(productKey, deviceName, module);
    if (again !== undefined) {
      throw new EmulatorError('ota-job-active', `job ${again.id} (version ${again.version}) was made for module ${module} of device ${deviceName} meanwhile; cancel it first`);
    }
    const job: Job = {
      id,
      productKey,
      deviceName,
      module,
      version,
      url: `${https.url}${path}`,
      size: announcedSize ?? file.size,
      signMethod,
      sign: (options.sign ?? file.digest).toLowerCase(),
      extData: options.extData,
      state: 'QUEUED',
      progress: [],
      notices: 0,
      downloads: 0,
      unroute: () => {},
    };
    job.unroute = https.route('GET', path, () => ({ file: served }));
    this.#jobs.set(id, job);
    this.#changed('created', job);
    this.#notify(job);
    return info(job);
  }

  /**
   * Cancels an open job; its file is no longer served. The device is not told: neither the
   * platform's pages nor the SDKs have a cancel message on the OTA topics.
   */
  cancel(id: number): OtaJobInfo {
    const job = this.#jobs.get(id);
    if (job === undefined) throw new EmulatorError('ota-job-unknown', `no OTA job ${String(id)}; otaJobs() lists them`);
    if (OPEN.has(job.state)) this.#close(job, 'CANCELED', 'canceled');
    return info(job);
  }

  job(id: number): OtaJobInfo | undefined {
    const job = this.#jobs.get(id);
    return job === undefined ? undefined : info(job);
  }

  jobs(): OtaJobInfo[] {
    return [...this.#jobs.values()].map(info);
  }

  /** The versions a device reported, by module. */
  versions(productKey: string, deviceName: string): Record<string, string> {
    return Object.fromEntries(this.#versions.get(`${productKey}/${deviceName}`) ?? []);
  }

  /** A device published: reads its OTA topics (inform, progress, firmware get); ignores the rest. */
  published(device: OnlineDevice, topic: string, payload: Uint8Array): void {
    const parsed = parseServiceTopic(topic);
    const { productKey, deviceName } = device.topics;
    if (parsed === undefined || parsed.reply || parsed.productKey !== productKey || parsed.deviceName !== deviceName) return;
    try {
      switch (parsed.kind) {
        case 'ota-inform':
          this.#inform(productKey, deviceName, parseOtaVersion(payload));
          return;
        case 'ota-progress':
          this.#progress(productKey, deviceName, parseOtaProgress(payload));
          return;
        case 'ota-firmware-get':
          this.#firmwareGet(device, parseFirmwareGet(payload));
          return;
        default:
          return;
      }
    } catch (error) {
      // What the platform cannot read it drops; the device learns nothing, as there.
      if (!(error instanceof PlatformPayloadError)) throw error;
    }
  }

  /** The emulator is closing: every file route goes (the HTTPS server closes with it). */
  closing(): void {
    for (const job of this.#jobs.values()) job.unroute();
  }

  #inform(productKey: string, deviceName: string, report: { readonly version: string; readonly module: string }): void {
    const key = `${productKey}/${deviceName}`;
    const versions = this.#versions.get(key) ?? new Map<string, string>();
    versions.set(report.module, report.version);
    this.#versions.set(key, versions);
    const job = this.#open(productKey, deviceName, report.module);
    if (job === undefined) return;
    if (report.version === job.version) this.#close(job, 'SUCCEEDED', 'succeeded');
    else this.#notify(job); // still on the old version: it restarted, or ignored the notice
  }

  #progress(productKey: string, deviceName: string, report: { readonly step: number; readonly desc: string; readonly module: string }): void {
    const job = this.#open(productKey, deviceName, report.module);
    if (job === undefined) return;
    job.progress.push({ step: report.step, desc: report.desc, at: this.#cloud.clock.now() });
    if (report.step < 0) {
      this.#close(job, 'FAILED', 'failed');
      return;
    }
    job.state = 'IN_PROGRESS';
    this.#changed('progress', job);
  }

  #firmwareGet(device: OnlineDevice, request: { readonly id: string; readonly module: string }): void {
    const { productKey, deviceName } = device.topics;
    const job = this.#open(productKey, deviceName, request.module);
    const data = job === undefined ? {} : (JSON.parse(buildOtaJob({ id: job.id, job: jobInput(job) })) as { data: unknown }).data;
    this.#cloud.send(serviceTopic('ota-firmware-get', device.topics, { reply: true }), buildAlinkReply({ id: request.id, code: ALINK_REPLY_CODES.success, data }));
    if (job !== undefined) this.#noticed(job);
  }

  /** Pushes the job on the device's upgrade topic when it can see it. */
  #notify(job: Job): void {
    const device = this.#host.online(job.productKey, job.deviceName);
    if (device === undefined) return;
    const topic = serviceTopic('ota-upgrade', device.topics);
    if (device.session.grantedQos(topic) < 0) return;
    this.#cloud.send(topic, buildOtaJob({ id: job.id, job: jobInput(job) }));
    this.#noticed(job);
  }

  #noticed(job: Job): void {
    job.notices += 1;
    if (job.state === 'QUEUED') job.state = 'NOTIFIED';
    this.#changed('notified', job);
  }

  #close(job: Job, state: OtaJobState, change: OtaJobChange): void {
    job.state = state;
    job.unroute();
    this.#changed(change, job);
  }

  #open(productKey: string, deviceName: string, module: string): Job | undefined {
    for (const job of this.#jobs.values()) {
      if (job.productKey === productKey && job.deviceName === deviceName && job.module === module && OPEN.has(job.state)) return job;
    }
    return undefined;
  }

  #changed(change: OtaJobChange, job: Job): void {
    this.#host.changed({ change, job: info(job) });
  }
}

function jobInput(job: Job): Parameters<typeof buildOtaJob>[0]['job'] {
  return { version: job.version, size: job.size, url: job.url, signMethod: job.signMethod, sign: job.sign, module: job.module, extData: job.extData };
}

function info(job: Job): OtaJobInfo {
  return Object.freeze({
    id: job.id,
    productKey: job.productKey,
    deviceName: job.deviceName,
    module: job.module,
    version: job.version,
    url: job.url,
    size: job.size,
    signMethod: job.signMethod,
    sign: job.sign,
    state: job.state,
    progress: Object.freeze([...job.progress]),
    notices: job.notices,
    downloads: job.downloads,
  });
}
