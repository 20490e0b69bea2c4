/**
 * Chart data shaping for the training monitor: metrics rows -> aligned uPlot columns, smoothing,
 * growth-event markers. Pure functions, no DOM, no `vscode`.
 */
import type { AttemptSeries, MetricPoint, RunEvent } from './messages';
import { compact } from '../../src/core/plan/format';

/** uPlot's AlignedData: x column then y columns; null = gap. */
export type Column = Array<number | null>;

export interface SeriesSet {
  step: number[];
  loss: Column;
  lossSmoothed: Column;
  evalLoss: Column;
  lr: Column;
  tokensPerSec: Column;
  tflops: Column;
  gradNorm: Column;
  depth: Column;
  /** The x-axis values (step, tokens, FLOPs or minutes); `step` is each point's step. */
  x: number[];
  lossOld: Column;
  tokensPerSecSmoothed: Column;
  gradNormSmoothed: Column;
  rssMB: Column;
}

/**
 * Orders metrics by step and merges an eval row and a train row of the same step. The rows a
 * resumed session superseded were already dropped by the host (src/core/runs/history.ts, the one
 * history rule), so a step appears once per kind here; were it not, the later row would win.
 */
export function dedupeByStep(rows: readonly MetricPoint[]): MetricPoint[] {
  const byStep = new Map<number, MetricPoint>();
  for (const r of rows) {
    if (!Number.isFinite(r.step)) continue;
    const prev = byStep.get(r.step);
    byStep.set(r.step, prev ? { ...prev, ...r } : { ...r });
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/**
 * Exponential moving average with TensorBoard-style debiasing (the first points are not pulled
 * toward zero). `weight` in [0, 1): 0 = no smoothing. Gaps (null / non-finite) stay gaps and do
 * not reset the average.
 */
export function ema(values: readonly (number | null | undefined)[], weight: number): Column {
  const w = Number.isFinite(weight) ? Math.min(Math.max(weight, 0), 0.999) : 0;
  const out: Column = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * w + (1 - w) * v;
    n++;
    const debias = w === 0 ? 1 : 1 - Math.pow(w, n);
    out[i] = last / debias;
  }
  return out;
}

function column(rows: readonly MetricPoint[], key: keyof MetricPoint): Column {
  return rows.map((r) => {
    const v = r[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  });
}

/**
 * Indices of at most ~`maxPoints` rows to keep: every stride-th row, every row carrying evalLoss
 * (eval points are sparse and must not disappear) and the last row.
 */
export function downsampleIndices(rows: readonly MetricPoint[], maxPoints: number): number[] {
  if (rows.length <= maxPoints || maxPoints < 2) return rows.map((_, i) => i);
  const stride = Math.ceil(rows.length / maxPoints);
  const out: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    if (i % stride === 0 || i === rows.length - 1 || rows[i].evalLoss !== undefined) out.push(i);
  }
  return out;
}

/** What the x-axis counts. FLOPs: the run's logged `flops` when present, else 6 * N * tokens. */
export const X_AXES = ['step', 'tokens', 'flops', 'time'] as const;
export type XAxis = (typeof X_AXES)[number];
export const X_LABELS: Record<XAxis, string> = { step: 'step', tokens: 'tokens', flops: 'FLOPs (6ND)', time: 'wall time (min)' };

/**
 * The rows to plot and the rows drawn greyed, as the run data says: `metrics` is the current
 * attempt's one history (the host applied src/core/runs/history.ts, so rows a resume superseded
 * are already gone), and `attempts` are the earlier attempts of a restarted run
 * (metrics.attempt-N.jsonl, oldest first). Nothing is inferred from the order of the steps.
 */
export function rowsToPlot(metrics: readonly MetricPoint[], attempts: readonly AttemptSeries[] = []): { rows: MetricPoint[]; superseded: MetricPoint[] } {
  const old = attempts.flatMap((a) => (a && Array.isArray(a.metrics) ? a.metrics : []));
  return { rows: dedupeByStep(metrics), superseded: dedupeByStep(old) };
}

/** Parameter count per depth (growth changes it); the host computes it from config.json. */
export type ParamsByDepth = Record<number, number>;

function paramsAt(row: MetricPoint, pbd: ParamsByDepth | undefined, fallback?: number): number | undefined {
  if (!pbd) return fallback;
  const n = row.depth !== undefined ? pbd[row.depth] : undefined;
  if (n !== undefined) return n;
  const vals = Object.values(pbd);
  return vals.length === 1 ? vals[0] : fallback;
}

/** Cumulative training FLOPs per row (rows in step order): logged `flops` wins, else 6 * N(depth) * tokens. */
export function cumulativeFlops(rows: readonly MetricPoint[], pbd: ParamsByDepth | undefined): Column {
  const out: Column = [];
  let acc = 0;
  let prevTokens = 0;
  for (const r of rows) {
    if (r.flops !== undefined) {
      out.push(r.flops);
      acc = r.flops;
      prevTokens = r.tokens ?? prevTokens;
      continue;
    }
    const n = paramsAt(r, pbd);
    if (r.tokens === undefined || n === undefined) {
      out.push(null);
      continue;
    }
    acc += 6 * n * Math.max(0, r.tokens - prevTokens);
    prevTokens = r.tokens;
    out.push(acc);
  }
  return out;
}

/**
 * Wall-clock minutes of training per row: the time since the run's first record, less the time
 * the run was not running (from the last record before a resume event to that event).
 */
export function wallMinutes(rows: readonly MetricPoint[], events: readonly RunEvent[], allRows: readonly MetricPoint[] = rows): (t: number | undefined) => number | null {
  const times = allRows.map((r) => r.time).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  const starts = events.filter((e) => e.type === 'start' && e.time !== undefined).map((e) => e.time as number);
  const t0 = Math.min(times[0] ?? Infinity, ...starts);
  const pauses: Array<[number, number]> = [];
  for (const e of events) {
    if (e.type !== 'resume' || e.time === undefined) continue;
    let before: number | undefined;
    for (const t of times) if (t <= e.time) before = t;
    if (before !== undefined) pauses.push([before, e.time]);
  }
  return (t) => {
    if (t === undefined || !Number.isFinite(t0)) return null;
    let down = 0;
    for (const [a, b] of pauses) if (b <= t) down += b - a;
    return (t - t0 - down) / 60000;
  };
}

export interface SeriesOptions {
  smoothing?: number;
  maxPoints?: number;
  x?: XAxis;
  events?: readonly RunEvent[];
  paramsByDepth?: ParamsByDepth;
  /** Rows superseded by a resume (from rowsToPlot): plotted greyed in `lossOld`. */
  superseded?: readonly MetricPoint[];
}

function xColumn(rows: readonly MetricPoint[], o: SeriesOptions, allRows: readonly MetricPoint[]): Column {
  switch (o.x ?? 'step') {
    case 'step':
      return rows.map((r) => r.step);
    case 'tokens':
      return rows.map((r) => r.tokens ?? null);
    case 'flops':
      return cumulativeFlops(rows, o.paramsByDepth);
    case 'time': {
      const f = wallMinutes(rows, o.events ?? [], allRows);
      return rows.map((r) => f(r.time));
    }
  }
}

/**
 * Rows -> aligned chart columns on the chosen x-axis. Rows without an x value (e.g. no `time`)
 * are dropped. Superseded rows (earlier attempts) share the x column, in `lossOld`.
 */
export function buildSeries(rows: readonly MetricPoint[], opts: SeriesOptions = {}): SeriesSet {
  const clean = dedupeByStep(rows);
  const old = dedupeByStep(opts.superseded ?? []);
  // Smooth at full resolution, then downsample raw and smoothed columns together.
  const smoothedFull = ema(column(clean, 'loss'), opts.smoothing ?? 0.6);
  const tpsFull = ema(column(clean, 'tokensPerSec'), Math.max(opts.smoothing ?? 0.6, 0.8));
  const gnFull = ema(column(clean, 'gradNorm'), opts.smoothing ?? 0.6);
  const idx = downsampleIndices(clean, opts.maxPoints ?? 4000);
  const kept = idx.map((i) => clean[i]);
  const all = clean.concat(old);
  const xs = xColumn(kept, opts, all);
  const oldXs = xColumn(old, opts, all);
  // For FLOPs, superseded rows continue the current run's cumulative count at their tokens.
  if ((opts.x ?? 'step') === 'flops') {
    const cur = cumulativeFlops(clean, opts.paramsByDepth);
    old.forEach((r, i) => {
      let j = -1;
      for (let k = 0; k < clean.length; k++) if (clean[k].step <= r.step) j = k;
      const n = paramsAt(r, opts.paramsByDepth);
      const base = j >= 0 ? cur[j] : 0;
      oldXs[i] = base !== null && n !== undefined && r.tokens !== undefined ? base + 6 * n * Math.max(0, r.tokens - (j >= 0 ? clean[j].tokens ?? 0 : 0)) : null;
    });
  }
  type Cell = { x: number; cur?: number; old?: number };
  const cells = new Map<number, Cell>();
  xs.forEach((x, i) => {
    if (x !== null && !cells.has(x)) cells.set(x, { x, cur: i });
  });
  oldXs.forEach((x, i) => {
    if (x === null) return;
    const c = cells.get(x);
    if (c) {
      if (c.old === undefined) c.old = i;
    } else cells.set(x, { x, old: i });
  });
  const order = [...cells.values()].sort((a, b) => a.x - b.x);
  const pick = (col: Column | (number | null)[], k: 'cur'): Column => order.map((c) => (c[k] !== undefined ? col[c[k] as number] ?? null : null));
  const curCol = (key: keyof MetricPoint) => pick(column(kept, key), 'cur');
  return {
    x: order.map((c) => c.x),
    step: order.map((c) => (c.cur !== undefined ? kept[c.cur].step : old[c.old as number].step)),
    loss: curCol('loss'),
    lossSmoothed: pick(idx.map((i) => smoothedFull[i]), 'cur'),
    lossOld: order.map((c) => (c.old !== undefined ? old[c.old].loss ?? null : null)),
    evalLoss: curCol('evalLoss'),
    lr: curCol('lr'),
    tokensPerSec: curCol('tokensPerSec'),
    tokensPerSecSmoothed: pick(idx.map((i) => tpsFull[i]), 'cur'),
    tflops: curCol('tflops'),
    gradNorm: curCol('gradNorm'),
    gradNormSmoothed: pick(idx.map((i) => gnFull[i]), 'cur'),
    depth: curCol('depth'),
    rssMB: curCol('rssMB'),
  };
}

export type MarkerKind = 'growth' | 'resume';

export interface GrowthMarker {
  step: number;
  /** Position on the chart's x-axis (set by placeMarkers; defaults to the step). */
  x: number;
  kind: MarkerKind;
  depthBefore?: number;
  depthAfter?: number;
  policy: string;
  label: string;
  /** Run name in a comparison (markers per run). */
  run?: string;
  color?: string;
}

/** Growth events -> vertical chart markers (sorted, one per step). */
export function growthMarkers(events: readonly RunEvent[]): GrowthMarker[] {
  const byStep = new Map<number, GrowthMarker>();
  for (const e of events) {
    if (e.type !== 'growth' || !Number.isFinite(e.step)) continue;
    const policyParts = [
      e.operator ? `operator ${e.operator}` : '',
      e.multiplierPolicy ? `multipliers ${e.multiplierPolicy}` : '',
      e.optimizerPolicy ? `optimizer ${e.optimizerPolicy}` : '',
      e.lrPolicy ? `lr ${e.lrPolicy}` : '',
    ].filter(Boolean);
    const policy = policyParts.join(', ') || 'default';
    const depth = e.depthBefore !== undefined && e.depthAfter !== undefined ? `depth ${e.depthBefore} \u2192 ${e.depthAfter}` : 'growth';
    byStep.set(e.step, {
      step: e.step,
      x: e.step,
      kind: 'growth',
      depthBefore: e.depthBefore,
      depthAfter: e.depthAfter,
      policy,
      label: `step ${e.step}: ${depth} (${policy})`,
    });
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** Resume events -> markers ("resumed from step S"), one per resume. */
export function resumeMarkers(events: readonly RunEvent[]): GrowthMarker[] {
  const out: GrowthMarker[] = [];
  for (const e of events) {
    if (e.type !== 'resume' || !Number.isFinite(e.step)) continue;
    out.push({ step: e.step, x: e.step, kind: 'resume', policy: '', label: `step ${e.step}: resumed${e.device ? ` on ${e.device}` : ''}${e.time !== undefined ? ` at ${new Date(e.time).toISOString().slice(0, 16).replace('T', ' ')} UTC` : ''}` });
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * Puts markers on the x-axis of the chart: the step itself, or the x of the plotted row at that
 * step (linearly between rows); a resume on the wall-time axis sits where the run restarted.
 */
export function placeMarkers(markers: readonly GrowthMarker[], s: Pick<SeriesSet, 'x' | 'step'>, axis: XAxis, events: readonly RunEvent[] = [], rows: readonly MetricPoint[] = []): GrowthMarker[] {
  const out: GrowthMarker[] = [];
  for (const m of markers) {
    let x: number | null = null;
    if (axis === 'step') x = m.step;
    else if (axis === 'time' && m.kind === 'resume') {
      const e = events.find((ev) => ev.type === 'resume' && ev.step === m.step && ev.time !== undefined);
      if (e) x = wallMinutes(rows, events)(e.time);
    }
    if (x === null) x = interpolateX(s.step, s.x, m.step);
    if (x !== null) out.push({ ...m, x });
  }
  return out;
}

function interpolateX(steps: readonly number[], xs: readonly number[], step: number): number | null {
  if (!steps.length) return null;
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < steps.length; i++) {
    if (steps[i] <= step && (lo < 0 || steps[i] >= steps[lo])) lo = i;
    if (steps[i] >= step && (hi < 0 || steps[i] < steps[hi])) hi = i;
  }
  if (lo >= 0 && steps[lo] === step) return xs[lo];
  if (lo < 0 || hi < 0) return null;
  const t = (step - steps[lo]) / (steps[hi] - steps[lo]);
  return xs[lo] + t * (xs[hi] - xs[lo]);
}

/**
 * The plotted points as CSV: the x column then each series, one row per x; empty cells where a
 * series has no point. Labels are quoted when they need it (RFC 4180).
 */
export function toCsv(headers: readonly string[], columns: ReadonlyArray<ReadonlyArray<number | null | undefined>>): string {
  const q = (h: string) => (/[",\n\r]/.test(h) ? `"${h.replace(/"/g, '""')}"` : h);
  const lines = [headers.map(q).join(',')];
  const n = columns[0]?.length ?? 0;
  for (let i = 0; i < n; i++) {
    const cells = columns.map((c) => {
      const v = c[i];
      return v === null || v === undefined || !Number.isFinite(v) ? '' : String(v);
    });
    if (cells.slice(1).every((c) => c === '')) continue;
    lines.push(cells.join(','));
  }
  return lines.join('\n') + '\n';
}

/** The marker whose x pixel is within `tolerancePx` of the cursor, nearest first. */
export function markerNear(
  markers: readonly GrowthMarker[],
  cursorPx: number,
  toPx: (x: number) => number,
  tolerancePx = 5,
): GrowthMarker | undefined {
  let best: GrowthMarker | undefined;
  let bestD = Infinity;
  for (const m of markers) {
    const d = Math.abs(toPx(m.x) - cursorPx);
    if (d <= tolerancePx && d < bestD) {
      best = m;
      bestD = d;
    }
  }
  return best;
}

/**
 * Compact number formatting for axes and tables (1.23e+21 -> "1.23e21", 1234567 -> "1.23M",
 * 2.26e9 -> "2.26B"): the planner's one vocabulary of units (src/core/plan/format.ts).
 */
export const fmt = compact;

/**
 * The fitted law L(N, D) = E + A / N^alpha + B / D^beta as a curve over N: at the runs' D when
 * they all trained on the same tokens, else at the tokens per parameter the study used (the
 * median of its points' D / N); log-spaced from below the smallest
 * to above the largest measured N.
 */
export function studyCurve(
  points: ReadonlyArray<{ N: number; D: number }>,
  law: { E: number; A: number; alpha: number; B: number; beta: number },
  n = 40,
): { N: number[]; loss: number[] } {
  const ok = points.filter((p) => p.N > 0 && p.D > 0);
  if (!ok.length) return { N: [], loss: [] };
  const median = (v: number[]) => {
    const s = v.slice().sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  };
  // Every run trained on (nearly) the same tokens: the curve at that D; else at the study's D / N.
  const Ds = ok.map((p) => p.D);
  const fixedD = Math.max(...Ds) / Math.min(...Ds) < 1.05 ? median(Ds) : undefined;
  const r = median(ok.map((p) => p.D / p.N));
  const lo = Math.log(Math.min(...ok.map((p) => p.N)) / 1.5), hi = Math.log(Math.max(...ok.map((p) => p.N)) * 1.5);
  const N: number[] = [], loss: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = Math.exp(lo + ((hi - lo) * i) / (n - 1));
    N.push(x);
    loss.push(law.E + law.A / Math.pow(x, law.alpha) + law.B / Math.pow(fixedD ?? r * x, law.beta));
  }
  return { N, loss };
}

/** Distinct colours for runs in a comparison (theme chart colours first). */
export const RUN_COLOR_KEYS = ['blue', 'orange', 'green', 'purple', 'red', 'yellow'] as const;
export const EXTRA_RUN_COLORS = ['#4dc9c9', '#e377c2', '#8c8c3a', '#7f7fff', '#c9844d', '#5fa55f'];

/**
 * The outline of an uncertainty band as one polygon in data units: the upper edge left to right,
 * then the lower edge right to left. Columns where either edge is missing are stepped over (the
 * band spans them, like a line with spanGaps), so a front interleaved with off-front shapes is one
 * band. Empty when no column has both edges.
 */
export function bandPolygon(xs: ReadonlyArray<number | null>, lo: ReadonlyArray<number | null>, hi: ReadonlyArray<number | null>): Array<[number, number]> {
  const idx: number[] = [];
  xs.forEach((x, i) => {
    const a = lo[i], b = hi[i];
    if (x !== null && a !== null && a !== undefined && b !== null && b !== undefined && Number.isFinite(x) && Number.isFinite(a) && Number.isFinite(b)) idx.push(i);
  });
  idx.sort((i, j) => (xs[i] as number) - (xs[j] as number));
  const upper = idx.map((i): [number, number] => [xs[i] as number, Math.max(lo[i] as number, hi[i] as number)]);
  const lower = idx.map((i): [number, number] => [xs[i] as number, Math.min(lo[i] as number, hi[i] as number)]).reverse();
  return [...upper, ...lower];
}
