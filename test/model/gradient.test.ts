import { strict as assert } from 'node:assert';
import { gradcheck } from '../helpers/gradcheck';
import { buildForward, paramLayout, totalParams, type ModelShape } from '../../src/core/model/gpt';
import { initParams } from '../../src/core/model/init';
import { DEFAULT_BASE, transfer, type Parameterization } from '../../src/core/param/parameterization';

const shape: ModelShape = { vocab: 11, context: 5, dModel: 8, nLayers: 2, nHeads: 2, dFf: 16, tiedEmbeddings: true };
const tokens = [1, 4, 2, 9, 0, 3, 3, 7, 10, 5];
const targets = [4, 2, 9, 0, 3, 3, 7, 10, 5, 6];

describe('whole-model gradient vs finite differences (CPU EP)', () => {
  // Variants: the unfused q/k/v head split (SHAPELAB_ENGINE_OFF=qkv), and every MatMul gradient
  // that can be a transposed product taken as one (kernelValues 0), as wide presets do.
  const variants: [Parameterization, boolean, string, { fusedQkv?: boolean; kernelValues?: number }][] = [
    ['completep', true, '', {}],
    ['sp', false, '', {}],
    ['alpha0.5', true, '', {}],
    ['completep', true, ', unfused q/k/v head split', { fusedQkv: false }],
    ['sp', false, ', transposed-product gradients everywhere they apply', { kernelValues: 0 }],
  ];
  for (const [param, tied, what, v] of variants) {
    it(`${param}, ${tied ? 'tied' : 'untied'} embeddings${what}: d loss / d every parameter group`, async () => {
      const s = { ...shape, tiedEmbeddings: tied };
      // A base width below the model width makes m_N != 1 so every multiplier is exercised.
      const t = transfer({ ...DEFAULT_BASE, baseWidth: 4, baseDepth: 1, initStd: 0.5, outputMultiplier: 2 }, { width: s.dModel, depth: s.nLayers }, param);
      const layout = paramLayout(s, t);
      const flat = initParams(layout, 3);
      // LayerNorm gains/biases at 1/0 make some gradients vanish by symmetry; perturb them.
      for (let i = 0; i < flat.length; i++) flat[i] += 0.05 * Math.sin(i * 1.7);
      const r = await gradcheck(
        (g, x) => {
          if (v.kernelValues !== undefined) g.kernelValues = v.kernelValues;
          return buildForward(g, s, t, layout, x.p, x.tok, x.tgt, { batch: 2, fusedQkv: v.fusedQkv }).loss;
        },
        {
          p: { data: flat, shape: [totalParams(layout)] },
          tok: { data: BigInt64Array.from(tokens.map(BigInt)), shape: [10, 1] },
          tgt: { data: BigInt64Array.from(targets.map(BigInt)), shape: [10, 1] },
        },
        { h: 1e-2, tol: 5e-3, samples: 64 },
      );
      assert.equal(r.checked, 64);
    });
  }
});
