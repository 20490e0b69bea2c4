import { strict as assert } from 'node:assert';
import { BatchSampler, type Batch } from '../../src/core/data/batches';
import { loadDataset } from '../../src/core/data/dataset';
import { initParams } from '../../src/core/model/init';
import { DEFAULT_BASE, transfer } from '../../src/core/param/parameterization';
import { Engine, freshState } from '../../src/core/train/engine';
import { DEFAULT_OPTIMIZER } from '../../src/core/train/graphs';
import { probeWebgpu, type Ep } from '../../src/core/train/runtime';

/**
 * Gradient accumulation: k micro-batches of B/k per optimizer step are the same optimization as
 * one batch of B (the mean loss over the same sequences), up to float rounding. The sampler draws
 * a batch of 8 as the same 8 windows that two batches of 4 draw, so the data is identical too.
 */
const shape = { vocab: 256, context: 16, dModel: 32, nLayers: 2, nHeads: 2, dFf: 128, tiedEmbeddings: false };
const t = transfer({ ...DEFAULT_BASE, baseWidth: 16 }, { width: 32, depth: 2 }, 'completep');
const STEPS = 6;

async function run(ep: Ep, batch: number, gradAccum: number): Promise<{ losses: number[]; norms: number[]; params: Float32Array }> {
  const data = loadDataset({ source: 'brown', tokenizer: 'byte' });
  const e = await Engine.create({ shape, transfer: t, batch, optimizer: DEFAULT_OPTIMIZER, ep, gradAccum });
  try {
    assert.equal(e.gradAccum, gradAccum);
    await e.setState(freshState(initParams(e.layout, 5)));
    const s = new BatchSampler(data.train, { batchSize: batch, context: shape.context, seed: 9 });
    const losses: number[] = [], norms: number[] = [];
    for (let i = 1; i <= STEPS; i++) {
      const micro: Batch[] = Array.from({ length: gradAccum }, () => s.nextBatch());
      const r = await e.step(gradAccum === 1 ? micro[0] : micro, 1, i);
      assert.ok(r.applied);
      losses.push(r.loss);
      norms.push(r.gradNorm);
    }
    return { losses, norms, params: (await e.getState()).params };
  } finally {
    await e.release();
  }
}

function assertSame(a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>, what: string): void {
  for (let i = 0; i < STEPS; i++) {
    assert.ok(Math.abs(a.losses[i] - b.losses[i]) <= 1e-5 * Math.abs(a.losses[i]), `${what}: loss step ${i + 1}: ${a.losses[i]} vs ${b.losses[i]}`);
    assert.ok(Math.abs(a.norms[i] - b.norms[i]) <= 1e-4 * a.norms[i], `${what}: grad norm step ${i + 1}: ${a.norms[i]} vs ${b.norms[i]}`);
  }
  let d = 0;
  for (let i = 0; i < a.params.length; i++) d = Math.max(d, Math.abs(a.params[i] - b.params[i]));
  assert.ok(d < 1e-5, `${what}: max |param difference| ${d}`);
}

describe('gradient accumulation (engine)', function () {
  this.timeout(600_000);

  it('CPU: 2 x 4 and 4 x 2 micro-batches equal one batch of 8 (losses, grad norms, parameters)', async () => {
    const full = await run('cpu', 8, 1);
    assertSame(full, await run('cpu', 4, 2), 'B4 x 2');
    assertSame(full, await run('cpu', 2, 4), 'B2 x 4');
    // and it is not a no-op: a different batch split of other data would differ
    const other = await run('cpu', 4, 1);
    assert.ok(Math.abs(other.losses[STEPS - 1] - full.losses[STEPS - 1]) > 1e-4);
  });

  it('WebGPU (lavapipe in CI): the accumulating graphs run with CPU fallback disabled and match one batch', async function () {
    const why = await probeWebgpu();
    if (why && !process.env.CI && !process.env.SHAPELAB_REQUIRE_WEBGPU) this.skip();
    assert.equal(why, undefined, `WebGPU adapter missing: ${why}`);
    assertSame(await run('cpu', 8, 1), await run('webgpu', 4, 2), 'webgpu B4 x 2 vs cpu B8');
  });

  it('refuses a wrong number of micro-batches and a bad gradAccum', async () => {
    const e = await Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'cpu', gradAccum: 2 });
    try {
      await e.setState(freshState(initParams(e.layout, 1)));
      const s = new BatchSampler(loadDataset({ source: 'brown', tokenizer: 'byte' }).train, { batchSize: 2, context: shape.context, seed: 1 });
      await assert.rejects(e.step(s.nextBatch(), 1, 1), /needs 2 micro-batch\(es\), got 1/);
    } finally {
      await e.release();
    }
    await assert.rejects(Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep: 'cpu', gradAccum: 0 }), /gradAccum must be a positive integer/);
  });
});
