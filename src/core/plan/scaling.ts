/**
 * Scaling laws L(N, D) = E + A / N^alpha + B / D^beta and compute-optimal allocation.
 *
 * N is the *total* parameter count: Hoffmann et al. counted embeddings, Kaplan et al. did not, and
 * that difference explains much of the gap between their laws (Pearce & Song 2024,
 * arXiv 2406.12907). Absolute losses are in the units of each fit's own data and tokenizer
 * (MassiveText for Chinchilla); compare losses only within one fit.
 */
import { PlanInputError, requirePositive } from './errors';
import type { PenaltyOverrides } from './penalty';

export interface ScalingFit {
  /** A published fit's id, or 'local' for a fit of the user's own runs (plan/localFit.ts). */
  id: ScalingFitId | 'local';
  name: string;
  E: number;
  A: number;
  B: number;
  alpha: number;
  beta: number;
  source: string;
  /** Range of the data the fit was made on; outside it the law is an extrapolation. */
  validity: string;
  /** Bootstrap refits of a local fit: the planner reports a 95% band of the predicted loss from them. */
  bootstrap?: { E: number; A: number; alpha: number; B: number; beta: number }[];
  /** The N and D the fit's runs spanned (local studies): the planner warns when a plan leaves it far behind. */
  range?: { nMin: number; nMax: number; dMin: number; dMax: number };
  /** Shape-penalty constants measured with the fit (local studies); used unless the caller overrides them. */
  penalty?: PenaltyOverrides;
}

export const SCALING_FIT_IDS = ['besiroglu', 'chinchilla'] as const;
export type ScalingFitId = (typeof SCALING_FIT_IDS)[number];

export const SCALING_FITS: Record<ScalingFitId, ScalingFit> = {
  chinchilla: {
    id: 'chinchilla',
    name: 'Hoffmann et al. 2022 (Chinchilla), approach 3',
    // Hoffmann et al. 2022, arXiv 2203.15556, Sec. 3.3 and App. D.2 (approach 3 fit): E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28.
    E: 1.69,
    A: 406.4,
    B: 410.7,
    alpha: 0.34,
    beta: 0.28,
    source: 'Hoffmann et al. 2022, arXiv 2203.15556, Sec. 3.3 / App. D.2',
    validity: 'models 70M-16B, 5B-500B tokens (MassiveText); the rounded constants drift to ~100 tokens/param at 1e24 FLOPs',
  },
  besiroglu: {
    id: 'besiroglu',
    name: 'Besiroglu et al. 2024 (Epoch replication of Chinchilla)',
    // Besiroglu, Erdil, Barnett, You 2024, "Chinchilla Scaling: A replication attempt", arXiv 2404.10102, fitted parameters of their Sec. 3.
    E: 1.8172,
    A: 482.01,
    B: 2085.43,
    alpha: 0.3478,
    beta: 0.3658,
    source: 'Besiroglu et al. 2024, arXiv 2404.10102, Sec. 3 (fitted parameters)',
    validity: 'refit of Chinchilla Fig. 4 data (models 70M-16B); keeps ~20 tokens/param across budgets',
  },
};

export const DEFAULT_FIT: ScalingFitId = 'besiroglu';

/** 20 tokens per parameter: Hoffmann et al. 2022's rule of thumb; also what CompleteP (Dey et al. 2025) trained with. */
export const DEFAULT_TOKENS_PER_PARAM = 20;

export function isScalingFitId(s: string): s is ScalingFitId {
  return (SCALING_FIT_IDS as readonly string[]).includes(s);
}

export function getFit(fit: ScalingFitId | ScalingFit): ScalingFit {
  if (typeof fit === 'object') return fit;
  const f = SCALING_FITS[fit];
  if (!f) throw new PlanInputError(`unknown scaling fit '${fit}'; known: ${SCALING_FIT_IDS.join(', ')}`);
  return f;
}

/** Predicted loss at N total parameters trained on D tokens. */
export function scalingLoss(fit: ScalingFitId | ScalingFit, params: number, tokens: number): number {
  const f = getFit(fit);
  return f.E + f.A / Math.pow(params, f.alpha) + f.B / Math.pow(tokens, f.beta);
}

export interface Allocation {
  params: number;
  tokens: number;
  tokensPerParam: number;
  flops: number;
  loss: number;
  /** How N*, D* were chosen. */
  policy: string;
}

/**
 * Compute-optimal N*, D* for C = 6 N D (closed form of Hoffmann et al. 2022, Sec. 3.3, eq. 4):
 * G = (alpha A / (beta B))^(1/(alpha+beta)), N* = G (C/6)^(beta/(alpha+beta)), D* = C / (6 N*).
 */
export function computeOptimal(fit: ScalingFitId | ScalingFit, flops: number): Allocation {
  requirePositive(flops, 'compute budget (FLOPs)');
  const f = getFit(fit);
  const G = Math.pow((f.alpha * f.A) / (f.beta * f.B), 1 / (f.alpha + f.beta));
  const params = G * Math.pow(flops / 6, f.beta / (f.alpha + f.beta));
  const tokens = flops / (6 * params);
  return { params, tokens, tokensPerParam: tokens / params, flops, loss: scalingLoss(f, params, tokens), policy: `compute-optimal (${f.name})` };
}

/** Fixed tokens-per-parameter policy: D = r N with C = 6 N D, so N = sqrt(C / (6 r)). */
export function fixedTokensPerParam(fit: ScalingFitId | ScalingFit, flops: number, tokensPerParam = DEFAULT_TOKENS_PER_PARAM): Allocation {
  requirePositive(flops, 'compute budget (FLOPs)');
  requirePositive(tokensPerParam, 'tokens per parameter');
  const params = Math.sqrt(flops / (6 * tokensPerParam));
  const tokens = tokensPerParam * params;
  return { params, tokens, tokensPerParam, flops, loss: scalingLoss(fit, params, tokens), policy: `fixed ${tokensPerParam} tokens/param` };
}
