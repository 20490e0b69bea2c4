/**
 * Pure planner-form logic (no DOM, unit-tested): the chart's series per budget kind, budget
 * conversion when the kind changes, and form fields <-> request.
 */
import { BUDGET_LIMITS, SCALING_FITS, type BudgetKind, type FitVM, type FormFields, type PlanRequest, type ShapeVM } from '../shared/messages';

export interface ChartSeries {
  /** What x is: wall-clock hours (FLOPs budget) or parameters (GPU-hours budget: hours are fixed). */
  xKey: 'hours' | 'params';
  xLabel: string;
  title: string;
  xs: number[];
  all: (number | null)[];
  front: (number | null)[];
  /**
   * The 95% band of the front's predicted loss (a local fit's bootstrap, ShapeVM.lossBand): at
   * the front's columns that carry a band, null elsewhere. All null for a published fit.
   */
  bandLo: (number | null)[];
  bandHi: (number | null)[];
  /** order[i] is the shape drawn at column i (click-to-select). */
  order: ShapeVM[];
}

/**
 * The Pareto chart's columns. FLOPs budget: loss vs wall-clock hours, the front is the planner's
 * (loss, hours) Pareto set. GPU-hours budget: every shape spends the same hours, so x is the
 * parameter count and the front is the lower envelope of loss vs parameters (no smaller model
 * reaches a lower loss), i.e. what a smaller, cheaper-to-serve model costs in loss.
 */
export function chartSeries(shapes: readonly ShapeVM[], kind: BudgetKind): ChartSeries {
  if (kind === 'flops') {
    const order = shapes
      .filter((s) => typeof s.hours === 'number' && Number.isFinite(s.hours) && s.hours > 0 && Number.isFinite(s.predictedLoss))
      .sort((a, b) => (a.hours as number) - (b.hours as number) || a.predictedLoss - b.predictedLoss);
    return {
      xKey: 'hours',
      xLabel: 'wall-clock hours',
      title: 'Pareto front: predicted loss vs wall-clock hours',
      xs: order.map((s) => s.hours as number),
      all: order.map((s) => s.predictedLoss),
      front: order.map((s) => (s.pareto ? s.predictedLoss : null)),
      ...bandOf(order, (s) => s.pareto),
      order,
    };
  }
  const order = shapes.filter((s) => Number.isFinite(s.params) && s.params > 0 && Number.isFinite(s.predictedLoss)).sort((a, b) => a.params - b.params || a.predictedLoss - b.predictedLoss);
  let best = Infinity;
  const front = order.map((s) => {
    if (s.predictedLoss < best) {
      best = s.predictedLoss;
      return s.predictedLoss;
    }
    return null;
  });
  return {
    xKey: 'params',
    xLabel: 'parameters',
    title: 'Predicted loss vs parameters (the GPU-hour budget fixes the hours of every shape)',
    xs: order.map((s) => s.params),
    all: order.map((s) => s.predictedLoss),
    front,
    ...bandOf(order, (_s, i) => front[i] !== null),
    order,
  };
}

function bandOf(order: readonly ShapeVM[], onFront: (s: ShapeVM, i: number) => boolean): { bandLo: (number | null)[]; bandHi: (number | null)[] } {
  const ok = (s: ShapeVM, i: number) => onFront(s, i) && !!s.lossBand && Number.isFinite(s.lossBand[0]) && Number.isFinite(s.lossBand[1]);
  return { bandLo: order.map((s, i) => (ok(s, i) ? (s.lossBand as [number, number])[0] : null)), bandHi: order.map((s, i) => (ok(s, i) ? (s.lossBand as [number, number])[1] : null)) };
}

/**
 * What the shaded band is, for the chart's caption: the fit the results were planned with, and how
 * many of the front's shapes carry a band. Undefined when nothing is banded (published fits).
 */
export function bandCaption(s: Pick<ChartSeries, 'bandLo'>, fit: FitVM | undefined): string | undefined {
  const n = s.bandLo.filter((v) => v !== null).length;
  if (!n) return undefined;
  return `Shaded: 95% band of the predicted loss over the fit's bootstrap samples \u2014 ${fit ? fit.source || fit.name : 'local fit'}`;
}

/** The "Scaling fit" options: what the host sent (published + local studies), else the published fits. */
export function fitOptions(fits: readonly FitVM[] | undefined): FitVM[] {
  if (fits && fits.length) return fits.slice();
  return SCALING_FITS.map((id) => ({ id, name: id, source: '', local: false }));
}

/** The fit to show: the one asked for when the list has it, else the fallback (a study's fit file may be gone). */
export function pickFit(wanted: string | undefined, fits: readonly FitVM[], fallback: string): string {
  return wanted !== undefined && fits.some((f) => f.id === wanted) ? wanted : fallback;
}

/** Training FLOPs one GPU-hour buys, from the current results (the time model's own ratio). */
export function flopsPerGpuHourFromShapes(shapes: readonly ShapeVM[]): number | undefined {
  const r = shapes
    .filter((s) => s.gpuHours !== null && s.gpuHours > 0 && s.flops > 0)
    .map((s) => s.flops / (s.gpuHours as number))
    .sort((a, b) => a - b);
  return r.length ? r[Math.floor(r.length / 2)] : undefined;
}

/** Fallback: peak TFLOP/s x MFU x 3600 s. */
export function flopsPerGpuHourFromPeak(peakTflops: number, mfu: number): number {
  return peakTflops * 1e12 * mfu * 3600;
}

export const DEFAULT_BUDGET: Record<BudgetKind, number> = { flops: 1e20, gpuHours: 1000 };

/** Three significant digits, clamped to the kind's limits. */
function tidy(v: number, kind: BudgetKind): number {
  const lim = BUDGET_LIMITS[kind];
  return Math.min(lim.max, Math.max(lim.min, Number(v.toPrecision(3))));
}

/**
 * The budget after switching its kind: the same compute expressed in the new unit (at the
 * FLOPs per GPU-hour of the current GPU), or the new kind's default when the old value is not a
 * valid budget of the old kind or no conversion rate is known.
 */
export function convertBudget(value: number | undefined, from: BudgetKind, to: BudgetKind, flopsPerGpuHour: number | undefined): number {
  if (from === to) return value !== undefined && Number.isFinite(value) ? value : DEFAULT_BUDGET[to];
  const lim = BUDGET_LIMITS[from];
  if (value === undefined || !Number.isFinite(value) || value < lim.min || value > lim.max || !(flopsPerGpuHour && flopsPerGpuHour > 0)) return DEFAULT_BUDGET[to];
  return tidy(from === 'flops' ? value / flopsPerGpuHour : value * flopsPerGpuHour, to);
}

/** A budget as the form shows it: 1e20, 3.2e19, 1000, 12.5. */
export function formatBudget(v: number): string {
  if (v >= 1e6) return v.toExponential().replace('e+', 'e');
  return String(v);
}

/** The form's raw text for a request. */
export function fieldsOf(r: PlanRequest): FormFields {
  const f: FormFields = {
    budgetKind: r.budgetKind,
    budget: formatBudget(r.budget),
    gpu: r.gpu,
    gpuCount: String(r.gpuCount),
    context: String(r.context),
    vocab: String(r.vocab),
    parameterization: r.parameterization,
    fit: r.fit,
    precision: r.precision ?? 'fp32',
  };
  for (const [k, v] of Object.entries(r.base)) (f as Record<string, string>)[`base.${k}`] = String(v);
  for (const k of ['minDepth', 'maxDepth', 'maxWidth', 'headDim', 'maxMemoryGB'] as const) {
    const v = r.constraints[k];
    (f as Record<string, string>)[`c.${k}`] = v === undefined ? '' : String(v);
  }
  return f;
}

/**
 * A number typed by the user: '' -> undefined, '1e20' / '1_000' -> the number, anything else
 * (including '-', '1e', '64abc') -> NaN, so the validator names the field instead of guessing.
 */
export function parseNumber(s: string | undefined): number | undefined {
  const t = (s ?? '').trim();
  if (!t) return undefined;
  const v = Number(t.replace(/_/g, ''));
  return Number.isFinite(v) ? v : NaN;
}

/** The raw (unvalidated) request object of the form's fields. */
export function rawRequest(f: FormFields): Record<string, unknown> {
  const g = (k: keyof FormFields) => f[k] ?? '';
  return {
    budgetKind: g('budgetKind'),
    budget: parseNumber(g('budget')),
    gpu: g('gpu'),
    gpuCount: parseNumber(g('gpuCount')),
    context: parseNumber(g('context')),
    vocab: parseNumber(g('vocab')),
    parameterization: g('parameterization'),
    fit: g('fit'),
    precision: g('precision') || undefined,
    base: Object.fromEntries(['baseWidth', 'baseDepth', 'lr', 'initStd', 'eps', 'weightDecay'].map((k) => [k, parseNumber(g(`base.${k}` as keyof FormFields))])),
    constraints: Object.fromEntries(
      ['minDepth', 'maxDepth', 'maxWidth', 'headDim', 'maxMemoryGB'].map((k) => [k, parseNumber(g(`c.${k}` as keyof FormFields))]).filter(([, v]) => v !== undefined),
    ),
  };
}

const LABELS: Record<string, string> = {
  budget: 'Budget',
  gpuCount: 'GPU count',
  context: 'Context',
  vocab: 'Vocab',
  gpu: 'GPU',
};

/** "input.gpuCount: must be >= 1" -> "GPU count: must be >= 1" (the form's own labels). */
export function friendlyError(message: string): string {
  return message.replace(/^input\.([A-Za-z.]+)/, (_m, k: string) => LABELS[k] ?? k.replace(/^constraints\./, '').replace(/^base\./, 'base '));
}

/** Equal requests (the results shown belong to the form's inputs); absent precision is fp32. */
export function sameRequest(a: PlanRequest | undefined, b: PlanRequest | undefined): boolean {
  const canon = (v: unknown): string =>
    v && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => `${k}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}` : JSON.stringify(v);
  const norm = (r: PlanRequest) => canon({ ...r, precision: r.precision ?? 'fp32' });
  return !!a && !!b && norm(a) === norm(b);
}
