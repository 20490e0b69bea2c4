/**
 * Parameterizations as data: how init scales, learning rates, AdamW epsilon, weight decay and
 * forward multipliers change with width N (= d_model) and depth L (= number of blocks).
 *
 * Source: Dey et al., "Don't be lazy: CompleteP enables compute-efficient deep transformers",
 * arXiv 2505.01618 (2025), Table 1 (AdamW, pre-LN). The split of AdamW epsilon between
 * residual-block parameters (eps / m_N * m_L^-alpha) and embedding/unembedding/final-LN
 * (eps / m_N) is the fix found by the Complete^(d) paper, arXiv 2512.22382, and adopted by the
 * reference code (EleutherAI/nanoGPT-mup, branch `completep`).
 *
 * This module is the single source of truth: the planner shows these numbers, the trainer uses
 * them, and the PyTorch exporter writes them into its config.
 */

export const PARAMETERIZATIONS = ['completep', 'alpha0.5', 'mup', 'sp'] as const;
export type Parameterization = (typeof PARAMETERIZATIONS)[number];

export const GROUPS = ['embedding', 'preLN', 'hidden', 'hiddenBias', 'finalLN', 'unembedding'] as const;
export type GroupName = (typeof GROUPS)[number];

export interface BaseHparams {
  /** Width of the tuned base model (reference default 256). */
  baseWidth: number;
  /** Depth of the tuned base model (reference default 2). */
  baseDepth: number;
  /** Base learning rate eta. */
  lr: number;
  /** Base init std sigma (reference default 0.02). */
  initStd: number;
  /** Base AdamW epsilon. */
  eps: number;
  /** Base AdamW (decoupled, PyTorch-style lr * wd) weight decay lambda. */
  weightDecay: number;
  /** Optional tunable multiplier on the input embedding sum (default 1). */
  inputMultiplier?: number;
  /** Optional tunable multiplier on the logits before the 1/m_N width factor (default 1). */
  outputMultiplier?: number;
}

export interface GroupHparams {
  initStd: number;
  /** Peak learning rate of the group (the schedule multiplies it). */
  lr: number;
  eps: number;
  weightDecay: number;
}

export interface Transfer {
  parameterization: Parameterization;
  /** alpha of the depth rule (1 CompleteP, 0.5 depth-muP, 0 for muP/SP: no depth scaling). */
  alpha: number;
  width: number;
  depth: number;
  mN: number;
  mL: number;
  groups: Record<GroupName, GroupHparams>;
  /** Multiplier on each residual branch: x + r * f(LN(x)). */
  residualMultiplier: number;
  /** Multiplier on the input embedding sum. */
  inputMultiplier: number;
  /** Total logit multiplier: logits = LN_f(x) W_out * outputMultiplier (includes 1/m_N for muP-family). */
  outputMultiplier: number;
  /** Attention logit scale for a head size. */
  attentionScale(dHead: number): number;
  /** 'inverse' = 1/d_head (muP family), 'inverseSqrt' = 1/sqrt(d_head) (SP). */
  attentionScaleRule: 'inverse' | 'inverseSqrt';
}

export const DEFAULT_BASE: BaseHparams = {
  baseWidth: 256, // reference code default (nanoGPT-mup, completep branch)
  baseDepth: 2, // reference code default
  lr: 3e-3,
  initStd: 0.02, // reference code default
  eps: 1e-8,
  weightDecay: 0.1,
};

export function alphaOf(p: Parameterization): number {
  switch (p) {
    case 'completep':
      return 1;
    case 'alpha0.5':
      return 0.5;
    case 'mup':
    case 'sp':
      return 0;
  }
}

export function isParameterization(s: string): s is Parameterization {
  return (PARAMETERIZATIONS as readonly string[]).includes(s);
}

/** Transfers base hyperparameters to a model of the given width and depth (Table 1). */
export function transfer(base: BaseHparams, target: { width: number; depth: number }, p: Parameterization): Transfer {
  for (const [k, v] of Object.entries({ ...base, ...target })) {
    if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`${k} must be a finite non-negative number (got ${v})`);
  }
  if (!(base.baseWidth > 0 && base.baseDepth > 0 && target.width > 0 && target.depth > 0)) {
    throw new RangeError('widths and depths must be > 0');
  }
  const mN = target.width / base.baseWidth;
  const mL = target.depth / base.baseDepth;
  const alpha = alphaOf(p);
  const sp = p === 'sp';
  const depthFamily = p === 'completep' || p === 'alpha0.5';
  const s = base.initStd;
  const eta = base.lr;
  const lam = base.weightDecay;
  const eps = base.eps;
  // Depth factor on block learning rates: m_L^(alpha-1) (1 for muP/SP, which have no depth rule).
  const lrDepth = depthFamily ? Math.pow(mL, alpha - 1) : 1;
  const widthLr = sp ? 1 : 1 / mN;
  const epsOuter = sp ? eps : eps / mN;
  const epsBlock = sp ? eps : (eps / mN) * (depthFamily ? Math.pow(mL, -alpha) : 1);
  const groups: Record<GroupName, GroupHparams> = {
    embedding: { initStd: s, lr: eta, eps: epsOuter, weightDecay: lam },
    preLN: { initStd: 0, lr: eta * lrDepth, eps: epsBlock, weightDecay: 0 },
    hidden: { initStd: sp ? s : s / Math.sqrt(mN), lr: eta * widthLr * lrDepth, eps: epsBlock, weightDecay: sp ? lam : lam * mN },
    hiddenBias: { initStd: 0, lr: eta * lrDepth, eps: epsBlock, weightDecay: 0 },
    finalLN: { initStd: 0, lr: eta, eps: epsOuter, weightDecay: 0 },
    unembedding: { initStd: s, lr: eta, eps: epsOuter, weightDecay: lam },
  };
  const inputMultiplier = base.inputMultiplier ?? 1;
  const outMul = base.outputMultiplier ?? 1;
  const attentionScaleRule = sp ? 'inverseSqrt' : 'inverse';
  return {
    parameterization: p,
    alpha,
    width: target.width,
    depth: target.depth,
    mN,
    mL,
    groups,
    residualMultiplier: depthFamily ? Math.pow(mL, -alpha) : 1,
    inputMultiplier,
    outputMultiplier: sp ? outMul : outMul / mN,
    attentionScaleRule,
    attentionScale: (dHead: number) => (attentionScaleRule === 'inverse' ? 1 / dHead : 1 / Math.sqrt(dHead)),
  };
}
