import { strict as assert } from 'node:assert';
import { BatchSampler, type Batch } from '../../src/core/data/batches';
import { loadDataset } from '../../src/core/data/dataset';
import { paramLayout } from '../../src/core/model/gpt';
import { initParams } from '../../src/core/model/init';
import { DEFAULT_BASE, transfer } from '../../src/core/param/parameterization';
import { Engine, freshState, runtimeFromEnv, type EngineRuntime } from '../../src/core/train/engine';
import { buildTrainStep, DEFAULT_OPTIMIZER } from '../../src/core/train/graphs';
import { probeWebgpu } from '../../src/core/train/runtime';

/**
 * The captured step (SHAPELAB_RUNTIME=capture: WebGPU graph capture through onnxruntime's C API,
 * src/core/train/ffi/capturedStep.ts) against the same step run uncaptured through
 * onnxruntime-node on the same adapter (lavapipe in CI) and against the CPU EP: a new batch, LR
 * factor and AdamW t every step, so a replay that kept any stale value would show.
 */
const shape = { vocab: 256, context: 16, dModel: 32, nLayers: 2, nHeads: 2, dFf: 128, tiedEmbeddings: true };
const t = transfer({ ...DEFAULT_BASE, baseWidth: 16 }, { width: 32, depth: 2 }, 'completep');
const STEPS = 6;

interface Trace {
  runtime: string;
  losses: number[];
  norms: number[];
  evals: number[];
  state: { params: Float32Array; m: Float32Array; v: Float32Array };
}

async function train(ep: 'cpu' | 'webgpu', runtime: EngineRuntime): Promise<Trace> {
  const e = await Engine.create({ shape, transfer: t, batch: 2, evalBatch: 3, optimizer: DEFAULT_OPTIMIZER, ep, runtime, residualStat: true });
  try {
    await e.setState(freshState(initParams(e.layout, 5)));
    const data = loadDataset({ source: 'brown', tokenizer: 'byte' });
    const s = new BatchSampler(data.train, { batchSize: 2, context: 16, seed: 9 });
    const ev = new BatchSampler(data.val, { batchSize: 3, context: 16, seed: 2 });
    const evalBatches: Batch[] = [ev.nextBatch(), ev.nextBatch()];
    const losses: number[] = [], norms: number[] = [], evals: number[] = [];
    evals.push((await e.evaluate(evalBatches)).loss);
    for (let i = 1; i <= STEPS; i++) {
      const r = await e.step(s.nextBatch(), [1, 0.5, 2, 0.25, 1.5, 0.75][i - 1], i);
      assert.ok(r.applied, `step ${i} applied`);
      losses.push(r.loss);
      norms.push(r.gradNorm);
      if (i % 3 === 0) evals.push((await e.evaluate(evalBatches)).loss);
    }
    return { runtime: e.runtime, losses, norms, evals, state: await e.getState() };
  } finally {
    await e.release();
  }
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]) / (Math.abs(a[i]) + 1e-6));
  return d;
}
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('captured step (WebGPU graph capture through the C API)', function () {
  this.timeout(600_000);
  let skip: string | undefined;
  before(async function () {
    skip = await probeWebgpu();
    if (skip && !process.env.CI && !process.env.SHAPELAB_REQUIRE_WEBGPU) this.skip();
    assert.equal(skip, undefined, `WebGPU adapter missing: ${skip}`);
  });

  it('the capture-safe step graph has no ScatterElements and no Identity output of a shared value', () => {
    const layout = paramLayout(shape, t);
    const plain = buildTrainStep(shape, t, layout, 2, DEFAULT_OPTIMIZER);
    const safe = buildTrainStep(shape, t, layout, 2, DEFAULT_OPTIMIZER, { captureSafe: true });
    const ops = (g: typeof plain) => g.nodes.map((n) => n.op);
    assert.ok(ops(plain).includes('ScatterElements'), 'the plain graph uses ScatterElements (else this test checks nothing)');
    assert.ok(!ops(safe).includes('ScatterElements'));
    assert.equal(ops(safe).filter((o) => o === 'Equal').length, 2, 'cross-entropy and embedding one-hots');
    assert.deepEqual(safe.inputs.filter((n) => n.endsWith('_f')).sort(), ['targets_f', 'tokens_f']);
    for (const out of safe.outputs) {
      const n = safe.nodes.find((x) => x.outputs.includes(out))!;
      if (n.op !== 'Identity') continue;
      assert.equal(safe.nodes.filter((x) => x.inputs.includes(n.inputs[0])).length, 1, `output ${out} is an Identity of a value read elsewhere`);
    }
  });

  it("'auto' takes the capture runtime on WebGPU and trains exactly like the uncaptured step (losses, grad norms, evals, params, m, v)", async () => {
    const cap = await train('webgpu', 'auto');
    assert.equal(cap.runtime, 'capture');
    const node = await train('webgpu', 'node');
    assert.equal(node.runtime, 'node');
    const cpu = await train('cpu', 'auto');
    assert.ok(maxRel(cap.losses, node.losses) < 1e-6, `losses ${cap.losses} vs ${node.losses}`);
    assert.ok(maxRel(cap.norms, node.norms) < 1e-5, `grad norms ${cap.norms} vs ${node.norms}`);
    assert.ok(maxRel(cap.evals, node.evals) < 1e-6, `evals ${cap.evals} vs ${node.evals}`);
    for (const k of ['params', 'm', 'v'] as const) assert.ok(maxAbs(cap.state[k], node.state[k]) < 1e-6 * Math.max(1, ...Array.from(node.state[k], Math.abs)), `${k} differs`);
    // and the CPU EP, as the WebGPU step test does
    assert.ok(maxRel(cap.losses, cpu.losses) < 1e-4, `losses vs CPU ${cap.losses} vs ${cpu.losses}`);
    assert.ok(maxRel(cap.evals, cpu.evals) < 1e-4);
    // the losses moved: a replay that kept its first inputs would repeat one value
    assert.ok(new Set(cap.losses.map((x) => x.toFixed(6))).size === STEPS);
  });

  it('state round trips exactly (setState/getState, and takeState/adoptState as growth uses them)', async () => {
    const e = await Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'webgpu', runtime: 'capture' });
    const f = await Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'webgpu', runtime: 'capture' });
    try {
      const n = e.nParams;
      await assert.rejects(e.getState(), /engine has no state/);
      await assert.rejects(e.step({ inputs: new Int32Array(32), targets: new Int32Array(32), batchSize: 2, context: 16 }, 1, 1), /engine has no state/);
      const s = { params: initParams(e.layout, 3), m: Float32Array.from({ length: n }, (_, i) => Math.sin(i)), v: Float32Array.from({ length: n }, (_, i) => 1 + Math.cos(i)) };
      await e.setState(s);
      const back = await e.getState();
      for (const k of ['params', 'm', 'v'] as const) assert.deepEqual(back[k], s[k]);
      const taken = e.takeState();
      await f.adoptState(taken);
      const adopted = await f.getState();
      for (const k of ['params', 'm', 'v'] as const) assert.deepEqual(adopted[k], s[k]);
      await assert.rejects(e.setState({ params: new Float32Array(3), m: new Float32Array(3), v: new Float32Array(3) }), /state 'params' has 3 values, the model has \d+/);
    } finally {
      await e.release();
      await f.release();
    }
  });

  it('a captured step yields to the event loop, so a stop message or a signal is seen between steps', async () => {
    const e = await Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'webgpu', runtime: 'capture' });
    try {
      await e.setState(freshState(initParams(e.layout, 4)));
      const s = new BatchSampler(loadDataset({ source: 'brown', tokenizer: 'byte' }).train, { batchSize: 2, context: 16, seed: 1 });
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      try {
        for (let i = 1; i <= 5; i++) {
          const before = ticks;
          await e.step(s.nextBatch(), 1, i);
          await e.step(s.nextBatch(), 1, i);
          assert.ok(ticks > before, `no timer ran across two steps (step ${i})`);
        }
      } finally {
        clearInterval(timer);
      }
    } finally {
      await e.release();
    }
  });

  it('a non-finite update is not applied (the graph guard works under replay)', async () => {
    const e = await Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'webgpu', runtime: 'capture' });
    try {
      const p = initParams(e.layout, 4);
      await e.setState(freshState(p));
      const s = new BatchSampler(loadDataset({ source: 'brown', tokenizer: 'byte' }).train, { batchSize: 2, context: 16, seed: 1 });
      assert.ok((await e.step(s.nextBatch(), 1, 1)).applied);
      const good = await e.getState();
      const r = await e.step(s.nextBatch(), Number.NaN, 2);
      assert.equal(r.applied, false);
      const after = await e.getState();
      for (const k of ['params', 'm', 'v'] as const) assert.deepEqual(after[k], good[k], `${k} changed by a rejected update`);
      assert.ok((await e.step(s.nextBatch(), 1, 2)).applied, 'the next good step applies');
    } finally {
      await e.release();
    }
  });

  it('runtime choice: a clear error where capture cannot run; auto falls back to onnxruntime-node and says why', async () => {
    await assert.rejects(Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'cpu', runtime: 'capture' }), /SHAPELAB_RUNTIME=capture cannot run here: the cpu EP/);
    const big = { ...shape, vocab: 9000 };
    const e = await Engine.create({ shape: big, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'webgpu', runtime: 'auto' });
    try {
      assert.equal(e.runtime, 'node');
      assert.match(e.runtimeNote ?? '', /vocabulary <= 8192, this one 9000/);
    } finally {
      await e.release();
    }
    const acc = await Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'webgpu', gradAccum: 2 });
    try {
      assert.equal(acc.runtime, 'node');
      assert.equal(acc.runtimeNote, 'gradient accumulation');
    } finally {
      await acc.release();
    }
    const cpu = await Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'cpu' });
    try {
      assert.equal(cpu.runtime, 'node');
      assert.equal(cpu.runtimeNote, undefined, 'no note where capture is not expected');
    } finally {
      await cpu.release();
    }
    assert.equal(runtimeFromEnv({}), 'auto');
    assert.equal(runtimeFromEnv({ SHAPELAB_RUNTIME: 'node' }), 'node');
    assert.throws(() => runtimeFromEnv({ SHAPELAB_RUNTIME: 'fast' }), /SHAPELAB_RUNTIME must be one of auto, node, capture \(got 'fast'\)/);
  });
});
