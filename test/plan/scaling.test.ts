import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { computeOptimal, fixedTokensPerParam, PlanInputError, scalingLoss, SCALING_FITS } from '../../src/core/plan';

const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.abs(b);

describe('plan/scaling: Chinchilla and Epoch fits', () => {
  it('carries the published constants', () => {
    assert.deepEqual([SCALING_FITS.chinchilla.E, SCALING_FITS.chinchilla.A, SCALING_FITS.chinchilla.B, SCALING_FITS.chinchilla.alpha, SCALING_FITS.chinchilla.beta], [1.69, 406.4, 410.7, 0.34, 0.28]);
    assert.deepEqual([SCALING_FITS.besiroglu.E, SCALING_FITS.besiroglu.A, SCALING_FITS.besiroglu.B, SCALING_FITS.besiroglu.alpha, SCALING_FITS.besiroglu.beta], [1.8172, 482.01, 2085.43, 0.3478, 0.3658]);
  });

  it('Chinchilla (70B, 1.4T tokens) at 20 tokens/param: C = 5.88e23', () => {
    const a = fixedTokensPerParam('chinchilla', 6 * 70e9 * 1.4e12, 20);
    assert.ok(close(a.params, 70e9, 1e-12));
    assert.ok(close(a.tokens, 1.4e12, 1e-12));
  });

  it('Chinchilla law: 1.69 + 406.4/70e9^0.34 + 410.7/1.4e12^0.28', () => {
    const expected = 1.69 + 406.4 / Math.pow(70e9, 0.34) + 410.7 / Math.pow(1.4e12, 0.28);
    assert.ok(close(scalingLoss('chinchilla', 70e9, 1.4e12), expected, 1e-12));
    assert.ok(close(expected, 1.9366, 1e-4));
  });

  it("Chinchilla (70B, 1.4T) beats Gopher (280B, 300B) at similar compute under the paper's own fit", () => {
    assert.ok(scalingLoss('chinchilla', 70e9, 1.4e12) < scalingLoss('chinchilla', 280e9, 300e9));
  });

  it('Besiroglu compute-optimum at Chinchilla compute is close to Chinchilla itself (~20 tokens/param)', () => {
    const a = computeOptimal('besiroglu', 5.88e23);
    assert.ok(close(a.params, 70e9, 0.1), `N* ${a.params}`);
    assert.ok(close(a.tokens, 1.4e12, 0.1), `D* ${a.tokens}`);
    for (const C of [1e19, 1e21, 1e23, 1e25]) {
      const t = computeOptimal('besiroglu', C).tokensPerParam;
      assert.ok(t > 15 && t < 30, `${C}: ${t}`);
    }
  });

  it('the rounded Chinchilla constants drift toward ~100 tokens/param at 1e24', () => {
    const t = computeOptimal('chinchilla', 1e24).tokensPerParam;
    assert.ok(t > 80 && t < 120, String(t));
  });

  it('compute-optimal N* minimizes loss along C = 6ND', () => {
    for (const fit of ['chinchilla', 'besiroglu'] as const) {
      const C = 1e22;
      const a = computeOptimal(fit, C);
      for (const k of [0.8, 1.25]) {
        const n = a.params * k;
        assert.ok(scalingLoss(fit, n, C / (6 * n)) > a.loss);
      }
    }
  });

  it('loss decreases in N and in D (property)', () => {
    const logs = fc.double({ min: 6, max: 13, noNaN: true });
    fc.assert(
      fc.property(logs, logs, fc.double({ min: 0.01, max: 2, noNaN: true }), (ln, ld, step) => {
        for (const fit of ['chinchilla', 'besiroglu'] as const) {
          const N = 10 ** ln;
          const D = 10 ** (ld - 1 + 2); // 1e7..1e14 tokens
          if (!(scalingLoss(fit, N * 10 ** step, D) < scalingLoss(fit, N, D))) return false;
          if (!(scalingLoss(fit, N, D * 10 ** step) < scalingLoss(fit, N, D))) return false;
        }
        return true;
      }),
    );
  });

  it('rejects a non-positive budget', () => {
    assert.throws(() => computeOptimal('besiroglu', -1), PlanInputError);
    assert.throws(() => computeOptimal('besiroglu', NaN), PlanInputError);
  });
});
