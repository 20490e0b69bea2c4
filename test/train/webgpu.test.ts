import { strict as assert } from 'node:assert';
import { BatchSampler } from '../../src/core/data/batches';
import { loadDataset } from '../../src/core/data/dataset';
import { initParams } from '../../src/core/model/init';
import { DEFAULT_BASE, transfer } from '../../src/core/param/parameterization';
import { Engine, freshState } from '../../src/core/train/engine';
import { DEFAULT_OPTIMIZER, ENGINE_SWITCHES, engineOffFromEnv } from '../../src/core/train/graphs';
import { probeWebgpu } from '../../src/core/train/runtime';

/**
 * The WebGPU path on this machine's adapter (Mesa lavapipe on CI, a real GPU elsewhere): the
 * fused step graph must be created with CPU fallback disabled (so every node runs on the GPU)
 * and produce the CPU EP's losses and parameters.
 */
describe('WebGPU execution provider (lavapipe in CI): step graph vs CPU EP', function () {
  this.timeout(600_000);
  // The default graph, and the one with every issue-10 change off (SHAPELAB_ENGINE_OFF, kept for
  // measuring each change on a GPU).
  for (const off of ['', Object.keys(ENGINE_SWITCHES).join(',')]) it(`runs with CPU fallback disabled and matches the CPU EP over 4 AdamW steps${off ? ` (SHAPELAB_ENGINE_OFF=${off})` : ''}`, async function () {
    const before = process.env.SHAPELAB_ENGINE_OFF;
    process.env.SHAPELAB_ENGINE_OFF = off;
    try {
      await cpuVsWebgpu.call(this);
    } finally {
      if (before === undefined) delete process.env.SHAPELAB_ENGINE_OFF;
      else process.env.SHAPELAB_ENGINE_OFF = before;
    }
  });
  it('SHAPELAB_ENGINE_OFF: names the switches it knows; an unknown one is refused with the list', () => {
    assert.deepEqual([...engineOffFromEnv({})], []);
    assert.deepEqual([...engineOffFromEnv({ SHAPELAB_ENGINE_OFF: ' qkv, wgrad ' })].sort(), ['qkv', 'wgrad']);
    assert.throws(() => engineOffFromEnv({ SHAPELAB_ENGINE_OFF: 'qkv,fast' }), /SHAPELAB_ENGINE_OFF: unknown switch 'fast' \(known: wgrad, qkv/);
  });
  async function cpuVsWebgpu(this: Mocha.Context) {
    const why = await probeWebgpu();
    if (why && !process.env.CI && !process.env.SHAPELAB_REQUIRE_WEBGPU) this.skip(); // dev machines without Vulkan
    assert.equal(why, undefined, `WebGPU adapter missing: ${why}`);
    const shape = { vocab: 256, context: 16, dModel: 32, nLayers: 2, nHeads: 2, dFf: 128, tiedEmbeddings: false };
    const t = transfer({ ...DEFAULT_BASE, baseWidth: 16 }, { width: 32, depth: 2 }, 'completep');
    const data = loadDataset({ source: 'brown', tokenizer: 'byte' });
    const runs: { losses: number[]; norms: number[]; params: Float32Array }[] = [];
    for (const ep of ['cpu', 'webgpu'] as const) {
      const e = await Engine.create({ shape, transfer: t, batch: 2, optimizer: DEFAULT_OPTIMIZER, ep });
      const p = initParams(e.layout, 5);
      await e.setState(freshState(p));
      const s = new BatchSampler(data.train, { batchSize: 2, context: 16, seed: 9 });
      const losses: number[] = [], norms: number[] = [];
      for (let i = 1; i <= 4; i++) {
        const r = await e.step(s.nextBatch(), 1, i);
        losses.push(r.loss);
        norms.push(r.gradNorm);
      }
      runs.push({ losses, norms, params: (await e.getState()).params });
      await e.release();
    }
    const [cpu, gpu] = runs;
    for (let i = 0; i < 4; i++) {
      assert.ok(Math.abs(cpu.losses[i] - gpu.losses[i]) < 1e-4 * Math.abs(cpu.losses[i]) + 1e-5, `loss step ${i + 1}: cpu ${cpu.losses[i]} webgpu ${gpu.losses[i]}`);
      assert.ok(Math.abs(cpu.norms[i] - gpu.norms[i]) < 1e-3 * cpu.norms[i], `grad norm step ${i + 1}: cpu ${cpu.norms[i]} webgpu ${gpu.norms[i]}`);
    }
    let maxDiff = 0;
    for (let i = 0; i < cpu.params.length; i++) maxDiff = Math.max(maxDiff, Math.abs(cpu.params[i] - gpu.params[i]));
    assert.ok(maxDiff < 1e-4, `max |param difference| ${maxDiff}`);
  }
});
