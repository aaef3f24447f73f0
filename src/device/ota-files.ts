/**
 * Where a device's OTA files live: names made from what the network sent, made plain; a file
 * already verified before a restart; removal that never fails the caller.
 */
import { nodeCrypto, nodeFs } from '../shared/builtins.js';
import type { OtaJob } from '../aliyun/ota/ota.js';
import type { DownloadResult } from './ota-types.js';

/** Part of a file name that came from the network: letters, digits, `.`, `-`, `_`, and never a leading dot. */
export function safeName(text: string): string {
  const safe = text.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\./, '_').slice(0, 64);
  return safe === '' ? '_' : safe;
}

/** `${module}@${version}.${ext}`, the extension taken from the URL's file name when it is a plain one. */
export function firmwareName(module: string, job: OtaJob): string {
  let ext = 'bin';
  try {
    ext = /\.([A-Za-z0-9]{1,8})$/.exec(new URL(job.url!).pathname)?.[1] ?? 'bin';
  } catch {
    // the download refuses the URL itself
  }
  return `${safeName(module)}@${safeName(job.version)}.${ext}`;
}

/** The result of a download that is already on disk at `path`, with the job's size and digest; else `undefined`. */
export async function verifiedFile(path: string, job: OtaJob): Promise<DownloadResult | undefined> {
  try {
    const stats = await nodeFs().promises.stat(path);
    if (!stats.isFile() || stats.size !== job.size) return undefined;
    const hash = nodeCrypto().createHash(job.signMethod);
    for await (const chunk of nodeFs().createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) hash.update(chunk);
    const digest = hash.digest('hex');
    return digest === job.sign ? { path, size: job.size, signMethod: job.signMethod, digest, resumes: 0, transferred: 0 } : undefined;
  } catch {
    return undefined;
  }
}

export async function rmQuietly(path: string): Promise<void> {
  try {
    await nodeFs().promises.rm(path, { force: true });
  } catch {
    // Nothing more to do about a file that cannot be removed.
  }
}
