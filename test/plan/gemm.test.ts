import { strict as assert } from 'node:assert';
import { gemmSeconds, gemmTime, resolveHardware } from '../../src/core/plan';

const h100 = resolveHardware('h100-sxm');
const bf16 = { precision: 'bf16' as const, mfu: 1 };

describe('plan/gemm: GEMM time model', () => {
  it('a perfectly tiled compute-bound GEMM runs at mfu x peak (up to wave quantization)', () => {
    // 132 SMs; 33 x 32 = 1056 = 8 full waves of 128 x 128 tiles.
    const t = gemmTime(33 * 128, 32 * 128, 8192, h100, bf16);
    assert.equal(t.tileEfficiency, 1);
    assert.equal(t.waveEfficiency, 1);
    assert.ok(Math.abs(t.flops / t.seconds - 989e12) < 1e6);
  });

  it('tile quantization: one element past a tile boundary pads a whole tile row', () => {
    // No SM count: isolates tile quantization from wave quantization.
    const noWaves = resolveHardware({ ...h100, sms: undefined });
    const a = gemmTime(128 * 8, 128 * 8, 4096, noWaves, bf16);
    const b = gemmTime(128 * 8 + 1, 128 * 8, 4096, noWaves, bf16);
    assert.ok(Math.abs(b.tileEfficiency - (1025 * 1024) / (9 * 128 * 8 * 128)) < 1e-12);
    // The padded tile row costs compute: throughput drops ~11%.
    assert.ok(b.flops / b.seconds < 0.9 * (a.flops / a.seconds));
  });

  it('wave quantization: SMs + 1 tiles take two waves', () => {
    const t = gemmTime(133 * 128, 128, 8192, h100, bf16); // 133 tiles on 132 SMs
    assert.ok(Math.abs(t.waveEfficiency - 133 / 264) < 1e-12);
  });

  it('Anthony et al. 2024: d_ff 10944 is ~46% faster than 10922 at d_model 4096 on H100', () => {
    const tokens = 16384;
    const slow = gemmTime(tokens, 10922, 4096, h100, bf16);
    const fast = gemmTime(tokens, 10944, 4096, h100, bf16);
    const ratio = fast.flops / fast.seconds / (slow.flops / slow.seconds);
    assert.ok(Math.abs(ratio - 398.4 / 272.7) < 0.02, String(ratio));
  });

  it('small inner dimension is memory-bound', () => {
    const t = gemmTime(65536, 65536, 8, h100, bf16);
    assert.ok(t.memorySeconds > t.computeSeconds);
    assert.equal(t.seconds, t.memorySeconds);
  });

  it('gemmSeconds equals gemmTime().seconds', () => {
    for (const [m, n, k, b] of [[1000, 3000, 768, 1], [2048, 2048, 64, 96], [37, 50304, 1536, 1]]) {
      assert.equal(gemmSeconds(m, n, k, h100, { precision: 'fp32', mfu: 0.5 }, b), gemmTime(m, n, k, h100, { precision: 'fp32', mfu: 0.5 }, b).seconds);
    }
  });
});
