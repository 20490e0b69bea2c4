/**
 * Typed messages between the extension host and the two webviews (planner panel, monitor view).
 * Messages *from* a webview are untrusted: the host runs them through `parsePlannerMessage` /
 * `parseMonitorMessage` before use (type, ranges, lengths, no unexpected fields). Messages *to* a
 * webview are produced by the host; the webview still checks their `type` before dispatching.
 * No `vscode` import here.
 */
import {
  Result, ValidationError, attempt, num, obj, oneOf, optional, record, str,
} from './validate';

export const PARAMETERIZATION_IDS = ['completep', 'alpha0.5', 'mup', 'sp'] as const;
export type ParameterizationId = (typeof PARAMETERIZATION_IDS)[number];
export const SCALING_FITS = ['besiroglu', 'chinchilla'] as const;
/** Compute precision of the planner's time/memory model (fp32: ShapeLab's trainer). */
export const PRECISIONS = ['fp32', 'bf16'] as const;
export type ScalingFit = (typeof SCALING_FITS)[number];
export const BUDGET_KINDS = ['flops', 'gpuHours'] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];

/** Ids are short opaque tokens minted by the host; never paths. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const id = str({ maxLength: 128, pattern: ID_PATTERN });

// ---------------------------------------------------------------------------------------------
// Planner

export interface PlanRequest {
  budgetKind: BudgetKind;
  /** FLOPs (1e12 .. 1e28) or GPU-hours (0.001 .. 1e9) depending on budgetKind. */
  budget: number;
  gpu: string;
  gpuCount: number;
  context: number;
  vocab: number;
  parameterization: ParameterizationId;
  fit: ScalingFit;
  /** Time/memory model precision; absent = fp32 (states saved before this field existed). */
  precision?: (typeof PRECISIONS)[number];
  base: { baseWidth: number; baseDepth: number; lr: number; initStd: number; eps: number; weightDecay: number };
  constraints: { minDepth?: number; maxDepth?: number; maxWidth?: number; headDim?: number; maxMemoryGB?: number };
}

export const validatePlanRequest = (v: unknown, field = 'request'): PlanRequest => {
  const r = record({
    budgetKind: oneOf(BUDGET_KINDS),
    budget: num({ min: 1e-3, max: 1e30 }),
    gpu: str({ maxLength: 100, minLength: 1 }),
    gpuCount: num({ int: true, min: 1, max: 1_000_000 }),
    context: num({ int: true, min: 8, max: 1_048_576 }),
    vocab: num({ int: true, min: 2, max: 10_000_000 }),
    parameterization: oneOf(PARAMETERIZATION_IDS),
    fit: oneOf(SCALING_FITS),
    precision: optional(oneOf(PRECISIONS)),
    base: record({
      baseWidth: num({ int: true, min: 8, max: 65536 }),
      baseDepth: num({ int: true, min: 1, max: 1024 }),
      lr: num({ min: 1e-8, max: 10 }),
      initStd: num({ min: 1e-8, max: 10 }),
      eps: num({ min: 1e-30, max: 1 }),
      weightDecay: num({ min: 0, max: 10 }),
    }),
    constraints: record({
      minDepth: optional(num({ int: true, min: 1, max: 4096 })),
      maxDepth: optional(num({ int: true, min: 1, max: 4096 })),
      maxWidth: optional(num({ int: true, min: 8, max: 1_048_576 })),
      headDim: optional(num({ int: true, min: 8, max: 1024 })),
      maxMemoryGB: optional(num({ min: 0.01, max: 1e7 })),
    }),
  })(v, field);
  if (r.budgetKind === 'flops' && (r.budget < 1e9 || r.budget > 1e30)) throw new ValidationError(`${field}.budget`, 'FLOPs must be between 1e9 and 1e30');
  if (r.budgetKind === 'gpuHours' && r.budget > 1e9) throw new ValidationError(`${field}.budget`, 'GPU-hours must be <= 1e9');
  const c = r.constraints;
  if (c.minDepth !== undefined && c.maxDepth !== undefined && c.minDepth > c.maxDepth) {
    throw new ValidationError(`${field}.constraints.minDepth`, 'must be <= maxDepth');
  }
  return r as PlanRequest;
};

export type PlannerToHost =
  | { type: 'ready' }
  | { type: 'plan'; requestId: number; request: PlanRequest }
  | { type: 'detail'; shapeId: string }
  | { type: 'train'; shapeId: string }
  | { type: 'export'; shapeId: string; format: 'json' | 'torch' };

export function parsePlannerMessage(raw: unknown): Result<PlannerToHost> {
  return attempt(() => {
    const o = obj(raw, 'message');
    const type = oneOf(['ready', 'plan', 'detail', 'train', 'export'] as const)(o.type, 'message.type');
    switch (type) {
      case 'ready':
        return record({ type: oneOf(['ready'] as const) })(o, 'message');
      case 'plan':
        return record({ type: oneOf(['plan'] as const), requestId: num({ int: true, min: 0, max: 2 ** 31 }), request: validatePlanRequest })(o, 'message');
      case 'detail':
        return record({ type: oneOf(['detail'] as const), shapeId: id })(o, 'message');
      case 'train':
        return record({ type: oneOf(['train'] as const), shapeId: id })(o, 'message');
      case 'export':
        return record({ type: oneOf(['export'] as const), shapeId: id, format: oneOf(['json', 'torch'] as const) })(o, 'message');
    }
  }) as Result<PlannerToHost>;
}

export interface HardwareVM {
  id: string;
  name: string;
  tflops16: number | null;
  tflops32: number;
  memoryGB: number;
  source: string;
}

export interface ShapeVM {
  id: string;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dHead: number;
  dFf: number;
  params: number;
  tokens: number;
  tokensPerParam: number;
  flops: number;
  /** Wall-clock hours on gpuCount GPUs (null without hardware). */
  hours: number | null;
  gpuHours: number | null;
  predictedLoss: number;
  penalty: number;
  memoryGiB: number;
  microBatch: number;
  /** Model-FLOPs utilization the time model implies (null without hardware). */
  mfu: number | null;
  pareto: boolean;
}

export interface SourcedValue {
  name: string;
  value: string;
  source: string;
}

export interface ShapeDetailVM {
  shapeId: string;
  shape: ShapeVM;
  hparams: Array<{ group: string; initStd: number; lr: number; eps: number; weightDecay: number }>;
  multipliers: SourcedValue[];
  paramCounts: Array<{ part: string; count: number }>;
  memory: Array<{ part: string; gib: number }>;
  growth: Array<{ stage: string; depth: number; params: number; tokens: number; flopsShare: number }>;
  growthFactor: number;
  sources: SourcedValue[];
  warnings: string[];
}

export interface PlannerDefaults {
  request: PlanRequest;
}

export type HostToPlanner =
  | { type: 'init'; hardware: HardwareVM[]; defaults: PlannerDefaults; backendAvailable: boolean }
  | { type: 'results'; requestId: number; shapes: ShapeVM[]; warnings: string[]; sources: SourcedValue[]; elapsedMs: number }
  | { type: 'detail'; detail: ShapeDetailVM }
  | { type: 'error'; requestId?: number; message: string }
  | { type: 'notice'; message: string };

// ---------------------------------------------------------------------------------------------
// Monitor

export type MonitorToHost =
  | { type: 'ready' }
  | { type: 'selectRun'; runId: string }
  | { type: 'stop'; runId: string };

export function parseMonitorMessage(raw: unknown): Result<MonitorToHost> {
  return attempt(() => {
    const o = obj(raw, 'message');
    const type = oneOf(['ready', 'selectRun', 'stop'] as const)(o.type, 'message.type');
    if (type === 'ready') return record({ type: oneOf(['ready'] as const) })(o, 'message');
    return record({ type: oneOf([type] as const), runId: id })(o, 'message');
  }) as Result<MonitorToHost>;
}

/** One row of metrics.jsonl as the charts need it (other fields dropped). */
export interface MetricPoint {
  step: number;
  tokens?: number;
  loss?: number;
  evalLoss?: number;
  lr?: number;
  tokensPerSec?: number;
  tflops?: number;
  gradNorm?: number;
  depth?: number;
  time?: number;
}

/** One row of events.jsonl as the monitor needs it. */
export interface RunEvent {
  type: string;
  step: number;
  time?: number;
  depthBefore?: number;
  depthAfter?: number;
  operator?: string;
  multiplierPolicy?: string;
  optimizerPolicy?: string;
  lrPolicy?: string;
  message?: string;
  /** start/resume: execution provider used. */
  device?: string;
}

export interface RunSummaryVM {
  id: string;
  name: string;
  status: string;
  step?: number;
  totalSteps?: number;
  loss?: number;
  device?: string;
  /** One line from config.json: shape, parameterization, batch (e.g. "d512 x L8, completep, batch 2 x 16 x 256"). */
  model?: string;
}

/**
 * An earlier attempt of the run (a `shapelab resume --restart` kept it as metrics.attempt-N.jsonl):
 * its own history, never part of the current curve; the monitor draws it greyed.
 */
export interface AttemptSeries {
  attempt: number;
  metrics: MetricPoint[];
}

export type HostToMonitor =
  | { type: 'runs'; runs: RunSummaryVM[]; activeRunId?: string }
  /** `metrics`/`events`: the current attempt's one history; `attempts`: earlier attempts, oldest first (absent: none). */
  | { type: 'reset'; run: RunSummaryVM | null; metrics: MetricPoint[]; events: RunEvent[]; attempts?: AttemptSeries[] }
  | { type: 'append'; runId: string; metrics: MetricPoint[]; events: RunEvent[]; run: RunSummaryVM };

const finiteOrUndef = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const shortStr = (v: unknown, max = 200): string | undefined => (typeof v === 'string' ? v.slice(0, max) : undefined);

/**
 * Normalizes one parsed metrics.jsonl object: keeps known numeric fields, drops non-finite values;
 * returns undefined when the row has no usable step.
 */
export function toMetricPoint(row: unknown): MetricPoint | undefined {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return undefined;
  const r = row as Record<string, unknown>;
  const step = finiteOrUndef(r.step);
  if (step === undefined || step < 0) return undefined;
  const p: MetricPoint = { step };
  for (const k of ['tokens', 'loss', 'evalLoss', 'lr', 'tokensPerSec', 'tflops', 'gradNorm', 'depth', 'time'] as const) {
    const v = finiteOrUndef(r[k]);
    if (v !== undefined) p[k] = v;
  }
  return p;
}

/** Normalizes one parsed events.jsonl object (see docs/run-format.md). */
export function toRunEvent(row: unknown): RunEvent | undefined {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return undefined;
  const r = row as Record<string, unknown>;
  const type = shortStr(r.type, 40);
  const step = finiteOrUndef(r.step);
  if (!type || step === undefined) return undefined;
  const e: RunEvent = { type, step };
  const time = finiteOrUndef(r.time);
  if (time !== undefined) e.time = time;
  const db = finiteOrUndef(r.depthBefore);
  if (db !== undefined) e.depthBefore = db;
  const da = finiteOrUndef(r.depthAfter);
  if (da !== undefined) e.depthAfter = da;
  for (const k of ['operator', 'multiplierPolicy', 'optimizerPolicy', 'lrPolicy', 'message'] as const) {
    const s = shortStr(r[k]);
    if (s !== undefined) e[k] = s;
  }
  const dev = shortStr(r.epUsed, 60) ?? shortStr(r.ep, 60) ?? shortStr(r.device, 60);
  if (dev !== undefined && (type === 'start' || type === 'resume')) e.device = dev;
  if (e.message === undefined) {
    const err = shortStr(r.error) ?? shortStr(r.reason);
    if (err !== undefined) e.message = err;
  }
  return e;
}

/** Cheap structural check the webviews run on every host message before dispatching on it. */
export function hostMessageType<T extends string>(raw: unknown, known: readonly T[]): T | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const t = (raw as { type?: unknown }).type;
  return typeof t === 'string' && (known as readonly string[]).includes(t) ? (t as T) : undefined;
}

