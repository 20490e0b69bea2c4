import { strict as assert } from 'node:assert';
import { transfer, type BaseHparams, type GroupHparams, type GroupName, type Parameterization } from '../../src/core/plan';

// Expected values are computed by hand from Table 1 of Dey et al. 2025 (arXiv 2505.01618), with the
// fixed AdamW-eps rule (residual blocks eps/m_N * m_L^-alpha; embedding/unembedding/final LN eps/m_N),
// as written out in shared/notes/completep.md.
const base: BaseHparams = { baseWidth: 256, baseDepth: 2, lr: 0.01, initStd: 0.02, eps: 1e-8, weightDecay: 0.1 };

function near(actual: number, expected: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)) + 1e-24, `${what}: ${actual} != ${expected}`);
}

type Row = [initStd: number, lr: number, eps: number, weightDecay: number];
function check(p: Parameterization, width: number, depth: number, groups: Record<GroupName, Row>, residual: number, output: number, attn: number) {
  const t = transfer(base, { width, depth }, p);
  for (const [g, [initStd, lr, eps, wd]] of Object.entries(groups) as [GroupName, Row][]) {
    const got: GroupHparams = t.groups[g];
    near(got.initStd, initStd, `${p} ${g} initStd`);
    near(got.lr, lr, `${p} ${g} lr`);
    near(got.eps, eps, `${p} ${g} eps`);
    near(got.weightDecay, wd, `${p} ${g} weightDecay`);
  }
  near(t.residualMultiplier, residual, `${p} residual`);
  near(t.outputMultiplier, output, `${p} output`);
  near(t.attentionScale(64), attn, `${p} attention scale`);
}

describe('param/parameterization: CompleteP table (Dey et al. 2025, Table 1)', () => {
  describe('m_N = 4, m_L = 8 (width 1024, depth 16)', () => {
    it('CompleteP (alpha = 1)', () => {
      check('completep', 1024, 16, {
        embedding: [0.02, 0.01, 2.5e-9, 0.1],
        preLN: [0, 0.01, 3.125e-10, 0],
        hidden: [0.01, 0.0025, 3.125e-10, 0.4],
        hiddenBias: [0, 0.01, 3.125e-10, 0],
        finalLN: [0, 0.01, 2.5e-9, 0],
        unembedding: [0.02, 0.01, 2.5e-9, 0.1],
      }, 0.125, 0.25, 1 / 64);
    });

    it('alpha = 0.5 (depth-muP)', () => {
      const r8 = Math.sqrt(8);
      check('alpha0.5', 1024, 16, {
        embedding: [0.02, 0.01, 2.5e-9, 0.1],
        preLN: [0, 0.01 / r8, 2.5e-9 / r8, 0],
        hidden: [0.01, 0.0025 / r8, 2.5e-9 / r8, 0.4],
        hiddenBias: [0, 0.01 / r8, 2.5e-9 / r8, 0],
        finalLN: [0, 0.01, 2.5e-9, 0],
        unembedding: [0.02, 0.01, 2.5e-9, 0.1],
      }, 1 / r8, 0.25, 1 / 64);
    });

    it('muP (no depth rule)', () => {
      check('mup', 1024, 16, {
        embedding: [0.02, 0.01, 2.5e-9, 0.1],
        preLN: [0, 0.01, 2.5e-9, 0],
        hidden: [0.01, 0.0025, 2.5e-9, 0.4],
        hiddenBias: [0, 0.01, 2.5e-9, 0],
        finalLN: [0, 0.01, 2.5e-9, 0],
        unembedding: [0.02, 0.01, 2.5e-9, 0.1],
      }, 1, 0.25, 1 / 64);
    });

    it('SP (nothing scales)', () => {
      check('sp', 1024, 16, {
        embedding: [0.02, 0.01, 1e-8, 0.1],
        preLN: [0, 0.01, 1e-8, 0],
        hidden: [0.02, 0.01, 1e-8, 0.1],
        hiddenBias: [0, 0.01, 1e-8, 0],
        finalLN: [0, 0.01, 1e-8, 0],
        unembedding: [0.02, 0.01, 1e-8, 0.1],
      }, 1, 1, 1 / 8);
    });
  });

  it('m_N = 2, m_L = 32 (width 512, depth 64), CompleteP', () => {
    check('completep', 512, 64, {
      embedding: [0.02, 0.01, 5e-9, 0.1],
      preLN: [0, 0.01, 1.5625e-10, 0],
      hidden: [0.02 / Math.SQRT2, 0.005, 1.5625e-10, 0.2],
      hiddenBias: [0, 0.01, 1.5625e-10, 0],
      finalLN: [0, 0.01, 5e-9, 0],
      unembedding: [0.02, 0.01, 5e-9, 0.1],
    }, 1 / 32, 0.5, 1 / 64);
  });

  it('m_N = 0.5, m_L = 0.5 (width 128, depth 1): factors invert, alpha = 0.5', () => {
    const r = Math.SQRT2; // m_L^-0.5
    check('alpha0.5', 128, 1, {
      embedding: [0.02, 0.01, 2e-8, 0.1],
      preLN: [0, 0.01 * r, 2e-8 * r, 0],
      hidden: [0.02 * Math.SQRT2, 0.02 * r, 2e-8 * r, 0.05],
      hiddenBias: [0, 0.01 * r, 2e-8 * r, 0],
      finalLN: [0, 0.01, 2e-8, 0],
      unembedding: [0.02, 0.01, 2e-8, 0.1],
    }, r, 2, 1 / 64);
  });

  it('at the base shape every parameterization returns the base values (muP family keeps 1/d_head)', () => {
    for (const p of ['completep', 'alpha0.5', 'mup'] as const) {
      check(p, 256, 2, {
        embedding: [0.02, 0.01, 1e-8, 0.1],
        preLN: [0, 0.01, 1e-8, 0],
        hidden: [0.02, 0.01, 1e-8, 0.1],
        hiddenBias: [0, 0.01, 1e-8, 0],
        finalLN: [0, 0.01, 1e-8, 0],
        unembedding: [0.02, 0.01, 1e-8, 0.1],
      }, 1, 1, 1 / 64);
    }
  });

  it('CompleteP: per-step decay lr * wd of hidden weights is independent of width and depth', () => {
    const a = transfer(base, { width: 256, depth: 2 }, 'completep').groups.hidden;
    const b = transfer(base, { width: 4096, depth: 128 }, 'completep').groups.hidden;
    near(a.lr * a.weightDecay, b.lr * b.weightDecay, 'lr * wd');
  });

  it('optional input/output multipliers pass through (output also gets 1/m_N)', () => {
    const t = transfer({ ...base, inputMultiplier: 10, outputMultiplier: 2 }, { width: 1024, depth: 2 }, 'completep');
    near(t.inputMultiplier, 10, 'input');
    near(t.outputMultiplier, 0.5, 'output');
  });

  it('rejects non-positive sizes', () => {
    assert.throws(() => transfer(base, { width: 0, depth: 2 }, 'completep'), RangeError);
    assert.throws(() => transfer(base, { width: 256, depth: -1 }, 'completep'), RangeError);
  });
});
