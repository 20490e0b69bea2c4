/**
 * Reading run folders (docs/run-format.md) for the monitor: listing runs, summarizing one, and
 * tailing its metrics.jsonl / events.jsonl incrementally. No `vscode` import.
 *
 * Robustness rules: only direct sub-folders of the runs folder are looked at (no recursion, so
 * symlink loops cannot hang us); a torn last line is left unread until it is completed; lines
 * that do not parse (binary garbage, partial writes) are skipped and counted; huge files are read
 * in bounded chunks and only their tail is loaded at first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLock, lockLiveness } from '../../core/runs/lock';
import { writeFileAtomic } from '../../core/runs/fsutil';
import { countModelParams } from '../../core/train/resources';
import type { RunConfig } from '../../core/runs/configSchema';
import { eventSuperseded, readHistory, rewindsOf, rowSuperseded, type Rewind } from '../../core/runs/history';
import { attemptFiles, describeNoCheckpoint, listAttempts } from '../../core/runs/attempts';
import { latestCheckpoint, listCheckpoints } from '../../core/runs/checkpoint';
import { AttemptSeries, MetricPoint, RunEvent, RunSummaryVM, ID_PATTERN, toMetricPoint, toRunEvent } from '../../../webview/shared/messages';

export const CHUNK_BYTES = 4 * 1024 * 1024;
/** On first open, files larger than this are read from their last INITIAL_TAIL_BYTES only. */
export const INITIAL_TAIL_BYTES = 64 * 1024 * 1024;
export const MAX_RUNS = 500;

/** Incremental, byte-offset based JSONL reader that never consumes a partial last line. */
export class JsonlTail {
  private offset = 0;
  private ino = -1;
  skipped = 0;
  truncatedHead = false;
  private dropFirstLine = false;

  constructor(readonly file: string) {}

  /**
   * Returns the objects of lines completed since the last call (`offsets`: each line's byte offset
   * in the file, for the history rule); `reset` when the file was replaced/shrunk.
   */
  read(): { rows: unknown[]; reset: boolean; offsets: number[] } {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      return { rows: [], reset: false, offsets: [] };
    }
    if (!st.isFile()) return { rows: [], reset: false, offsets: [] };
    let reset = false;
    if (st.ino !== this.ino || st.size < this.offset) {
      reset = this.ino !== -1;
      this.ino = st.ino;
      this.offset = 0;
      this.truncatedHead = false;
      if (st.size > INITIAL_TAIL_BYTES) {
        this.offset = st.size - INITIAL_TAIL_BYTES;
        this.truncatedHead = true;
        this.dropFirstLine = true;
      }
    }
    const rows: unknown[] = [];
    const offsets: number[] = [];
    if (st.size <= this.offset) return { rows, reset, offsets };
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return { rows, reset, offsets };
    }
    try {
      const buf = Buffer.allocUnsafe(CHUNK_BYTES);
      while (this.offset < st.size) {
        const n = fs.readSync(fd, buf, 0, Math.min(CHUNK_BYTES, st.size - this.offset), this.offset);
        if (n <= 0) break;
        const lastNl = buf.lastIndexOf(0x0a, n - 1);
        if (lastNl < 0) {
          // No complete line in this chunk: a torn tail (wait) or a giant line (skip it).
          if (n === CHUNK_BYTES) {
            this.offset += n;
            this.skipped++;
            continue;
          }
          break;
        }
        const chunkStart = this.offset;
        let pos = 0;
        this.offset += lastNl + 1;
        if (this.dropFirstLine) {
          // We started mid-file: the first line is a fragment.
          pos = buf.indexOf(0x0a, 0) + 1;
          this.dropFirstLine = false;
        }
        // Line by line on the bytes, so every row knows its byte offset in the file.
        while (pos <= lastNl) {
          const nl = buf.indexOf(0x0a, pos);
          const t = buf.toString('utf8', pos, nl).trim();
          if (t) {
            try {
              rows.push(JSON.parse(t));
              offsets.push(chunkStart + pos);
            } catch {
              this.skipped++;
            }
          }
          pos = nl + 1;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    return { rows, reset, offsets };
  }
}

export interface RunState {
  id: string;
  dir: string;
  metrics: MetricPoint[];
  events: RunEvent[];
  config: Record<string, unknown> | undefined;
}

/**
 * Follows one run folder: call `poll()` periodically; it returns what is new. Only the run's one
 * history is kept (src/core/runs/history.ts): when a `resume` event arrives, the rows it
 * superseded are dropped and the poll reports a reset, so the charts redraw without them.
 */
export class RunFollower {
  readonly metricsTail: JsonlTail;
  readonly eventsTail: JsonlTail;
  /** Rows of the current history (what the charts plot). */
  metrics: MetricPoint[] = [];
  /** Byte offset of each row of `metrics` in metrics.jsonl. */
  private metricOffsets: number[] = [];
  /** Events of the current history. */
  events: RunEvent[] = [];
  /** Every event read, with the fields the history rule needs. */
  private rawEvents: EventLike[] = [];
  private rewinds: Rewind[] = [];
  config: Record<string, unknown> | undefined;
  private attemptsCache: { key: string; series: AttemptSeries[] } | undefined;

  constructor(readonly id: string, readonly dir: string, private readonly maxPoints = 200_000) {
    this.metricsTail = new JsonlTail(path.join(dir, 'metrics.jsonl'));
    this.eventsTail = new JsonlTail(path.join(dir, 'events.jsonl'));
  }

  poll(): { reset: boolean; metrics: MetricPoint[]; events: RunEvent[] } {
    if (!this.config) this.config = readConfig(this.dir);
    const m = this.metricsTail.read();
    const e = this.eventsTail.read();
    let reset = m.reset || e.reset;
    if (m.reset) {
      this.metrics = [];
      this.metricOffsets = [];
    }
    if (e.reset) {
      this.rawEvents = [];
      this.rewinds = [];
    }
    for (const row of e.rows) {
      const ev = toRunEvent(row);
      if (!ev) continue;
      const r = row as Record<string, unknown>;
      this.rawEvents.push({ type: ev.type, step: ev.step, time: r.time, rewindTo: r.rewindTo, metricsBytes: r.metricsBytes, vm: ev });
    }
    const rewinds = rewindsOf(this.rawEvents);
    if (rewinds.length !== this.rewinds.length) {
      // A new session rewound the run: drop what it superseded (rows never come back) and redraw.
      const keep = this.metrics.map((p, i) => !rowSuperseded(p, this.metricOffsets[i], rewinds));
      this.metrics = this.metrics.filter((_, i) => keep[i]);
      this.metricOffsets = this.metricOffsets.filter((_, i) => keep[i]);
      reset = true;
    }
    this.rewinds = rewinds;
    const before = this.events.length;
    this.events = this.currentEvents(rewinds);
    const newEvents = reset ? this.events : this.events.slice(before);
    const newMetrics: MetricPoint[] = [];
    m.rows.forEach((row, i) => {
      const p = toMetricPoint(row);
      if (!p || rowSuperseded(p, m.offsets[i], rewinds)) return;
      newMetrics.push(p);
      this.metrics.push(p);
      this.metricOffsets.push(m.offsets[i]);
    });
    if (this.metrics.length > this.maxPoints) {
      // Thin the oldest half so memory stays bounded on very long runs.
      const half = Math.floor(this.metrics.length / 2);
      const keep = this.metrics.map((p, i) => i >= half || i % 2 === 0 || p.evalLoss !== undefined);
      this.metrics = this.metrics.filter((_, i) => keep[i]);
      this.metricOffsets = this.metricOffsets.filter((_, i) => keep[i]);
    }
    return { reset, metrics: reset ? this.metrics : newMetrics, events: newEvents };
  }

  private currentEvents(rewinds: Rewind[]): RunEvent[] {
    return this.rawEvents.filter((_, i) => !eventSuperseded(this.rawEvents, i, rewinds)).map((e) => e.vm);
  }

  /**
   * Earlier attempts of the run (`shapelab resume --restart` moved them to metrics.attempt-N.jsonl):
   * each its own history, thinned to `maxPoints`, for the charts to draw greyed behind the current one.
   */
  attempts(maxPoints = 2000): AttemptSeries[] {
    const ns = listAttempts(this.dir);
    const key = ns.join(',');
    if (this.attemptsCache?.key === key) return this.attemptsCache.series;
    const series = ns.map((n) => {
      const f = attemptFiles(n);
      const h = readHistory(this.dir, f);
      const pts = h.metrics.map(toMetricPoint).filter((x): x is MetricPoint => !!x);
      const stride = Math.max(1, Math.ceil(pts.length / maxPoints));
      return { attempt: n, metrics: pts.filter((p, i) => i % stride === 0 || i === pts.length - 1 || p.evalLoss !== undefined) };
    });
    this.attemptsCache = { key, series };
    return series;
  }

  /** The study / experiment folder holding the run, when it is one level down. */
  group?: string;

  summary(): RunSummaryVM {
    const s = summarize(this.id, this.dir, this.metrics, this.events, this.config);
    const label = readLabel(this.dir);
    s.folder = path.basename(this.dir);
    if (label) s.name = label;
    else s.name = s.folder;
    if (this.group) s.group = this.group;
    const depths = new Set<number>();
    for (const p of this.metrics) if (p.depth !== undefined) depths.add(p.depth);
    const pbd = paramsByDepth(this.config, depths);
    if (pbd) s.paramsByDepth = pbd;
    return s;
  }
}

interface EventLike {
  type: string;
  step: number;
  time?: unknown;
  rewindTo?: unknown;
  metricsBytes?: unknown;
  vm: RunEvent;
}

export function readConfig(dir: string): Record<string, unknown> | undefined {
  return readJsonObject(path.join(dir, 'config.json'));
}

/** A JSON object file of at most 16 MiB, or undefined (missing, too large, unparsable, not an object). */
export function readJsonObject(f: string): Record<string, unknown> | undefined {
  try {
    const st = fs.statSync(f);
    if (!st.isFile() || st.size > 16 * 1024 * 1024) return undefined;
    const v = JSON.parse(fs.readFileSync(f, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function dig(o: unknown, keys: string[]): unknown {
  let cur = o;
  for (const k of keys) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** "d512 x L8, completep, batch 2 x 16 x 256" from a ShapeLab (or exported) run config; undefined if it is not one. */
function modelLine(config: Record<string, unknown>): string | undefined {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : undefined);
  const d = n(dig(config, ['model', 'dModel'])), L = n(dig(config, ['model', 'nLayers'])), T = n(dig(config, ['model', 'context']));
  if (d === undefined || L === undefined) return undefined;
  const parts = [`d${d} x L${L}`];
  const p = dig(config, ['parameterization']);
  if (typeof p === 'string' && /^[A-Za-z0-9.]{1,20}$/.test(p)) parts.push(p);
  const B = n(dig(config, ['batchSize'])), K = n(dig(config, ['gradAccum']));
  if (B !== undefined && T !== undefined) parts.push(`batch ${K && K > 1 ? `${K} x ` : ''}${B} x ${T}`);
  const g = dig(config, ['growth', 'factor']);
  if (n(g) !== undefined) parts.push(`G_stack x${n(g)} at step ${n(dig(config, ['growth', 'atStep'])) ?? '?'}`);
  return parts.join(', ');
}

/** Best-effort total step count, device and model line from config.json (field names vary across versions). */
export function configInfo(config: Record<string, unknown> | undefined): { totalSteps?: number; device?: string; model?: string } {
  if (!config) return {};
  const stepCandidates = [['steps'], ['totalSteps'], ['schedule', 'steps'], ['schedule', 'totalSteps'], ['train', 'steps'], ['training', 'steps'], ['optimizer', 'steps']];
  let totalSteps: number | undefined;
  for (const c of stepCandidates) {
    const v = dig(config, c);
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
      totalSteps = v;
      break;
    }
  }
  const devCandidates = [['executionProvider', 'used'], ['ep', 'used'], ['device', 'used'], ['executionProviderUsed'], ['epUsed'], ['device'], ['executionProvider'], ['ep']];
  let device: string | undefined;
  for (const c of devCandidates) {
    const v = dig(config, c);
    if (typeof v === 'string' && v) {
      device = v.slice(0, 60);
      break;
    }
  }
  return { totalSteps, device, model: modelLine(config) };
}

/**
 * Run status from its events and lock, in the run store's vocabulary (src/core/runs/runStore.ts):
 * running | done | stopped | failed | crashed, plus `new` for a folder with no events yet.
 * A terminal event of the last session decides; a live lock means running.
 */
export function runStatus(events: readonly RunEvent[], live: boolean): string {
  let status = events.length ? 'crashed' : 'new';
  for (let i = events.length - 1; i >= 0; i--) {
    const t = events[i].type;
    if (t === 'done' || t === 'stop' || t === 'error') {
      status = t === 'done' ? 'done' : t === 'stop' ? 'stopped' : 'failed';
      break;
    }
    if (t === 'start' || t === 'resume') break;
  }
  return live ? 'running' : status;
}

/** The run's lock is held by a live process (another host's lock counts as live: never call it crashed). */
export function lockAlive(dir: string): boolean {
  try {
    const lock = readLock(dir);
    return lock !== null && lockLiveness(lock) !== false;
  } catch {
    return false;
  }
}

/** The pid to signal for Stop when the run's lock is held by a live process on this host. */
export function lockPid(dir: string): number | undefined {
  try {
    const lock = readLock(dir);
    return lock && lockLiveness(lock) === true ? lock.pid : undefined;
  } catch {
    return undefined;
  }
}

/** A run without a lock file whose logs changed in the last `ms` is taken as running. */
export function recentlyWritten(dir: string, ms = 20000): boolean {
  const now = Date.now();
  if (fs.existsSync(path.join(dir, 'run.lock'))) return false; // the lock decides
  for (const f of ['metrics.jsonl', 'events.jsonl']) {
    try {
      if (now - fs.statSync(path.join(dir, f)).mtimeMs < ms) return true;
    } catch {
      /* absent */
    }
  }
  return false;
}

export function summarize(
  id: string,
  dir: string,
  metrics: readonly MetricPoint[],
  events: readonly RunEvent[],
  config: Record<string, unknown> | undefined,
): RunSummaryVM {
  const info = configInfo(config);
  let last: MetricPoint | undefined;
  let lastLoss: number | undefined;
  for (const p of metrics) {
    if (!last || p.step >= last.step) last = p;
    if (p.loss !== undefined) lastLoss = p.loss;
  }
  const live = lockAlive(dir);
  let status = runStatus(events, live);
  // No lock (an older trainer) but logs still growing and no terminal event: running.
  if (!live && (status === 'crashed' || status === 'new') && recentlyWritten(dir)) status = 'running';
  const s: RunSummaryVM = { id, name: id, status };
  if (last) s.step = last.step;
  if (lastLoss !== undefined) s.loss = lastLoss;
  if (info.totalSteps !== undefined) s.totalSteps = info.totalSteps;
  let startDevice: string | undefined;
  for (let i = events.length - 1; i >= 0 && startDevice === undefined; i--) {
    if (events[i].type === 'start' || events[i].type === 'resume') startDevice = events[i].device;
  }
  const device = startDevice ?? info.device;
  if (device !== undefined) s.device = device;
  if (info.model !== undefined) s.model = info.model;
  return s;
}

export interface RunDirEntry {
  id: string;
  dir: string;
  mtimeMs: number;
  /** The study / experiment folder (a direct sub-folder of the runs folder) holding this run. */
  group?: string;
}

const RUN_FILES = ['config.json', 'metrics.jsonl', 'events.jsonl'];

/** A folder with a run's files: its newest file time, or undefined when it is not a run. */
function runMtime(dir: string, st: fs.Stats): number | undefined {
  let mtimeMs = st.mtimeMs;
  let isRun = false;
  for (const f of RUN_FILES) {
    try {
      const fst = fs.statSync(path.join(dir, f));
      if (fst.isFile()) {
        isRun = true;
        mtimeMs = Math.max(mtimeMs, fst.mtimeMs);
      }
    } catch {
      /* absent */
    }
  }
  return isRun ? mtimeMs : undefined;
}

/** Id of a run inside a group folder: "group:run" (ids are never paths). */
export function groupedId(group: string, name: string): string {
  return `${group}:${name}`;
}

/**
 * Runs under `root`, newest first: its direct sub-folders that look like runs (config.json,
 * metrics.jsonl or events.jsonl), and the runs one level down in a group folder (a study or
 * experiment folder: any direct sub-folder that holds run folders, or a study.json). Group folders
 * that are symlinks are not followed (no loops). Names that are not safe ids are skipped.
 */
export function listRunDirs(root: string): RunDirEntry[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const out: RunDirEntry[] = [];
  for (const name of names) {
    if (!ID_PATTERN.test(name)) continue;
    const dir = path.join(root, name);
    try {
      const st = fs.statSync(dir);
      if (!st.isDirectory()) continue;
      const m = runMtime(dir, st);
      if (m !== undefined) {
        out.push({ id: name, dir, mtimeMs: m });
        continue;
      }
      if (fs.lstatSync(dir).isSymbolicLink()) continue;
      for (const sub of fs.readdirSync(dir)) {
        const id = groupedId(name, sub);
        if (!ID_PATTERN.test(sub) || !ID_PATTERN.test(id)) continue;
        const sd = path.join(dir, sub);
        try {
          const sst = fs.statSync(sd);
          if (!sst.isDirectory()) continue;
          const sm = runMtime(sd, sst);
          if (sm !== undefined) out.push({ id, dir: sd, mtimeMs: sm, group: name });
        } catch {
          /* vanished */
        }
        if (out.length > 4 * MAX_RUNS) break;
      }
    } catch {
      /* vanished or unreadable: skip */
    }
  }
  out.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.id < b.id ? 1 : -1));
  return out.slice(0, MAX_RUNS);
}

/** The user's label for a run (Rename in the runs tree), stored in the run folder; never renames the folder. */
export const LABEL_FILE = 'label.json';
export const MAX_LABEL = 120;

export function readLabel(dir: string): string | undefined {
  try {
    const st = fs.statSync(path.join(dir, LABEL_FILE));
    if (!st.isFile() || st.size > 4096) return undefined;
    const v = JSON.parse(fs.readFileSync(path.join(dir, LABEL_FILE), 'utf8')) as { label?: unknown };
    const l = typeof v?.label === 'string' ? cleanLabel(v.label) : '';
    return l || undefined;
  } catch {
    return undefined;
  }
}

/** One line, no control characters, trimmed, at most MAX_LABEL characters. */
export function cleanLabel(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_LABEL);
}

/** Writes (or, with an empty label, removes) the label file: temp file + rename, so it is never torn. */
export function writeLabel(dir: string, label: string): void {
  const l = cleanLabel(label);
  const f = path.join(dir, LABEL_FILE);
  if (!l) {
    fs.rmSync(f, { force: true });
    return;
  }
  writeFileAtomic(f, JSON.stringify({ label: l }) + '\n');
}

/** Parameter count per depth for the FLOPs axis: the config's depth and every depth the logs show. */
export function paramsByDepth(config: Record<string, unknown> | undefined, depths: Iterable<number>): Record<number, number> | undefined {
  const m = config?.model as Record<string, unknown> | undefined;
  const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!m || !['vocabSize', 'context', 'dModel', 'dFf', 'nLayers'].every((k) => ok(m[k]))) return undefined;
  const out: Record<number, number> = {};
  for (const d of [m.nLayers as number, ...depths]) {
    if (Number.isInteger(d) && d > 0 && d < 100_000) out[d] = countModelParams(m as unknown as RunConfig['model'], d);
  }
  return out;
}

/**
 * Why `shapelab resume` of this run would be refused for want of a checkpoint (the CLI's own line,
 * src/core/runs/attempts.ts), or undefined when it has one. The Resume command then offers "Start over".
 */
export function resumeBlocker(dir: string): string | undefined {
  try {
    if (listCheckpoints(dir).length > 0 || latestCheckpoint(dir)) return undefined;
    return describeNoCheckpoint(dir);
  } catch {
    return undefined; // unreadable: let the CLI say what is wrong
  }
}
