/**
 * Typed messages between the extension host and the two webviews (planner panel, monitor view).
 * Messages *from* a webview are untrusted: the host runs them through `parsePlannerMessage` /
 * `parseMonitorMessage` before use (type, ranges, lengths, no unexpected fields). Messages *to* a
 * webview are produced by the host; the webview still checks their `type` before dispatching.
 * No `vscode` import here.
 */
import { deviceLabel } from '../../src/core/train/runtimeChoice';
import {
  Result, ValidationError, attempt, num, obj, oneOf, optional, record, str,
} from './validate';

export const PARAMETERIZATION_IDS = ['completep', 'alpha0.5', 'mup', 'sp'] as const;
export type ParameterizationId = (typeof PARAMETERIZATION_IDS)[number];
export const SCALING_FITS = ['besiroglu', 'chinchilla'] as const;
/** Compute precision of the planner's time/memory model (fp32: ShapeLab's trainer). */
export const PRECISIONS = ['fp32', 'bf16'] as const;
export type ScalingFit = (typeof SCALING_FITS)[number];
/** A local fit (a study's fit.json under the runs folder) by an id the host minted: 'local-1', ... never a path. */
export type LocalFitId = `local-${number}`;
export const LOCAL_FIT_ID = /^local-[0-9]{1,4}$/;
const fitId = (v: unknown, field: string): ScalingFit | LocalFitId => {
  if (typeof v === 'string' && LOCAL_FIT_ID.test(v)) return v as LocalFitId;
  return oneOf(SCALING_FITS)(v, field);
};
export const BUDGET_KINDS = ['flops', 'gpuHours'] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];
/** Accepted budget per kind; every out-of-range message names the bounds of its own kind. */
export const BUDGET_LIMITS: Record<BudgetKind, { min: number; max: number; name: string }> = {
  flops: { min: 1e9, max: 1e30, name: 'training FLOPs' },
  gpuHours: { min: 1e-3, max: 1e9, name: 'GPU-hours' },
};
export const MAX_GPUS = 1_000_000;

/** Ids are short opaque tokens minted by the host; never paths. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const id = str({ maxLength: 128, pattern: ID_PATTERN });

// ---------------------------------------------------------------------------------------------
// Planner

export interface PlanRequest {
  budgetKind: BudgetKind;
  /** FLOPs or GPU-hours depending on budgetKind (BUDGET_LIMITS). */
  budget: number;
  gpu: string;
  gpuCount: number;
  context: number;
  vocab: number;
  parameterization: ParameterizationId;
  fit: ScalingFit | LocalFitId;
  /** Time/memory model precision; absent = fp32 (states saved before this field existed). */
  precision?: (typeof PRECISIONS)[number];
  base: { baseWidth: number; baseDepth: number; lr: number; initStd: number; eps: number; weightDecay: number };
  constraints: { minDepth?: number; maxDepth?: number; maxWidth?: number; headDim?: number; maxMemoryGB?: number };
}

const fmtBound = (v: number): string => (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-2) ? v.toExponential().replace(/\.?0*e\+?/, 'e') : String(v));

export const validatePlanRequest = (v: unknown, field = 'request'): PlanRequest => {
  const r = record({
    budgetKind: oneOf(BUDGET_KINDS),
    budget: num(),
    gpu: str({ maxLength: 100, minLength: 1 }),
    gpuCount: num({ int: true, min: 1, max: MAX_GPUS }),
    context: num({ int: true, min: 8, max: 1_048_576 }),
    vocab: num({ int: true, min: 2, max: 10_000_000 }),
    parameterization: oneOf(PARAMETERIZATION_IDS),
    fit: fitId,
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
  const lim = BUDGET_LIMITS[r.budgetKind];
  if (r.budget < lim.min || r.budget > lim.max) {
    throw new ValidationError(`${field}.budget`, `${lim.name} must be between ${fmtBound(lim.min)} and ${fmtBound(lim.max)} (got ${fmtBound(r.budget)})`);
  }
  const c = r.constraints;
  if (c.minDepth !== undefined && c.maxDepth !== undefined && c.minDepth > c.maxDepth) {
    throw new ValidationError(`${field}.constraints.minDepth`, 'must be <= maxDepth');
  }
  return r as PlanRequest;
};

/** The "Train this" dialog's choices (the data path never crosses the boundary: 'picked' = the one the host asked for). */
export interface ProxyChoice {
  shapeId: string;
  width: number;
  steps: number;
  data: 'brown' | 'picked';
  tokenizer: 'byte' | 'gpt2';
}

/** Form field ids whose raw text the planner keeps across closing the panel. */
export const FORM_FIELDS = [
  'budgetKind', 'budget', 'gpu', 'gpuCount', 'context', 'vocab', 'parameterization', 'fit', 'precision',
  'base.baseWidth', 'base.baseDepth', 'base.lr', 'base.initStd', 'base.eps', 'base.weightDecay',
  'c.minDepth', 'c.maxDepth', 'c.maxWidth', 'c.headDim', 'c.maxMemoryGB',
] as const;
export type FormFields = Partial<Record<(typeof FORM_FIELDS)[number], string>>;

export const validateFormFields = (v: unknown, field: string): FormFields =>
  record(Object.fromEntries(FORM_FIELDS.map((k) => [k, optional(str({ maxLength: 100 }))])))(v, field) as FormFields;

const validateProxyChoice = {
  shapeId: id,
  width: num({ int: true, min: 1, max: 1_048_576 }),
  steps: num({ int: true, min: 1, max: 1e9 }),
  data: oneOf(['brown', 'picked'] as const),
  tokenizer: oneOf(['byte', 'gpt2'] as const),
};

export type PlannerToHost =
  | { type: 'ready' }
  | { type: 'plan'; requestId: number; request: PlanRequest }
  | { type: 'detail'; shapeId: string }
  | ({ type: 'proxyPreview' } & ProxyChoice)
  | ({ type: 'trainProxy' } & ProxyChoice)
  | { type: 'pickData'; kind: 'file' | 'folder' }
  | { type: 'inputs'; fields: FormFields }
  | { type: 'export'; shapeId: string; format: 'json' | 'torch' };

export function parsePlannerMessage(raw: unknown): Result<PlannerToHost> {
  return attempt(() => {
    const o = obj(raw, 'message');
    const type = oneOf(['ready', 'plan', 'detail', 'proxyPreview', 'trainProxy', 'pickData', 'inputs', 'export'] as const)(o.type, 'message.type');
    switch (type) {
      case 'ready':
        return record({ type: oneOf(['ready'] as const) })(o, 'message');
      case 'plan':
        return record({ type: oneOf(['plan'] as const), requestId: num({ int: true, min: 0, max: 2 ** 31 }), request: validatePlanRequest })(o, 'message');
      case 'detail':
        return record({ type: oneOf(['detail'] as const), shapeId: id })(o, 'message');
      case 'proxyPreview':
      case 'trainProxy':
        return record({ type: oneOf([type] as const), ...validateProxyChoice })(o, 'message');
      case 'pickData':
        return record({ type: oneOf(['pickData'] as const), kind: oneOf(['file', 'folder'] as const) })(o, 'message');
      case 'inputs':
        return record({ type: oneOf(['inputs'] as const), fields: validateFormFields })(o, 'message');
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
  /** Memory setting the planner chose (cheapest that fits): 'DDP', 'FSDP', 'DDP+ckpt', 'FSDP+ckpt', '1 GPU', '1 GPU+ckpt'. */
  memorySetting?: string;
  fsdp?: boolean;
  activationCheckpointing?: boolean;
  /** Model-FLOPs utilization the time model implies (null without hardware). */
  mfu: number | null;
  pareto: boolean;
  /** 95% band of predictedLoss from a local fit's bootstrap (absent for published fits). */
  lossBand?: [number, number];
}

/** An entry of the "Scaling fit" list: the published fits and the local studies' fits. */
export interface FitVM {
  id: ScalingFit | LocalFitId;
  name: string;
  /** e.g. "local study study-2026-...: 8 runs, held-out error 1.2%" */
  source: string;
  local: boolean;
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
  /** Default width of this shape's "Train this" proxy (src/core/plan/proxy.ts). */
  proxyWidth: number;
}

export interface PlannerDefaults {
  request: PlanRequest;
  /** Steps of a proxy run (setting shapelab.proxyRunSteps). */
  proxySteps: number;
}

export interface GroupHparamsVM {
  initStd: number;
  lr: number;
  eps: number;
  weightDecay: number;
}

/** What "Train this" will train, shown for confirmation before it starts. */
export interface ProxyPreviewVM {
  choice: ProxyChoice;
  dataLabel: string;
  planned: { dModel: number; nLayers: number; nHeads: number; dHead: number; dFf: number; context: number };
  proxy: { dModel: number; nLayers: number; nHeads: number; dHead: number; dFf: number; context: number; vocab: number; batchSize: number; params: number; flopsPerStep: number };
  widthChoices: number[];
  defaultWidth: number;
  rows: Array<{ group: string; proxy: GroupHparamsVM; plan: GroupHparamsVM }>;
  multipliers: Array<{ name: string; proxy: number; plan: number }>;
  rule: string;
  notes: string[];
}

export type HostToPlanner =
  | { type: 'init'; hardware: HardwareVM[]; defaults: PlannerDefaults; backendAvailable: boolean; saved?: FormFields; fits?: FitVM[] }
  | { type: 'results'; requestId: number; shapes: ShapeVM[]; warnings: string[]; sources: SourcedValue[]; elapsedMs: number }
  | { type: 'detail'; detail: ShapeDetailVM }
  | { type: 'error'; requestId?: number; message: string }
  | { type: 'notice'; message: string }
  | { type: 'proxy'; preview: ProxyPreviewVM }
  | { type: 'proxyError'; shapeId: string; message: string }
  | { type: 'proxyData'; label: string | null };

// ---------------------------------------------------------------------------------------------
// Monitor

export const SAVE_FORMATS = ['png', 'svg', 'csv'] as const;
export type SaveFormat = (typeof SAVE_FORMATS)[number];
/** Cap on a saved image / CSV crossing the boundary (a chart PNG is ~100 KB; a 200k-row CSV ~20 MB). */
export const MAX_SAVE_CHARS = 40 * 1024 * 1024;

export type MonitorToHost =
  | { type: 'ready' }
  | { type: 'selectRun'; runId: string }
  | { type: 'stop'; runId: string }
  | { type: 'resume'; runId: string }
  | { type: 'openInEditor'; runId: string }
  /** Save one chart: `image` is a PNG data URL or SVG text (absent for CSV); `csv` the plotted points. */
  | { type: 'save'; format: SaveFormat; chart: string; image?: string; csv: string };

export function parseMonitorMessage(raw: unknown): Result<MonitorToHost> {
  return attempt(() => {
    const o = obj(raw, 'message');
    const type = oneOf(['ready', 'selectRun', 'stop', 'resume', 'openInEditor', 'save'] as const)(o.type, 'message.type');
    if (type === 'ready') return record({ type: oneOf(['ready'] as const) })(o, 'message');
    if (type === 'save') {
      const m = record({
        type: oneOf(['save'] as const),
        format: oneOf(SAVE_FORMATS),
        chart: str({ maxLength: 60, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/ }),
        image: optional(str({ maxLength: MAX_SAVE_CHARS })),
        csv: str({ maxLength: MAX_SAVE_CHARS }),
      })(o, 'message');
      if (m.format === 'png' && !(m.image ?? '').startsWith('data:image/png;base64,')) throw new ValidationError('message.image', 'expected a PNG data URL');
      if (m.format === 'svg' && !/^<svg[\s>]/.test(m.image ?? '')) throw new ValidationError('message.image', 'expected SVG text');
      if (m.format === 'csv' && m.image !== undefined) throw new ValidationError('message.image', 'unexpected for CSV');
      return m;
    }
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
  /** Cumulative training FLOPs when the writer logs them (else the charts use 6 * N * tokens). */
  flops?: number;
  /** Resident memory of the training process, MiB. */
  rssMB?: number;
}

/** One row of events.jsonl as the monitor needs it. */
export interface RunEvent {
  type: string;
  step: number;
  time?: number;
  tokens?: number;
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
  /** Run folder name (the name shown is the user's label when there is one). */
  folder?: string;
  /** Study / experiment folder holding the run (a sub-folder of the runs folder). */
  group?: string;
  /** Parameter count per depth (for the FLOPs axis), from config.json. */
  paramsByDepth?: Record<number, number>;
}

/** GPU memory and utilisation (nvidia-smi) and the trainer's host memory, while a run trains. */
export interface TrainingHardwareVM {
  gpus: Array<{ name: string; memUsedMiB: number; memTotalMiB: number; utilPct: number }>;
  rssMB?: number;
}

/** One run in a comparison: its plotted rows and events. */
export interface CompareRunVM {
  run: RunSummaryVM;
  metrics: MetricPoint[];
  events: RunEvent[];
}

/** A study's measured final losses and, when fit.json exists, its law L(N, D) = E + A/N^alpha + B/D^beta. */
export interface StudyVM {
  name: string;
  points: Array<{ run: string; N: number; D: number; loss: number }>;
  law?: { E: number; A: number; alpha: number; B: number; beta: number };
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
  | { type: 'append'; runId: string; metrics: MetricPoint[]; events: RunEvent[]; run: RunSummaryVM }
  | { type: 'hardware'; runId: string; hardware: TrainingHardwareVM }
  | { type: 'compare'; runs: CompareRunVM[]; study?: StudyVM }
  | { type: 'saved'; message: string };

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
  for (const k of ['tokens', 'loss', 'evalLoss', 'lr', 'tokensPerSec', 'tflops', 'gradNorm', 'depth', 'time', 'flops', 'rssMB'] as const) {
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
  const tokens = finiteOrUndef(r.tokens);
  if (tokens !== undefined && tokens >= 0) e.tokens = tokens;
  const db = finiteOrUndef(r.depthBefore);
  if (db !== undefined) e.depthBefore = db;
  const da = finiteOrUndef(r.depthAfter);
  if (da !== undefined) e.depthAfter = da;
  for (const k of ['operator', 'multiplierPolicy', 'optimizerPolicy', 'lrPolicy', 'message'] as const) {
    const s = shortStr(r[k]);
    if (s !== undefined) e[k] = s;
  }
  const dev = shortStr(r.epUsed, 60) ?? shortStr(r.ep, 60) ?? shortStr(r.device, 60);
  if (dev !== undefined && (type === 'start' || type === 'resume')) e.device = deviceLabel(dev, r.runtime);
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

