/**
 * A small tmpfs for the full-disk tests: a real ENOSPC from a real file system, where this
 * process may mount one (root, as in the project's containers); `undefined` elsewhere, and the
 * test that needs it is skipped by `describe.runIf`, saying so.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Mounts a tmpfs of `size` (e.g. `512k`) at a fresh directory and returns it, or `undefined`. */
export function mountTmpfs(size: string, prefix: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  // A mount point cannot be removed while mounted: not a per-test temporary directory.
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

/** Unmounts and removes what {@link mountTmpfs} made. */
export function unmountTmpfs(dir: string): void {
  execFileSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
}
