/**
 * The run folder (docs/run-format.md): creation without ever overwriting, config.json, the
 * append-only logs, the lock, summaries for the runs view, and an incremental follower for the
 * live monitor.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, tempNameFor, writeAll } from './fsutil';
import { JsonlWriter, parseBufferLines, readJsonlTail, type JsonlWriterOptions } from './jsonl';
import { acquireRunLock, lockLiveness, readLock, type AcquireOptions, type RunLock } from './lock';
import { latestCheckpoint } from './checkpoint';
import { archiveAttempt } from './attempts';
import { splitHistory } from './history';
import { deviceLabel } from '../train/runtimeChoice';

export { readJsonl, readJsonlTail, JsonlWriter, repairTornTail } from './jsonl';
export type { JsonlContent } from './jsonl';
export { acquireRunLock, readLock, isPidAlive, lockLiveness, RunLockedError, LOCK_FILE } from './lock';
export type { LockInfo, RunLock } from './lock';

export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.jsonl';
export const EVENTS_FILE = 'events.jsonl';

export const EVENT_TYPES = ['start', 'resume', 'checkpoint', 'eval', 'growth', 'nonfinite', 'stop', 'done', 'error', 'lock', 'restart'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface RunEvent {
  type: EventType;
  step: number;
  tokens: number;
  time: number;
  [k: string]: unknown;
}

export interface MetricRecord {
  step: number;
  tokens: number;
  loss: number;
  lr?: number;
  tokensPerSec?: number;
  tflops?: number;
  gradNorm?: number;
  time: number;
  depth?: number;
  evalLoss?: number;
  [k: string]: unknown;
}

export class RunStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunStoreError';
  }
}

/** `2026-11-22T21-50-00-tiny`: UTC time to the second, then the label reduced to [A-Za-z0-9._-]. */
export function makeRunName(label: string, now: Date = new Date()): string {
  const ts = now.toISOString().slice(0, 19).replace(/:/g, '-');
  const clean = label
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, 48);
  return clean ? `${ts}-${clean}` : ts;
}

/**
 * Creates a new run folder under `root`. An existing folder is never reused: a name taken in the
 * same second gets a numeric suffix (mkdir without `recursive` makes the claim atomic).
 */
export function createRunDir(root: string, label: string, now: Date = new Date()): string {
  fs.mkdirSync(root, { recursive: true });
  const base = path.join(root, makeRunName(label, now));
  for (let i = 1; i <= 1000; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    fsyncDir(root);
    return dir;
  }
  throw new RunStoreError(`run directory ${base} and 999 numbered variants already exist; refusing to overwrite them`);
}

/** Writes config.json once, atomically; an existing config.json is never replaced. */
export function writeConfig(runDir: string, config: unknown): string {
  const target = path.join(runDir, CONFIG_FILE);
  const tmp = tempNameFor(target);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    writeAll(fd, Buffer.from(JSON.stringify(config, null, 2) + '\n', 'utf8'));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, target); // fails if config.json exists, unlike rename
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new RunStoreError(`${target} already exists; refusing to overwrite it`);
    throw e;
  } finally {
    fs.unlinkSync(tmp);
  }
  fsyncDir(runDir);
  return target;
}

/** Parsed config.json (validate it with validateConfig before use). */
export function readConfig(runDir: string): unknown {
  const file = path.join(runDir, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new RunStoreError(`${file} cannot be read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RunStoreError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** A writer's handle on a run: the lock plus both logs. */
export class RunSession {
  readonly metrics: JsonlWriter;
  readonly events: JsonlWriter;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly lock: RunLock,
    opts: JsonlWriterOptions,
  ) {
    this.metrics = new JsonlWriter(path.join(dir, METRICS_FILE), opts);
    this.events = new JsonlWriter(path.join(dir, EVENTS_FILE), opts);
  }

  /** Number the earlier attempt got when the session was opened with `restart` (null: there was nothing to move). */
  archivedAttempt: number | null = null;

  /**
   * Locks the run (taking over a stale lock, which is logged as a `lock` event) and opens the logs.
   * `restart`: under the lock, first moves the current attempt's files aside (attempts.ts).
   */
  static open(runDir: string, opts: AcquireOptions & JsonlWriterOptions & { restart?: boolean } = {}): RunSession {
    const lock = acquireRunLock(runDir, opts);
    let s: RunSession;
    try {
      const archived = opts.restart ? archiveAttempt(runDir) : null;
      s = new RunSession(runDir, lock, opts);
      s.archivedAttempt = archived;
    } catch (e) {
      lock.release();
      throw e;
    }
    if (lock.tookOverFrom) {
      const last = readJsonlTail<MetricRecord>(path.join(runDir, METRICS_FILE)).records.at(-1);
      s.event({ type: 'lock', step: last?.step ?? 0, tokens: last?.tokens ?? 0, tookOverFrom: lock.tookOverFrom });
    }
    return s;
  }

  metric(m: Omit<MetricRecord, 'time'> & { time?: number }): void {
    this.metrics.append({ ...m, time: m.time ?? Date.now() });
  }

  event(e: Omit<RunEvent, 'time'> & { time?: number }): void {
    this.events.append({ ...e, time: e.time ?? Date.now() });
    this.events.flush(); // events are rare and matter (stop/done/error): always durable
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.metrics.close();
      this.events.close();
    } finally {
      this.lock.release();
    }
  }
}

export type RunStatus = 'running' | 'done' | 'stopped' | 'failed' | 'crashed';

export interface RunSummary {
  name: string;
  dir: string;
  status: RunStatus;
  lastStep: number | null;
  lastTokens: number | null;
  lastLoss: number | null;
  lastEvalLoss: number | null;
  device: string | null;
  depth: number | null;
  /** Unix ms of the first start event, else the folder's creation. */
  startedAt: number | null;
  /** Unix ms of the last metric or event. */
  updatedAt: number | null;
  latestCheckpoint: string | null;
  /** Message of the error event, for failed runs. */
  error?: string;
}

const SESSION_START = new Set(['start', 'resume']);
const TERMINAL: Record<string, RunStatus> = { done: 'done', stop: 'stopped', error: 'failed' };

function num(v: unknown): number | null {
  return typeof v === 'number' && !Number.isNaN(v) ? v : null;
}

/** Derives a run's status from its events and lock; reads only the tails of the logs. */
export function summarizeRun(runDir: string): RunSummary {
  const tail = readJsonlTail<MetricRecord>(path.join(runDir, METRICS_FILE));
  const events = readJsonlTail<RunEvent>(path.join(runDir, EVENTS_FILE)).records;
  // Only the run's one history (rows a resume superseded are not its last eval loss).
  const metrics = splitHistory(tail.records, tail.offsets, events).metrics;
  let config: Record<string, unknown> | null = null;
  try {
    const c = readConfig(runDir);
    if (c && typeof c === 'object') config = c as Record<string, unknown>;
  } catch {
    /* a summary still works without it */
  }
  const lock = readLock(runDir);
  // 'unknown' (another host) counts as running: we must not call someone else's live run crashed.
  const live = lock !== null && lockLiveness(lock) !== false;

  let status: RunStatus = 'crashed';
  let error: string | undefined;
  for (let i = events.length - 1; i >= 0; i--) {
    const t = events[i].type;
    if (t in TERMINAL) {
      status = TERMINAL[t];
      if (t === 'error') error = String(events[i].message ?? events[i].error ?? '');
      break;
    }
    if (SESSION_START.has(t)) break; // the last session never ended
  }
  if (live) status = 'running';

  const lastM = metrics.at(-1);
  let lastEval: number | null = null;
  for (let i = metrics.length - 1; i >= 0 && lastEval === null; i--) lastEval = num(metrics[i].evalLoss);
  const starts = events.filter((e) => SESSION_START.has(e.type));
  const lastStart = starts.at(-1);
  const model = config?.model as Record<string, unknown> | undefined;
  const ep = (lastStart?.epUsed ?? lastStart?.ep ?? lastStart?.device ?? config?.ep ?? null) as string | null;
  const device = ep === null ? null : deviceLabel(ep, lastStart?.runtime);
  const firstStart = events.find((e) => e.type === 'start');
  let startedAt = num(firstStart?.time);
  if (startedAt === null) {
    try {
      startedAt = fs.statSync(runDir).birthtimeMs || fs.statSync(runDir).mtimeMs;
    } catch {
      startedAt = null;
    }
  }
  const updatedAt = Math.max(num(lastM?.time) ?? -Infinity, num(events.at(-1)?.time) ?? -Infinity);
  const lastEvent = events.at(-1);
  return {
    name: path.basename(runDir),
    dir: runDir,
    status,
    lastStep: num(lastM?.step) ?? num(lastEvent?.step),
    lastTokens: num(lastM?.tokens) ?? num(lastEvent?.tokens),
    lastLoss: lastM ? (typeof lastM.loss === 'number' ? lastM.loss : null) : null,
    lastEvalLoss: lastEval,
    device: typeof device === 'string' ? device : null,
    depth: num(lastM?.depth) ?? num(model?.nLayers),
    startedAt,
    updatedAt: Number.isFinite(updatedAt) ? updatedAt : null,
    latestCheckpoint: latestCheckpoint(runDir),
    ...(error !== undefined ? { error } : {}),
  };
}

/** Summaries of the runs under `root` (folders with a config.json or logs), newest name first. */
export function listRuns(root: string): RunSummary[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: RunSummary[] = [];
  for (const name of names.sort().reverse()) {
    const dir = path.join(root, name);
    try {
      if (!fs.statSync(dir).isDirectory()) continue;
      if (![CONFIG_FILE, METRICS_FILE, EVENTS_FILE].some((f) => fs.existsSync(path.join(dir, f)))) continue;
      out.push(summarizeRun(dir));
    } catch {
      /* one unreadable folder must not hide the others */
    }
  }
  return out;
}

interface Tail {
  file: string;
  offset: number;
  ino: number | null;
}

export interface FollowUpdate {
  metrics: MetricRecord[];
  /** Byte offset of each metrics row in metrics.jsonl (for the history rule, src/core/runs/history.ts). */
  metricOffsets: number[];
  events: RunEvent[];
  /** A file shrank or was replaced: the consumer should drop what it had and take these records as the start. */
  reset: boolean;
}

/**
 * Tails metrics.jsonl and events.jsonl by byte offset. Each poll returns only records whose line
 * is complete; a partial last line is read again next time, so the monitor never sees half a record.
 */
export class RunFollower {
  private readonly tails: { metrics: Tail; events: Tail };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly runDir: string,
    /** Upper bound on bytes read per file per poll, so a huge backlog does not stall the UI. */
    private readonly maxChunk = 4 << 20,
  ) {
    this.tails = {
      metrics: { file: path.join(runDir, METRICS_FILE), offset: 0, ino: null },
      events: { file: path.join(runDir, EVENTS_FILE), offset: 0, ino: null },
    };
  }

  poll(): FollowUpdate {
    const m = this.read(this.tails.metrics);
    const e = this.read(this.tails.events);
    return { metrics: m.records as MetricRecord[], metricOffsets: m.offsets, events: e.records as RunEvent[], reset: m.reset || e.reset };
  }

  /** Polls every `intervalMs` and calls `onUpdate` when something new arrived. */
  start(onUpdate: (u: FollowUpdate) => void, intervalMs = 500): void {
    this.stop();
    const tick = () => {
      let u: FollowUpdate;
      try {
        u = this.poll();
      } catch {
        return; // transient (file being replaced): next tick
      }
      if (u.metrics.length || u.events.length || u.reset) onUpdate(u);
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private read(t: Tail): { records: unknown[]; offsets: number[]; reset: boolean } {
    let fd: number;
    try {
      fd = fs.openSync(t.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], offsets: [], reset: false };
      throw e;
    }
    try {
      const st = fs.fstatSync(fd);
      let reset = false;
      if ((t.ino !== null && st.ino !== t.ino) || st.size < t.offset) {
        t.offset = 0;
        reset = t.ino !== null;
      }
      t.ino = st.ino;
      const want = Math.min(st.size - t.offset, this.maxChunk);
      if (want <= 0) return { records: [], offsets: [], reset };
      const buf = Buffer.alloc(want);
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, buf, got, want - got, t.offset + got);
        if (n === 0) break;
        got += n;
      }
      const nl = buf.subarray(0, got).lastIndexOf(0x0a);
      if (nl < 0) {
        // A single line longer than maxChunk cannot be shown; skip past it rather than stall forever.
        if (got === this.maxChunk) t.offset += got;
        return { records: [], offsets: [], reset };
      }
      const base = t.offset;
      t.offset += nl + 1;
      const p = parseBufferLines(buf.subarray(0, nl + 1), base);
      return { records: p.records, offsets: p.offsets, reset };
    } finally {
      fs.closeSync(fd);
    }
  }
}
