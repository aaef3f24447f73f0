/*
 * The file a remote configuration describes: fetched over HTTPS from its `url` (the platform
 * serves configuration files from OSS, like OTA files), and checked against the size and digest
 * the platform announced (`configSize`, `sign` with `signMethod`) before anyone reads it. A file
 * is small (the console takes configuration files up to 64 KB), so it comes back in memory.
 */
import { systemClock } from '../shared/clock.js';
import type { Clock } from '../shared/clock.js';
import { nodeCrypto } from '../shared/builtins.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn } from '../shared/validate.js';
import type { ConfigFile } from '../aliyun/services/config.js';
import { DIGEST_HEX_LENGTH } from '../aliyun/wire/digest.js';
import { TransportError } from '../transport/errors.js';
import { HttpResponseError } from './http-response.js';
import { fetchAnswer, MAX_TIMER, resolveTarget } from './https-request.js';
import type { ConnectionChoices } from './https-request.js';

/** Why a configuration file could not be had. */
export type ConfigFileErrorCode =
  /** The server answered with another status than 200 (`status`). */
  | 'http-status'
  /** More or fewer bytes came than `configSize` says. */
  | 'size-mismatch'
  /** The bytes are not the ones `sign` is the digest of. */
  | 'digest-mismatch'
  /** The answer was not HTTP as expected. */
  | 'malformed-answer'
  /** The connection failed or broke (`cause`). */
  | 'network'
  /** No whole answer within `timeout`. */
  | 'timeout'
  /** `signal` aborted. */
  | 'aborted';

/** A configuration file that could not be fetched or did not check out. Branch on `code`. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  readonly code: ConfigFileErrorCode;
  /** For `http-status`: the status. */
  readonly status: number | undefined;

  constructor(code: ConfigFileErrorCode, message: string, details: { cause?: unknown; status?: number } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
  }
}

/** Options of {@link fetchConfigFile}: the connection's, and the time it may take. */
export interface FetchConfigFileOptions extends ConnectionChoices {
  /** Milliseconds for the whole fetch, connection included; default 15000. */
  readonly timeout?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Arms the timeout; default the system clock. */
  readonly clock?: Clock | undefined;
}

/**
 * Fetches the file `config` describes (from `getConfig` or a push) and resolves with its bytes,
 * once their size is `configSize` and their digest `sign`.
 *
 * @example
 * const config = await getConfig(device);
 * if (config !== undefined) settings.apply(JSON.parse((await fetchConfigFile(config)).toString('utf8')));
 * @throws ConfigurationError for a description or option that cannot be used (an `http:` URL, a
 *   digest of the wrong length), before any I/O.
 * @throws ConfigFileError `http-status`, `size-mismatch`, `digest-mismatch`, `malformed-answer`,
 *   `network`, `timeout`, `aborted`.
 */
export async function fetchConfigFile(config: ConfigFile, options: FetchConfigFileOptions = {}): Promise<Buffer> {
  const { url, size, method, digest } = checkConfig(config);
  const target = resolveTarget(url.hostname, url.port === '' ? 443 : Number(url.port), options);
  const timeout = requireIntegerIn('timeout', options.timeout ?? 15_000, 1, MAX_TIMER, 'give milliseconds, e.g. 15000');
  const signal = options.signal;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')) {
    throw new ConfigurationError('signal', `got ${describeValue(signal)}; give an AbortSignal`);
  }
  const clock = options.clock ?? systemClock;
  const deadline = new AbortController();
  const timer = clock.setTimeout(() => deadline.abort(new ConfigFileError('timeout', `no whole answer from ${url.host} within ${timeout} ms`)), timeout);
  const onAbort = (): void => deadline.abort(new ConfigFileError('aborted', 'fetching the configuration file was aborted', { cause: signal?.reason }));
  if (signal?.aborted === true) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let body: Buffer;
  try {
    // One byte more than announced tells a longer file from an exact one.
    const answer = await fetchAnswer(target, { method: 'GET', path: `${url.pathname}${url.search}`, headers: { accept: '*/*' } }, size + 1, deadline.signal);
    if (answer.status !== 200) throw new ConfigFileError('http-status', `the configuration file ${config.configId} answered HTTP ${answer.status}`, { status: answer.status });
    body = answer.body;
  } catch (error) {
    throw asConfigFileError(error, deadline.signal, url, size);
  } finally {
    clock.clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  if (body.length !== size) throw new ConfigFileError('size-mismatch', `the configuration file ${config.configId} is ${body.length} bytes, not the ${size} announced`);
  const actual = nodeCrypto().createHash(method).update(body).digest('hex');
  if (actual !== digest) throw new ConfigFileError('digest-mismatch', `the configuration file ${config.configId} is not the one announced: its ${method} is not the sign`);
  return body;
}

function checkConfig(config: ConfigFile): { url: URL; size: number; method: 'md5' | 'sha256'; digest: string } {
  if (typeof config !== 'object' || config === null) throw new ConfigurationError('config', 'give the description getConfig or a push gave');
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new ConfigurationError('config.url', 'is not an absolute URL');
  }
  if (url.protocol !== 'https:') throw new ConfigurationError('config.url', `is ${url.protocol}, not https: (a plain download would let anyone on the path change the file)`);
  const size = requireIntegerIn('config.configSize', config.configSize, 0, 64 * 1024 * 1024, 'the size in bytes the platform announced');
  const method = config.signMethod;
  if (method !== 'md5' && method !== 'sha256') throw new ConfigurationError('config.signMethod', "expected 'sha256' or 'md5'");
  const digest = typeof config.sign === 'string' ? config.sign.toLowerCase() : '';
  if (!new RegExp(`^[0-9a-f]{${DIGEST_HEX_LENGTH[method]}}$`).test(digest)) {
    throw new ConfigurationError('config.sign', `expected the ${DIGEST_HEX_LENGTH[method]}-digit hex ${method} of the file`);
  }
  return { url, size, method, digest };
}

function asConfigFileError(error: unknown, deadline: AbortSignal, url: URL, size: number): unknown {
  if (deadline.aborted && deadline.reason instanceof ConfigFileError) return deadline.reason;
  if (error instanceof ConfigFileError || error instanceof ConfigurationError) return error;
  if (error instanceof HttpResponseError) {
    return /over \d+ bytes/.test(error.message)
      ? new ConfigFileError('size-mismatch', `the configuration file at ${url.host} is larger than the ${size} bytes announced`, { cause: error })
      : new ConfigFileError('malformed-answer', `the answer from ${url.host} is not HTTP as expected: ${error.message}`, { cause: error });
  }
  const detail = error instanceof TransportError ? error.message : `the connection to ${url.host} failed: ${(error as Error)?.message ?? String(error)}`;
  return new ConfigFileError('network', detail, { cause: error });
}
