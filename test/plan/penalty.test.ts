import { strict as assert } from 'node:assert';
import { DEFAULT_PENALTY, penaltyConstants, PlanInputError, shapePenalty } from '../../src/core/plan';

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;

describe('plan/penalty: shape penalty vs N:L', () => {
  it('is zero for CompleteP at the optimal N:L', () => {
    assert.equal(shapePenalty(DEFAULT_PENALTY.optimalRatio, 'completep'), 0);
  });

  it('CompleteP stays within ~1% at N:L 4.6 (Dey et al. 2025, N 832 / L 179)', () => {
    assert.ok(close(shapePenalty(832 / 179, 'completep'), 0.01, 0.001));
  });

  it('muP trails CompleteP by ~1.5% at N:L 4.6 and ~0.6% at the best shape (34% / 12% FLOPs at loss ~ C^-0.05)', () => {
    const deep = 832 / 179;
    assert.ok(close(shapePenalty(deep, 'mup') - shapePenalty(deep, 'completep'), 1.34 ** 0.05 - 1, 0.001));
    const best = 1984 / 32;
    assert.ok(close(shapePenalty(best, 'mup') - shapePenalty(best, 'completep'), 1.12 ** 0.05 - 1, 0.0005));
  });

  it('deep-narrow shapes: SP > muP > alpha0.5 > CompleteP', () => {
    for (const r of [2, 5, 10, 20]) {
      const [sp, mup, a5, cp] = (['sp', 'mup', 'alpha0.5', 'completep'] as const).map((p) => shapePenalty(r, p));
      assert.ok(sp > mup && mup > a5 && a5 > cp, `r=${r}`);
    }
  });

  it('grows away from the optimum on both sides', () => {
    for (const p of ['sp', 'mup', 'alpha0.5', 'completep'] as const) {
      assert.ok(shapePenalty(10, p) > shapePenalty(25, p));
      assert.ok(shapePenalty(500, p) > shapePenalty(100, p));
    }
  });

  it('constants are overridable and validated', () => {
    const c = penaltyConstants({ optimalRatio: 100, deep: { completep: 0.1 } });
    assert.equal(shapePenalty(100, 'completep', c), 0);
    assert.ok(shapePenalty(10, 'completep', c) > 0.5);
    assert.equal(c.deep.mup, DEFAULT_PENALTY.deep.mup);
    assert.throws(() => penaltyConstants({ wide: -1 }), PlanInputError);
  });
});
