/**
 * `run.lock`: at most one process writes a run folder.
 *
 * The lock file is created complete and atomically: written to a temp file, fsynced, then
 * hard-linked to `run.lock` (link fails with EEXIST if a lock exists, unlike rename, which would
 * replace it). A lock is stale when its host is this host and its pid is gone, or the pid now
 * belongs to another process (Linux: the process start time in /proc differs). A lock from
 * another host cannot be checked and is honoured unless `force` is set.
 *
 * Stale takeover is serialized by a second lock file (`run.lock.takeover`) so two processes
 * that both find the same stale lock cannot both take it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir, tempNameFor, writeAll } from './fsutil';

export const LOCK_FILE = 'run.lock';

export interface LockInfo {
  pid: number;
  host: string;
  /** Unix ms. */
  startedAt: number;
  /** Linux process start time (clock ticks since boot) to detect pid reuse; absent elsewhere. */
  procStart?: string;
  /** Random id of this acquisition, so release/takeover never removes someone else's lock. */
  token: string;
}

export class RunLockedError extends Error {
  constructor(
    message: string,
    readonly holder: LockInfo | null,
  ) {
    super(message);
    this.name = 'RunLockedError';
  }
}

/** Whether a process with this pid exists (EPERM: exists but belongs to another user). */
export function isPidAlive(pid: number): boolean {
  if (!(Number.isInteger(pid) && pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/<pid>/stat (start time); null where unavailable. */
export function procStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: fields after it start past the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null; // rest[0] is field 3 (state), so field 22 (starttime) is rest[19]
  } catch {
    return null;
  }
}

/** true: holder running; false: stale; 'unknown': another host, cannot tell. */
export function lockLiveness(info: LockInfo): boolean | 'unknown' {
  if (info.host !== os.hostname()) return 'unknown';
  if (!isPidAlive(info.pid)) return false;
  if (info.procStart) {
    const now = procStartTime(info.pid);
    if (now !== null && now !== info.procStart) return false; // pid reused by another process
  }
  return true;
}

export function readLock(runDir: string): LockInfo | null {
  return readLockFile(path.join(runDir, LOCK_FILE));
}

function readLockFile(file: string): LockInfo | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const v = JSON.parse(text) as LockInfo;
    if (Number.isInteger(v.pid) && typeof v.host === 'string' && typeof v.token === 'string') return v;
  } catch {
    /* fall through */
  }
  // Cannot happen with link-created locks, but a hand-edited/garbled lock must not wedge the run.
  return { pid: -1, host: os.hostname(), startedAt: 0, token: `unparsable:${text.length}` };
}

/** Creates `target` with `content` iff it does not exist, never exposing a partial file. */
function createExclusive(target: string, content: string): boolean {
  const tmp = tempNameFor(target);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    writeAll(fd, Buffer.from(content, 'utf8'));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, target);
    fsyncDir(path.dirname(target));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.unlinkSync(tmp);
  }
}

function describe(info: LockInfo): string {
  return `pid ${info.pid} on ${info.host} since ${new Date(info.startedAt).toISOString()}`;
}

export interface RunLock {
  readonly info: LockInfo;
  readonly file: string;
  /** The stale lock this acquisition replaced (the caller logs an event), or null. */
  readonly tookOverFrom: LockInfo | null;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): void;
}

export interface AcquireOptions {
  /** Take a lock held by another host (whose pid cannot be checked). */
  force?: boolean;
}

export function acquireRunLock(runDir: string, opts: AcquireOptions = {}): RunLock {
  const file = path.join(runDir, LOCK_FILE);
  const procStart = procStartTime(process.pid);
  const info: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: Date.now(),
    ...(procStart ? { procStart } : {}),
    token: randomBytes(8).toString('hex'),
  };
  const content = JSON.stringify(info) + '\n';
  let tookOverFrom: LockInfo | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(file, content)) return makeLock(file, info, tookOverFrom);
    const holder = readLockFile(file);
    if (!holder) continue; // released between our attempt and the read: try again
    const alive = lockLiveness(holder);
    if (alive === true) throw new RunLockedError(`run ${runDir} is in use by ${describe(holder)}`, holder);
    if (alive === 'unknown' && !opts.force) {
      throw new RunLockedError(`run ${runDir} is locked by ${describe(holder)}; it cannot be checked from ${os.hostname()} (use force if that process is gone)`, holder);
    }
    if (takeOver(file, holder, content)) return makeLock(file, info, (tookOverFrom = holder));
  }
  throw new RunLockedError(`run ${runDir}: could not acquire ${LOCK_FILE} (another process keeps taking it)`, readLockFile(file));
}

/** Replaces the stale lock `stale` with ours, serialized by a takeover lock. */
function takeOver(file: string, stale: LockInfo, content: string): boolean {
  const mutex = `${file}.takeover`;
  const mine = JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: Date.now(), token: randomBytes(8).toString('hex') });
  if (!createExclusive(mutex, mine)) {
    const other = readLockFile(mutex);
    if (other && lockLiveness(other) === true) {
      throw new RunLockedError(`${file} is being taken over by ${describe(other)}`, other);
    }
    // A takeover that crashed midway: clear it and retry once.
    try {
      fs.unlinkSync(mutex);
    } catch {
      /* someone else cleared it */
    }
    if (!createExclusive(mutex, mine)) return false;
  }
  try {
    const now = readLockFile(file);
    if (now && now.token !== stale.token) return false; // someone else replaced it meanwhile
    if (now) fs.unlinkSync(file);
    return createExclusive(file, content);
  } finally {
    fs.unlinkSync(mutex);
  }
}

function makeLock(file: string, info: LockInfo, tookOverFrom: LockInfo | null): RunLock {
  let released = false;
  return {
    info,
    file,
    tookOverFrom,
    release() {
      if (released) return;
      released = true;
      const now = readLockFile(file);
      if (now && now.token === info.token) fs.unlinkSync(file);
    },
  };
}
