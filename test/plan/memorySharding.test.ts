/**
 * The sharded training-memory model against cases computed by hand from first principles (the
 * byte counts of docs in src/core/plan/memory.ts, written out here as arithmetic, not by calling
 * the code), and the fp32 / bf16 mixed-precision bytes per parameter.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { memoryBytes, memoryTerms, memoryTotal, resolveShape, trainingMemory } from '../../src/core/plan';

// V 1000, T 128, d 256, 4 blocks, 4 heads of 64, d_ff 1024, tied embeddings, learned positions, biases.
const shape = { vocab: 1000, seq: 128, dModel: 256, nLayers: 4, nHeads: 4, dFf: 1024, tiedEmbeddings: true };
// Parameters by hand: QKV 256*768 + 768, out 256*256 + 256, MLP 256*1024 + 1024 and 1024*256 + 256,
// two LayerNorms 2 * (256 + 256): 197,376 + 65,792 + 263,168 + 262,400 + 1,024 = 789,760 per block.
const BLOCK = 789_760;
// + final LN 512 + token embedding 1000*256 + positions 128*256 (LM head tied: counted once).
const N = 4 * BLOCK + 512 + 256_000 + 32_768; // 3,448,320
const ROOT = N - 4 * BLOCK; // embeddings + final LN: what FSDP's root unit holds
const s = 128;
const h = 256;
const f = 1024;
const heads = 4;
// Korthikanti et al. 2022 per block, 16-bit bytes: attention 11sh, MLP 3sh + 4sf, LayerNorms 4sh.
const LINEAR16 = s * (11 * h + 3 * h + 4 * f + 4 * h);
const SCORES16 = 5 * heads * s * s;
const LSE = 4 * heads * s; // SDPA's fp32 log-sum-exp per head and token

describe('plan/memory: FSDP sharding, mixed precision, SDPA, checkpointing (hand-computed)', () => {
  it('the hand count of parameters is the count the memory model uses', () => {
    assert.equal(trainingMemory(shape, { microBatch: 1 }).weights, 4 * N);
  });

  it('fp32 on one GPU: 16 bytes per parameter, activations doubled, explicit attention scores, 8-byte logits', () => {
    const m = trainingMemory(shape, { microBatch: 2, precision: 'fp32' });
    assert.equal(m.weights + m.gradients + m.optimizer, 16 * N);
    assert.equal(m.transient, 0);
    const act = 2 * (4 * 2 * (LINEAR16 + SCORES16)) + 2 * 8 * s * 1000;
    assert.equal(m.activations, act);
    assert.equal(m.total, 16 * N + act);
  });

  it('bf16 mixed precision without FSDP: fp32 master weights, fp32 grads, fp32 moments (16 B) + the bf16 copies (2 B); DDP adds a gradient-sized bucket (4 B)', () => {
    const one = trainingMemory(shape, { microBatch: 1, precision: 'bf16-mixed', flashAttention: true });
    assert.equal(one.weights, 4 * N);
    assert.equal(one.gradients, 4 * N);
    assert.equal(one.optimizer, 8 * N);
    assert.equal(one.transient, 2 * N);
    const act = 4 * (LINEAR16 + LSE) + 10 * s * 1000;
    assert.equal(one.total, 18 * N + act);
    const ddp = trainingMemory(shape, { microBatch: 1, precision: 'bf16-mixed', flashAttention: true, gpus: 8 });
    assert.equal(ddp.total, 22 * N + act);
  });

  it('FSDP over 8 GPUs: 16 B/param / 8, plus two gathered bf16 blocks, one fp32 block gradient and the root unit', () => {
    const m = trainingMemory(shape, { microBatch: 1, precision: 'bf16-mixed', flashAttention: true, gpus: 8, fsdp: true });
    assert.equal(m.shards, 8);
    assert.equal(m.weights + m.gradients + m.optimizer, (16 * N) / 8);
    assert.equal(m.transient, (2 * 2 + 4) * BLOCK + (2 + 4) * ROOT);
    assert.equal(m.total, (16 * N) / 8 + 8 * BLOCK + 6 * ROOT + 4 * (LINEAR16 + LSE) + 10 * s * 1000);
    // fp32 FSDP gathers fp32 blocks: 2 x 4 + 4 bytes per block parameter
    const f32 = trainingMemory(shape, { microBatch: 1, precision: 'fp32', gpus: 8, fsdp: true });
    assert.equal(f32.transient, (2 * 4 + 4) * BLOCK + (4 + 4) * ROOT);
  });

  it('activation checkpointing keeps the fp32 block inputs (4sh each) plus one block rebuilt in backward', () => {
    const m = trainingMemory(shape, { microBatch: 3, precision: 'bf16-mixed', flashAttention: true, gpus: 8, fsdp: true, activationCheckpointing: true });
    assert.equal(m.activations, 3 * (4 * 4 * s * h + LINEAR16 + LSE + 10 * s * 1000));
    const plain = trainingMemory(shape, { microBatch: 3, precision: 'bf16-mixed', flashAttention: true, gpus: 8, fsdp: true });
    assert.ok(m.activations < plain.activations);
  });

  it('a 7B-class model: FSDP over 64 GPUs puts 16 B/param / 64 of state on each', () => {
    // d 4096, 32 blocks, 32 heads, d_ff 16384, V 32000, T 4096 (GPT-style with biases, untied).
    const big = { vocab: 32000, seq: 4096, dModel: 4096, nLayers: 32, nHeads: 32, tiedEmbeddings: false };
    const per = 4096 * 3 * 4096 + 3 * 4096 + 4096 * 4096 + 4096 + 2 * 4096 * 16384 + 16384 + 4096 + 4 * 4096;
    const n = 32 * per + 2 * 4096 + 2 * 32000 * 4096 + 4096 * 4096;
    const m = trainingMemory(big, { microBatch: 1, precision: 'bf16-mixed', flashAttention: true, gpus: 64, fsdp: true });
    assert.equal(m.weights + m.gradients + m.optimizer, (16 * n) / 64);
    assert.ok(n > 6.5e9 && n < 7.2e9, String(n)); // ~7B class
  });

  it('memoryTotal (the search hot path) equals the breakdown for any setting (property)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 48 }), (bf16, fsdp, ckpt, gpus, mb, L) => {
        const sh = resolveShape({ ...shape, nLayers: L });
        const t = memoryTerms(sh, bf16 ? 'bf16-mixed' : 'fp32', bf16);
        const n = L * BLOCK + ROOT;
        const a = memoryBytes(t, n, L, gpus, { fsdp, activationCheckpointing: ckpt }, mb).total;
        const b = memoryTotal(t, n, L, gpus, fsdp, ckpt, mb);
        return Math.abs(a - b) <= 1e-9 * a;
      }),
    );
  });
});
