/**
 * Proxy sizing: the small model that "Train this" trains locally in place of a planned shape.
 *
 * Rule (why: CompleteP transfers hyperparameters across width *and* depth, so the cheapest faithful
 * proxy is the planned model made narrower):
 *   - depth: the planned number of blocks L, unchanged. Every depth-dependent quantity (residual
 *     multiplier m_L^-alpha, block learning rates m_L^(alpha-1), AdamW eps m_L^-alpha) is then the
 *     planned model's own, so the proxy needs no depth transfer at all (muP and SP have none).
 *   - width: reduced to `width` (default: the widest multiple of WIDTH_STEP whose block stack stays
 *     under PROXY_DEFAULTS.nonEmbeddingParams), never wider than the plan. The base
 *     hyperparameters (base width/depth, lr, init std, eps, weight decay) are the plan's; Table 1 of
 *     Dey et al. 2025 (arXiv 2505.01618) maps them to the proxy width, exactly as it maps them to
 *     the planned width.
 *   - heads: the planned head size is kept where the width allows (nHeads = round(width / dHead),
 *     at least 1, lowered until it divides the width); d_ff keeps the planned d_ff / d_model ratio.
 *   - context and batch: PROXY_DEFAULTS (context capped at the plan's). Neither is part of the
 *     transfer rule; they only set the local cost per step.
 *   - vocabulary: the tokenizer's (byte 256 or GPT-2 50257), since the proxy trains on local data.
 * Growth is not part of the proxy (a plan's G_stack schedule belongs to the full run).
 */
import { countParams } from './shape';
import { trainingFlopsPerToken } from './flops';
import { transfer, type BaseHparams, type GroupHparams, type GroupName, type Parameterization } from '../param/parameterization';
import { PlanInputError } from './errors';

/** The planned shape a proxy stands in for (the planner's candidate fields). */
export interface PlannedShape {
  dModel: number;
  nLayers: number;
  nHeads: number;
  dHead: number;
  dFf: number;
  seq: number;
}

export const PROXY_DEFAULTS = {
  /** Block-stack parameters of the default proxy: a few hundred steps take minutes on a laptop CPU. */
  nonEmbeddingParams: 4e6,
  /** Widths are multiples of this (and at least this). */
  widthStep: 8,
  minWidth: 16,
  /** Default proxy width never exceeds this (the user may type a wider one, up to the plan's). */
  maxDefaultWidth: 512,
  context: 128,
  batchSize: 8,
} as const;

export class ProxyError extends PlanInputError {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyError';
  }
}

export interface ProxyShape {
  dModel: number;
  nLayers: number;
  nHeads: number;
  dHead: number;
  dFf: number;
  context: number;
  /** planned width / proxy width (>= 1). */
  widthReduction: number;
  /** Always 1: the proxy keeps the planned depth. */
  depthReduction: 1;
}

function checkPlan(p: PlannedShape): void {
  for (const k of ['dModel', 'nLayers', 'nHeads', 'dHead', 'dFf', 'seq'] as const) {
    if (!(Number.isInteger(p[k]) && p[k] > 0)) throw new ProxyError(`plan.${k} must be a positive integer (got ${p[k]})`);
  }
}

/** Block-stack (non-embedding) parameters of a width at the planned depth, d_ff ratio kept. */
function blockParams(plan: PlannedShape, width: number): number {
  const dFf = Math.max(1, Math.round((width * plan.dFf) / plan.dModel));
  return countParams({ vocab: 1, seq: 1, dModel: width, nLayers: plan.nLayers, nHeads: 1, dHead: width, dFf }).nonEmbedding;
}

/** The default proxy width: the widest multiple of widthStep under the parameter budget. */
export function defaultProxyWidth(plan: PlannedShape, budget: number = PROXY_DEFAULTS.nonEmbeddingParams): number {
  checkPlan(plan);
  const step = PROXY_DEFAULTS.widthStep;
  const cap = Math.min(plan.dModel, PROXY_DEFAULTS.maxDefaultWidth);
  let best = Math.min(PROXY_DEFAULTS.minWidth, plan.dModel);
  for (let w = PROXY_DEFAULTS.minWidth; w <= cap; w += step) if (blockParams(plan, w) <= budget) best = w;
  return best;
}

/** Widths offered in the dialog: powers of two and their 1.5x, up to the plan's width, plus the default. */
export function proxyWidthChoices(plan: PlannedShape): number[] {
  checkPlan(plan);
  const out = new Set<number>([defaultProxyWidth(plan)]);
  for (let w = 16; w <= plan.dModel && w <= 4096; w *= 2) {
    out.add(w);
    if (w * 1.5 <= plan.dModel) out.add(w * 1.5);
  }
  return [...out].filter((w) => w >= Math.min(PROXY_DEFAULTS.minWidth, plan.dModel) && w <= plan.dModel).sort((a, b) => a - b);
}

/** The proxy's shape for a width (default: defaultProxyWidth). Throws ProxyError (one line) on a bad width. */
export function proxyShape(plan: PlannedShape, opts: { width?: number; context?: number } = {}): ProxyShape {
  checkPlan(plan);
  const width = opts.width ?? defaultProxyWidth(plan);
  const minW = Math.min(PROXY_DEFAULTS.minWidth, plan.dModel);
  if (!Number.isInteger(width) || width < minW || width > plan.dModel) {
    throw new ProxyError(`proxy width must be an integer from ${minW} to the planned width ${plan.dModel} (got ${width})`);
  }
  if (width % PROXY_DEFAULTS.widthStep !== 0 && width !== plan.dModel) {
    throw new ProxyError(`proxy width must be a multiple of ${PROXY_DEFAULTS.widthStep} (got ${width})`);
  }
  let nHeads = Math.max(1, Math.round(width / plan.dHead));
  while (width % nHeads !== 0) nHeads--;
  const context = opts.context ?? Math.min(plan.seq, PROXY_DEFAULTS.context);
  if (!Number.isInteger(context) || context < 1 || context > plan.seq) throw new ProxyError(`proxy context must be an integer from 1 to the planned ${plan.seq} (got ${context})`);
  return {
    dModel: width,
    nLayers: plan.nLayers,
    nHeads,
    dHead: width / nHeads,
    dFf: Math.max(1, Math.round((width * plan.dFf) / plan.dModel)),
    context,
    widthReduction: plan.dModel / width,
    depthReduction: 1,
  };
}

export interface ProxyHparamRow {
  group: GroupName;
  /** What the proxy run uses (base transferred to the proxy width, planned depth). */
  proxy: GroupHparams;
  /** What the planned model uses (base transferred to the planned width and depth). */
  plan: GroupHparams;
}

export interface ProxyTransfer {
  rows: ProxyHparamRow[];
  proxy: { mN: number; mL: number; residualMultiplier: number; outputMultiplier: number };
  plan: { mN: number; mL: number; residualMultiplier: number; outputMultiplier: number };
  /** Caveats for this parameterization (empty for CompleteP and alpha = 0.5). */
  notes: string[];
}

/** Per-group hyperparameters of the proxy and of the planned model, from the same base (Table 1). */
export function proxyTransfer(plan: PlannedShape, proxy: ProxyShape, base: BaseHparams, p: Parameterization): ProxyTransfer {
  const tp = transfer(base, { width: proxy.dModel, depth: proxy.nLayers }, p);
  const tt = transfer(base, { width: plan.dModel, depth: plan.nLayers }, p);
  const pick = (t: typeof tp) => ({ mN: t.mN, mL: t.mL, residualMultiplier: t.residualMultiplier, outputMultiplier: t.outputMultiplier });
  const notes: string[] = [];
  if (p === 'sp') notes.push('SP does not transfer across width: the proxy\'s best learning rate is not the planned model\'s (use completep or mup for a faithful proxy).');
  if (p === 'mup') notes.push('muP transfers across width only; the proxy keeps the planned depth, so depth needs no transfer.');
  return {
    rows: (Object.keys(tp.groups) as GroupName[]).map((group) => ({ group, proxy: tp.groups[group], plan: tt.groups[group] })),
    proxy: pick(tp),
    plan: pick(tt),
    notes,
  };
}

export type ProxyData = { source: 'brown' } | { source: 'file' | 'folder'; path: string };

export interface ProxyRunOptions {
  steps: number;
  data: ProxyData;
  tokenizer?: 'byte' | 'gpt2';
  parameterization: Parameterization;
  base: BaseHparams;
  label: string;
  batchSize?: number;
}

/**
 * The run config (a partial config.json for `shapelab train --config`, docs/run-format.md) of a
 * proxy run; validateConfig fills the rest from the tiny preset.
 */
export function proxyRunConfig(proxy: ProxyShape, o: ProxyRunOptions): Record<string, unknown> {
  if (!(Number.isInteger(o.steps) && o.steps >= 1 && o.steps <= 1e9)) throw new ProxyError(`proxy steps must be an integer from 1 to 1e9 (got ${o.steps})`);
  const tokenizer = o.tokenizer ?? 'byte';
  const data: Record<string, unknown> = o.data.source === 'brown' ? { source: 'brown', tokenizer } : { source: o.data.source, path: o.data.path, tokenizer };
  const base: Record<string, number> = { baseWidth: o.base.baseWidth, baseDepth: o.base.baseDepth, lr: o.base.lr, initStd: o.base.initStd, eps: o.base.eps, weightDecay: o.base.weightDecay };
  return {
    version: 1,
    label: o.label.slice(0, 64),
    model: { vocabSize: tokenizer === 'gpt2' ? 50257 : 256, context: proxy.context, dModel: proxy.dModel, nLayers: proxy.nLayers, nHeads: proxy.nHeads, dFf: proxy.dFf, tiedEmbeddings: false },
    parameterization: o.parameterization,
    base,
    batchSize: o.batchSize ?? PROXY_DEFAULTS.batchSize,
    steps: o.steps,
    schedule: { totalSteps: o.steps, warmupSteps: Math.min(100, Math.floor(o.steps / 10)) },
    evalEvery: Math.max(1, Math.floor(o.steps / 10)),
    checkpointEvery: Math.max(1, Math.floor(o.steps / 4)),
    logEvery: Math.max(1, Math.min(10, Math.floor(o.steps / 20))),
    data,
  };
}

/** Parameters and training FLOPs per step of a proxy (PaLM convention, as the planner). */
export function proxyCost(proxy: ProxyShape, vocab: number, batchSize: number = PROXY_DEFAULTS.batchSize): { params: number; nonEmbeddingParams: number; flopsPerStep: number } {
  const spec = { vocab, seq: proxy.context, dModel: proxy.dModel, nLayers: proxy.nLayers, nHeads: proxy.nHeads, dHead: proxy.dHead, dFf: proxy.dFf, tiedEmbeddings: false };
  const c = countParams(spec);
  return { params: c.total, nonEmbeddingParams: c.nonEmbedding, flopsPerStep: trainingFlopsPerToken(spec) * proxy.context * batchSize };
}
