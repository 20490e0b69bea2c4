import { strict as assert } from 'node:assert';
import { gradcheck, rand, type Feed } from '../helpers/gradcheck';
import { differentiableOps, gradients, splitKSlices } from '../../src/core/graph/autodiff';
import { Graph } from '../../src/core/graph/ir';

const f = (shape: number[], seed: number, lo = -1, hi = 1): Feed => ({ data: rand(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape });
const i64 = (vals: number[], shape: number[]): Feed => ({ data: BigInt64Array.from(vals.map(BigInt)), shape });

type Case = { op: string; name: string; feeds: Record<string, Feed>; build: (g: Graph, x: Record<string, string>) => string; tol?: number };

const cases: Case[] = [
  { op: 'Add', name: 'broadcast [2,3,4] + [3,1]', feeds: { a: f([2, 3, 4], 1), b: f([3, 1], 2) }, build: (g, x) => g.add(x.a, x.b) },
  { op: 'Add', name: 'bias over 1024 rows (two-stage row sum)', feeds: { a: { ...f([1024, 3], 51), differentiable: false }, b: f([3], 52) }, build: (g, x) => g.add(x.a, x.b) },
  { op: 'Sub', name: 'broadcast [4] - [2,4]', feeds: { a: f([4], 3), b: f([2, 4], 4) }, build: (g, x) => g.sub(x.a, x.b) },
  { op: 'Mul', name: 'broadcast [2,3] * [1,3]', feeds: { a: f([2, 3], 5), b: f([1, 3], 6) }, build: (g, x) => g.mul(x.a, x.b) },
  { op: 'Div', name: 'broadcast [2,3] / [2,1]', feeds: { a: f([2, 3], 7), b: f([2, 1], 8, 0.5, 2) }, build: (g, x) => g.div(x.a, x.b) },
  { op: 'Neg', name: 'elementwise', feeds: { a: f([5], 9) }, build: (g, x) => g.neg(x.a) },
  { op: 'Exp', name: 'elementwise', feeds: { a: f([5], 10) }, build: (g, x) => g.exp(x.a) },
  { op: 'Log', name: 'positive input', feeds: { a: f([5], 11, 0.5, 2) }, build: (g, x) => g.log(x.a) },
  { op: 'Sqrt', name: 'positive input', feeds: { a: f([5], 12, 0.5, 2) }, build: (g, x) => g.sqrt(x.a) },
  { op: 'Tanh', name: 'elementwise', feeds: { a: f([5], 13) }, build: (g, x) => g.tanh(x.a) },
  { op: 'Sigmoid', name: 'elementwise', feeds: { a: f([5], 14) }, build: (g, x) => g.sigmoid(x.a) },
  { op: 'Erf', name: 'elementwise', feeds: { a: f([5], 15) }, build: (g, x) => g.erf(x.a) },
  { op: 'Pow', name: 'constant exponent 3', feeds: { a: f([5], 16, 0.5, 1.5) }, build: (g, x) => g.pow(x.a, g.constF(3)) },
  { op: 'Gelu', name: 'exact erf form', feeds: { a: f([6], 17, -3, 3) }, build: (g, x) => g.gelu(x.a) },
  { op: 'Clip', name: 'bounds [-0.5, 0.5]', feeds: { a: f([8], 18) }, build: (g, x) => g.clip(x.a, g.constF(-0.5), g.constF(0.5)) },
  { op: 'Where', name: 'mask by a > b', feeds: { a: f([2, 3], 19), b: f([2, 3], 20) }, build: (g, x) => g.where(g.greater(x.a, g.constF(0.1)), x.a, g.mul(x.b, x.b)) },
  { op: 'MatMul', name: '2-D', feeds: { a: f([3, 4], 21), b: f([4, 5], 22) }, build: (g, x) => g.matmul(x.a, x.b) },
  { op: 'MatMul', name: 'batched [2,3,4,5] x [2,3,5,2]', feeds: { a: f([2, 3, 4, 5], 23), b: f([2, 3, 5, 2], 24) }, build: (g, x) => g.matmul(x.a, x.b) },
  {
    op: 'MatMul',
    name: 'weight gradient split over 4 slices of K (Graph.splitK): [512,6] x [6,5]',
    feeds: { a: f([512, 6], 27), b: f([6, 5], 28) },
    build: (g, x) => {
      g.splitK = 4;
      return g.matmul(x.a, x.b);
    },
  },
  {
    op: 'MatMul',
    name: "weight gradient, 'auto' split (S = 8, slices of 64) in the a-wide form (dyᵀ and the product transposed): [512,12] x [12,3]",
    feeds: { a: f([512, 12], 29), b: f([12, 3], 30) },
    build: (g, x) => {
      Object.assign(g, { splitK: 'auto', splitKMinSlice: 64, kernelValues: 0 });
      return g.matmul(x.a, x.b);
    },
  },
  ...([['dy·bᵀ as (b·dyᵀ)ᵀ, b wide', [2, 3, 2, 4], [2, 3, 4, 8]], ['aᵀ·dy as (dyᵀ·a)ᵀ, a tall', [2, 3, 8, 4], [2, 3, 4, 2]]] as const).map(([name, sa, sb], i): Case => ({
    op: 'MatMul',
    name: `batched gradient ${name} (Graph.cheapTranspose at kernelValues 0): [${sa}] x [${sb}]`,
    feeds: { a: f([...sa], 56 + 2 * i), b: f([...sb], 57 + 2 * i) },
    build: (g, x) => {
      g.kernelValues = 0;
      return g.matmul(x.a, x.b);
    },
  })),
  {
    op: 'MatMul',
    name: 'weight gradient as (dyᵀ·x)ᵀ of a wide input (MLP down projection), default threshold: [512,1024] x [1024,2]',
    feeds: { a: { ...f([512, 1024], 58), differentiable: false }, b: f([1024, 2], 59) },
    build: (g, x) => g.matmul(x.a, x.b),
  },
  { op: 'MatMul', name: 'broadcast [2,3,4] x [4,5]', feeds: { a: f([2, 3, 4], 25), b: f([4, 5], 26) }, build: (g, x) => g.matmul(x.a, x.b) },
  ...[false, true].flatMap((tA) => [false, true].map((tB): Case => ({
    op: 'Gemm', name: `transA=${tA} transB=${tB} alpha=0.7 with bias`,
    feeds: { a: f(tA ? [4, 3] : [3, 4], 27), b: f(tB ? [5, 4] : [4, 5], 28), c: f([5], 29) },
    build: (g, x) => g.gemm(x.a, x.b, x.c, { transA: tA, transB: tB, alpha: 0.7 }),
  }))),
  { op: 'Reshape', name: '[2,6] -> [3,4]', feeds: { a: f([2, 6], 30) }, build: (g, x) => g.mul(g.reshape(x.a, [3, 4]), g.reshape(x.a, [3, 4])) },
  { op: 'Transpose', name: 'perm [2,0,1]', feeds: { a: f([2, 3, 4], 31) }, build: (g, x) => g.transpose(x.a, [2, 0, 1]) },
  { op: 'Expand', name: '[3,1] -> [2,3,4]', feeds: { a: f([3, 1], 32) }, build: (g, x) => g.expand(x.a, [2, 3, 4]) },
  { op: 'Slice', name: 'axis 1 [1,3)', feeds: { a: f([2, 5], 33) }, build: (g, x) => g.slice(x.a, 1, 1, 3) },
  { op: 'Split', name: 'three parts, one unused', feeds: { a: f([2, 6], 34) }, build: (g, x) => { const [p, q] = g.split(x.a, 1, [1, 2, 3]); return g.mul(g.expand(p, [2, 2]), q); } },
  { op: 'Concat', name: 'axis 0', feeds: { a: f([1, 3], 35), b: f([2, 3], 36) }, build: (g, x) => g.concat([x.a, g.mul(x.b, x.b)], 0) },
  { op: 'ReduceSum', name: 'axes [0,2] keepdims', feeds: { a: f([2, 3, 4], 37) }, build: (g, x) => g.reduceSum(x.a, [0, 2], true) },
  { op: 'ReduceMean', name: 'axis 1 no keepdims', feeds: { a: f([2, 3, 4], 38) }, build: (g, x) => g.reduceMean(x.a, [1], false) },
  { op: 'Softmax', name: 'last axis', feeds: { a: f([2, 3, 5], 39, -2, 2) }, build: (g, x) => g.softmax(x.a, -1) },
  { op: 'LayerNormalization', name: '1024 rows (two-stage gamma/beta sums)', feeds: { a: f([1024, 4], 53, -2, 2), w: f([4], 54, 0.5, 1.5), b: f([4], 55) }, build: (g, x) => g.layerNorm(x.a, x.w, x.b)[0] },
  { op: 'LayerNormalization', name: 'x, gamma, beta', feeds: { a: f([2, 3, 6], 40, -2, 2), w: f([6], 41, 0.5, 1.5), b: f([6], 42) }, build: (g, x) => g.layerNorm(x.a, x.w, x.b)[0] },
  { op: 'Gather', name: 'embedding rows with repeats', feeds: { w: f([5, 3], 43), idx: i64([0, 2, 2, 4, 0, 1], [6, 1]) }, build: (g, x) => g.gather(x.w, x.idx) },
  { op: 'Gather', name: 'embedding rows via the one-hot GEMM form', feeds: { w: f([5, 3], 46), idx: i64([0, 2, 2, 4, 0, 1], [6, 1]) }, build: (g, x) => { g.gatherGrad = 'onehot'; return g.gather(x.w, x.idx); } },
  {
    op: 'Gather',
    name: "one-hot GEMM form with an 'auto' split of its 256 rows",
    feeds: { w: f([5, 3], 47), idx: i64(Array.from({ length: 256 }, (_, i) => (i * 7) % 5), [256, 1]) },
    build: (g, x) => {
      Object.assign(g, { gatherGrad: 'onehot', splitK: 'auto', splitKMinSlice: 64 });
      return g.gather(x.w, x.idx);
    },
  },
  {
    op: 'Gather',
    name: 'capture-safe one-hot (Graph.captureSafe: Where(Equal(idx_f, 0..V-1)) instead of ScatterElements)',
    feeds: { w: f([5, 3], 48), idx: i64([0, 2, 2, 4, 0, 1], [6, 1]), idx_f: { data: Float32Array.of(0, 2, 2, 4, 0, 1), shape: [6, 1], differentiable: false } },
    build: (g, x) => {
      Object.assign(g, { gatherGrad: 'onehot', captureSafe: true });
      return g.gather(x.w, x.idx);
    },
  },
  {
    op: 'GatherElements',
    name: 'capture-safe (Graph.captureSafe: Where(Equal(idx_f, 0..V-1), dy, 0))',
    feeds: { a: f([4, 5], 49), idx: i64([1, 0, 4, 4], [4, 1]), idx_f: { data: Float32Array.of(1, 0, 4, 4), shape: [4, 1], differentiable: false } },
    build: (g, x) => {
      g.captureSafe = true;
      return g.gatherElements(x.a, x.idx, 1);
    },
  },
  { op: 'GatherElements', name: 'pick targets along axis 1', feeds: { a: f([4, 5], 44), idx: i64([1, 0, 4, 4], [4, 1]) }, build: (g, x) => g.gatherElements(x.a, x.idx, 1) },
  { op: 'Identity', name: 'pass-through', feeds: { a: f([3], 45) }, build: (g, x) => g.mul(g.identity(x.a), x.a) },
];

describe('autodiff: every VJP rule vs central finite differences (onnxruntime CPU EP)', () => {
  for (const c of cases) {
    it(`${c.op}: ${c.name}`, async () => {
      const r = await gradcheck(c.build, c.feeds, { tol: c.tol });
      assert.ok(r.checked > 0);
    });
  }
  it('covers every op that has a rule', () => {
    const tested = new Set(cases.map((c) => c.op));
    const missing = differentiableOps.filter((op) => !tested.has(op));
    assert.deepEqual(missing, []);
  });
  it('split-K really takes the sliced path (a batched MatMul + ReduceSum in the backward graph)', async () => {
    const count = (S: number | 'auto') => {
      const g = new Graph('t');
      g.splitK = S;
      const a = g.input('a', 'float32', [512, 6]), b = g.input('b', 'float32', [6, 5]);
      const loss = g.reduceSum(g.matmul(a, b), [0, 1], false);
      gradients(g, loss, [b]);
      return g.nodes.filter((n) => n.op === 'MatMul' && g.shape(n.inputs[0]).length === 3).length;
    };
    assert.equal(count(1), 0);
    assert.equal(count(4), 1);
    assert.equal(count('auto'), 1, 'two slices of 256 rows');
  });
  it("'auto' picks the smallest power of two that reaches the workgroup target, within the slice limit", () => {
    const g = new Graph('t');
    g.splitK = 'auto';
    // 25m preset weight gradients, K = B·T = 8192: attention projection 512×512 = 256 tiles -> 8
    assert.equal(splitKSlices(g, 8192, 512, 512), 8);
    assert.equal(splitKSlices(g, 8192, 512, 2048), 2); // 1024 tiles
    assert.equal(splitKSlices(g, 8192, 512, 256), 16); // lm head: 128 tiles
    assert.equal(splitKSlices(g, 4096, 1024, 4096), 1); // wide MLP: 4096 tiles already
    assert.equal(splitKSlices(g, 999, 32, 32), 1); // K odd: no even split
    assert.equal(splitKSlices(g, 1024, 32, 32), 4); // limited by 256-row slices
    g.splitK = 1;
    assert.equal(splitKSlices(g, 8192, 512, 512), 1);
  });
  it('the weight gradient of a wide input transposes the narrow gradient and the product, not the input', () => {
    const transposed = (cheap: boolean) => {
      const g = new Graph('t');
      g.cheapTranspose = cheap;
      const a = g.input('a', 'float32', [512, 1024]), b = g.input('b', 'float32', [1024, 2]);
      gradients(g, g.reduceSum(g.matmul(a, b), [0, 1], false), [b]);
      return g.nodes.filter((n) => n.op === 'Transpose').map((n) => n.inputs[0] === a ? 'a' : g.shape(n.inputs[0]).join('x'));
    };
    assert.deepEqual(transposed(false), ['a']);
    assert.deepEqual(transposed(true), ['512x2', '2x1024']);
  });
  it('the batched cases above take the transposed-product form (a Transpose of a MatMul output)', () => {
    for (const [sa, sb, wrt] of [[[2, 3, 2, 4], [2, 3, 4, 8], 'a'], [[2, 3, 8, 4], [2, 3, 4, 2], 'b']] as const) {
      const g = new Graph('t');
      g.kernelValues = 0;
      const a = g.input('a', 'float32', [...sa]), b = g.input('b', 'float32', [...sb]);
      gradients(g, g.reduceSum(g.matmul(a, b), [0, 1, 2, 3], false), [wrt === 'a' ? a : b]);
      const matmuls = new Set(g.nodes.filter((n) => n.op === 'MatMul').flatMap((n) => n.outputs));
      assert.ok(g.nodes.some((n) => n.op === 'Transpose' && matmuls.has(n.inputs[0])), `d${wrt}`);
    }
  });
  it('Graph.transpose folds a transpose of a transpose and reuses one already built', () => {
    const g = new Graph('t');
    const x = g.input('x', 'float32', [2, 3, 4]);
    const y = g.transpose(x, [0, 2, 1]);
    assert.equal(g.transpose(y, [0, 2, 1]), x);
    assert.equal(g.transpose(x, [0, 2, 1]), y);
    const z = g.transpose(y, [2, 1, 0]); // of x: [1, 2, 0]
    assert.deepEqual(g.shape(z), [3, 4, 2]);
    assert.equal(g.nodes.at(-1)!.inputs[0], x);
    assert.deepEqual(g.nodes.at(-1)!.attrs.perm, [1, 2, 0]);
    assert.equal(g.transposeCost(z, [2, 0, 1]), 0);
    assert.equal(g.transposeCost(x, [1, 0, 2]), 24);
  });
  it('a wrong gradient is caught (the check can fail)', async () => {
    // Hiding a*a from autodiff makes d(a*a*a)/da come out as a^2 instead of 3a^2.
    await assert.rejects(
      gradcheck((g, x) => {
        const y = g.mul(x.a, x.a);
        g.stopGradient.add(y);
        return g.mul(y, x.a);
      }, { a: f([4], 50, 0.5, 1) }),
      /gradient of a/,
    );
  });
});
