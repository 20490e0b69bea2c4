import { strict as assert } from 'node:assert';
import * as ort from 'onnxruntime-node';
import { paramLayout, totalParams, type ModelShape } from '../../src/core/model/gpt';
import { initParams } from '../../src/core/model/init';
import { DEFAULT_BASE, transfer } from '../../src/core/param/parameterization';
import { buildApplyAccumulated, buildGradAccumulate, buildTrainStep, hyperRowWidth, hyperTableWidth, hyperVectors, stepScalars, type OptimizerConfig } from '../../src/core/train/graphs';
import { createSession } from '../../src/core/train/runtime';
import { rand } from '../helpers/gradcheck';

/**
 * The optimizer part of the step graphs against PyTorch's AdamW written out here in float64
 * (torch.optim.AdamW with clip_grad_norm_ before it): from a random state, the graph's new
 * parameters and moments must equal the formula applied to the graph's own gradient. Run for the
 * per-row form (default) and the per-element form (SHAPELAB_ENGINE_OFF=adamw).
 */
const shape: ModelShape = { vocab: 64, context: 8, dModel: 16, nLayers: 2, nHeads: 2, dFf: 48, tiedEmbeddings: false };
// Base width below the model's so every group has its own LR, epsilon and weight decay; an
// epsilon near sqrt(v) and a weight decay large enough that a wrong one shows.
const t = transfer({ ...DEFAULT_BASE, baseWidth: 8, baseDepth: 1, eps: 1e-3, weightDecay: 10 }, { width: 16, depth: 2 }, 'completep');
const layout = paramLayout(shape, t);
const N = totalParams(layout);
const B = 2, T = shape.context;
const tokens = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7 + 3) % shape.vocab));
const targets = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 5 + 1) % shape.vocab));

function withOff<T>(off: string, f: () => Promise<T>): Promise<T> {
  const before = process.env.SHAPELAB_ENGINE_OFF;
  process.env.SHAPELAB_ENGINE_OFF = off;
  return f().finally(() => {
    if (before === undefined) delete process.env.SHAPELAB_ENGINE_OFF;
    else process.env.SHAPELAB_ENGINE_OFF = before;
  });
}

const f32 = (a: Float32Array) => new ort.Tensor('float32', a, [a.length]);
const i64 = (a: BigInt64Array) => new ort.Tensor('int64', a, [a.length, 1]);

function reference(P: Float32Array, M: Float32Array, V: Float32Array, G: Float32Array, opt: OptimizerConfig, step: number, lrFactor: number) {
  let sq = 0;
  for (const x of G) sq += x * x;
  const norm = Math.sqrt(sq);
  const coef = opt.clip > 0 ? Math.min(1, opt.clip / (norm + 1e-6)) : 1;
  const p = new Float64Array(N), m = new Float64Array(N), v = new Float64Array(N);
  for (const spec of layout) {
    const h = t.groups[spec.group];
    for (let i = spec.offset; i < spec.offset + spec.size; i++) {
      const g = G[i] * coef;
      m[i] = opt.beta1 * M[i] + (1 - opt.beta1) * g;
      v[i] = opt.beta2 * V[i] + (1 - opt.beta2) * g * g;
      const mh = m[i] / (1 - Math.pow(opt.beta1, step)), vh = v[i] / (1 - Math.pow(opt.beta2, step));
      p[i] = P[i] - h.lr * lrFactor * (mh / (Math.sqrt(vh) + h.eps) + h.weightDecay * P[i]);
    }
  }
  return { p, m, v, norm };
}

function close(name: string, got: Float32Array, want: Float64Array) {
  let worst = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (1e-6 + 1e-4 * Math.abs(want[i]));
    if (e > worst) [worst, at] = [e, i];
  }
  assert.ok(worst <= 1, `${name}[${at}]: graph ${got[at]}, reference ${want[at]}`);
}

describe('AdamW in the step graphs vs the PyTorch formula (CPU EP)', function () {
  this.timeout(120_000);
  const P = initParams(layout, 4);
  const M = rand(N, 5, -1e-3, 1e-3);
  const V = rand(N, 6, 1e-8, 1e-6);
  const step = 3, lrFactor = 0.7;

  it('the per-row tables are one value per gcd(d, d_ff) parameters, and match the groups', () => {
    assert.equal(hyperRowWidth(layout), 16);
    const rows = hyperVectors(layout, t, 16), elems = hyperVectors(layout, t);
    for (let i = 0; i < N; i++) assert.equal(rows.lr[Math.floor(i / 16)], elems.lr[i]);
    assert.equal(hyperRowWidth(paramLayout({ ...shape, dFf: 50 }, t)), 2);
  });

  for (const off of ['', 'adamw']) {
    for (const clip of [0.05, 0]) {
      it(`${off ? 'per-element (SHAPELAB_ENGINE_OFF=adamw)' : 'per-row'}, clip ${clip || 'off'}: fused step and accumulated apply equal the formula`, () => withOff(off, async () => {
        const opt: OptimizerConfig = { beta1: 0.9, beta2: 0.95, clip };
        const width = hyperTableWidth(layout);
        assert.equal(width, off ? 1 : 16);
        const h = hyperVectors(layout, t, width);
        const hyper = { hp_lr: f32(h.lr), hp_eps: f32(h.eps), hp_wd: f32(h.wd) };
        const scalars = (s: ort.InferenceSession) => Object.fromEntries(Object.entries(stepScalars(opt.beta1, opt.beta2, step, lrFactor)).filter(([k]) => s.inputNames.includes(k)).map(([k, v]) => [k, new ort.Tensor('float32', Float32Array.of(v), [1])]));
        const gradS = await createSession(buildGradAccumulate(shape, t, layout, B), 'cpu');
        const G = (await gradS.run({ params: f32(P), grad_in: f32(new Float32Array(N)), tokens: i64(tokens), targets: i64(targets) })).grad_out.data as Float32Array;
        const want = reference(P, M, V, G, opt, step, lrFactor);
        if (clip) assert.ok(want.norm > 2 * clip, `clipping is exercised (norm ${want.norm})`);
        const stepS = await createSession(buildTrainStep(shape, t, layout, B, opt), 'cpu');
        const a = await stepS.run({ params: f32(P), m: f32(M), v: f32(V), ...hyper, ...scalars(stepS), tokens: i64(tokens), targets: i64(targets) });
        const applyS = await createSession(buildApplyAccumulated(layout, 2, opt), 'cpu');
        const G2 = G.map((x) => 2 * x);
        const b = await applyS.run({ params: f32(P), m: f32(M), v: f32(V), ...hyper, ...scalars(applyS), grad_sum: f32(G2), loss_mean: new ort.Tensor('float32', Float32Array.of(1), [1]) });
        for (const [name, out] of [['step', a], ['apply', b]] as const) {
          assert.equal((out.update_ok.data as Float32Array)[0], 1);
          assert.ok(Math.abs((out.grad_norm.data as Float32Array)[0] - want.norm) < 1e-4 * want.norm, `${name} grad norm`);
          close(`${name} params`, out.params_out.data as Float32Array, want.p);
          close(`${name} m`, out.m_out.data as Float32Array, want.m);
          close(`${name} v`, out.v_out.data as Float32Array, want.v);
        }
        await Promise.all([gradS.release(), stepS.release(), applyS.release()]);
      }));
    }
  }
});
