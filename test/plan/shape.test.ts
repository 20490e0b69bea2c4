import { strict as assert } from 'node:assert';
import { countParams, makeGroup, matmulParams, resolveContext, resolveShape, ShapeError, PlanInputError } from '../../src/core/plan';

// GPT-2 (Radford et al. 2019) as released on the Hugging Face hub: tied embeddings, V 50257, T 1024.
const gpt2 = (dModel: number, nLayers: number, nHeads: number) => ({ vocab: 50257, seq: 1024, dModel, nLayers, nHeads });

describe('plan/shape: parameter counts', () => {
  it('GPT-2 small has 124,439,808 parameters', () => {
    assert.equal(countParams(gpt2(768, 12, 12)).total, 124_439_808);
  });

  it('GPT-2 medium has 354,823,168 parameters', () => {
    assert.equal(countParams(gpt2(1024, 24, 16)).total, 354_823_168);
  });

  it('splits GPT-2 small into embeddings, blocks and LayerNorms', () => {
    const p = countParams(gpt2(768, 12, 12));
    assert.equal(p.tokenEmbedding, 50257 * 768);
    assert.equal(p.positionEmbedding, 1024 * 768);
    assert.equal(p.unembedding, 0);
    assert.equal(p.perBlock, 12 * 768 * 768 + 13 * 768); // 12 d^2 weights + 9d biases + 4d LayerNorm
    assert.equal(p.nonEmbedding, 85_056_000);
    assert.equal(p.layerNorm, 12 * 4 * 768 + 2 * 768);
    assert.equal(p.biases, 12 * 9 * 768);
  });

  it('an untied LM head adds V x d', () => {
    const tied = countParams(gpt2(768, 12, 12)).total;
    const untied = countParams({ ...gpt2(768, 12, 12), tiedEmbeddings: false }).total;
    assert.equal(untied - tied, 50257 * 768);
  });

  it('matmul params = non-embedding + the LM-head matmul', () => {
    assert.equal(matmulParams(gpt2(768, 12, 12)), 85_056_000 + 50257 * 768);
  });

  it('rejects a width not divisible by the heads', () => {
    assert.throws(() => resolveShape({ vocab: 100, seq: 8, dModel: 100, nLayers: 2, nHeads: 3 }), ShapeError);
    assert.throws(() => countParams({ vocab: 100, seq: 8, dModel: 64, nLayers: 0, nHeads: 1 }), PlanInputError);
  });

  it("the search's inlined counts agree with countParams", () => {
    const ctx = resolveContext({ seq: 512, vocab: 32000 });
    for (const [d, h, dh, f, L] of [[256, 4, 64, 1024, 3], [768, 6, 128, 2048, 12], [1984, 31, 64, 7936, 32]]) {
      const c = makeGroup(ctx, d, h, dh, f).at(L, { flops: 1e18 });
      assert.ok(typeof c !== 'string');
      const p = countParams({ vocab: 32000, seq: 512, dModel: d, nLayers: L, nHeads: h, dHead: dh, dFf: f });
      assert.equal(c.params, p.total);
      assert.equal(c.nonEmbeddingParams, p.nonEmbedding);
    }
  });
});
