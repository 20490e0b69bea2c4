/**
 * Reverse-mode automatic differentiation over the IR. Like micrograd, the engine is op-agnostic:
 * each op contributes one vector-Jacobian product rule that emits ordinary graph nodes, so the
 * backward pass is itself an ONNX graph that runs on whatever execution provider runs the forward.
 */
import { Graph, GraphError, type Node, type Shape } from './ir';

/** Emits nodes computing d(loss)/d(input_i) for each input given d(loss)/d(output_j). */
export type VjpRule = (g: Graph, node: Node, dOut: (string | undefined)[], want: boolean[]) => (string | undefined)[];

/**
 * Sums a [rows, cols] matrix over its rows. A GPU reduction along a non-innermost axis gives each
 * output element one thread that walks all rows; with thousands of rows that leaves the GPU idle
 * (ReduceSum was 23% of an H100 step), so long reductions run in two stages (rows = r1 * r2).
 * Measured alternative: a ones-row MatMul saves a dispatch but costs more GPU time (M = 1 tiles).
 */
export function sumRows(g: Graph, x: string): string {
  const [rows, cols] = g.shape(x);
  let r1 = 1;
  if (rows >= 512) for (let f = Math.floor(Math.sqrt(rows)); f >= 16; f--) if (rows % f === 0) { r1 = f; break; }
  if (r1 === 1) return g.reduceSum(x, [0], false);
  const partial = g.reduceSum(g.reshape(x, [r1, rows / r1, cols]), [1], false);
  return g.reduceSum(partial, [0], false);
}

/** Output tiles of onnxruntime's WebGPU MatMul: 32×32 per 64-thread workgroup (matmul.cc, 1.30). */
const TILE = 32;

/**
 * How many slices of K the weight gradient aᵀ·dy (a [K, M], dy [K, N]) is split into (Graph.splitK):
 * a fixed S where K is long against the output (K >= 4·max(M, N), K / S >= 64, S divides K), or
 * under 'auto' the smallest power of two that brings the product to splitKTarget workgroups
 * without slices shorter than splitKMinSlice. 1 = one plain product.
 */
export function splitKSlices(g: Graph, K: number, M: number, N: number): number {
  const S = g.splitK;
  if (S === 'auto') {
    const tiles = Math.ceil(M / TILE) * Math.ceil(N / TILE);
    let s = 1;
    while (tiles * s < g.splitKTarget && K % (2 * s) === 0 && K / (2 * s) >= g.splitKMinSlice) s *= 2;
    return s;
  }
  if (!(S > 1) || K % S !== 0 || K / S < 64 || K < 4 * Math.max(M, N)) return 1;
  return S;
}

/**
 * aᵀ·dy for 2-D a [K, M] and dy [K, N] as the sum over S slices of K (see Graph.splitK); undefined
 * when not split. Like transposedProduct, it transposes dy and the product instead of a when a is
 * the wider operand (Graph.cheapTranspose): the slices' transpose is of a whole operand either way.
 */
function splitKWeightGrad(g: Graph, a: string, dy: string): string | undefined {
  const sa = g.shape(a), sd = g.shape(dy);
  if (sa.length !== 2 || sd.length !== 2) return undefined;
  const [K, M] = sa, N = sd[1];
  const S = splitKSlices(g, K, M, N);
  if (S === 1) return undefined;
  const slices = (v: string, cols: number) => g.reshape(v, [S, K / S, cols]);
  const sum = (p: string) => g.reduceSum(p, [0], false);
  if (g.cheapTranspose && swapCheaper(g, K * M, K * N, M * N)) {
    const dyT = g.transpose(slices(dy, N), [0, 2, 1]);
    return g.transpose(sum(g.matmul(dyT, slices(a, M))), [1, 0]);
  }
  return sum(g.matmul(g.transpose(slices(a, M), [0, 2, 1]), slices(dy, N)));
}

/**
 * Whether transposing the other operand and the product (two kernels) costs less than transposing
 * the operand (one kernel), in values moved plus Graph.kernelValues per kernel; 0 values = a
 * transpose that is free (folded or reused).
 */
function swapCheaper(g: Graph, operand: number, other: number, product: number): boolean {
  const cost = (v: number) => (v === 0 ? 0 : v + g.kernelValues);
  return cost(other) + cost(product) < cost(operand);
}

const swapLast = (r: number) => [...Array(r - 2).keys(), r - 1, r - 2];

/**
 * x·yᵀ (which = 'b') or xᵀ·y (which = 'a'), with the transposed operand's last two axes swapped.
 * Either is also (y·xᵀ)ᵀ resp. (yᵀ·x)ᵀ: that form transposes the other operand and the product
 * instead, and wins when the operand is wide against the product: the down projection of an MLP
 * (aᵀ·dy with a [B·T, 4d], dy [B·T, d]), attention's attᵀ·dctx when T·H > d. Transposes the graph
 * already has, or that undo one, cost nothing (Graph.transpose folds them).
 */
function transposedProduct(g: Graph, x: string, y: string, which: 'a' | 'b'): string {
  const t = (v: string) => swapLast(g.shape(v).length);
  const direct = () => (which === 'b' ? g.matmul(x, g.transpose(y, t(y))) : g.matmul(g.transpose(x, t(x)), y));
  const sx = g.shape(x), sy = g.shape(y);
  if (!g.cheapTranspose || sx.length !== sy.length || sx.slice(0, -2).some((d, i) => d !== sy[i])) return direct();
  const op = which === 'b' ? y : x;
  const other = which === 'b' ? x : y;
  const outShape = which === 'b' ? [...sx.slice(0, -1), sy[sy.length - 2]] : [...sx.slice(0, -2), sx[sx.length - 1], sy[sy.length - 1]];
  if (!swapCheaper(g, g.transposeCost(op, t(op)), g.transposeCost(other, t(other)), outShape.reduce((p, d) => p * d, 1))) return direct();
  const prod = which === 'b' ? g.matmul(y, g.transpose(x, t(x))) : g.matmul(g.transpose(y, t(y)), x);
  return g.transpose(prod, t(prod));
}

/** aᵀ·dy, the weight-gradient product of a MatMul: split over K where Graph.splitK says so. */
export function weightGrad(g: Graph, a: string, dy: string): string {
  return splitKWeightGrad(g, a, dy) ?? transposedProduct(g, a, dy, 'a');
}

/** Sums a gradient of a broadcast result back to the shape of the operand that was broadcast. */
export function unbroadcast(g: Graph, grad: string, target: Shape): string {
  const s = g.shape(grad);
  if (s.length === target.length && s.every((d, i) => d === target[i])) return grad;
  const lead = s.length - target.length;
  const axes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (i < lead) axes.push(i);
    else if (target[i - lead] === 1 && s[i] !== 1) axes.push(i);
  }
  // Common case (biases, positional table): only leading axes are summed.
  const k = axes.length;
  if (k > 0 && axes.every((a, i) => a === i) && k < s.length) {
    const rows = s.slice(0, k).reduce((a, b) => a * b, 1);
    const inner = s.slice(k).reduce((a, b) => a * b, 1);
    return g.reshape(sumRows(g, g.reshape(grad, [rows, inner])), target);
  }
  const summed = axes.length ? g.reduceSum(grad, axes, true) : grad;
  return g.reshape(summed, target);
}

const attrInt = (n: Node, k: string, dflt: number) => (typeof n.attrs[k] === 'number' ? (n.attrs[k] as number) : dflt);

/** Reads an int64 initializer (axes, shapes, bounds) as numbers. */
function constInts(g: Graph, name: string): number[] {
  const init = g.initializers.get(name);
  if (!init || init.dtype !== 'int64') throw new GraphError(`expected an int64 constant for '${name}'`);
  return Array.from(init.data as BigInt64Array, (v) => Number(v));
}
function constFloat(g: Graph, name: string): number | undefined {
  const init = g.initializers.get(name);
  if (!init || init.dtype !== 'float32' || init.data.length !== 1) return undefined;
  return (init.data as Float32Array)[0];
}

const rules: Record<string, VjpRule> = {
  Identity: (_g, _n, [dy]) => [dy],
  Add: (g, n, [dy], w) => [w[0] ? unbroadcast(g, dy!, g.shape(n.inputs[0])) : undefined, w[1] ? unbroadcast(g, dy!, g.shape(n.inputs[1])) : undefined],
  Sub: (g, n, [dy], w) => [w[0] ? unbroadcast(g, dy!, g.shape(n.inputs[0])) : undefined, w[1] ? unbroadcast(g, g.neg(dy!), g.shape(n.inputs[1])) : undefined],
  Mul: (g, n, [dy], w) => {
    const [a, b] = n.inputs;
    return [w[0] ? unbroadcast(g, g.mul(dy!, b), g.shape(a)) : undefined, w[1] ? unbroadcast(g, g.mul(dy!, a), g.shape(b)) : undefined];
  },
  Div: (g, n, [dy], w) => {
    const [a, b] = n.inputs;
    const da = w[0] ? unbroadcast(g, g.div(dy!, b), g.shape(a)) : undefined;
    // d/db (a/b) = -a/b^2 = -(y / b)
    const db = w[1] ? unbroadcast(g, g.neg(g.div(g.mul(dy!, n.outputs[0]), b)), g.shape(b)) : undefined;
    return [da, db];
  },
  Neg: (g, _n, [dy]) => [g.neg(dy!)],
  Exp: (g, n, [dy]) => [g.mul(dy!, n.outputs[0])],
  Log: (g, n, [dy]) => [g.div(dy!, n.inputs[0])],
  Sqrt: (g, n, [dy]) => [g.div(g.scale(dy!, 0.5), n.outputs[0])],
  Tanh: (g, n, [dy]) => [g.mul(dy!, g.sub(g.constF(1), g.mul(n.outputs[0], n.outputs[0])))],
  Sigmoid: (g, n, [dy]) => {
    const y = n.outputs[0];
    return [g.mul(dy!, g.mul(y, g.sub(g.constF(1), y)))];
  },
  Erf: (g, n, [dy]) => {
    // d erf(x)/dx = 2/sqrt(pi) exp(-x^2)
    const x = n.inputs[0];
    return [g.mul(dy!, g.scale(g.exp(g.neg(g.mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  },
  Pow: (g, n, [dy]) => {
    const [x, e] = n.inputs;
    const p = constFloat(g, e);
    if (p === undefined) throw new GraphError('Pow: only a constant scalar exponent is differentiable here');
    // d x^p = p x^(p-1)
    return [g.mul(dy!, g.scale(g.pow(x, g.constF(p - 1)), p)), undefined];
  },
  Gelu: (g, n, [dy]) => {
    if (n.attrs.approximate === 'tanh') throw new GraphError('Gelu(tanh) gradient not implemented; use the exact form');
    // d/dx [x Phi(x)] = Phi(x) + x phi(x)
    const x = n.inputs[0];
    const cdf = g.scale(g.add(g.constF(1), g.erf(g.scale(x, Math.SQRT1_2))), 0.5);
    const pdf = g.scale(g.exp(g.scale(g.mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [g.mul(dy!, g.add(cdf, g.mul(x, pdf)))];
  },
  Clip: (g, n, [dy]) => {
    // Pass-through inside [lo, hi], zero outside (ties pass).
    const [x, lo, hi] = n.inputs;
    let mask = g.constF(1);
    const zero = g.constF(0), one = g.constF(1);
    if (lo) mask = g.mul(mask, g.where(g.greater(lo, x), zero, one));
    if (hi) mask = g.mul(mask, g.where(g.greater(x, hi), zero, one));
    return [g.mul(dy!, mask), undefined, undefined];
  },
  Where: (g, n, [dy], w) => {
    const [c, a, b] = n.inputs;
    const z = g.constF(0);
    return [undefined, w[1] ? unbroadcast(g, g.where(c, dy!, z), g.shape(a)) : undefined, w[2] ? unbroadcast(g, g.where(c, z, dy!), g.shape(b)) : undefined];
  },
  MatMul: (g, n, [dy], w) => {
    const [a, b] = n.inputs;
    const sa = g.shape(a), sb = g.shape(b);
    // Explicit Transposes + MatMul: onnxruntime's WebGPU MatMul is several times faster than its
    // Gemm with transpose flags (measured on an H100/H200, bench/train-throughput.ts --profile).
    const da = w[0] ? unbroadcast(g, transposedProduct(g, dy!, b, 'b'), sa) : undefined;
    let db: string | undefined;
    if (w[1]) db = unbroadcast(g, weightGrad(g, a, dy!), sb);
    return [da, db];
  },
  Gemm: (g, n, [dy]) => {
    const [a, b, c] = n.inputs;
    const tA = attrInt(n, 'transA', 0) === 1, tB = attrInt(n, 'transB', 0) === 1;
    const alphaAttr = n.attrs.alpha as { float: number } | undefined;
    const alpha = alphaAttr ? alphaAttr.float : 1;
    const beta = n.attrs.beta ? (n.attrs.beta as { float: number }).float : 1;
    // op(A) op(B): d op(A) = alpha dY op(B)^T ; d op(B) = alpha op(A)^T dY
    const da = tA ? g.gemm(b, dy!, null, { transA: tB, transB: true, alpha }) : g.gemm(dy!, b, null, { transB: !tB, alpha });
    const db = tB ? g.gemm(dy!, a, null, { transA: true, transB: tA, alpha }) : g.gemm(a, dy!, null, { transA: !tA, alpha });
    const dc = c ? unbroadcast(g, g.scale(dy!, beta), g.shape(c)) : undefined;
    return c ? [da, db, dc] : [da, db];
  },
  Reshape: (g, n, [dy]) => [g.reshape(dy!, g.shape(n.inputs[0])), undefined],
  Transpose: (g, n, [dy]) => {
    const perm = n.attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(dy!, inv)];
  },
  Expand: (g, n, [dy]) => [unbroadcast(g, dy!, g.shape(n.inputs[0])), undefined],
  Slice: (g, n, [dy]) => {
    const [x, st, en, ax] = n.inputs;
    const s = g.shape(x);
    const axes = constInts(g, ax), starts = constInts(g, st), ends = constInts(g, en);
    if (axes.length !== 1) throw new GraphError('Slice gradient supports one axis');
    const a = axes[0], start = starts[0], end = Math.min(ends[0], s[a]);
    // Pad with zeros by concatenating the parts that were cut away.
    const parts: string[] = [];
    if (start > 0) parts.push(g.zeros(s.map((d, i) => (i === a ? start : d))));
    parts.push(dy!);
    if (end < s[a]) parts.push(g.zeros(s.map((d, i) => (i === a ? s[a] - end : d))));
    return [g.concat(parts, a), undefined, undefined, undefined];
  },
  Split: (g, n, dys) => {
    const axis = attrInt(n, 'axis', 0);
    const parts = n.outputs.map((o, i) => dys[i] ?? g.zeros(g.shape(o)));
    return [g.concat(parts, axis), undefined];
  },
  Concat: (g, n, [dy]) => {
    const axis = attrInt(n, 'axis', 0);
    const sizes = n.inputs.map((i) => g.shape(i)[axis]);
    return g.split(dy!, axis, sizes);
  },
  ReduceSum: (g, n, [dy]) => {
    const [x, ax] = n.inputs;
    const s = g.shape(x);
    const axes = constInts(g, ax);
    const kept = s.map((d, i) => (axes.includes(i) ? 1 : d));
    return [g.expand(g.reshape(dy!, kept), s), undefined];
  },
  ReduceMean: (g, n, [dy]) => {
    const [x, ax] = n.inputs;
    const s = g.shape(x);
    const axes = constInts(g, ax);
    const count = axes.reduce((p, a) => p * s[a], 1);
    const kept = s.map((d, i) => (axes.includes(i) ? 1 : d));
    return [g.expand(g.reshape(g.scale(dy!, 1 / count), kept), s), undefined];
  },
  Softmax: (g, n, [dy]) => {
    const axis = attrInt(n, 'axis', -1);
    const y = n.outputs[0];
    const dot = g.reduceSum(g.mul(dy!, y), [axis], true);
    return [g.mul(y, g.sub(dy!, dot))];
  },
  LayerNormalization: (g, n, dys) => {
    const [x, gamma, beta] = n.inputs;
    const [, mean, inv] = n.outputs;
    const dy = dys[0];
    if (!dy) return [undefined, undefined, undefined];
    if (dys[1] || dys[2]) throw new GraphError('gradients through LayerNormalization statistics are not supported');
    const s = g.shape(x);
    const xhat = g.mul(g.sub(x, mean), inv);
    const rows = s.slice(0, -1).reduce((a, b) => a * b, 1), cols = s[s.length - 1];
    const dgamma = g.reshape(sumRows(g, g.reshape(g.mul(dy, xhat), [rows, cols])), g.shape(gamma));
    const dbeta = g.reshape(sumRows(g, g.reshape(dy, [rows, cols])), g.shape(beta));
    // dx = inv * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    const dxhat = g.mul(dy, gamma);
    const m1 = g.reduceMean(dxhat, [-1], true);
    const m2 = g.reduceMean(g.mul(dxhat, xhat), [-1], true);
    const dx = g.mul(inv, g.sub(g.sub(dxhat, m1), g.mul(xhat, m2)));
    return [dx, dgamma, dbeta];
  },
  Gather: (g, n, [dy]) => {
    const [data, idx] = n.inputs;
    if (attrInt(n, 'axis', 0) !== 0) throw new GraphError('Gather gradient supports axis 0');
    const sd = g.shape(data), si = g.shape(idx);
    if (sd.length !== 2) throw new GraphError('Gather gradient supports 2-D tables');
    const rows = si.reduce((a, b) => a * b, 1);
    const idxCol = g.reshape(idx, [rows, 1]);
    const upd = g.reshape(dy!, [rows, sd[1]]);
    if (g.gatherGrad === 'onehot') {
      // Each row of the one-hot gets exactly one write, so no atomic contention.
      const onehot = g.captureSafe ? g.oneHot(idxCol, sd[0], g.constF(1)) : g.scatterElementsAdd(g.zeros([rows, sd[0]]), idxCol, g.expand(g.constF(1), [rows, 1]), 1);
      return [weightGrad(g, onehot, upd), undefined];
    }
    // ScatterND(add) accumulates repeated rows (tokens that occur several times in a batch).
    if (g.captureSafe) throw new GraphError('Gather gradient: graph capture needs the one-hot form (Graph.gatherGrad onehot)');
    return [g.scatterNDAdd(g.zeros(sd), idxCol, upd), undefined];
  },
  GatherElements: (g, n, [dy]) => {
    const [data, idx] = n.inputs;
    const axis = attrInt(n, 'axis', 0);
    const sd = g.shape(data), si = g.shape(idx);
    if (g.captureSafe) {
      if (sd.length !== 2 || axis !== 1 || si[1] !== 1) throw new GraphError('GatherElements gradient: graph capture supports one index per row of a 2-D input');
      return [g.oneHot(idx, sd[1], dy!), undefined];
    }
    return [g.scatterElementsAdd(g.zeros(sd), idx, dy!, axis), undefined];
  },
  ReduceMax: () => {
    throw new GraphError('ReduceMax is not differentiable here; mark its output with stopGradient');
  },
};

export function hasRule(op: string): boolean {
  return op in rules;
}
export const differentiableOps = Object.keys(rules).filter((k) => k !== 'ReduceMax');

/**
 * Appends the backward pass of `loss` (a scalar or any tensor, seeded with ones or `seed`) and
 * returns the gradient value of each requested input, in order.
 */
export function gradients(g: Graph, loss: string, wrt: string[], seed?: string): string[] {
  // Forward pass: which values depend on a wrt value (only those need gradients).
  const needs = new Set(wrt);
  const active: Node[] = [];
  for (const node of g.nodes) {
    if (node.inputs.some((i) => needs.has(i))) {
      for (const o of node.outputs) if (!g.stopGradient.has(o)) needs.add(o);
      active.push(node);
    }
  }
  if (!needs.has(loss)) throw new GraphError(`loss '${loss}' does not depend on the requested inputs`);
  const grads = new Map<string, string>();
  grads.set(loss, seed ?? g.expand(g.constF(1), g.shape(loss)));
  const accumulate = (name: string, d: string) => {
    const prev = grads.get(name);
    grads.set(name, prev ? g.add(prev, d) : d);
  };
  for (let k = active.length - 1; k >= 0; k--) {
    const node = active[k];
    const dOut = node.outputs.map((o) => grads.get(o));
    if (dOut.every((d) => d === undefined)) continue;
    const rule = rules[node.op];
    if (!rule) throw new GraphError(`no gradient rule for op ${node.op}`);
    const dIn = rule(g, node, dOut, node.inputs.map((i) => needs.has(i)));
    node.inputs.forEach((inp, i) => {
      const d = dIn[i];
      if (d && inp && needs.has(inp)) accumulate(inp, d);
    });
  }
  return wrt.map((w) => grads.get(w) ?? g.zeros(g.shape(w)));
}
