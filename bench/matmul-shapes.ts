/**
 * Times the training step's matrix products one at a time, in the shapes a preset produces, and
 * the alternative ways to express the backward products (explicit Transpose + MatMul, Gemm with
 * transpose flags, split-K batched MatMul + ReduceSum). The trainer's autodiff rules pick their
 * form from this table; run it on the target GPU before changing them.
 *
 *   npx tsx bench/matmul-shapes.ts [--ep webgpu|cpu] [--d 512] [--bt 8192] [--heads 4] [--t 256] [--vocab 256] [--ceiling 4096] [--reps 20]
 *
 * Each case is one graph (the product summed to one scalar, read back). A baseline graph that
 * sums its first input instead gives the per-run overhead, which is subtracted (the product's own
 * sum, one pass over the output, stays in).
 */
import { weightGrad } from '../src/core/graph/autodiff';
import { Graph } from '../src/core/graph/ir';
import { resident, timeGraph } from '../src/core/train/deviceInfo';
import { resolveEp } from '../src/core/train/epChoice';
import type { Ep } from '../src/core/train/runtime';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

interface Case {
  name: string;
  inputs: Record<string, number[]>;
  flops: number;
  build: (g: Graph, x: Record<string, string>) => string;
}

/**
 * Reduces the product to one scalar over all of it: a graph that read back only a slice of the
 * product timed 0 ms for every case on an H200 (session 5), as if the product were never run.
 */
function finish(g: Graph, y: string): void {
  const s = g.shape(y);
  g.output(g.identity(g.reduceSum(y, [...s.keys()], false), 'out'));
}

function cases(d: number, bt: number, heads: number, t: number, vocab: number, ceil: number): Case[] {
  const ff = 4 * d, dh = d / heads, b = bt / t;
  const out: Case[] = [];
  out.push({ name: `ceiling [${ceil},${ceil}]·[${ceil},${ceil}]`, inputs: { x: [ceil, ceil], w: [ceil, ceil] }, flops: 2 * ceil ** 3, build: (g, x) => g.matmul(x.x, x.w) });
  for (const [i, o] of [[d, d], [d, 3 * d], [d, ff], [ff, d], [d, vocab]]) {
    const f = 2 * bt * i * o;
    out.push({ name: `fwd x[${bt},${i}]·W[${i},${o}]`, inputs: { x: [bt, i], w: [i, o] }, flops: f, build: (g, x) => g.matmul(x.x, x.w) });
    out.push({ name: `dX dY[${bt},${o}]·Wᵀ (Transpose+MatMul)`, inputs: { dy: [bt, o], w: [i, o] }, flops: f, build: (g, x) => g.matmul(x.dy, g.transpose(x.w, [1, 0])) });
    out.push({ name: `dW Xᵀ[${i},${bt}]·dY (Transpose+MatMul)`, inputs: { x: [bt, i], dy: [bt, o] }, flops: f, build: (g, x) => g.matmul(g.transpose(x.x, [1, 0]), x.dy) });
    for (const s of [2, 4, 8, 16, 32]) {
      if (bt % s || bt / s < 128) continue;
      out.push({
        name: `dW split-K ${s}`,
        inputs: { x: [bt, i], dy: [bt, o] },
        flops: f,
        build: (g, x) => {
          const xt = g.transpose(g.reshape(x.x, [s, bt / s, i]), [0, 2, 1]);
          return g.reduceSum(g.matmul(xt, g.reshape(x.dy, [s, bt / s, o])), [0], false);
        },
      });
    }
    // what the trainer builds under SHAPELAB_SPLIT_K=auto (Graph.splitK), transposes included
    out.push({
      name: `dW trainer autodiff, SHAPELAB_SPLIT_K=auto`,
      inputs: { x: [bt, i], dy: [bt, o] },
      flops: f,
      build: (g, x) => {
        g.splitK = 'auto';
        return weightGrad(g, x.x, x.dy);
      },
    });
  }
  const att = 2 * b * heads * t * t * dh;
  out.push({ name: `attn q·kᵀ [${b},${heads},${t},${dh}]`, inputs: { q: [b, heads, t, dh], kt: [b, heads, dh, t] }, flops: att, build: (g, x) => g.matmul(x.q, x.kt) });
  out.push({ name: `attn p·v`, inputs: { p: [b, heads, t, t], v: [b, heads, t, dh] }, flops: att, build: (g, x) => g.matmul(x.p, x.v) });
  out.push({ name: `attn dV pᵀ·dC (Transpose+MatMul)`, inputs: { p: [b, heads, t, t], dc: [b, heads, t, dh] }, flops: att, build: (g, x) => g.matmul(g.transpose(x.p, [0, 1, 3, 2]), x.dc) });
  return out;
}

async function main(): Promise<void> {
  const { ep, note } = await resolveEp((arg('ep', 'webgpu') as Ep) ?? 'webgpu');
  if (note) console.error(note);
  const d = Number(arg('d', '512')), bt = Number(arg('bt', '8192')), heads = Number(arg('heads', '4')), t = Number(arg('t', '256')), reps = Number(arg('reps', '20')), vocab = Number(arg('vocab', '256')), ceil = Number(arg('ceiling', '4096'));
  console.log(`ep=${ep}  d=${d} BT=${bt} heads=${heads} T=${t}  (${reps} timed runs per case, per-run overhead subtracted)`);
  console.log('| product | GFLOP | ms | TFLOP/s |');
  console.log('|---|---|---|---|');
  for (const c of cases(d, bt, heads, t, vocab, ceil)) {
    const names = Object.keys(c.inputs);
    const feeds: Record<string, Awaited<ReturnType<typeof resident>>> = {};
    for (const n of names) {
      const dims = c.inputs[n];
      const len = dims.reduce((a, v) => a * v, 1);
      feeds[n] = await resident(ep, new Float32Array(len).map((_, k) => ((k % 17) - 8) / 64), dims);
    }
    const mk = (withOp: boolean) => {
      const g = new Graph('mm');
      const x: Record<string, string> = {};
      for (const n of names) x[n] = g.input(n, 'float32', c.inputs[n]);
      finish(g, withOp ? c.build(g, x) : x[names[0]]);
      return g;
    };
    const tensors = Object.fromEntries(names.map((n) => [n, feeds[n].t]));
    const base = await timeGraph(ep, mk(false), tensors, reps);
    const sec = Math.max(1e-9, (await timeGraph(ep, mk(true), tensors, reps)) - base);
    console.log(`| ${c.name} | ${(c.flops / 1e9).toFixed(1)} | ${(sec * 1e3).toFixed(3)} | ${(c.flops / sec / 1e12).toFixed(2)} |`);
    for (const n of names) await feeds[n].free();
  }
}

main().catch((e) => {
  console.error(`matmul-shapes: ${(e as Error).message}`);
  process.exit(1);
});
