/**
 * L-BFGS (Nocedal & Wright 2006, Algorithm 7.4/7.5: two-loop recursion) with a backtracking
 * Armijo line search: the optimizer Hoffmann et al. 2022 used for their scaling-law fit.
 *
 * Why a hand-written one: the npm registry had none we could use. optimization-js 1.5.0's
 * minimize_L_BFGS has no line search and no iteration cap (it can loop forever); fmin 0.0.4's
 * conjugate gradient (Wolfe line search) stalled at its starting point on the Huber/LSE objective
 * (tried first, see the report of issue 12). This one is ~60 lines and tested in
 * test/study/lawFit.test.ts (Rosenbrock and the law fit's exact recovery).
 */
export interface LbfgsOptions {
  maxIterations?: number;
  /** History pairs kept (m). */
  memory?: number;
  /** Stop when max |grad| falls below this. */
  gradTol?: number;
  /** Stop when the relative decrease of f in an iteration falls below this. */
  fTol?: number;
}

export interface LbfgsResult {
  x: number[];
  fx: number;
  iterations: number;
  converged: boolean;
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

/** Minimizes f; `f(x, g)` returns f(x) and writes the gradient into g. */
export function lbfgs(f: (x: number[], g: number[]) => number, x0: number[], o: LbfgsOptions = {}): LbfgsResult {
  const n = x0.length, m = o.memory ?? 8, maxIt = o.maxIterations ?? 500, gTol = o.gradTol ?? 1e-9, fTol = o.fTol ?? 1e-14;
  let x = x0.slice();
  let g = new Array(n).fill(0);
  let fx = f(x, g);
  const S: number[][] = [], Y: number[][] = [], R: number[] = [];
  for (let it = 0; it < maxIt; it++) {
    if (!Number.isFinite(fx)) return { x, fx, iterations: it, converged: false };
    if (Math.max(...g.map(Math.abs)) < gTol) return { x, fx, iterations: it, converged: true };
    // Two-loop recursion: d = -H g.
    const q = g.slice();
    const al: number[] = [];
    for (let i = S.length - 1; i >= 0; i--) {
      al[i] = R[i] * dot(S[i], q);
      for (let k = 0; k < n; k++) q[k] -= al[i] * Y[i][k];
    }
    const gamma = S.length ? dot(S[S.length - 1], Y[S.length - 1]) / dot(Y[S.length - 1], Y[S.length - 1]) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let k = 0; k < n; k++) q[k] *= gamma;
    for (let i = 0; i < S.length; i++) {
      const b = R[i] * dot(Y[i], q);
      for (let k = 0; k < n; k++) q[k] += S[i][k] * (al[i] - b);
    }
    let d = q.map((v) => -v);
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction (curvature information went bad): restart from steepest descent.
      S.length = Y.length = R.length = 0;
      d = g.map((v) => -v);
      slope = -dot(g, g);
    }
    // Backtracking Armijo line search (c1 = 1e-4).
    let t = 1;
    const gNew = new Array(n).fill(0);
    let xNew = x, fNew = Infinity;
    for (let ls = 0; ls < 60; ls++) {
      xNew = x.map((v, k) => v + t * d[k]);
      fNew = f(xNew, gNew);
      if (Number.isFinite(fNew) && fNew <= fx + 1e-4 * t * slope) break;
      t *= 0.5;
    }
    if (!(Number.isFinite(fNew) && fNew <= fx)) return { x, fx, iterations: it, converged: false };
    const s = xNew.map((v, k) => v - x[k]);
    const y = gNew.map((v, k) => v - g[k]);
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      S.push(s);
      Y.push(y);
      R.push(1 / sy);
      if (S.length > m) {
        S.shift();
        Y.shift();
        R.shift();
      }
    }
    const decrease = fx - fNew;
    x = xNew;
    g = gNew;
    fx = fNew;
    if (decrease <= fTol * Math.max(1, Math.abs(fx))) return { x, fx, iterations: it + 1, converged: true };
  }
  return { x, fx, iterations: maxIt, converged: false };
}
