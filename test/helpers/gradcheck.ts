import * as ort from 'onnxruntime-node';
import { Graph } from '../../src/core/graph/ir';
import { serialize } from '../../src/core/graph/onnx';
import { gradients } from '../../src/core/graph/autodiff';
import { prng } from '../../src/core/study/lawFit';

/** Deterministic pseudo-random floats (mulberry32) so failures reproduce. */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const u = prng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * u();
  return out;
}

export interface Feed { data: Float32Array | BigInt64Array; shape: number[]; differentiable?: boolean }

/**
 * Checks autodiff against central finite differences: builds f via `build`, reduces it to the
 * scalar sum(f * R) with a fixed random R (so upstream gradients are not all ones), then compares
 * the backward graph's gradients (run in onnxruntime, CPU EP) with (L(x+h) - L(x-h)) / 2h on a
 * sample of coordinates of every differentiable input.
 */
export async function gradcheck(
  build: (g: Graph, inputs: Record<string, string>) => string,
  feeds: Record<string, Feed>,
  opts: { h?: number; tol?: number; samples?: number } = {},
): Promise<{ maxErr: number; checked: number }> {
  const h = opts.h ?? 1e-2, tol = opts.tol ?? 2e-3, samples = opts.samples ?? 16;
  const g = new Graph('gradcheck');
  const names: Record<string, string> = {};
  for (const [k, f] of Object.entries(feeds)) names[k] = g.input(k, f.data instanceof BigInt64Array ? 'int64' : 'float32', f.shape);
  const y = build(g, names);
  const r = g.initializer('R', 'float32', g.shape(y), rand(g.shape(y).reduce((a, b) => a * b, 1), 99, 0.5, 1.5));
  const loss = g.identity(g.reduceSum(g.mul(y, r), [...g.shape(y).keys()], false), 'loss');
  g.output(loss);
  const wrt = Object.keys(feeds).filter((k) => feeds[k].differentiable !== false && !(feeds[k].data instanceof BigInt64Array));
  const grads = gradients(g, loss, wrt.map((k) => names[k]));
  grads.forEach((d, i) => g.output(g.identity(d, `grad_${wrt[i]}`)));
  const session = await ort.InferenceSession.create(serialize(g), { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  const run = async (over: Record<string, Float32Array> = {}) => {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      const data = over[k] ?? v.data;
      f[k] = data instanceof BigInt64Array ? new ort.Tensor('int64', data, v.shape) : new ort.Tensor('float32', data, v.shape);
    }
    return session.run(f);
  };
  const base = await run();
  let maxErr = 0, checked = 0;
  for (const k of wrt) {
    const x = feeds[k].data as Float32Array;
    const analytic = base[`grad_${k}`].data as Float32Array;
    const scale = Math.max(1e-3, ...Array.from(analytic, Math.abs));
    const idx = x.length <= samples ? [...x.keys()] : Array.from(rand(samples, 7 + checked, 0, x.length), (v) => Math.floor(v));
    for (const i of idx) {
      const xp = Float32Array.from(x); xp[i] += h;
      const xm = Float32Array.from(x); xm[i] -= h;
      const lp = ((await run({ [k]: xp })).loss.data as Float32Array)[0];
      const lm = ((await run({ [k]: xm })).loss.data as Float32Array)[0];
      const numeric = (lp - lm) / (2 * h);
      const err = Math.abs(numeric - analytic[i]) / scale;
      if (!(err <= tol)) throw new Error(`gradient of ${k}[${i}]: analytic ${analytic[i]} vs numeric ${numeric} (rel err ${err.toExponential(2)} > ${tol})`);
      maxErr = Math.max(maxErr, err);
      checked++;
    }
  }
  return { maxErr, checked };
}
