import { strict as assert } from 'node:assert';
import { FLOPS_CONVENTIONS, FLOPS_CONVENTION_INFO, makeGroup, resolveContext, trainingFlopsPerToken } from '../../src/core/plan';

const gpt2small = { vocab: 50257, seq: 1024, dModel: 768, nLayers: 12, nHeads: 12 };

describe('plan/flops: conventions', () => {
  it('PaLM / nanoGPT: 6N + 12 L d T with N = matmul params', () => {
    // N = 85,056,000 non-embedding + 50257 * 768 LM head = 123,653,376.
    assert.equal(trainingFlopsPerToken(gpt2small, 'palm'), 6 * 123_653_376 + 12 * 12 * 768 * 1024);
  });

  it('Kaplan: 3 x (2N + 2 n_layer n_ctx d), N non-embedding', () => {
    assert.equal(trainingFlopsPerToken(gpt2small, 'kaplan'), 3 * (2 * 85_056_000 + 2 * 12 * 1024 * 768));
  });

  it('Megatron eq. 3 per token: 96 l h^2 (1 + s/6h + V/16lh)', () => {
    const expected = 96 * 12 * 768 * 768 * (1 + 1024 / (6 * 768) + 50257 / (16 * 12 * 768));
    assert.ok(Math.abs(trainingFlopsPerToken(gpt2small, 'megatron') - expected) < 1);
  });

  it('6N uses total params', () => {
    assert.equal(trainingFlopsPerToken(gpt2small, '6n'), 6 * 124_439_808);
  });

  it('every convention names its source', () => {
    for (const c of FLOPS_CONVENTIONS) assert.ok(FLOPS_CONVENTION_INFO[c].source.length > 10);
  });

  it("the search's inlined FLOPs agree with trainingFlopsPerToken", () => {
    for (const conv of FLOPS_CONVENTIONS) {
      const ctx = resolveContext({ seq: 1024, vocab: 50257, flopsConvention: conv });
      const c = makeGroup(ctx, 768, 12, 64, 3072).at(12, { flops: 1e19 });
      assert.ok(typeof c !== 'string');
      assert.ok(Math.abs(c.flopsPerToken - trainingFlopsPerToken(gpt2small, conv)) < 1e-6 * c.flopsPerToken, conv);
    }
  });
});
