import { strict as assert } from 'node:assert';
import { BatchSampler } from '../../src/core/data/batches';
import { loadDataset } from '../../src/core/data/dataset';
import { initParams } from '../../src/core/model/init';
import { DEFAULT_BASE, transfer } from '../../src/core/param/parameterization';
import { Engine, freshState } from '../../src/core/train/engine';
import { DEFAULT_OPTIMIZER, DEFAULT_SPLIT_K, splitKFromEnv } from '../../src/core/train/graphs';
import { probeWebgpu, type Ep } from '../../src/core/train/runtime';

/**
 * The split-K weight gradients (Graph.splitK, SHAPELAB_SPLIT_K) are a benchmarking option for the
 * GPU: they must train exactly like the plain products, on every EP, before anyone measures them.
 * B*T = 512 rows against d_ff = 128 puts every linear layer's weight gradient on the sliced path.
 */
const shape = { vocab: 256, context: 64, dModel: 32, nLayers: 2, nHeads: 2, dFf: 128, tiedEmbeddings: false };
const t = transfer({ ...DEFAULT_BASE, baseWidth: 32 }, { width: 32, depth: 2 }, 'completep');

async function run(ep: Ep, splitK: string | undefined): Promise<{ losses: number[]; params: Float32Array }> {
  const before = process.env.SHAPELAB_SPLIT_K;
  if (splitK === undefined) delete process.env.SHAPELAB_SPLIT_K;
  else process.env.SHAPELAB_SPLIT_K = splitK;
  let e: Engine;
  try {
    e = await Engine.create({ shape, transfer: t, batch: 8, optimizer: DEFAULT_OPTIMIZER, ep });
  } finally {
    if (before === undefined) delete process.env.SHAPELAB_SPLIT_K;
    else process.env.SHAPELAB_SPLIT_K = before;
  }
  try {
    await e.setState(freshState(initParams(e.layout, 3)));
    const s = new BatchSampler(loadDataset({ source: 'brown', tokenizer: 'byte' }).train, { batchSize: 8, context: 64, seed: 4 });
    const losses: number[] = [];
    for (let i = 1; i <= 4; i++) losses.push((await e.step(s.nextBatch(), 1, i)).loss);
    return { losses, params: (await e.getState()).params };
  } finally {
    await e.release();
  }
}

function assertSame(a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>): void {
  for (let i = 0; i < a.losses.length; i++) assert.ok(Math.abs(a.losses[i] - b.losses[i]) <= 1e-5 * a.losses[i], `step ${i + 1}: ${a.losses[i]} vs ${b.losses[i]}`);
  let d = 0;
  for (let i = 0; i < a.params.length; i++) d = Math.max(d, Math.abs(a.params[i] - b.params[i]));
  assert.ok(d < 1e-5, `max |param difference| ${d}`);
}

describe('split-K weight gradients (SHAPELAB_SPLIT_K)', function () {
  this.timeout(600_000);

  it('CPU: 4 slices train like the plain products', async () => {
    assertSame(await run('cpu', undefined), await run('cpu', '4'));
  });

  it('CPU: auto slices (S = 2 at this size: slices of 256 rows) train like the plain products', async () => {
    assertSame(await run('cpu', undefined), await run('cpu', 'auto:65536'));
  });

  it('WebGPU (lavapipe in CI): 4 slices run with CPU fallback disabled and match the CPU EP', async function () {
    const why = await probeWebgpu();
    if (why && !process.env.CI && !process.env.SHAPELAB_REQUIRE_WEBGPU) this.skip();
    assert.equal(why, undefined, `WebGPU adapter missing: ${why}`);
    const cpu = await run('cpu', undefined);
    for (const sk of ['4', 'auto:65536']) {
      const gpu = await run('webgpu', sk);
      for (let i = 0; i < cpu.losses.length; i++) assert.ok(Math.abs(cpu.losses[i] - gpu.losses[i]) < 1e-4 * cpu.losses[i], `SHAPELAB_SPLIT_K=${sk} step ${i + 1}`);
    }
  });

  it('a bad SHAPELAB_SPLIT_K is refused with its value', () => {
    assert.deepEqual(splitKFromEnv({}), { splitK: DEFAULT_SPLIT_K });
    assert.deepEqual(splitKFromEnv({ SHAPELAB_SPLIT_K: '8' }), { splitK: 8 });
    assert.deepEqual(splitKFromEnv({ SHAPELAB_SPLIT_K: ' auto ' }), { splitK: 'auto' });
    assert.deepEqual(splitKFromEnv({ SHAPELAB_SPLIT_K: 'auto:4096' }), { splitK: 'auto', target: 4096 });
    for (const v of ['0', '65', '2.5', 'x', 'auto:', 'auto:32', 'auto:1e9', 'autox']) {
      assert.throws(() => splitKFromEnv({ SHAPELAB_SPLIT_K: v }), (e: Error) => e instanceof RangeError && e.message.includes(`(got '${v}')`) && e.message.includes("'auto'"));
    }
  });
});
