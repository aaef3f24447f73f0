/**
 * One process at a time per store file: a lock file created exclusively ('wx'), holding the owner's
 * process id and, on Linux, the boot id and the process's start time.
 *
 * A lock whose owner is gone (a process that was killed cannot remove it) is taken over. "Gone"
 * means: the pid is not alive; or, where /proc tells, the machine has rebooted since (another boot
 * id) or the pid now belongs to a process that started at another time (the pid was reused); or
 * the pid is this very process but no store in it holds the lock (a container's pid 1 restarted).
 *
 * Limits: without /proc (macOS, BSD) a reused pid of a live unrelated process keeps the lock held
 * until the file is removed by hand; on a directory shared over a network file system, pids of
 * another host mean nothing. Two processes taking over the same stale lock at the same instant are
 * serialised by renaming it away first, which narrows but, without kernel locks, cannot close
 * every window.
 */
import { nodeFs } from '../shared/builtins.js';
import { ioError, StoreError } from './errors.js';

interface Owner {
  readonly pid: number;
  readonly boot?: string;
  readonly start?: string;
}

/** Lock files this process holds, so that a second store object on the same file is refused. */
const held = new Set<string>();
/** A lock file that cannot be read as an owner is taken as being written for this long. */
const UNREADABLE_GRACE_MS = 10_000;

/** Takes the lock at `path`, or throws a StoreError (`store-locked` when another owner holds it). */
export function acquireLock(path: string, what: string): void {
  const me = currentOwner();
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, me)) {
      held.add(path);
      return;
    }
    const found = readOwner(path);
    if (found === 'gone') continue; // removed between our attempt and the read: try again
    if (isAlive(path, found)) throw locked(path, what, found);
    takeOver(path, found);
  }
  throw new StoreError('store-locked', `the lock ${path} for ${what} keeps changing hands; another process is opening the same store`, { path });
}

/** Removes the lock if it is still ours. */
export function releaseLock(path: string): void {
  held.delete(path);
  const found = readOwner(path);
  if (found !== 'gone' && found !== undefined && found.pid === process.pid) {
    try {
      nodeFs().unlinkSync(path);
    } catch {
      // Already gone, or the directory turned read-only: the next opener finds it stale.
    }
  }
}

function tryCreate(path: string, me: Owner): boolean {
  const fs = nodeFs();
  let fd: number;
  try {
    fd = fs.openSync(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError('creating the lock file', path, error);
  }
  try {
    fs.writeSync(fd, `${JSON.stringify(me)}\n`);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
    throw ioError('writing the lock file', path, error);
  }
  fs.closeSync(fd);
  return true;
}

/** The owner named in the lock, undefined when it cannot be read as one, 'gone' when there is no lock. */
function readOwner(path: string): Owner | undefined | 'gone' {
  let text: string;
  try {
    text = nodeFs().readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw ioError('reading the lock file', path, error);
  }
  try {
    const owner = JSON.parse(text) as Partial<Owner>;
    return typeof owner.pid === 'number' && Number.isInteger(owner.pid) && owner.pid > 0 ? (owner as Owner) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(path: string, owner: Owner | undefined): boolean {
  if (owner === undefined) {
    // Created but not yet written, or written by something else: wait a little before judging.
    try {
      return Date.now() - nodeFs().statSync(path).mtimeMs < UNREADABLE_GRACE_MS;
    } catch {
      return false;
    }
  }
  if (owner.pid === process.pid) return held.has(path);
  const boot = bootId();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: alive, only not ours to signal.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = startTime(owner.pid);
  return owner.start === undefined || start === undefined || start === owner.start;
}

/**
 * Removes a stale lock. It is first renamed to a name only this process uses, then checked to be
 * the stale one read before; if another process replaced it meanwhile, it is put back.
 */
function takeOver(path: string, stale: Owner | undefined): void {
  const fs = nodeFs();
  const aside = `${path}.stale-${process.pid}`;
  try {
    fs.renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError('taking over the stale lock file', path, error);
  }
  const moved = readOwner(aside);
  const same = moved !== 'gone' && JSON.stringify(moved) === JSON.stringify(stale);
  if (!same) {
    try {
      fs.linkSync(aside, path);
    } catch {
      // Someone holds a newer lock already; theirs stands.
    }
  }
  fs.rmSync(aside, { force: true });
}

function locked(path: string, what: string, owner: Owner | undefined): StoreError {
  const by =
    owner === undefined
      ? 'a lock file that is being written or was not written by this library'
      : owner.pid === process.pid
        ? 'another store object in this process (close the other client first)'
        : `process ${owner.pid}, which is still running`;
  return new StoreError(
    'store-locked',
    `${what} is in use by ${by}; two clients must not share one store. Stop the other process, or give each client its own client id or directory. If no process uses it, remove ${path}`,
    { path },
  );
}

function currentOwner(): Owner {
  const boot = bootId();
  const start = startTime(process.pid);
  return { pid: process.pid, ...(boot === undefined ? {} : { boot }), ...(start === undefined ? {} : { start }) };
}

let cachedBootId: string | null | undefined;
function bootId(): string | undefined {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = nodeFs().readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId ?? undefined;
}

/** Field 22 of /proc/<pid>/stat, the start time in clock ticks since boot; undefined without /proc. */
function startTime(pid: number): string | undefined {
  try {
    const stat = nodeFs().readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
