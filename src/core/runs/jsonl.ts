/**
 * Append-only JSON-lines files (metrics.jsonl, events.jsonl).
 *
 * Writing: each record is one `writeSync` of `JSON + '\n'` on an O_APPEND fd, so a killed process
 * (kill -9) leaves every line it finished; the kernel has the bytes even without fsync. fsync is
 * only for power loss and is throttled (default at most once a second) so logging every step
 * stays cheap. Opening a file for append first cuts a torn last line (no '\n') left by a crash,
 * so the next record does not get glued onto garbage.
 *
 * Reading: only complete lines count; a torn last line is ignored, and a complete line that does
 * not parse is skipped and counted (it can only come from outside interference).
 * Non-finite numbers (a NaN loss) are written as the strings "NaN", "Infinity", "-Infinity"
 * (JSON has no such numbers) and turned back into numbers on read.
 */
import * as fs from 'node:fs';

const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

export function stringifyRecord(obj: unknown): string {
  return JSON.stringify(obj, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

export function parseRecord(line: string): unknown {
  return JSON.parse(line, (_k, v) => (typeof v === 'string' && NON_FINITE.has(v) ? Number(v) : v));
}

export interface JsonlWriterOptions {
  /** fsync at most this often (ms); 0 = after every line; Infinity = only on flush/close. Default 1000. */
  syncEveryMs?: number;
}

/** Cuts bytes after the last '\n' (a torn write); returns how many bytes were cut. */
export function repairTornTail(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return 0;
    // Scan back in blocks for the last newline.
    const block = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - block.length);
      const n = fs.readSync(fd, block, 0, end - start, start);
      const i = block.subarray(0, n).lastIndexOf(0x0a);
      if (i >= 0) {
        const keep = start + i + 1;
        if (keep < size) fs.ftruncateSync(fd, keep);
        return size - keep;
      }
      end = start;
    }
    fs.ftruncateSync(fd, 0); // no newline at all: the whole file is one torn line
    return size;
  } finally {
    fs.closeSync(fd);
  }
}

export class JsonlWriter {
  private fd: number | undefined;
  private lastSync = 0;
  private readonly syncEveryMs: number;
  /** Bytes cut from a torn last line when the file was opened. */
  readonly repairedBytes: number;

  constructor(
    readonly file: string,
    opts: JsonlWriterOptions = {},
  ) {
    this.syncEveryMs = opts.syncEveryMs ?? 1000;
    this.repairedBytes = repairTornTail(file);
    this.fd = fs.openSync(file, 'a');
  }

  append(record: unknown): void {
    if (this.fd === undefined) throw new Error(`${this.file}: writer is closed`);
    const buf = Buffer.from(stringifyRecord(record) + '\n', 'utf8');
    // One write call per record; loop only in the (rare) short-write case.
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    const now = Date.now();
    if (now - this.lastSync >= this.syncEveryMs) {
      fs.fsyncSync(this.fd);
      this.lastSync = now;
    }
  }

  /** Current size of the file in bytes (after the torn-tail repair at open: the next record starts here). */
  bytes(): number {
    if (this.fd === undefined) throw new Error(`${this.file}: writer is closed`);
    return fs.fstatSync(this.fd).size;
  }

  /** Forces the data to disk (call at checkpoints and before exit). */
  flush(): void {
    if (this.fd !== undefined) fs.fsyncSync(this.fd);
    this.lastSync = Date.now();
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

export interface JsonlContent<T> {
  records: T[];
  /** A last line without '\n' was ignored (a write torn by a crash, or one in progress). */
  tornTail: boolean;
  /** Complete lines that did not parse and were skipped. */
  badLines: number;
  /** Byte offset in the file of each record's line (readJsonl, readJsonlTail; see src/core/runs/history.ts). */
  offsets?: number[];
}

/** Parses the complete lines of a buffer that starts at a line boundary at byte `base` of its file, keeping each line's offset. */
export function parseBufferLines<T>(buf: Buffer, base = 0): Required<JsonlContent<T>> {
  const records: T[] = [];
  const offsets: number[] = [];
  let badLines = 0;
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    const line = buf.toString('utf8', start, nl);
    if (line.trim() !== '') {
      try {
        const v = parseRecord(line);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          records.push(v as T);
          offsets.push(base + start);
        } else badLines++;
      } catch {
        badLines++;
      }
    }
    start = nl + 1;
  }
  return { records, tornTail: start < buf.length, badLines, offsets };
}

/** Parses the complete lines of a chunk that starts at a line boundary. */
export function parseLines<T>(text: string): JsonlContent<T> {
  const records: T[] = [];
  let badLines = 0;
  const lastNl = text.lastIndexOf('\n');
  const complete = lastNl >= 0 ? text.slice(0, lastNl) : '';
  const tornTail = lastNl < text.length - 1;
  if (complete.length || lastNl >= 0) {
    for (const line of complete.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const v = parseRecord(line);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) records.push(v as T);
        else badLines++;
      } catch {
        badLines++;
      }
    }
  }
  return { records, tornTail, badLines };
}

/** Reads a whole JSON-lines file; a missing file reads as empty. */
export function readJsonl<T = Record<string, unknown>>(file: string): JsonlContent<T> {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], tornTail: false, badLines: 0, offsets: [] };
    throw e;
  }
  return parseBufferLines<T>(buf);
}

/** Reads the complete lines in the last `maxBytes` of a file (for summaries of long runs). */
export function readJsonlTail<T = Record<string, unknown>>(file: string, maxBytes = 256 * 1024): JsonlContent<T> {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], tornTail: false, badLines: 0, offsets: [] };
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, start + off);
      if (n === 0) break;
      off += n;
    }
    let body = buf.subarray(0, off);
    let base = start;
    if (start > 0) {
      // Drop the partial first line: we started in the middle of it.
      const i = body.indexOf(0x0a);
      body = i >= 0 ? body.subarray(i + 1) : body.subarray(body.length);
      base = i >= 0 ? start + i + 1 : start + off;
    }
    return parseBufferLines<T>(body, base);
  } finally {
    fs.closeSync(fd);
  }
}
