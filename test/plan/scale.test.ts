/**
 * Plans at scale (issue 14 part 1): with FSDP and activation checkpointing in the memory model the
 * planner proposes shapes near the compute-optimal size on clusters, says when memory caps a plan,
 * and warns when a GPU count leaves too few optimizer steps.
 */
import { strict as assert } from 'node:assert';
import { evaluateShape, planShapes } from '../../src/core/plan';

describe('plan at scale: sharding, memory-bound plans, GPU counts', function () {
  this.timeout(120_000);

  it('1e25 FLOPs on 2048 x H100 (bf16): near the compute-optimal N*, with FSDP, not memory-bound', () => {
    const r = planShapes({ budget: { flops: 1e25 }, hardware: 'h100-sxm', gpus: 2048, precision: 'bf16', top: 3 });
    const nStar = r.reference!.computeOptimal.params;
    const b = r.best!;
    // Before sharding was modeled this plan proposed 3.05B parameters for N* = 312B.
    assert.ok(b.params > 0.5 * nStar && b.params < 1.5 * nStar, `${b.params} vs N* ${nStar}`);
    assert.equal(b.fsdp, true);
    assert.ok(b.memoryGiB <= (r.context.memoryCapacityGiB as number));
    assert.equal(r.memoryBound, null);
    assert.ok(b.tokensPerParam > 5 && b.tokensPerParam < 60, String(b.tokensPerParam));
  });

  it('1e22 FLOPs on 4 x H100: near N* (FSDP over the 4 GPUs)', () => {
    const r = planShapes({ budget: { flops: 1e22 }, hardware: 'h100-sxm', gpus: 4, top: 3 });
    const nStar = r.reference!.computeOptimal.params;
    assert.ok(r.best!.params > 0.5 * nStar && r.best!.params < 1.5 * nStar, `${r.best!.params} vs ${nStar}`);
    assert.equal(r.context.precision, 'bf16'); // the default on a GPU with bf16 tensor cores
    // Without sharding and checkpointing the same budget is memory-bound, and the plan says so.
    const ddp = planShapes({ budget: { flops: 1e22 }, hardware: 'h100-sxm', gpus: 4, top: 3, allowFsdp: false, allowCheckpointing: false });
    assert.ok(ddp.best!.params < r.best!.params);
    assert.match(ddp.memoryBound!.message, /^memory-bound: /);
    assert.ok(ddp.warnings[0].startsWith('memory-bound:'));
    assert.ok(ddp.memoryBound!.gpusToFit === null || ddp.memoryBound!.gpusToFit > 4);
  });

  it('a 1 GiB memory cap is memory-bound, and says that tensor/pipeline parallelism would be needed', () => {
    const r = planShapes({ budget: { flops: 1e20 }, hardware: 'h100-sxm', gpus: 8, maxMemoryGiB: 1, top: 3 });
    assert.ok(r.memoryBound);
    assert.match(r.memoryBound.message, /^memory-bound: /);
    // The cross-entropy of one 2048-token sequence at vocab 50304 alone holds 10 B x 2048 x 50304 = 1.03 GB > 1 GiB,
    // whatever the sharding: no number of GPUs fits it.
    assert.equal(r.memoryBound.gpusToFit, null);
    assert.match(r.memoryBound.message, /tensor or pipeline parallelism/);
  });

  it('the cheapest setting: plain data parallel when it fits, FSDP only when needed', () => {
    const small = planShapes({ budget: { flops: 1e19 }, hardware: 'h100-sxm', gpus: 8, top: 1 });
    assert.equal(small.best!.fsdp, false);
    assert.equal(small.best!.activationCheckpointing, false);
    assert.equal(small.best!.memorySetting, 'DDP');
    // A 7B-class shape on 8 x 80 GB: 16-22 B/param replicated (>= 112 GB) cannot fit; FSDP over 8 can.
    const e = evaluateShape({ dModel: 4096, nLayers: 32, flops: 1e22, hardware: 'h100-sxm', gpus: 8 });
    assert.equal(e.fitsInMemory, true);
    assert.equal(e.fsdp, true);
    assert.equal(e.memory.shards, 8);
    const one = evaluateShape({ dModel: 4096, nLayers: 32, flops: 1e22, hardware: 'h100-sxm', gpus: 1 });
    assert.equal(one.fitsInMemory, false);
    assert.match(one.memoryAdvice as string, /^memory-bound: .*FSDP over \d+ GPUs would fit it/);
  });

  it('absurd GPU counts that leave a handful of optimizer steps get a warning', () => {
    const r = planShapes({ budget: { flops: 1e20 }, hardware: 'h100-sxm', gpus: 100_000, top: 1 });
    assert.ok(r.best!.optimizerSteps < 1000);
    assert.ok(r.warnings.some((w) => /^only [\d,]+ optimizer steps/.test(w)), r.warnings.join('\n'));
    const ok = planShapes({ budget: { flops: 1e20 }, hardware: 'h100-sxm', gpus: 8, top: 1 });
    assert.ok(!ok.warnings.some((w) => /optimizer steps/.test(w)));
    assert.throws(() => planShapes({ budget: { flops: 1e20 }, hardware: 'h100-sxm', gpus: -1 }), /gpus must be a positive integer \(got -1\)/);
  });
});
