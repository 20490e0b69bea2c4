/**
 * Shape penalty: how much worse than the scaling law a shape of width/depth ratio r = d_model / L
 * does under a parameterization. Predicted loss = L_law(N, D) * (1 + penalty(r, param)).
 *
 * Functional form (an asymmetric quadratic in log r around an optimum r*):
 *
 *   x = ln(r / r*)
 *   penalty = offset[p] + deep[p] * x^2   if x < 0   (deep-narrow side; depends on parameterization)
 *           = offset[p] + wide    * x^2   if x >= 0  (wide-shallow side; same for all)
 *
 * Constants and where they come from (order-of-magnitude anchors, not a fit -- override them with
 * `PenaltyOverrides` once measured runs exist):
 * - r* = 50: Dey et al. 2025 (CompleteP, arXiv 2505.01618) found the optimal N:L roughly 40-62 for
 *   both muP and CompleteP at 50M-1.5B; 50 is the geometric middle (sqrt(40*62) ~ 49.8).
 * - deep[completep] = 0.0018: CompleteP stays within ~1% of optimal down to N:L ~ 4.6 (the
 *   deepest 1.5B shape, N 832 / L 179): 0.01 / ln(4.6/50)^2 = 0.01 / 5.69.
 * - offset[mup] = 0.006, deep[mup] = 0.0033: CompleteP saved ~12% FLOPs vs muP at the best shape
 *   and ~34% at the deepest; with loss ~ C^-0.05 (Kaplan et al. 2020, alpha_C ~ 0.05) these are
 *   loss gaps of 1.12^0.05-1 ~ 0.6% and 1.34^0.05-1 ~ 1.5%. So muP(r*) = 0.6% and
 *   muP(4.6) = 1% + 1.5% = 2.5%: deep = (0.025 - 0.006) / 5.69.
 * - alpha0.5: assumption, halfway between muP and CompleteP (offset 0.003, deep 0.0026): it
 *   transfers hyperparameters across depth like CompleteP but its blocks learn lazily (Dey et al.
 *   2025, Sec. 4); the paper's 12-34% compares CompleteP against muP, not alpha = 0.5.
 * - sp: assumption, twice muP (offset 0.012, deep 0.0066): no transfer at all, so a base-tuned
 *   learning rate is increasingly off in both width and depth; no published number anchors it.
 * - wide = 0.006: Kaplan et al. 2020 (arXiv 2001.08361, Fig. 5): d_model/n_layer can vary ~40x with
 *   only a few percent loss change; ~3% at 10x above the optimum gives 0.03 / ln(10)^2 ~ 0.006.
 */
import { PARAMETERIZATIONS, type Parameterization } from '../param/parameterization';
import { PlanInputError } from './errors';

export interface PenaltyConstants {
  /** Optimal width/depth ratio r*. */
  optimalRatio: number;
  /** Curvature on the wide-shallow side (all parameterizations). */
  wide: number;
  /** Curvature on the deep-narrow side, per parameterization. */
  deep: Record<Parameterization, number>;
  /** Constant offset at the optimum, per parameterization (relative to CompleteP). */
  offset: Record<Parameterization, number>;
  source: string;
}

export const DEFAULT_PENALTY: PenaltyConstants = {
  optimalRatio: 50, // Dey et al. 2025: optimal N:L ~ 40-62
  wide: 0.006, // Kaplan et al. 2020 Fig. 5: ~3% at 10x wider than optimal
  deep: {
    completep: 0.0018, // Dey et al. 2025: within ~1% of optimum at N:L 4.6
    'alpha0.5': 0.0026, // assumption: midway between CompleteP and muP
    mup: 0.0033, // Dey et al. 2025: 34% FLOPs (~1.5% loss) behind CompleteP at N:L 4.6
    sp: 0.0066, // assumption: 2x muP
  },
  offset: {
    completep: 0,
    'alpha0.5': 0.003, // assumption: midway
    mup: 0.006, // Dey et al. 2025: 12% FLOPs (~0.6% loss) behind CompleteP at the best shape
    sp: 0.012, // assumption: 2x muP
  },
  source: 'Dey et al. 2025 (arXiv 2505.01618) FLOP savings converted with Kaplan et al. 2020 alpha_C ~ 0.05; alpha0.5 and sp are assumptions',
};

/** Partial overrides: any constant, or per-parameterization entries. */
export interface PenaltyOverrides {
  optimalRatio?: number;
  wide?: number;
  deep?: Partial<Record<Parameterization, number>>;
  offset?: Partial<Record<Parameterization, number>>;
  source?: string;
}

function finiteNonNeg(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new PlanInputError(`penalty ${what} must be a finite number >= 0 (got ${String(v)})`);
}

/** Defaults with overrides applied (validated). */
export function penaltyConstants(overrides?: PenaltyOverrides): PenaltyConstants {
  const c: PenaltyConstants = {
    optimalRatio: overrides?.optimalRatio ?? DEFAULT_PENALTY.optimalRatio,
    wide: overrides?.wide ?? DEFAULT_PENALTY.wide,
    deep: { ...DEFAULT_PENALTY.deep, ...(overrides?.deep ?? {}) },
    offset: { ...DEFAULT_PENALTY.offset, ...(overrides?.offset ?? {}) },
    source: overrides ? overrides.source ?? 'user overrides on top of: ' + DEFAULT_PENALTY.source : DEFAULT_PENALTY.source,
  };
  if (!(c.optimalRatio > 0) || !Number.isFinite(c.optimalRatio)) throw new PlanInputError(`penalty optimalRatio must be > 0 (got ${c.optimalRatio})`);
  finiteNonNeg(c.wide, 'wide');
  for (const p of PARAMETERIZATIONS) {
    finiteNonNeg(c.deep[p], `deep.${p}`);
    finiteNonNeg(c.offset[p], `offset.${p}`);
  }
  return c;
}

/** Relative loss penalty of a width/depth ratio under a parameterization (0 = on the law). */
export function shapePenalty(widthDepthRatio: number, p: Parameterization, constants: PenaltyConstants = DEFAULT_PENALTY): number {
  const x = Math.log(widthDepthRatio / constants.optimalRatio);
  const curvature = x < 0 ? constants.deep[p] : constants.wide;
  return constants.offset[p] + curvature * x * x;
}
