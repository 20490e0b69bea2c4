/**
 * Chart data shaping for the training monitor: metrics rows -> aligned uPlot columns, smoothing,
 * growth-event markers. Pure functions, no DOM, no `vscode`.
 */
import type { MetricPoint, RunEvent } from './messages';

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

export function buildSeries(rows: readonly MetricPoint[], opts: { smoothing?: number; maxPoints?: number } = {}): SeriesSet {
  const clean = dedupeByStep(rows);
  // Smooth at full resolution, then downsample raw and smoothed columns together.
  const smoothedFull = ema(column(clean, 'loss'), opts.smoothing ?? 0.6);
  const idx = downsampleIndices(clean, opts.maxPoints ?? 4000);
  const kept = idx.map((i) => clean[i]);
  return {
    step: kept.map((r) => r.step),
    loss: column(kept, 'loss'),
    lossSmoothed: idx.map((i) => smoothedFull[i]),
    evalLoss: column(kept, 'evalLoss'),
    lr: column(kept, 'lr'),
    tokensPerSec: column(kept, 'tokensPerSec'),
    tflops: column(kept, 'tflops'),
    gradNorm: column(kept, 'gradNorm'),
    depth: column(kept, 'depth'),
  };
}

export interface GrowthMarker {
  step: number;
  depthBefore?: number;
  depthAfter?: number;
  policy: string;
  label: string;
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
      depthBefore: e.depthBefore,
      depthAfter: e.depthAfter,
      policy,
      label: `step ${e.step}: ${depth} (${policy})`,
    });
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** The marker whose x pixel is within `tolerancePx` of the cursor, nearest first. */
export function markerNear(
  markers: readonly GrowthMarker[],
  cursorPx: number,
  toPx: (step: number) => number,
  tolerancePx = 5,
): GrowthMarker | undefined {
  let best: GrowthMarker | undefined;
  let bestD = Infinity;
  for (const m of markers) {
    const d = Math.abs(toPx(m.step) - cursorPx);
    if (d <= tolerancePx && d < bestD) {
      best = m;
      bestD = d;
    }
  }
  return best;
}

/** Compact number formatting for axes and tables (1.23e+21 -> "1.23e21", 1234567 -> "1.23M"). */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '\u2013';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e15 || a < 1e-3) return v.toExponential(digits - 1).replace('e+', 'e');
  const units: Array<[number, string]> = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [s, u] of units) if (a >= s) return `${+(v / s).toPrecision(digits)}${u}`;
  return `${+v.toPrecision(digits)}`;
}
