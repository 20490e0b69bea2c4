import { strict as assert } from 'node:assert';
import { BatchSampler, evalBatches, Xoshiro128, type SamplerState } from '../../src/core/data/batches';

const ramp = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

describe('data/batches', () => {
  it('xoshiro128** matches the reference output for state {1,2,3,4}', () => {
    const r = new Xoshiro128(0);
    r.setState([1, 2, 3, 4]);
    const got = Array.from({ length: 6 }, () => r.nextU32());
    assert.deepEqual(got, [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('below(n) is in range and roughly uniform', () => {
    const r = new Xoshiro128(42);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70000; i++) counts[r.below(7)]++;
    for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, String(counts));
    assert.throws(() => r.below(0), /below/);
  });

  it('batches: shape [B,T], targets = inputs shifted by one, in bounds', () => {
    const tokens = ramp(1000);
    const s = new BatchSampler(tokens, { batchSize: 4, context: 16, seed: 1 });
    for (let k = 0; k < 50; k++) {
      const b = s.nextBatch();
      assert.equal(b.inputs.length, 64);
      for (let row = 0; row < 4; row++) {
        const off = b.inputs[row * 16];
        assert.ok(off >= 0 && off + 16 < 1000);
        for (let t = 0; t < 16; t++) {
          assert.equal(b.inputs[row * 16 + t], off + t);
          assert.equal(b.targets[row * 16 + t], off + t + 1);
        }
      }
    }
  });

  it('same seed -> same batches; other seed -> other batches', () => {
    const tokens = ramp(5000);
    const a = new BatchSampler(tokens, { batchSize: 8, context: 32, seed: 7 });
    const b = new BatchSampler(tokens, { batchSize: 8, context: 32, seed: 7 });
    const c = new BatchSampler(tokens, { batchSize: 8, context: 32, seed: 8 });
    for (let i = 0; i < 10; i++) {
      const x = a.nextBatch();
      assert.deepEqual(x.inputs, b.nextBatch().inputs);
      assert.notDeepEqual(x.inputs, c.nextBatch().inputs);
    }
  });

  it('state() / restore() through JSON continues with the same batches', () => {
    const tokens = ramp(5000);
    const a = new BatchSampler(tokens, { batchSize: 8, context: 32, seed: 99 });
    for (let i = 0; i < 5; i++) a.nextBatch();
    const saved = JSON.parse(JSON.stringify(a.state())) as SamplerState;
    const next = [a.nextBatch(), a.nextBatch(), a.nextBatch()];
    const b = new BatchSampler(tokens, { batchSize: 8, context: 32, seed: 12345 });
    b.restore(saved);
    assert.equal(b.batchesDrawn, 5);
    for (const n of next) assert.deepEqual(b.nextBatch(), n);
  });

  it('restore() refuses a state for other data or another batch shape', () => {
    const a = new BatchSampler(ramp(5000), { batchSize: 8, context: 32, seed: 1 });
    assert.throws(() => new BatchSampler(ramp(4000), { batchSize: 8, context: 32, seed: 1 }).restore(a.state()), /5000 tokens.*4000.*data changed/);
    assert.throws(() => new BatchSampler(ramp(5000), { batchSize: 4, context: 32, seed: 1 }).restore(a.state()), /batch \[8,32\].*\[4,32\]/);
    assert.throws(() => new BatchSampler(ramp(5000), { batchSize: 8, context: 32, seed: 1 }).restore({ ...a.state(), rng: [0, 0, 0, 0] }), /xoshiro/);
  });

  it('too little data gets a clear error', () => {
    assert.throws(() => new BatchSampler(ramp(16), { batchSize: 1, context: 16, seed: 1 }), /training split has 16 tokens, fewer than context \+ 1 = 17/);
    assert.doesNotThrow(() => new BatchSampler(ramp(17), { batchSize: 1, context: 16, seed: 1 }).nextBatch());
  });

  it('eval batches: fixed, spread from the first to the last window', () => {
    const tokens = ramp(1000);
    const e1 = evalBatches(tokens, { batchSize: 4, context: 10, count: 3 });
    const e2 = evalBatches(tokens, { batchSize: 4, context: 10, count: 3 });
    assert.deepEqual(e1, e2);
    assert.equal(e1.length, 3);
    assert.equal(e1[0].inputs[0], 0);
    const last = e1[2];
    assert.equal(last.targets[last.targets.length - 1], 999);
    assert.throws(() => evalBatches(ramp(5), { batchSize: 1, context: 10, count: 1 }), /held-out split has 5 tokens/);
  });
});
