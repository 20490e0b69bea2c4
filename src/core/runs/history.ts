/**
 * One history per run: which rows of metrics.jsonl (and which events) a resumed session superseded.
 *
 * A session that continues from checkpoint step C logs a `resume` event with `rewindTo: C` and
 * `metricsBytes: B`, the size of metrics.jsonl when it began. It re-trains the steps after C, so
 * every metrics row that starts before byte B and has `step > C` was superseded by it; rows from B
 * on are its own. Events before the `resume` event in events.jsonl with `step > C` and a type
 * that describes the curve (eval, growth, checkpoint, nonfinite) are superseded the same way.
 * A row is superseded when any rewind supersedes it. This is the only rule; every TypeScript
 * reader (run summaries, the monitor, tests, the exporter's tooling) calls it, and train.py's
 * `read_history` implements the same (docs/run-format.md, "One history per run").
 *
 * Logs written before the rule existed: a `resume` event without `rewindTo` rewinds to its own
 * `step`, and a `start` event after an earlier session (the old "resume without a checkpoint"
 * started over in place) rewinds to 0; both compare the rows' `time` with the event's instead of
 * byte offsets.
 *
 * A restart (`shapelab resume --restart`) does not rewind in place: it moves the earlier attempt's
 * files aside (src/core/runs/attempts.ts), so each attempt has its own files and its own history.
 */
import * as path from 'node:path';
import { readJsonl } from './jsonl';

export interface Rewind {
  /** The checkpoint step the session continued from. */
  rewindTo: number;
  /** Size of metrics.jsonl when the session began; rows starting before it belong to earlier sessions. */
  metricsBytes?: number;
  /** Legacy logs (no metricsBytes): the event's Unix ms; rows with an earlier `time` belong to earlier sessions. */
  time?: number;
  /** Index of the event in events.jsonl. */
  eventIndex: number;
}

interface EventLike {
  type?: unknown;
  step?: unknown;
  time?: unknown;
  rewindTo?: unknown;
  metricsBytes?: unknown;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** Event types that describe the curve at their step (session bookkeeping such as `lock` or `error` is history of its own). */
export const CURVE_EVENT_TYPES: ReadonlySet<string> = new Set(['eval', 'growth', 'checkpoint', 'nonfinite']);

/** The rewinds recorded in a run's events, in order. */
export function rewindsOf(events: readonly EventLike[]): Rewind[] {
  const out: Rewind[] = [];
  let sessions = 0;
  events.forEach((e, i) => {
    if (e.type !== 'resume' && e.type !== 'start') return;
    sessions++;
    if (isNum(e.rewindTo) && isNum(e.metricsBytes)) out.push({ rewindTo: e.rewindTo, metricsBytes: e.metricsBytes, eventIndex: i });
    else if (e.type === 'resume' && isNum(e.step)) out.push({ rewindTo: e.step, ...(isNum(e.time) ? { time: e.time } : {}), eventIndex: i });
    else if (e.type === 'start' && sessions > 1) out.push({ rewindTo: 0, ...(isNum(e.time) ? { time: e.time } : {}), eventIndex: i });
  });
  return out;
}

/**
 * Whether a metrics row was superseded. `offset` is the byte offset of its line in metrics.jsonl;
 * a reader that does not know it (undefined) can only apply the legacy (time-based) rewinds.
 */
export function rowSuperseded(row: { step?: unknown; time?: unknown }, offset: number | undefined, rewinds: readonly Rewind[]): boolean {
  if (!isNum(row.step)) return false;
  for (const r of rewinds) {
    if (row.step <= r.rewindTo) continue;
    if (r.metricsBytes !== undefined) {
      if (offset !== undefined && offset < r.metricsBytes) return true;
    } else if (r.time !== undefined && isNum(row.time) && row.time < r.time) return true;
  }
  return false;
}

/** Whether the event at `index` was superseded by a later rewind. */
export function eventSuperseded(events: readonly EventLike[], index: number, rewinds: readonly Rewind[]): boolean {
  const e = events[index];
  if (!e || typeof e.type !== 'string' || !CURVE_EVENT_TYPES.has(e.type) || !isNum(e.step)) return false;
  return rewinds.some((r) => r.eventIndex > index && (e.step as number) > r.rewindTo);
}

export interface History<M, E> {
  /** Rows of the one history, in file order. */
  metrics: M[];
  /** Rows superseded by a later session (kept in the file; greyed or dropped by readers). */
  superseded: M[];
  /** Events of the one history (session events always stay). */
  events: E[];
  supersededEvents: E[];
}

/** Applies the rule to rows (with their byte offsets; see rowSuperseded) and events of one attempt. */
export function splitHistory<M extends { step?: unknown; time?: unknown }, E extends EventLike>(metrics: readonly M[], offsets: readonly number[] | undefined, events: readonly E[]): History<M, E> {
  const rewinds = rewindsOf(events);
  const h: History<M, E> = { metrics: [], superseded: [], events: [], supersededEvents: [] };
  metrics.forEach((m, i) => (rowSuperseded(m, offsets?.[i], rewinds) ? h.superseded : h.metrics).push(m));
  events.forEach((e, i) => (eventSuperseded(events, i, rewinds) ? h.supersededEvents : h.events).push(e));
  return h;
}

/** Reads one attempt's logs (`metrics.jsonl` + `events.jsonl`, or `metrics.attempt-N.jsonl` + `events.attempt-N.jsonl`) as one history. */
export function readHistory<M extends { step?: unknown; time?: unknown } = Record<string, unknown>, E extends EventLike = Record<string, unknown>>(
  runDir: string,
  files: { metrics: string; events: string } = { metrics: 'metrics.jsonl', events: 'events.jsonl' },
): History<M, E> {
  const m = readJsonl<M>(path.join(runDir, files.metrics));
  const e = readJsonl<E>(path.join(runDir, files.events));
  return splitHistory(m.records, m.offsets, e.records);
}
