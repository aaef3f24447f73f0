/*
 * The OTA download's plan: every option of {@link downloadFirmware} checked before any I/O (the
 * URL https only, the job's size and digest well formed, the limits in range) and resolved once,
 * with its defaults, into what the download reads.
 */
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireText } from '../shared/validate.js';
import type { DigestMethod } from '../aliyun/wire/digest.js';
import { DIGEST_HEX_LENGTH } from '../aliyun/wire/digest.js';
import type { HttpsTarget } from './https-request.js';
import { MAX_TIMER, resolveTarget } from './https-request.js';
import { partialPath } from './ota-disk.js';
import type { DownloadFirmwareOptions, DownloadProgress } from './ota-types.js';

/** The slowest a connection may bring bytes, by default: see {@link DownloadFirmwareOptions.minBytesPerSecond}. */
const DEFAULT_MIN_BYTES_PER_SECOND = 256;

/**
 * What one download reads: the options checked, with their defaults, and the URL split into
 * where to connect and what to ask for.
 *
 * @internal
 */
export interface Plan {
  readonly target: HttpsTarget;
  readonly path: string;
  readonly size: number;
  readonly method: DigestMethod;
  readonly digest: string;
  readonly destination: string;
  readonly partial: string;
  readonly signal: AbortSignal | undefined;
  readonly retries: number;
  readonly idleTimeout: number;
  readonly minBytesPerSecond: number;
  readonly retryDelay: number;
  readonly keepPartial: boolean;
  readonly onProgress: ((progress: DownloadProgress) => void) | undefined;
  readonly clock: Clock;
}

/**
 * Every option checked, before any I/O, into the download's plan.
 *
 * @throws ConfigurationError for a bad option.
 *
 * @internal
 */
export function checkOptions(options: DownloadFirmwareOptions): Plan {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', 'expected an object with file and destination');
  const file = options.file;
  if (typeof file !== 'object' || file === null) throw new ConfigurationError('file', 'expected the job: { url, size, signMethod, sign }');
  if (file.url === undefined) throw new ConfigurationError('file.url', 'this job has no URL (its file comes over MQTT); only HTTPS downloads are supported');
  const urlText = requireText('file.url', file.url, 'give the https URL from the job');
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new ConfigurationError('file.url', 'is not an absolute URL');
  }
  if (url.protocol !== 'https:') throw new ConfigurationError('file.url', `uses ${url.protocol}; only https: is accepted (the digest alone cannot stop a swapped file from wasting the download)`);
  const size = requireIntegerIn('file.size', file.size, 1, Number.MAX_SAFE_INTEGER, 'give the size in bytes from the job');
  const method = file.signMethod;
  if (method !== 'md5' && method !== 'sha256') throw new ConfigurationError('file.signMethod', `got ${describeValue(method)}; use 'md5' or 'sha256' as the job says`);
  const digest = requireText('file.sign', file.sign, 'give the digest from the job').toLowerCase();
  if (digest.length !== DIGEST_HEX_LENGTH[method] || !/^[0-9a-f]+$/.test(digest)) {
    throw new ConfigurationError('file.sign', `must be the ${DIGEST_HEX_LENGTH[method]}-digit hex ${method} digest from the job`);
  }
  const destination = requireText('destination', options.destination, 'give the path for the verified file');
  const keepPartial = options.keepPartial ?? false;
  if (typeof keepPartial !== 'boolean') throw new ConfigurationError('keepPartial', 'use true or false');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new ConfigurationError('onProgress', 'expected a function');
  const signal = options.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')) {
    throw new ConfigurationError('signal', 'expected an AbortSignal');
  }
  return {
    target: resolveTarget(url.hostname, url.port === '' ? 443 : Number(url.port), options),
    path: `${url.pathname}${url.search}`,
    size,
    method,
    digest,
    destination,
    partial: partialPath(destination, { sign: digest }),
    signal,
    retries: requireIntegerIn('retries', options.retries ?? 5, 0, 1000, 'give a count, e.g. 5'),
    idleTimeout: requireIntegerIn('idleTimeout', options.idleTimeout ?? 30_000, 1, MAX_TIMER, 'give milliseconds, e.g. 30000'),
    minBytesPerSecond: requireIntegerIn('minBytesPerSecond', options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND, 0, Number.MAX_SAFE_INTEGER, 'give bytes a second, e.g. 256, or 0 for no floor'),
    retryDelay: requireIntegerIn('retryDelay', options.retryDelay ?? 1000, 0, MAX_TIMER, 'give milliseconds, e.g. 1000'),
    keepPartial,
    onProgress: options.onProgress,
    clock: options.clock ?? systemClock,
  };
}
