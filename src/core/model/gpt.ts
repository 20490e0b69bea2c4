/**
 * The pre-LN GPT of docs/model.md as an IR graph. Parameters live in one flat float32 vector (the
 * layout below) so that the optimizer runs as a handful of large elementwise kernels instead of
 * a dozen tiny ones per tensor; each parameter is a Slice + Reshape of that vector.
 */
import { Graph } from '../graph/ir';
import type { GroupName, Transfer } from '../param/parameterization';

export interface ModelShape {
  vocab: number;
  context: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dFf: number;
  tiedEmbeddings: boolean;
}

export interface ParamSpec {
  name: string;
  shape: number[];
  group: GroupName;
  offset: number;
  size: number;
  /** Block index for per-block tensors (growth copies blocks), undefined for the rest. */
  block?: number;
  init: { kind: 'normal'; std: number } | { kind: 'const'; value: number };
}

export function validateShape(s: ModelShape): void {
  const ints: (keyof ModelShape)[] = ['vocab', 'context', 'dModel', 'nLayers', 'nHeads', 'dFf'];
  for (const k of ints) {
    const v = s[k] as number;
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`model.${k} must be a positive integer (got ${v})`);
  }
  if (s.dModel % s.nHeads !== 0) throw new RangeError(`model.dModel (${s.dModel}) must be divisible by model.nHeads (${s.nHeads})`);
}

/** Parameter names, shapes, groups, init and offsets in the flat vector (fixed order). */
export function paramLayout(s: ModelShape, t: Transfer): ParamSpec[] {
  validateShape(s);
  const { dModel: d, dFf: f, vocab: V, context: T } = s;
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], group: GroupName, init: ParamSpec['init'], block?: number) => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, group, offset, size, init, block });
    offset += size;
  };
  const normal = (g: GroupName) => ({ kind: 'normal' as const, std: t.groups[g].initStd });
  const ones = { kind: 'const' as const, value: 1 }, zeros = { kind: 'const' as const, value: 0 };
  add('wte', [V, d], 'embedding', normal('embedding'));
  add('wpe', [T, d], 'embedding', normal('embedding'));
  for (let i = 0; i < s.nLayers; i++) {
    const p = `h.${i}.`;
    add(p + 'ln1.weight', [d], 'preLN', ones, i);
    add(p + 'ln1.bias', [d], 'preLN', zeros, i);
    add(p + 'attn.qkv.weight', [d, 3 * d], 'hidden', normal('hidden'), i);
    add(p + 'attn.qkv.bias', [3 * d], 'hiddenBias', zeros, i);
    add(p + 'attn.proj.weight', [d, d], 'hidden', normal('hidden'), i);
    add(p + 'attn.proj.bias', [d], 'hiddenBias', zeros, i);
    add(p + 'ln2.weight', [d], 'preLN', ones, i);
    add(p + 'ln2.bias', [d], 'preLN', zeros, i);
    add(p + 'mlp.fc.weight', [d, f], 'hidden', normal('hidden'), i);
    add(p + 'mlp.fc.bias', [f], 'hiddenBias', zeros, i);
    add(p + 'mlp.proj.weight', [f, d], 'hidden', normal('hidden'), i);
    add(p + 'mlp.proj.bias', [d], 'hiddenBias', zeros, i);
  }
  add('ln_f.weight', [d], 'finalLN', ones);
  add('ln_f.bias', [d], 'finalLN', zeros);
  if (!s.tiedEmbeddings) add('lm_head.weight', [d, V], 'unembedding', normal('unembedding'));
  return specs;
}

export const totalParams = (layout: ParamSpec[]) => layout.reduce((a, p) => a + p.size, 0);

export interface ForwardOptions {
  batch: number;
  /** Also output mean |x| of the residual stream after the last block (coordinate checks). */
  residualStat?: boolean;
  /**
   * Split q, k and v into heads with one Reshape + Transpose of the fused projection (default);
   * false keeps one transpose per tensor (SHAPELAB_ENGINE_OFF=qkv, for measurement).
   */
  fusedQkv?: boolean;
}

export interface Forward {
  loss: string;
  logits: string;
  /** Per-parameter values (slices of the flat vector) in layout order; autodiff targets. */
  params: string[];
  residualAbsMean?: string;
}

/**
 * Builds forward + mean cross-entropy. Inputs that must already exist in `g`:
 * `flat` [N] float32, `tokens` [B*T, 1] int64, `targets` [B*T, 1] int64.
 */
export function buildForward(g: Graph, s: ModelShape, t: Transfer, layout: ParamSpec[], flat: string, tokens: string, targets: string, o: ForwardOptions): Forward {
  const B = o.batch, T = s.context, d = s.dModel, H = s.nHeads, dh = d / H, BT = B * T;
  const p: Record<string, string> = {};
  const params: string[] = [];
  // One Split per 8 tensors instead of one Slice each: fewer GPU dispatches per step (WebGPU
  // binds at most ~8-10 storage buffers per shader, so a single 100-way Split is avoided).
  for (let i = 0; i < layout.length; i += 8) {
    const chunk = layout.slice(i, i + 8);
    const start = chunk[0].offset, end = chunk[chunk.length - 1].offset + chunk[chunk.length - 1].size;
    const region = layout.length <= 8 && start === 0 && end === g.shape(flat)[0] ? flat : g.slice(flat, 0, start, end);
    const parts = chunk.length === 1 ? [region] : g.split(region, 0, chunk.map((c) => c.size));
    chunk.forEach((spec, k) => {
      const v = g.reshape(parts[k], spec.shape);
      p[spec.name] = v;
      params.push(v);
    });
  }
  const r = t.residualMultiplier;
  // One-hot GEMM for the embedding gradient while V*d is small next to the rest of the step.
  g.gatherGrad = s.vocab <= 8192 ? 'onehot' : 'scatter';
  // Embeddings: [BT,1,d] rows of wte plus learned positions broadcast over the batch.
  const tok = g.reshape(g.gather(p.wte, tokens), [B, T, d]);
  let x = g.reshape(g.scale(g.add(tok, p.wpe), t.inputMultiplier), [BT, d]);
  // Additive causal mask (0 on and below the diagonal, -1e9 above); a constant of the graph.
  const mask = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -1e9;
  const maskC = g.initializer(g.fresh('causal_mask'), 'float32', [T, T], mask);
  const qScale = t.attentionScale(dh);
  // MatMul + Add rather than Gemm: faster on onnxruntime's WebGPU EP (see autodiff MatMul rule).
  const linear = (x2d: string, w: string, b: string) => g.add(g.matmul(x2d, w), b);
  for (let i = 0; i < s.nLayers; i++) {
    const pre = `h.${i}.`;
    const [a] = g.layerNorm(x, p[pre + 'ln1.weight'], p[pre + 'ln1.bias']);
    const qkv = linear(a, p[pre + 'attn.qkv.weight'], p[pre + 'attn.qkv.bias']);
    let q: string, kT: string, v: string;
    if (o.fusedQkv ?? true) {
      // [B,T,3,H,dh] -> [3,B,H,T,dh]: one transpose for the three, rank 5 throughout (no per-head
      // reshapes). kᵀ is a transpose of k, so the backward's (kᵀ)ᵀ folds back to k (no kernel),
      // and the three head gradients come back through one Concat and one Transpose.
      // onnxruntime's transpose optimizer pushes the forward transpose back through the Split
      // (one per output again), so on its EPs this saves 1 transpose and 4 reshapes per block.
      const heads = g.transpose(g.reshape(qkv, [B, T, 3, H, dh]), [2, 0, 3, 1, 4]);
      const [q1, k1, v1] = g.split(heads, 0, [1, 1, 1]);
      q = g.scale(q1, qScale);
      kT = g.transpose(k1, [0, 1, 2, 4, 3]);
      v = v1;
    } else {
      const [q0, k0, v0] = g.split(qkv, 1, [d, d, d]);
      // Scaling q (B*T*d values) is cheaper than scaling the scores (B*H*T*T).
      q = g.transpose(g.reshape(g.scale(q0, qScale), [B, T, H, dh]), [0, 2, 1, 3]);
      kT = g.transpose(g.reshape(k0, [B, T, H, dh]), [0, 2, 3, 1]);
      v = g.transpose(g.reshape(v0, [B, T, H, dh]), [0, 2, 1, 3]);
    }
    const att = g.softmax(g.add(g.matmul(q, kT), maskC), -1);
    const y = g.matmul(att, v);
    const ctx = g.reshape(g.transpose(y, g.shape(y).length === 5 ? [0, 1, 3, 2, 4] : [0, 2, 1, 3]), [BT, d]);
    x = g.add(x, g.scale(linear(ctx, p[pre + 'attn.proj.weight'], p[pre + 'attn.proj.bias']), r));
    const [m] = g.layerNorm(x, p[pre + 'ln2.weight'], p[pre + 'ln2.bias']);
    const hdn = g.gelu(linear(m, p[pre + 'mlp.fc.weight'], p[pre + 'mlp.fc.bias']));
    x = g.add(x, g.scale(linear(hdn, p[pre + 'mlp.proj.weight'], p[pre + 'mlp.proj.bias']), r));
  }
  let residualAbsMean: string | undefined;
  if (o.residualStat) {
    residualAbsMean = g.reduceMean(g.abs(x), [0, 1], false);
    g.stopGradient.add(residualAbsMean);
  }
  const [hf] = g.layerNorm(x, p['ln_f.weight'], p['ln_f.bias']);
  // Scaling the [BT,d] input is cheaper than scaling the [BT,V] logits.
  const hs = g.scale(hf, t.outputMultiplier);
  const logits = s.tiedEmbeddings ? g.matmul(hs, g.transpose(p.wte, [1, 0])) : g.matmul(hs, p['lm_head.weight']);
  const loss = crossEntropy(g, logits, targets);
  return { loss, logits, params, residualAbsMean };
}

/** Mean cross-entropy from primitives that stay on the GPU (no LogSoftmax / SoftmaxCrossEntropyLoss). */
export function crossEntropy(g: Graph, logits: string, targets: string): string {
  const mx = g.reduceMax(logits, [1], true);
  // Subtracting the row max is gradient-neutral for log-sum-exp minus the picked logit.
  g.stopGradient.add(mx);
  const z = g.sub(logits, mx);
  const lse = g.log(g.reduceSum(g.exp(z), [1], true));
  const picked = g.gatherElements(z, targets, 1);
  return g.reduceMean(g.sub(lse, picked), [0, 1], false);
}
