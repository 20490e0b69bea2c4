/**
 * A small typed tensor IR that maps 1:1 onto ONNX nodes. Every builder method infers the static
 * output shape, because the autodiff rules need shapes to undo broadcasting and the runtime needs
 * them to allocate nothing by surprise. Graphs are built in topological order by construction.
 */

export type DType = 'float32' | 'int64' | 'int32' | 'bool';
export type Shape = number[];

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

export interface Node {
  op: string;
  inputs: string[]; // '' marks an omitted optional input
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain?: string;
}

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Shape;
}

export interface Initializer extends ValueInfo {
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

export class GraphError extends Error {}

const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);
export { numel };

/** Broadcast two shapes numpy-style (ONNX multidirectional broadcasting). */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new GraphError(`cannot broadcast [${a}] with [${b}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

export class Graph {
  readonly nodes: Node[] = [];
  readonly values = new Map<string, ValueInfo>();
  readonly inputs: string[] = [];
  readonly outputs: string[] = [];
  readonly initializers = new Map<string, Initializer>();
  /** Values through which no gradient flows (e.g. the max in a stable log-sum-exp). */
  readonly stopGradient = new Set<string>();
  /**
   * How the Gather (embedding) gradient is formed: 'scatter' = ScatterND(add), whose atomic adds
   * serialize on repeated rows (slow on GPUs for small vocabularies); 'onehot' = one-hot matrix
   * times the upstream gradient (one GEMM; cheap while the vocabulary is small).
   */
  gatherGrad: 'scatter' | 'onehot' = 'scatter';
  /**
   * Slices for the weight-gradient products Xᵀ·dY of 2-D MatMuls whose shared dimension K (rows,
   * B·T in a linear layer) is long against a small output. onnxruntime's WebGPU MatMul (1.30,
   * onnxruntime/core/providers/webgpu/math/matmul.cc) gives each 32×32 output tile one workgroup
   * of 64 threads that walks all of K, and splits K itself only on some Intel GPUs: a 512×512
   * weight gradient is 256 workgroups on a GPU with 132 SMs. S > 1 computes the product as a
   * batched MatMul over S slices of K plus a ReduceSum (S times more workgroups); 'auto' picks
   * S per product so that tiles·S reaches splitKTarget workgroups, with slices of at least
   * splitKMinSlice rows; 1 is off. SHAPELAB_SPLIT_K sets it (see splitKFromEnv).
   */
  splitK: number | 'auto' = 1;
  /** Workgroups the 'auto' split aims for (about 16 per SM of a 132-SM GPU). */
  splitKTarget = 2048;
  /** Shortest slice of K the 'auto' split makes: shorter slices make the ReduceSum dominate. */
  splitKMinSlice = 256;
  /**
   * Weight-gradient operand order (SHAPELAB_ENGINE_OFF=wgrad turns it off): the MatMul VJP may
   * form aᵀ·dy as (dyᵀ·a)ᵀ when that transposes fewer values (e.g. the MLP's down projection,
   * whose input is 4x wider than its output gradient).
   */
  cheapTranspose = true;
  /**
   * What one more Transpose kernel costs, in values moved, when cheapTranspose weighs the two
   * operand orders: a guess (a few microseconds of launch and sync on a GPU, a few hundred
   * thousand values of a memory-bound copy), so the two-transpose form is taken only when it
   * saves clearly more than a dispatch. Tests set 0 to take that form on small shapes.
   */
  kernelValues = 1 << 18;
  /**
   * Build for WebGPU graph capture (src/core/train/ffi/capturedStep.ts). Two things replay wrongly
   * under onnxruntime 1.30's WebGPU capture (bench/ffi/capture-ops.ts): ScatterElements(add) adds
   * onto its previous result on every replay, and a graph output that is an Identity of a value
   * read elsewhere keeps its first value. With this set, one-hot matrices are built by comparing a
   * float copy of the indices with 0..V-1 (oneHot; the host feeds `<index input>_f`), a gradient
   * that would need ScatterND is refused, and captureSafeOutputs() rewrites such Identities.
   */
  captureSafe = false;
  private counter = 0;
  /** The node that produced each value (for transpose-of-transpose folding and reuse). */
  private readonly producers = new Map<string, Node>();
  private readonly transposesOf = new Map<string, Node[]>();
  private constCache = new Map<string, string>();

  constructor(readonly name = 'shapelab') {}

  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`;
    while (this.values.has(name));
    return name;
  }

  info(name: string): ValueInfo {
    const v = this.values.get(name);
    if (!v) throw new GraphError(`unknown value '${name}'`);
    return v;
  }
  shape(name: string): Shape {
    return this.info(name).shape;
  }
  dtype(name: string): DType {
    return this.info(name).dtype;
  }

  private define(name: string, dtype: DType, shape: Shape): string {
    if (this.values.has(name)) throw new GraphError(`value '${name}' defined twice`);
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new GraphError(`bad shape [${shape}] for '${name}'`);
    this.values.set(name, { name, dtype, shape: [...shape] });
    return name;
  }

  input(name: string, dtype: DType, shape: Shape): string {
    this.define(name, dtype, shape);
    this.inputs.push(name);
    return name;
  }

  output(name: string): void {
    this.info(name);
    if (!this.outputs.includes(name)) this.outputs.push(name);
  }

  initializer(name: string, dtype: DType, shape: Shape, data: Initializer['data']): string {
    if (data.length !== numel(shape)) throw new GraphError(`initializer '${name}': ${data.length} values for shape [${shape}]`);
    this.define(name, dtype, shape);
    this.initializers.set(name, { name, dtype, shape: [...shape], data });
    return name;
  }

  /** A float constant (deduplicated). */
  constF(values: number | number[], shape?: Shape): string {
    const arr = typeof values === 'number' ? [values] : values;
    const shp = shape ?? (typeof values === 'number' ? [] : [arr.length]);
    const key = `f:${shp.join('x')}:${arr.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.initializer(this.fresh('c'), 'float32', shp, Float32Array.from(arr));
    this.constCache.set(key, name);
    return name;
  }

  /** An int64 constant vector (axes, shapes, slice bounds). */
  constI64(values: number[]): string {
    const key = `i:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.initializer(this.fresh('ci'), 'int64', [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
    this.constCache.set(key, name);
    return name;
  }

  /** Appends a node whose outputs have the given dtypes/shapes. */
  node(op: string, inputs: string[], outs: { dtype: DType; shape: Shape; name?: string }[], attrs: Record<string, AttrValue> = {}, domain?: string): string[] {
    for (const i of inputs) if (i !== '') this.info(i);
    const outputs = outs.map((o) => this.define(o.name ?? this.fresh(op.toLowerCase()), o.dtype, o.shape));
    const n: Node = { op, inputs, outputs, attrs, domain };
    this.nodes.push(n);
    for (const o of outputs) this.producers.set(o, n);
    if (op === 'Transpose') this.transposesOf.set(inputs[0], [...(this.transposesOf.get(inputs[0]) ?? []), n]);
    return outputs;
  }

  private unary(op: string, x: string, attrs: Record<string, AttrValue> = {}): string {
    return this.node(op, [x], [{ dtype: this.dtype(x), shape: this.shape(x) }], attrs)[0];
  }
  private binary(op: string, a: string, b: string): string {
    return this.node(op, [a, b], [{ dtype: this.dtype(a), shape: broadcastShapes(this.shape(a), this.shape(b)) }])[0];
  }

  // ---- elementwise ----
  add(a: string, b: string) { return this.binary('Add', a, b); }
  sub(a: string, b: string) { return this.binary('Sub', a, b); }
  mul(a: string, b: string) { return this.binary('Mul', a, b); }
  div(a: string, b: string) { return this.binary('Div', a, b); }
  pow(a: string, b: string) { return this.binary('Pow', a, b); }
  neg(x: string) { return this.unary('Neg', x); }
  exp(x: string) { return this.unary('Exp', x); }
  log(x: string) { return this.unary('Log', x); }
  sqrt(x: string) { return this.unary('Sqrt', x); }
  tanh(x: string) { return this.unary('Tanh', x); }
  sigmoid(x: string) { return this.unary('Sigmoid', x); }
  erf(x: string) { return this.unary('Erf', x); }
  abs(x: string) { return this.unary('Abs', x); }
  identity(x: string, name?: string) {
    return this.node('Identity', [x], [{ dtype: this.dtype(x), shape: this.shape(x), name }])[0];
  }
  /** GELU (opset 20), 'none' = exact erf form. */
  gelu(x: string) { return this.unary('Gelu', x, { approximate: 'none' }); }
  scale(x: string, s: number) { return s === 1 ? x : this.mul(x, this.constF(s)); }
  clip(x: string, lo: string | '', hi: string | '') {
    return this.node('Clip', [x, lo, hi], [{ dtype: this.dtype(x), shape: this.shape(x) }])[0];
  }
  where(cond: string, a: string, b: string) {
    const shape = broadcastShapes(broadcastShapes(this.shape(cond), this.shape(a)), this.shape(b));
    return this.node('Where', [cond, a, b], [{ dtype: this.dtype(a), shape }])[0];
  }
  greater(a: string, b: string) {
    return this.node('Greater', [a, b], [{ dtype: 'bool', shape: broadcastShapes(this.shape(a), this.shape(b)) }])[0];
  }

  // ---- linear algebra ----
  matmul(a: string, b: string): string {
    const sa = this.shape(a), sb = this.shape(b);
    if (sa.length < 2 || sb.length < 2) throw new GraphError('matmul needs rank >= 2 operands');
    const [m, k] = sa.slice(-2), [k2, n] = sb.slice(-2);
    if (k !== k2) throw new GraphError(`matmul inner dims differ: [${sa}] x [${sb}]`);
    const batch = broadcastShapes(sa.slice(0, -2), sb.slice(0, -2));
    return this.node('MatMul', [a, b], [{ dtype: 'float32', shape: [...batch, m, n] }])[0];
  }
  gemm(a: string, b: string, c: string | null, opts: { transA?: boolean; transB?: boolean; alpha?: number } = {}): string {
    const sa = this.shape(a), sb = this.shape(b);
    if (sa.length !== 2 || sb.length !== 2) throw new GraphError('gemm needs 2-D operands');
    const [m, k] = opts.transA ? [sa[1], sa[0]] : sa;
    const [k2, n] = opts.transB ? [sb[1], sb[0]] : sb;
    if (k !== k2) throw new GraphError(`gemm inner dims differ: [${sa}]${opts.transA ? 'T' : ''} x [${sb}]${opts.transB ? 'T' : ''}`);
    if (c) broadcastShapes([m, n], this.shape(c));
    const attrs: Record<string, AttrValue> = {};
    if (opts.transA) attrs.transA = 1;
    if (opts.transB) attrs.transB = 1;
    if (opts.alpha !== undefined && opts.alpha !== 1) attrs.alpha = { float: opts.alpha };
    return this.node('Gemm', c ? [a, b, c] : [a, b], [{ dtype: 'float32', shape: [m, n] }], attrs)[0];
  }

  // ---- shape ops ----
  reshape(x: string, shape: Shape): string {
    if (numel(shape) !== numel(this.shape(x))) throw new GraphError(`reshape [${this.shape(x)}] -> [${shape}] changes size`);
    if (shape.length === this.shape(x).length && shape.every((d, i) => d === this.shape(x)[i])) return x;
    return this.node('Reshape', [x, this.constI64(shape)], [{ dtype: this.dtype(x), shape }])[0];
  }
  /**
   * Transpose, folded where that costs no kernel: a transpose of a Transpose's output becomes one
   * transpose of its input (none when the two cancel), and a transpose already in the graph is
   * reused. The backward pass leans on this: the MatMul rule asks for bᵀ, which is often the
   * forward value b was transposed from.
   */
  transpose(x: string, perm: number[]): string {
    const s = this.shape(x);
    if (perm.length !== s.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new GraphError(`transpose perm [${perm}] for rank ${s.length}`);
    const src = this.producers.get(x);
    if (src?.op === 'Transpose') {
      const inner = src.attrs.perm as number[];
      return this.transpose(src.inputs[0], perm.map((p) => inner[p]));
    }
    if (perm.every((p, i) => p === i)) return x;
    const found = this.findTranspose(x, perm);
    if (found) return found;
    return this.node('Transpose', [x], [{ dtype: this.dtype(x), shape: perm.map((p) => s[p]) }], { perm })[0];
  }
  /** Values that `transpose(x, perm)` would add to the graph: 0 when it folds or is reused. */
  transposeCost(x: string, perm: number[]): number {
    const src = this.producers.get(x);
    if (src?.op === 'Transpose') {
      const inner = src.attrs.perm as number[];
      return this.transposeCost(src.inputs[0], perm.map((p) => inner[p]));
    }
    if (perm.every((p, i) => p === i) || this.findTranspose(x, perm)) return 0;
    return numel(this.shape(x));
  }
  private findTranspose(x: string, perm: number[]): string | undefined {
    for (const n of this.transposesOf.get(x) ?? []) {
      const p = n.attrs.perm as number[];
      if (p.every((v, i) => v === perm[i])) return n.outputs[0];
    }
    return undefined;
  }
  slice(x: string, axis: number, start: number, end: number): string {
    const s = [...this.shape(x)];
    const ax = normAxis(axis, s.length);
    if (!(0 <= start && start <= end && end <= s[ax])) throw new GraphError(`slice [${start}, ${end}) out of range for dim ${s[ax]}`);
    s[ax] = end - start;
    return this.node('Slice', [x, this.constI64([start]), this.constI64([end]), this.constI64([ax])], [{ dtype: this.dtype(x), shape: s }])[0];
  }
  split(x: string, axis: number, sizes: number[]): string[] {
    const s = this.shape(x);
    const ax = normAxis(axis, s.length);
    if (sizes.reduce((a, b) => a + b, 0) !== s[ax]) throw new GraphError(`split sizes [${sizes}] do not sum to ${s[ax]}`);
    return this.node('Split', [x, this.constI64(sizes)], sizes.map((n) => ({ dtype: this.dtype(x), shape: s.map((d, i) => (i === ax ? n : d)) })), { axis: ax });
  }
  concat(xs: string[], axis: number): string {
    const s0 = this.shape(xs[0]);
    const ax = normAxis(axis, s0.length);
    let total = 0;
    for (const x of xs) {
      const s = this.shape(x);
      if (s.length !== s0.length || s.some((d, i) => i !== ax && d !== s0[i])) throw new GraphError(`concat shapes differ: [${s0}] vs [${s}]`);
      total += s[ax];
    }
    if (xs.length === 1) return xs[0];
    return this.node('Concat', xs, [{ dtype: this.dtype(xs[0]), shape: s0.map((d, i) => (i === ax ? total : d)) }], { axis: ax })[0];
  }
  expand(x: string, shape: Shape): string {
    return this.node('Expand', [x, this.constI64(shape)], [{ dtype: this.dtype(x), shape: broadcastShapes(this.shape(x), shape) }])[0];
  }

  // ---- reductions ----
  private reduce(op: string, x: string, axes: number[], keepdims: boolean): string {
    const s = this.shape(x);
    const ax = axes.map((a) => normAxis(a, s.length));
    const shape = keepdims ? s.map((d, i) => (ax.includes(i) ? 1 : d)) : s.filter((_, i) => !ax.includes(i));
    return this.node(op, [x, this.constI64(ax)], [{ dtype: this.dtype(x), shape }], { keepdims: keepdims ? 1 : 0 })[0];
  }
  reduceSum(x: string, axes: number[], keepdims = true) { return this.reduce('ReduceSum', x, axes, keepdims); }
  reduceMean(x: string, axes: number[], keepdims = true) { return this.reduce('ReduceMean', x, axes, keepdims); }
  reduceMax(x: string, axes: number[], keepdims = true) { return this.reduce('ReduceMax', x, axes, keepdims); }

  // ---- nn ----
  softmax(x: string, axis = -1) { return this.unary('Softmax', x, { axis }); }
  /** LayerNormalization over the last axis; returns [y, mean, invStdDev] (the latter two keepdims). */
  layerNorm(x: string, gamma: string, beta: string, eps = 1e-5): [string, string, string] {
    const s = this.shape(x);
    const stat = [...s.slice(0, -1), 1];
    const [y, mean, inv] = this.node(
      'LayerNormalization',
      [x, gamma, beta],
      [{ dtype: 'float32', shape: s }, { dtype: 'float32', shape: stat }, { dtype: 'float32', shape: stat }],
      { axis: -1, epsilon: { float: eps } },
    );
    return [y, mean, inv];
  }
  gather(data: string, indices: string, axis = 0): string {
    const sd = this.shape(data), si = this.shape(indices);
    const ax = normAxis(axis, sd.length);
    return this.node('Gather', [data, indices], [{ dtype: this.dtype(data), shape: [...sd.slice(0, ax), ...si, ...sd.slice(ax + 1)] }], { axis: ax })[0];
  }
  gatherElements(data: string, indices: string, axis: number): string {
    return this.node('GatherElements', [data, indices], [{ dtype: this.dtype(data), shape: this.shape(indices) }], { axis: normAxis(axis, this.shape(data).length) })[0];
  }
  scatterElementsAdd(data: string, indices: string, updates: string, axis: number): string {
    return this.node('ScatterElements', [data, indices, updates], [{ dtype: this.dtype(data), shape: this.shape(data) }], { axis: normAxis(axis, this.shape(data).length), reduction: 'add' })[0];
  }
  scatterNDAdd(data: string, indices: string, updates: string): string {
    return this.node('ScatterND', [data, indices, updates], [{ dtype: this.dtype(data), shape: this.shape(data) }], { reduction: 'add' })[0];
  }
  /** A [1, n] row of ones (cached): column sums as one MatMul instead of a strided reduction. */
  onesRow(n: number): string {
    const key = `ones:${n}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.initializer(this.fresh('ones'), 'float32', [1, n], new Float32Array(n).fill(1));
    this.constCache.set(key, name);
    return name;
  }

  /**
   * The float copy of an int64 index that is a graph input (or a Reshape of one): a new float32
   * input named `<input>_f` that the caller feeds with the same values (exact below 2^24).
   */
  floatIndex(idx: string): string {
    if (this.inputs.includes(idx)) {
      const f = `${idx}_f`;
      if (!this.values.has(f)) this.input(f, 'float32', this.shape(idx));
      return f;
    }
    const p = this.producers.get(idx);
    if (p?.op === 'Reshape') return this.reshape(this.floatIndex(p.inputs[0]), this.shape(idx));
    throw new GraphError(`'${idx}' is not a graph input or a reshape of one: no float copy to compare with`);
  }

  /**
   * [R, V] with upd[r] (broadcast from [R, 1] or a scalar) at column idx[r] and 0 elsewhere: what
   * ScatterElements(add) of upd into zeros along axis 1 gives when each row gets one index, as
   * Where(Equal(idx_f, [0..V-1]), upd, 0).
   */
  oneHot(idx: string, V: number, upd: string): string {
    const [R, one] = this.shape(idx);
    if (one !== 1) throw new GraphError(`oneHot: index must be [R, 1] (got [${this.shape(idx)}])`);
    const iota = this.constF(Array.from({ length: V }, (_, i) => i), [1, V]);
    const eq = this.node('Equal', [this.floatIndex(idx), iota], [{ dtype: 'bool', shape: [R, V] }])[0];
    return this.where(eq, upd, this.constF(0));
  }

  /**
   * Graph outputs made by an Identity of a value that other nodes also read become Neg(Neg(x)):
   * exact, and onnxruntime has no rewrite that folds it back (it does fold Identity, Add 0, Mul 1).
   * See captureSafe.
   */
  captureSafeOutputs(): void {
    for (const n of this.nodes.filter((x) => x.op === 'Identity' && this.outputs.includes(x.outputs[0]))) {
      const src = n.inputs[0];
      if (this.nodes.filter((x) => x.inputs.includes(src)).length < 2) continue;
      const at = this.nodes.indexOf(n);
      const mid = this.define(this.fresh('neg'), this.dtype(src), this.shape(src));
      const first: Node = { op: 'Neg', inputs: [src], outputs: [mid], attrs: {} };
      this.nodes.splice(at, 0, first);
      this.producers.set(mid, first);
      n.op = 'Neg';
      n.inputs = [mid];
    }
  }

  /** Zeros of a shape without ConstantOfShape (which leaves the WebGPU EP): Expand of a scalar. */
  zeros(shape: Shape): string {
    return this.expand(this.constF(0), shape);
  }
}
