import { strict as assert } from 'node:assert';
import { growthPlan, growthSchedule, growthTimingTokens, PlanInputError } from '../../src/core/plan';
import { growthSources } from '../../src/core/model/growthOrder';

describe('plan/growth: G_stack', () => {
  // Du et al. 2024 (arXiv 2405.15319), Table 4: growth timing d for well-known training runs.
  const table4: [string, number, number, number][] = [
    ['Llama3-8B', 8e9, 15e12, 6.58e9],
    ['Llama2-7B', 7e9, 2e12, 11.11e9],
    ['Llama2-13B', 13e9, 2e12, 15.84e9],
    ['Llama2-70B', 70e9, 2e12, 42.48e9],
  ];
  for (const [name, N, D, d] of table4) {
    it(`${name}: d = ${d / 1e9}B tokens (Table 4)`, () => {
      const g = growthPlan({ params: N, tokens: D });
      assert.ok(Math.abs(g.growthTokens - d) < 0.01e9, `${g.growthTokens}`);
      assert.equal(g.factor, 4);
      assert.equal(g.inFitRange, false); // all beyond N <= 3e9 / C <= 1.5e21
      assert.ok(g.warnings.some((w) => /extrapolation/.test(w)));
    });
  }

  it('in fit range for N <= 3e9 and C <= 1.5e21', () => {
    const g = growthPlan({ params: 1.1e9, tokens: 100e9 }); // C = 6.6e20
    assert.equal(g.inFitRange, true);
    assert.equal(growthTimingTokens(1.1e9, 6.6e20), g.growthTokens);
  });

  it('small model: same width, L / g layers; FLOP split adds up', () => {
    const g = growthPlan({ params: 1.6e9, tokens: 200e9, shape: { vocab: 50304, seq: 2048, dModel: 1984, nLayers: 32, nHeads: 31 } });
    assert.deepEqual([g.smallModel.dModel, g.smallModel.nLayers], [1984, 8]);
    assert.ok(Math.abs(g.flopSplit.smallFlops + g.flopSplit.largeFlops - g.flopSplit.totalFlops) < 1e-6 * g.flopSplit.totalFlops);
    assert.ok(g.flopSplit.smallFraction > 0 && g.flopSplit.smallFraction < 0.2);
    assert.ok(g.reportedSpeedups.some((s) => /54\.6%/.test(s.claim)));
  });

  it('reaches a depth that g does not divide exactly (partial stack), and refuses invalid factors', () => {
    const g = growthPlan({ params: 1e9, tokens: 100e9, shape: { vocab: 50304, seq: 2048, dModel: 1536, nLayers: 26, nHeads: 12 } });
    const s = g.schedule!;
    // 26 = 8 + 3 x 6: a base of 8 blocks whose top 6 are stacked 4 times in all
    assert.equal(s.baseDepth, 8);
    assert.deepEqual(s.operator, { partial: [2, 7] });
    assert.equal(growthSources(8, 4, s.operator).length, 26); // the trainer's own block order
    assert.equal(g.smallModel.nLayers, 8);
    assert.ok(!g.warnings.some((w) => /multiple/.test(w)));
    // whole G_stack when g divides the depth; every depth from 2g to 64 is reachable
    assert.deepEqual(growthSchedule(24, 4), { baseDepth: 6, targetDepth: 24, operator: 'stack', description: 'stack 6 blocks x4 = 24' });
    for (let L = 8; L <= 64; L++) {
      const sc = growthSchedule(L, 4)!;
      assert.equal(growthSources(sc.baseDepth, 4, sc.operator).length, L, `depth ${L}`);
      assert.ok(sc.baseDepth >= 2);
    }
    assert.equal(growthSchedule(3, 4), null); // no base of >= 2 blocks grows x4 to 3
    assert.throws(() => growthPlan({ params: 1e9, tokens: 1e11, factor: 1 }), PlanInputError);
    assert.throws(() => growthPlan({ params: -1, tokens: 1e11 }), PlanInputError);
  });
});
