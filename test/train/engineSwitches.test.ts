import { strict as assert } from 'node:assert';
import * as ort from 'onnxruntime-node';
import { Graph } from '../../src/core/graph/ir';
import { serialize } from '../../src/core/graph/onnx';
import { crossEntropyWithGrad, paramLayout, totalParams, type ModelShape } from '../../src/core/model/gpt';
import { initParams } from '../../src/core/model/init';
import { DEFAULT_BASE, transfer } from '../../src/core/param/parameterization';
import { buildGradAccumulate } from '../../src/core/train/graphs';
import { gradients } from '../../src/core/graph/autodiff';
import { rand } from '../helpers/gradcheck';

/**
 * Session 4's step-graph switches (SHAPELAB_ENGINE_OFF=lnfold, scalefold, xent, gelubwd, smaxbwd) each change how
 * the step is computed, never what: with the switch off and on, the same parameters and batch
 * must give the same loss and flat gradient within float32 tolerance (CPU EP).
 */
async function lossAndGrad(off: string, tied: boolean): Promise<{ loss: number; grad: Float32Array }> {
  const before = process.env.SHAPELAB_ENGINE_OFF;
  process.env.SHAPELAB_ENGINE_OFF = off;
  try {
    // B·T = 64 >= 2 × every linear's width (the LayerNorm fold's size rule), so every fold applies.
    const shape: ModelShape = { vocab: 13, context: 32, dModel: 8, nLayers: 2, nHeads: 2, dFf: 16, tiedEmbeddings: tied };
    // Base width below the model width: every multiplier differs from 1 (q scale, residual, output).
    const t = transfer({ ...DEFAULT_BASE, baseWidth: 4, baseDepth: 1, initStd: 0.5, outputMultiplier: 2 }, { width: 8, depth: 2 }, 'completep');
    const layout = paramLayout(shape, t);
    const P = initParams(layout, 4);
    // LayerNorm gains/biases away from 1/0 so the folds are exercised.
    for (let i = 0; i < P.length; i++) P[i] += 0.1 * Math.sin(i * 1.3);
    const N = totalParams(layout), rows = 2 * 32;
    const tok = BigInt64Array.from({ length: rows }, (_, i) => BigInt((i * 5 + 3) % 13));
    const tgt = BigInt64Array.from({ length: rows }, (_, i) => BigInt((i * 7 + 1) % 13));
    const s = await ort.InferenceSession.create(serialize(buildGradAccumulate(shape, t, layout, 2)), { executionProviders: ['cpu'] });
    const out = await s.run({
      params: new ort.Tensor('float32', P, [N]),
      grad_in: new ort.Tensor('float32', new Float32Array(N), [N]),
      tokens: new ort.Tensor('int64', tok, [rows, 1]),
      targets: new ort.Tensor('int64', tgt, [rows, 1]),
    });
    await s.release();
    return { loss: (out.loss.data as Float32Array)[0], grad: out.grad_out.data as Float32Array };
  } finally {
    if (before === undefined) delete process.env.SHAPELAB_ENGINE_OFF;
    else process.env.SHAPELAB_ENGINE_OFF = before;
  }
}

describe('step-graph switches lnfold, scalefold, xent, gelubwd, smaxbwd: off and on train the same model (CPU EP)', () => {
  for (const tied of [true, false]) {
    for (const off of ['lnfold', 'scalefold', 'xent', 'gelubwd', 'smaxbwd', 'lnfold,scalefold,xent,gelubwd,smaxbwd']) {
      it(`${tied ? 'tied' : 'untied'} embeddings, SHAPELAB_ENGINE_OFF=${off}: same loss and gradient as all on`, async () => {
        const on = await lossAndGrad('', tied), o = await lossAndGrad(off, tied);
        assert.ok(Math.abs(on.loss - o.loss) <= 1e-5 * Math.abs(on.loss), `loss ${on.loss} vs ${o.loss}`);
        const scale = Math.max(...Array.from(on.grad, Math.abs));
        assert.ok(scale > 1e-3, 'gradient is not trivially zero');
        let worst = 0;
        for (let i = 0; i < on.grad.length; i++) worst = Math.max(worst, Math.abs(on.grad[i] - o.grad[i]));
        assert.ok(worst <= 1e-5 * scale, `max |grad difference| ${worst} vs max |grad| ${scale}`);
      });
    }
  }
});

describe('each step-graph switch changes the generated graph', () => {
  // Guards the equivalence tests above against a switch that silently stops applying.
  const opsOf = (off: string) => {
    const before = process.env.SHAPELAB_ENGINE_OFF;
    process.env.SHAPELAB_ENGINE_OFF = off;
    try {
      const shape: ModelShape = { vocab: 13, context: 32, dModel: 8, nLayers: 1, nHeads: 2, dFf: 16, tiedEmbeddings: true };
      const t = transfer({ ...DEFAULT_BASE, baseWidth: 4, baseDepth: 1 }, { width: 8, depth: 1 }, 'completep');
      const g = buildGradAccumulate(shape, t, paramLayout(shape, t), 2);
      return g.nodes.map((n) => `${n.op}:${n.outputs.map((o) => g.shape(o).join('x')).join(',')}`).join(' ');
    } finally {
      if (before === undefined) delete process.env.SHAPELAB_ENGINE_OFF;
      else process.env.SHAPELAB_ENGINE_OFF = before;
    }
  };
  for (const off of ['lnfold', 'scalefold', 'xent', 'gelubwd', 'smaxbwd']) it(off, () => assert.notEqual(opsOf(off), opsOf('')));
});

describe('crossEntropyWithGrad: hand-written d loss / d logits', () => {
  it('equals central differences of a float64 cross-entropy, and its loss equals that cross-entropy', async () => {
    const rows = 5, V = 7;
    const logits = rand(rows * V, 21, -3, 3);
    const targets = [0, 6, 3, 3, 1];
    // Independent reference in float64: mean over rows of logsumexp(row) - row[target].
    const ce = (z: Float64Array) => {
      let sum = 0;
      for (let r = 0; r < rows; r++) {
        const row = z.subarray(r * V, (r + 1) * V);
        const m = Math.max(...row);
        sum += m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[targets[r]];
      }
      return sum / rows;
    };
    const g = new Graph('xent');
    const x = g.input('logits', 'float32', [rows, V]);
    const t = g.input('targets', 'int64', [rows, 1]);
    const { loss, dLogits } = crossEntropyWithGrad(g, x, t);
    g.output(g.identity(loss, 'loss'));
    g.output(g.identity(dLogits(), 'dlogits'));
    const s = await ort.InferenceSession.create(serialize(g), { executionProviders: ['cpu'] });
    const out = await s.run({ logits: new ort.Tensor('float32', logits, [rows, V]), targets: new ort.Tensor('int64', BigInt64Array.from(targets.map(BigInt)), [rows, 1]) });
    await s.release();
    const z = Float64Array.from(logits);
    assert.ok(Math.abs((out.loss.data as Float32Array)[0] - ce(z)) < 1e-5);
    const d = out.dlogits.data as Float32Array;
    const h = 1e-4;
    for (let i = 0; i < rows * V; i++) {
      const zp = Float64Array.from(z); zp[i] += h;
      const zm = Float64Array.from(z); zm[i] -= h;
      const numeric = (ce(zp) - ce(zm)) / (2 * h);
      assert.ok(Math.abs(d[i] - numeric) < 1e-6, `dlogits[${i}]: ${d[i]} vs numeric ${numeric}`);
    }
  });
});

describe('GELU backward (short form) far from 0', () => {
  it('is Φ(x) + x·φ(x) where exp(x²/2) overflows float32, with no NaN', async () => {
    const xs = [-40, -14, -13, -5, 0, 1e-3, 5, 13, 14, 40];
    const g = new Graph('gelu');
    const x = g.input('x', 'float32', [xs.length]);
    const [dx] = gradients(g, g.reduceSum(g.gelu(x), [0], false), [x]);
    g.output(g.identity(dx, 'dx'));
    const s = await ort.InferenceSession.create(serialize(g), { executionProviders: ['cpu'] });
    const d = (await s.run({ x: new ort.Tensor('float32', Float32Array.from(xs), [xs.length]) })).dx.data as Float32Array;
    await s.release();
    // Reference in float64: Φ from the complementary error function's tail, exact for these x
    // (|Φ(x) - (x > 0 ? 1 : 0)| < 1e-6 beyond |x| = 5), and φ(x) = exp(-x²/2)/√(2π).
    xs.forEach((v, i) => {
      const phi = Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI);
      const cdf = Math.abs(v) >= 5 ? (v > 0 ? 1 : 0) : 0.5 * (1 + erf(v / Math.SQRT2));
      assert.ok(Number.isFinite(d[i]) && Math.abs(d[i] - (cdf + v * phi)) < 2e-6, `x = ${v}: ${d[i]} vs ${cdf + v * phi}`);
    });
  });
});

/** erf by its Maclaurin series (float64, converges quickly for |z| < 4). */
function erf(z: number): number {
  let term = z, sum = z;
  for (let n = 1; n < 80; n++) {
    term *= (-z * z) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
