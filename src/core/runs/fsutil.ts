/**
 * Small durable-file helpers shared by checkpoints, the run store and token shards.
 *
 * Why: a file that other processes may read (latest pointer, config.json, a checkpoint) must
 * either be absent or complete. We write to a temp file in the same directory (same filesystem,
 * so rename is atomic), fsync it, rename it over the target and fsync the directory so the
 * rename itself survives a power loss.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** The subset of node:fs used for durable writes; tests substitute it to inject ENOSPC/EIO. */
export interface WriteFs {
  openSync: typeof fs.openSync;
  writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null) => number;
  fsyncSync: typeof fs.fsyncSync;
  closeSync: typeof fs.closeSync;
  renameSync: typeof fs.renameSync;
  unlinkSync: typeof fs.unlinkSync;
}

export const realFs: WriteFs = {
  openSync: fs.openSync,
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  fsyncSync: fs.fsyncSync,
  closeSync: fs.closeSync,
  renameSync: fs.renameSync,
  unlinkSync: fs.unlinkSync,
};

/** Writes all of `data` to `fd` (writeSync may write less than asked). */
export function writeAll(fd: number, data: Uint8Array, io: WriteFs = realFs): void {
  let off = 0;
  while (off < data.length) {
    // 64 MiB slices keep single syscalls bounded for very large checkpoints.
    const n = io.writeSync(fd, data, off, Math.min(data.length - off, 64 << 20), null);
    if (n <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
    off += n;
  }
}

/** fsync a directory so a rename/create in it is durable. Some platforms (Windows) cannot; ignore there. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Name of a temp file next to `target`; starts with '.' and contains '.tmp-' so cleanup can find it. */
export function tempNameFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Atomically replaces `target` with `data`: temp file, fsync, rename, fsync dir.
 * On any error the temp file is removed and `target` is untouched; the error is rethrown.
 */
export function writeFileAtomic(target: string, data: Uint8Array | string | Iterable<Uint8Array>, io: WriteFs = realFs): void {
  // Several chunks are written one after the other (checkpoints stream tensor by tensor).
  const chunks: Iterable<Uint8Array> = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  const tmp = tempNameFor(target);
  let fd: number | undefined;
  try {
    fd = io.openSync(tmp, 'wx', 0o644);
    for (const c of chunks) writeAll(fd, c, io);
    io.fsyncSync(fd);
    io.closeSync(fd);
    fd = undefined;
    io.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try {
        io.closeSync(fd);
      } catch {
        /* already failing; the original error matters */
      }
    }
    try {
      io.unlinkSync(tmp);
    } catch {
      /* may not exist */
    }
    throw e;
  }
  fsyncDir(path.dirname(target));
}

/** One-line description of a filesystem error, with a hint for the ones users can act on. */
export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOSPC':
      return 'disk full (ENOSPC)';
    case 'EDQUOT':
      return 'disk quota exceeded (EDQUOT)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${err.code})`;
    case 'EROFS':
      return 'read-only filesystem (EROFS)';
    default:
      return err?.message ?? String(e);
  }
}
