/**
 * Fits L(N, D) = E + A / N^alpha + B / D^beta to final losses the way Hoffmann et al. 2022
 * (arXiv 2203.15556, Sec. 3.3 and App. D.2, "approach 3") did:
 *
 *   minimize  sum_i Huber_delta( LSE(a - alpha ln N_i, b - beta ln D_i, e) - ln L_i ),  delta = 1e-3
 *
 * with A = e^a, B = e^b, E = e^e (the LSE form keeps A, B, E positive and the objective smooth),
 * started from a grid of initial points, keeping the best local minimum.
 *
 * Optimizer: L-BFGS with the analytic gradient below (lbfgs.ts says why it is not an npm package).
 *
 * Identifiability with a handful of runs: the exponents are bounded to [EXP_MIN, EXP_MAX] through
 * a sigmoid (a fit that ends on a bound is reported as such: that exponent is not determined by the
 * data); and when the points' tokens-per-parameter spread is below TIED_SPREAD (D ~ N along the
 * whole grid, so A/N^alpha and B/D^beta cannot be told apart), beta is tied to alpha and the fit
 * has 4 free parameters instead of 5 -- also reported.
 */
import { lbfgs } from './lbfgs';

export interface Law {
  E: number;
  A: number;
  alpha: number;
  B: number;
  beta: number;
}

export interface FitPoint {
  N: number;
  D: number;
  loss: number;
}

export interface LawFitOptions {
  /** Huber delta on log-loss residuals (Hoffmann et al. 2022: 1e-3). */
  delta?: number;
  /** Force beta = alpha (4 parameters); default: automatic from the D/N spread. */
  tieExponents?: boolean;
  /** Initial points; default: the grid below. */
  starts?: number[][];
  maxIterations?: number;
}

export interface LawFitResult {
  law: Law;
  /** Objective at the optimum (sum of Huber losses, unscaled). */
  objective: number;
  tied: boolean;
  /** Free parameters (5, or 4 with tied exponents). */
  nParams: number;
  /** Exponents that ended within 1% of a bound: not determined by the data. */
  atBound: ('alpha' | 'beta')[];
  starts: number;
}

export const HUBER_DELTA = 1e-3; // Hoffmann et al. 2022, App. D.2
export const EXP_MIN = 0.02;
export const EXP_MAX = 2.0;
/** Below this ratio between the largest and smallest tokens-per-parameter, beta is tied to alpha. */
export const TIED_SPREAD = 1.5;

export class FitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FitError';
  }
}

const sigmoid = (u: number) => 1 / (1 + Math.exp(-u));
const toExp = (u: number) => EXP_MIN + (EXP_MAX - EXP_MIN) * sigmoid(u);
const fromExp = (x: number) => {
  const s = Math.min(1 - 1e-9, Math.max(1e-9, (x - EXP_MIN) / (EXP_MAX - EXP_MIN)));
  return Math.log(s / (1 - s));
};

const LAW_KEYS = ['E', 'A', 'alpha', 'B', 'beta'] as const;
/** A law read from a file: five finite, non-negative numbers (every fit.json reader checks with this). */
export function isLaw(v: unknown): v is Law {
  return !!v && typeof v === 'object' && LAW_KEYS.every((k) => typeof (v as Law)[k] === 'number' && Number.isFinite((v as Law)[k]) && (v as Law)[k] >= 0);
}

export function lawLoss(l: Law, N: number, D: number): number {
  return l.E + l.A / Math.pow(N, l.alpha) + l.B / Math.pow(D, l.beta);
}

export function tokensPerParamSpread(points: FitPoint[]): number {
  const r = points.map((p) => p.D / p.N);
  return Math.max(...r) / Math.min(...r);
}

/** Objective and gradient in the unconstrained coordinates x = [a, b, e, u_alpha, u_beta]. */
export function lawObjective(points: FitPoint[], delta: number, tied: boolean) {
  const lnN = points.map((p) => Math.log(p.N));
  const lnD = points.map((p) => Math.log(p.D));
  const lnL = points.map((p) => Math.log(p.loss));
  return (x: number[], g: number[]): number => {
    const [a, b, e, ua] = x;
    const ub = tied ? ua : x[4];
    const alpha = toExp(ua), beta = toExp(ub);
    const dAlpha = (EXP_MAX - EXP_MIN) * sigmoid(ua) * (1 - sigmoid(ua));
    const dBeta = (EXP_MAX - EXP_MIN) * sigmoid(ub) * (1 - sigmoid(ub));
    let f = 0;
    const grad = [0, 0, 0, 0, 0];
    for (let i = 0; i < points.length; i++) {
      const t1 = a - alpha * lnN[i], t2 = b - beta * lnD[i], t3 = e;
      const m = Math.max(t1, t2, t3);
      const w1 = Math.exp(t1 - m), w2 = Math.exp(t2 - m), w3 = Math.exp(t3 - m);
      const s = w1 + w2 + w3;
      const r = m + Math.log(s) - lnL[i];
      const ar = Math.abs(r);
      f += ar <= delta ? 0.5 * r * r : delta * (ar - 0.5 * delta);
      const h = ar <= delta ? r : delta * Math.sign(r);
      const p1 = w1 / s, p2 = w2 / s, p3 = w3 / s;
      grad[0] += h * p1;
      grad[1] += h * p2;
      grad[2] += h * p3;
      grad[3] += h * p1 * -lnN[i] * dAlpha;
      grad[4] += h * p2 * -lnD[i] * dBeta;
    }
    if (tied) {
      grad[3] += grad[4];
      grad[4] = 0;
    }
    // The Huber objective is O(delta^2) per point: scaled by 1/delta^2 (same minimizer) so that
    // the optimizer's tolerances are not below floating-point noise of f.
    const S = 1 / (delta * delta);
    for (let k = 0; k < x.length; k++) g[k] = grad[k] * S;
    return f * S;
  };
}

/**
 * Initial points: for each (alpha, beta) on a grid, L = E + A x1 + B x2 is linear in (E, A, B), so
 * a least-squares solve gives the matching E, A, B; the `keep` best of these (by the objective)
 * start the conjugate-gradient runs. This replaces Hoffmann et al.'s brute-force grid over all
 * five parameters (4,500 L-BFGS runs), which is ~100x slower here for the same minima.
 */
export function defaultStarts(points: FitPoint[], tied: boolean, keep = 8): number[][] {
  const grid = [0.05, 0.1, 0.15, 0.2, 0.27, 0.35, 0.45, 0.6, 0.8, 1.0, 1.3, 1.7];
  const f = lawObjective(points, HUBER_DELTA, tied);
  const cands: { x: number[]; fx: number }[] = [];
  const scratch = new Array(5).fill(0);
  for (const al of grid)
    for (const be of tied ? [al] : grid) {
      const abc = linearEAB(points, al, be);
      if (!abc) continue;
      const [E, A, B] = abc.map((v) => Math.max(v, 1e-6));
      const x = toX({ E, A, alpha: al, B, beta: be }, tied);
      const fx = f(x, scratch);
      if (Number.isFinite(fx)) cands.push({ x, fx });
    }
  cands.sort((p, q) => p.fx - q.fx);
  return cands.slice(0, keep).map((c) => c.x);
}

/** Least squares of L_i = E + A N_i^-alpha + B D_i^-beta for (E, A, B) at fixed exponents (normal equations). */
function linearEAB(points: FitPoint[], alpha: number, beta: number): [number, number, number] | null {
  const M = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const v = [0, 0, 0];
  for (const p of points) {
    const row = [1, Math.pow(p.N, -alpha), Math.pow(p.D, -beta)];
    for (let i = 0; i < 3; i++) {
      v[i] += row[i] * p.loss;
      for (let j = 0; j < 3; j++) M[i][j] += row[i] * row[j];
    }
  }
  // Ridge on A, B columns keeps the solve defined when they are collinear (fixed tokens/param).
  for (let i = 0; i < 3; i++) M[i][i] *= 1 + 1e-9;
  return solve3(M, v);
}

function solve3(M: number[][], v: number[]): [number, number, number] | null {
  const a = M.map((r, i) => [...r, v[i]]);
  for (let c = 0; c < 3; c++) {
    let piv = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
    if (Math.abs(a[piv][c]) < 1e-300) return null;
    [a[c], a[piv]] = [a[piv], a[c]];
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const k = a[r][c] / a[c][c];
      for (let j = c; j < 4; j++) a[r][j] -= k * a[c][j];
    }
  }
  const x = [a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]];
  return x.every(Number.isFinite) ? (x as [number, number, number]) : null;
}

const toLaw = (x: number[], tied: boolean): Law => ({ E: Math.exp(x[2]), A: Math.exp(x[0]), alpha: toExp(x[3]), B: Math.exp(x[1]), beta: toExp(tied ? x[3] : x[4]) });
const toX = (l: Law, tied: boolean): number[] => {
  const x = [Math.log(l.A), Math.log(l.B), Math.log(l.E), fromExp(l.alpha)];
  if (!tied) x.push(fromExp(l.beta));
  return x;
};

/** Fits the law; throws FitError when there are fewer points than free parameters. */
export function fitLaw(points: FitPoint[], o: LawFitOptions = {}): LawFitResult {
  for (const p of points) if (!(p.N > 0 && p.D > 0 && p.loss > 0 && Number.isFinite(p.N + p.D + p.loss))) throw new FitError(`bad point N ${p.N}, D ${p.D}, loss ${p.loss}`);
  const tied = o.tieExponents ?? (points.length > 0 && tokensPerParamSpread(points) < TIED_SPREAD);
  const nParams = tied ? 4 : 5;
  if (points.length < nParams) throw new FitError(`${points.length} usable run${points.length === 1 ? '' : 's'} for ${nParams} parameters (E, A, alpha, B${tied ? '; beta tied to alpha' : ', beta'}): need at least ${nParams}`);
  const f = lawObjective(points, o.delta ?? HUBER_DELTA, tied);
  const starts = o.starts ?? defaultStarts(points, tied);
  let best: { x: number[]; fx: number } | undefined;
  for (const s0 of starts) {
    const s = s0.slice(0, nParams);
    const r = lbfgs(f, s, { maxIterations: o.maxIterations ?? 1000 });
    if (Number.isFinite(r.fx) && (!best || r.fx < best.fx)) best = { x: r.x.slice(), fx: r.fx };
  }
  if (!best) throw new FitError('the fit did not converge from any start');
  const law = toLaw(best.x, tied);
  best.fx *= (o.delta ?? HUBER_DELTA) ** 2; // back to the unscaled Huber sum
  const atBound: LawFitResult['atBound'] = [];
  const near = (v: number) => v < EXP_MIN + 0.01 * (EXP_MAX - EXP_MIN) || v > EXP_MAX - 0.01 * (EXP_MAX - EXP_MIN);
  if (near(law.alpha)) atBound.push('alpha');
  if (!tied && near(law.beta)) atBound.push('beta');
  return { law, objective: best.fx, tied, nParams, atBound, starts: starts.length };
}

/** Starts for a refit near a known solution (bootstrap): the solution plus a few perturbations. */
export function startsNear(l: Law, tied: boolean, rnd: () => number, n = 6): number[][] {
  const x0 = toX(l, tied);
  const out = [x0];
  for (let i = 1; i < n; i++) out.push(x0.map((v) => v + (rnd() - 0.5) * 2));
  return out;
}

/** mulberry32: a small seeded PRNG so bootstrap intervals are reproducible. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface Bootstrap {
  samples: Law[];
  intervals: Record<keyof Law, [number, number]>;
  /** Resamples with fewer distinct points than parameters, or that failed: not counted. */
  dropped: number;
}

/** Resamples the points with replacement `n` times and refits each; 95% percentile intervals. */
export function bootstrapLaw(points: FitPoint[], fit: LawFitResult, n = 200, seed = 12): Bootstrap {
  const rnd = prng(seed);
  const samples: Law[] = [];
  let dropped = 0;
  for (let k = 0; k < n; k++) {
    const idx = points.map(() => Math.floor(rnd() * points.length));
    if (new Set(idx).size < fit.nParams) {
      dropped++;
      continue;
    }
    try {
      samples.push(fitLaw(idx.map((i) => points[i]), { tieExponents: fit.tied, starts: startsNear(fit.law, fit.tied, rnd) }).law);
    } catch {
      dropped++;
    }
  }
  const intervals = {} as Bootstrap['intervals'];
  for (const k of ['E', 'A', 'alpha', 'B', 'beta'] as const) {
    const v = samples.map((s) => s[k]).sort((x, y) => x - y);
    intervals[k] = [quantile(v, 0.025), quantile(v, 0.975)];
  }
  return { samples, intervals, dropped };
}

/** 95% band of the predicted loss at (N, D) over bootstrap samples (times an optional shape factor). */
export function lossBand(samples: Law[], N: number, D: number, factor = 1): [number, number] | null {
  if (samples.length < 10) return null;
  const v = samples.map((s) => lawLoss(s, N, D) * factor).sort((x, y) => x - y);
  return [quantile(v, 0.025), quantile(v, 0.975)];
}
