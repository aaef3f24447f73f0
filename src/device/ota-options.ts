/**
 * {@link createOta}'s options checked before any I/O (the directory exists, every module has a
 * version, the limits are in range, the connection choices are ones a download can use) and
 * resolved once, with their defaults, into the plan the agent and its downloads read.
 */
import { nodeFs } from '../shared/builtins.js';
import type { Clock } from '../shared/clock.js';
import { ConfigurationError } from '../shared/errors.js';
import { describeValue, requireIntegerIn, requireText } from '../shared/validate.js';
import { DEFAULT_REPLY_TIMEOUT } from './device-options.js';
import type { Device } from './device-types.js';
import type { ConnectionChoices } from './https-request.js';
import { MAX_TIMER, resolveTarget } from './https-request.js';
import type { OtaOptions } from './ota-types.js';

/** @internal */
export interface OtaPlan {
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

/**
 * The plan for `options` on `device`.
 *
 * @throws ConfigurationError for a bad option or a directory that does not exist.
 * @internal
 */
export async function checkOtaOptions(device: Device, options: OtaOptions): Promise<OtaPlan> {
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
