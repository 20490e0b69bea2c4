/**
 * G_stack growth plan (Du et al., "Stacking Your Transformers", NeurIPS 2024, arXiv 2405.15319;
 * code: tongxuluo/prts). Train a model of L/g blocks for d tokens, stack its block stack g times
 * (whole-stack order), keep training the full-depth model. The total FLOPs of the grown run
 * include the small model's phase.
 */
import { PlanInputError, requirePositive } from './errors';
import { trainingFlopsPerToken, type FlopsConvention } from './flops';
import { countParams, resolveShape, type ShapeSpec } from './shape';

import { GROWTH_DEFAULTS } from '../model/growthDefaults';

/** The shared default growth factor (model/growthDefaults.ts: g = 4, Du et al. 2024 Sec. 5), read at each use. */
export const defaultGrowthFactor = (): number => GROWTH_DEFAULTS.factor;

/**
 * Growth timing fit, Du et al. 2024 (Sec. 5, "growth timing"):
 *   log10(d) = 0.88 log10(N) + 163.27 / log10(C) - 5.74, C = 6 N D.
 * It reproduces their Table 4 (Llama2-7B, 2T tokens -> 11.11B tokens, etc.).
 */
export const GROWTH_TIMING_FIT = { a: 0.88, b: 163.27, c: -5.74, source: 'Du et al. 2024, arXiv 2405.15319, growth-timing fit (Sec. 5) and Table 4' } as const;

/** The fit was made on models up to 3B parameters and budgets up to ~1.5e21 FLOPs (Du et al. 2024). */
export const GROWTH_FIT_RANGE = { maxParams: 3e9, maxFlops: 1.5e21 } as const;

export interface CitedSpeedup {
  claim: string;
  source: string;
}

/** The paper's reported results, shown as context -- not predictions of this planner. */
export const GSTACK_REPORTED_SPEEDUPS: readonly CitedSpeedup[] = [
  {
    claim: '7B: reached the loss of a 300B-token from-scratch run after 194B tokens, a 54.6% speed-up (FLOPs_scratch / FLOPs_grown - 1)',
    source: 'Du et al. 2024, arXiv 2405.15319, abstract',
  },
  {
    claim: '410M: 53% speed-up at 400B tokens, 31% at 700B -- the gain shrinks with over-training',
    source: 'Du et al. 2024, arXiv 2405.15319, over-training experiments',
  },
  {
    claim: 'Growth factor best between 2 and 4; stacking a 1-layer base or an untrained (d = 0) model gives no gain',
    source: 'Du et al. 2024, arXiv 2405.15319, guidelines and ablations',
  },
];

export interface GrowthRequest {
  /** Target model parameters N. */
  params: number;
  /** Total training tokens D of the target (C = 6 N D for the timing fit). */
  tokens: number;
  /** Growth factor g (default 4). */
  factor?: number;
  /** Target shape; when given, the small model's exact shape and FLOPs are computed. */
  shape?: ShapeSpec;
  /** FLOP convention for the phase split when a shape is given (default 'palm'). */
  flopsConvention?: FlopsConvention;
}

export interface SmallModel {
  dModel?: number;
  nLayers?: number;
  nHeads?: number;
  dFf?: number;
  params: number;
  nonEmbeddingParams?: number;
}

/** Block operator of a growth: whole-stack G_stack, or the top blocks stacked ("partial", inclusive range). */
export type GrowthScheduleOperator = 'stack' | { partial: [number, number] };

/** How a base model of `baseDepth` blocks reaches exactly `targetDepth` with factor g. */
export interface GrowthSchedule {
  baseDepth: number;
  targetDepth: number;
  operator: GrowthScheduleOperator;
  /** One line for people: 'stack 5 blocks x4 = 20' or 'stack blocks 3..6 of 7 x4 = 19'. */
  description: string;
}

/**
 * The base depth and operator that reach `target` blocks exactly: G_stack of target/g blocks when g
 * divides the target; otherwise a base of L0 blocks whose top k blocks are stacked g times
 * (partial operator, blocks L0-k..L0-1: L0 + (g-1) k = target), with k as large as possible (the
 * closest to a whole stack). Null when no base of >= 2 blocks can reach the target.
 */
export function growthSchedule(target: number, g: number): GrowthSchedule | null {
  if (target % g === 0) {
    const base = target / g;
    return { baseDepth: base, targetDepth: target, operator: 'stack', description: `stack ${base} block${base > 1 ? 's' : ''} x${g} = ${target}` };
  }
  for (let k = Math.floor(target / g); k >= 1; k--) {
    const base = target - (g - 1) * k;
    if (k <= base && base >= 2) {
      return { baseDepth: base, targetDepth: target, operator: { partial: [base - k, base - 1] }, description: `stack the top ${k} of ${base} blocks (${base - k}..${base - 1}) x${g} = ${target}` };
    }
  }
  return null;
}

export interface GrowthPlan {
  factor: number;
  /** How the base reaches the target depth exactly (null without a shape, or when no base can). */
  schedule: GrowthSchedule | null;
  /**
   * True when the plan has no warning: the planner recommends growth, and an export uses it by
   * default; otherwise an export trains from scratch unless growth is asked for.
   */
  recommended: boolean;
  /** d: tokens to train the small model before stacking. */
  growthTokens: number;
  inFitRange: boolean;
  warnings: string[];
  targetParams: number;
  targetTokens: number;
  /** C = 6 N D, as in the timing fit. */
  fitFlops: number;
  smallModel: SmallModel;
  flopSplit: {
    convention: FlopsConvention;
    /** Budget of the from-scratch run at D tokens. */
    totalFlops: number;
    smallFlops: number;
    largeFlops: number;
    smallFraction: number;
    /** Tokens the grown model gets at the same total budget. */
    largeTokens: number;
  };
  formula: string;
  source: string;
  reportedSpeedups: readonly CitedSpeedup[];
}

/** d from the fit, in tokens. */
export function growthTimingTokens(params: number, flops: number): number {
  requirePositive(params, 'params');
  requirePositive(flops, 'FLOPs');
  const lc = Math.log10(flops);
  if (!(lc > 0)) throw new PlanInputError(`FLOPs must be > 1 for the growth-timing fit (got ${flops})`);
  const f = GROWTH_TIMING_FIT;
  const d = Math.pow(10, f.a * Math.log10(params) + f.b / lc + f.c);
  // b / log10(C) explodes for tiny budgets: no number of tokens comes out, so say so.
  if (!Number.isFinite(d)) throw new PlanInputError(`the growth-timing fit has no finite answer for C = ${flops.toExponential(2)} FLOPs (far below its range)`);
  return d;
}

export function growthPlan(req: GrowthRequest): GrowthPlan {
  requirePositive(req.params, 'params');
  requirePositive(req.tokens, 'tokens');
  const g = req.factor ?? defaultGrowthFactor();
  if (!(Number.isInteger(g) && g >= 2)) throw new PlanInputError(`growth factor must be an integer >= 2 (got ${g})`);
  const N = req.params;
  const D = req.tokens;
  const fitFlops = 6 * N * D;
  const d = growthTimingTokens(N, fitFlops);
  const warnings: string[] = [];
  const inFitRange = N <= GROWTH_FIT_RANGE.maxParams && fitFlops <= GROWTH_FIT_RANGE.maxFlops;
  if (!inFitRange) {
    warnings.push(`outside the growth-timing fit's range (N <= 3e9, C <= ~1.5e21; here N = ${N.toExponential(2)}, C = ${fitFlops.toExponential(2)}): d is an extrapolation`);
  }
  if (d >= D) warnings.push(`the growth phase (${(d / 1e9).toFixed(2)}B tokens) is not shorter than the whole run (${(D / 1e9).toFixed(2)}B): the fit was made on runs far longer than their growth phase; growth is unlikely to pay off here`);
  const convention = req.flopsConvention ?? 'palm';
  let smallModel: SmallModel;
  let smallPerToken: number;
  let largePerToken: number;
  let schedule: GrowthSchedule | null = null;
  if (req.shape) {
    const t = resolveShape(req.shape);
    schedule = growthSchedule(t.nLayers, g);
    if (!schedule) warnings.push(`no base of 2 or more blocks reaches depth ${t.nLayers} with g = ${g}: train from scratch or pick a smaller g`);
    const smallLayers = schedule ? schedule.baseDepth : Math.max(1, Math.round(t.nLayers / g));
    if (smallLayers === 1) warnings.push('the small model has 1 layer: Du et al. 2024 found a 1-layer base worse than training from scratch');
    const small = { ...t, nLayers: smallLayers };
    const pc = countParams(small);
    smallModel = { dModel: t.dModel, nLayers: smallLayers, nHeads: t.nHeads, dFf: t.dFf, params: pc.total, nonEmbeddingParams: pc.nonEmbedding };
    smallPerToken = trainingFlopsPerToken(small, convention);
    largePerToken = trainingFlopsPerToken(t, convention);
  } else {
    // Without a shape: g is the ratio of non-embedding parameters; embeddings ignored.
    smallModel = { params: N / g };
    smallPerToken = (6 * N) / g;
    largePerToken = 6 * N;
  }
  const totalFlops = largePerToken * D;
  const smallFlops = smallPerToken * d;
  if (smallFlops >= totalFlops) warnings.push('growth phase would use the whole budget: train longer or skip growth');
  const largeFlops = Math.max(0, totalFlops - smallFlops);
  return {
    factor: g,
    schedule,
    recommended: warnings.length === 0,
    growthTokens: d,
    inFitRange,
    warnings,
    targetParams: N,
    targetTokens: D,
    fitFlops,
    smallModel,
    flopSplit: {
      convention: req.shape ? convention : '6n',
      totalFlops,
      smallFlops,
      largeFlops,
      smallFraction: smallFlops / totalFlops,
      largeTokens: largeFlops / largePerToken,
    },
    formula: 'log10(d) = 0.88 log10(N) + 163.27 / log10(C) - 5.74, C = 6ND',
    source: GROWTH_TIMING_FIT.source,
    reportedSpeedups: GSTACK_REPORTED_SPEEDUPS,
  };
}
