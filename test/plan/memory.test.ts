import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { activationBytesPerSequence, maxMicroBatch, resolveShape, trainingMemory } from '../../src/core/plan';

const gpt2small = { vocab: 50257, seq: 1024, dModel: 768, nLayers: 12, nHeads: 12 };

describe('plan/memory: fp32 AdamW training memory', () => {
  it('model states are 16 bytes per parameter (weights, grads, two moments in fp32)', () => {
    const m = trainingMemory(gpt2small, { microBatch: 1 });
    assert.equal(m.weights, 4 * 124_439_808);
    assert.equal(m.gradients, 4 * 124_439_808);
    assert.equal(m.optimizer, 8 * 124_439_808);
  });

  it('activations follow Korthikanti et al. 2022: s b h (34 + 5 a s / h) bytes per layer in 16-bit', () => {
    const s = resolveShape(gpt2small);
    const perLayer16 = 1024 * 768 * (34 + (5 * 12 * 1024) / 768);
    assert.equal(activationBytesPerSequence(s, 'bf16-mixed', false), 12 * perLayer16);
    assert.equal(activationBytesPerSequence(s, 'fp32', false), 2 * 12 * perLayer16);
    // SDPA: no scores; the kernel keeps an fp32 log-sum-exp per head and token (4 * 12 heads * 1024 tokens)
    assert.equal(activationBytesPerSequence(s, 'bf16-mixed', true), 12 * (1024 * 768 * 34 + 4 * 12 * 1024));
  });

  it('memory grows with the micro-batch (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 32 }), fc.constantFrom(64, 128, 256, 512), (b, extra, L, d) => {
        const shape = { vocab: 32000, seq: 512, dModel: d, nLayers: L, nHeads: d / 64 };
        return trainingMemory(shape, { microBatch: b + extra }).total > trainingMemory(shape, { microBatch: b }).total;
      }),
    );
  });

  it('maxMicroBatch is the largest micro-batch that fits', () => {
    const cap = 24e9;
    const b = maxMicroBatch(gpt2small, cap);
    assert.ok(b >= 1);
    assert.ok(trainingMemory(gpt2small, { microBatch: b }).total <= cap);
    assert.ok(trainingMemory(gpt2small, { microBatch: b + 1 }).total > cap);
    assert.equal(maxMicroBatch(gpt2small, 1e9), 0);
  });
});
