/**
 * User data: one text file, or a folder of files filtered by include/exclude globs (picomatch).
 *
 * Reading a user's folder (e.g. the open workspace) must never hang or blow up memory:
 * - only regular files are opened (a FIFO or device would block forever in read),
 * - binary files (a NUL byte in the first 8 KiB, as git does) are skipped,
 * - files above `maxFileBytes`, and anything past `maxTotalBytes`/`maxFiles`, are skipped,
 * - directories are identified by realpath, so symlink loops and duplicate links are visited once,
 * - recursion is bounded by `maxDepth`.
 * Everything skipped is reported with a reason, and `summary` says it in one line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';

export type SkipReason =
  | 'binary'
  | 'too-large'
  | 'total-limit'
  | 'file-limit'
  | 'symlink-loop'
  | 'duplicate'
  | 'not-regular'
  | 'unreadable'
  | 'too-deep';

export interface SkippedEntry {
  /** Path relative to the source root ('/'-separated). */
  path: string;
  reason: SkipReason;
  detail?: string;
}

export interface SourceDoc {
  /** Path relative to the source root ('/'-separated); the file name for a single-file source. */
  path: string;
  text: string;
  bytes: number;
}

export interface SourceOptions {
  /** Globs (relative to the folder) a file must match; default all files. */
  include?: string[];
  /** Globs to leave out, in addition to DEFAULT_EXCLUDE (`.git` and `node_modules` anywhere). */
  exclude?: string[];
  /** Do not apply DEFAULT_EXCLUDE (to read inside node_modules on purpose). */
  noDefaultExcludes?: boolean;
  /** Per-file limit for folder sources (default 16 MiB). */
  maxFileBytes?: number;
  /** Limit on the bytes read in total (default 1 GiB). */
  maxTotalBytes?: number;
  /** Limit on the number of files read (default 100 000). */
  maxFiles?: number;
  /** Maximum directory nesting below the root (default 64). */
  maxDepth?: number;
}

export interface SourceResult {
  root: string;
  kind: 'file' | 'folder';
  docs: SourceDoc[];
  skipped: SkippedEntry[];
  totalBytes: number;
  /** One line, e.g. `read 12 files (3.4 MB); skipped 2 (1 binary, 1 too-large)`. */
  summary: string;
}

export const DEFAULT_EXCLUDE = ['**/.git/**', '**/node_modules/**'];
const DEFAULTS = { maxFileBytes: 16 << 20, maxTotalBytes: 1 << 30, maxFiles: 100_000, maxDepth: 64 };
/** git's heuristic: a NUL byte in the first 8000 bytes means binary. */
export const BINARY_SNIFF_BYTES = 8192;

export class DataSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataSourceError';
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function isBinary(buf: Uint8Array): boolean {
  const n = Math.min(buf.length, BINARY_SNIFF_BYTES);
  for (let i = 0; i < n; i++) if (buf[i] === 0) return true;
  return false;
}

/** Reads a whole regular file through an fd we already checked, so a swap to a FIFO cannot block us. */
function readRegular(p: string, expectedSize: number): Buffer {
  // O_NONBLOCK: if the path was swapped for a FIFO after our stat, open does not block.
  const fd = fs.openSync(p, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
    // Read at most what the earlier stat said: a file growing while we read (a log) is cut there.
    const size = Math.min(st.size, expectedSize);
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? buf : buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}

function summarize(docs: SourceDoc[], skipped: SkippedEntry[], total: number): string {
  let s = `read ${docs.length} file${docs.length === 1 ? '' : 's'} (${formatBytes(total)})`;
  if (skipped.length) {
    const by = new Map<SkipReason, number>();
    for (const k of skipped) by.set(k.reason, (by.get(k.reason) ?? 0) + 1);
    s += `; skipped ${skipped.length} (${[...by].map(([r, n]) => `${n} ${r}`).join(', ')})`;
  }
  return s;
}

/** Reads a text file or a folder of text files. Throws DataSourceError when nothing usable is found. */
export function readTextSource(sourcePath: string, options: SourceOptions = {}): SourceResult {
  const opts = { ...DEFAULTS, ...options };
  const root = path.resolve(sourcePath);
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch (e) {
    throw new DataSourceError(`data path ${sourcePath} cannot be read: ${(e as Error).message}`);
  }
  if (st.isFile()) return readSingleFile(sourcePath, root, st, opts);
  if (!st.isDirectory()) throw new DataSourceError(`data path ${sourcePath} is neither a file nor a folder`);
  return readFolder(sourcePath, root, opts, options);
}

function readSingleFile(shown: string, root: string, st: fs.Stats, opts: typeof DEFAULTS): SourceResult {
  // A single file is an explicit choice, so only the total limit applies to it.
  if (st.size > opts.maxTotalBytes) {
    throw new DataSourceError(`data file ${shown} is ${formatBytes(st.size)}, over the limit of ${formatBytes(opts.maxTotalBytes)}`);
  }
  let buf: Buffer;
  try {
    buf = readRegular(root, st.size);
  } catch (e) {
    throw new DataSourceError(`data file ${shown} cannot be read: ${(e as Error).message}`);
  }
  if (isBinary(buf)) throw new DataSourceError(`data file ${shown} looks binary (NUL byte in the first 8 KiB)`);
  if (buf.length === 0) throw new DataSourceError(`data file ${shown} is empty`);
  const docs = [{ path: path.basename(root), text: buf.toString('utf8'), bytes: buf.length }];
  return { root, kind: 'file', docs, skipped: [], totalBytes: buf.length, summary: summarize(docs, [], buf.length) };
}

function readFolder(shown: string, root: string, opts: typeof DEFAULTS, raw: SourceOptions): SourceResult {
  const include = raw.include && raw.include.length ? raw.include : ['**/*'];
  const exclude = [...(raw.noDefaultExcludes ? [] : DEFAULT_EXCLUDE), ...(raw.exclude ?? [])];
  const isIncluded = picomatch(include, { dot: true });
  const isExcluded = exclude.length ? picomatch(exclude, { dot: true }) : () => false;
  const docs: SourceDoc[] = [];
  const skipped: SkippedEntry[] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  let total = 0;

  // Iterative DFS with an explicit stack (no recursion limit); entries sorted for a deterministic order.
  const rootReal = fs.realpathSync(root);
  seenDirs.add(rootReal);
  const stack: { dir: string; rel: string; depth: number; ancestors: Set<string> }[] = [
    { dir: root, rel: '', depth: 0, ancestors: new Set([rootReal]) },
  ];
  while (stack.length) {
    const { dir, rel, depth, ancestors } = stack.pop()!;
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch (e) {
      skipped.push({ path: rel || '.', reason: 'unreadable', detail: (e as Error).message });
      continue;
    }
    const subdirs: typeof stack = [];
    for (const name of names) {
      const abs = path.join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      let s: fs.Stats;
      try {
        s = fs.statSync(abs); // follows symlinks
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        skipped.push({ path: relPath, reason: code === 'ELOOP' ? 'symlink-loop' : 'unreadable', detail: code ?? (e as Error).message });
        continue;
      }
      if (s.isDirectory()) {
        if (isExcluded(relPath) || isExcluded(`${relPath}/`)) continue;
        let real: string;
        try {
          real = fs.realpathSync(abs);
        } catch (e) {
          skipped.push({ path: relPath, reason: 'unreadable', detail: (e as Error).message });
          continue;
        }
        if (ancestors.has(real)) {
          skipped.push({ path: relPath, reason: 'symlink-loop', detail: `links back to ${real}` });
        } else if (seenDirs.has(real)) {
          skipped.push({ path: relPath, reason: 'duplicate', detail: `same folder as one already read (${real})` });
        } else if (depth + 1 > opts.maxDepth) {
          skipped.push({ path: relPath, reason: 'too-deep', detail: `deeper than ${opts.maxDepth} levels` });
        } else {
          seenDirs.add(real);
          subdirs.push({ dir: abs, rel: relPath, depth: depth + 1, ancestors: new Set([...ancestors, real]) });
        }
        continue;
      }
      if (!isIncluded(relPath) || isExcluded(relPath)) continue;
      if (!s.isFile()) {
        skipped.push({ path: relPath, reason: 'not-regular', detail: 'not a regular file (pipe, socket or device)' });
        continue;
      }
      if (s.size > opts.maxFileBytes) {
        skipped.push({ path: relPath, reason: 'too-large', detail: `${formatBytes(s.size)} > ${formatBytes(opts.maxFileBytes)}` });
        continue;
      }
      if (docs.length >= opts.maxFiles) {
        skipped.push({ path: relPath, reason: 'file-limit', detail: `more than ${opts.maxFiles} files` });
        continue;
      }
      if (total + s.size > opts.maxTotalBytes) {
        skipped.push({ path: relPath, reason: 'total-limit', detail: `would exceed ${formatBytes(opts.maxTotalBytes)} in total` });
        continue;
      }
      let real: string;
      let buf: Buffer;
      try {
        real = fs.realpathSync(abs);
        if (seenFiles.has(real)) {
          skipped.push({ path: relPath, reason: 'duplicate', detail: `same file as one already read (${real})` });
          continue;
        }
        buf = readRegular(abs, s.size);
      } catch (e) {
        skipped.push({ path: relPath, reason: 'unreadable', detail: (e as Error).message });
        continue;
      }
      seenFiles.add(real);
      if (isBinary(buf)) {
        skipped.push({ path: relPath, reason: 'binary', detail: 'NUL byte in the first 8 KiB' });
        continue;
      }
      if (buf.length === 0) continue;
      total += buf.length;
      docs.push({ path: relPath, text: buf.toString('utf8'), bytes: buf.length });
    }
    // Push in reverse so the pop order visits subfolders alphabetically.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]);
  }
  docs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const summary = summarize(docs, skipped, total);
  if (docs.length === 0) {
    throw new DataSourceError(`data folder ${shown} has no readable text files matching ${include.join(', ')}: ${summary}`);
  }
  return { root, kind: 'folder', docs, skipped, totalBytes: total, summary };
}
