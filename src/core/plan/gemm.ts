/**
 * GEMM-level time model: one C[m x n] = A[m x k] B[k x n] (optionally `batch` of them) on a GPU.
 *
 *   time = max(compute, memory)
 *   compute = 2*m*n*k*batch / (peak * mfu * tileEff * waveEff * alignFactor)
 *   memory  = bytes(A + B + C) * batch / bandwidth
 *
 * - Tile quantization: the kernel computes whole 128 x 128 output tiles, so a dimension that is
 *   not a multiple of 128 wastes the padded part of its last tile (NVIDIA, "Matrix Multiplication
 *   Background User's Guide", sections "Tile Quantization" and "Wave Quantization"; Anthony et al.
 *   2024, arXiv 2401.14489, Sec. 3). 128 x 128 is one tile size cuBLAS commonly picks for large
 *   16-bit GEMMs; real kernels choose among several, so this is a deliberate simplification.
 * - Wave quantization: tiles are spread over the SMs in waves; a last partial wave leaves SMs idle:
 *   waveEff = tiles / (ceil(tiles / SMs) * SMs).
 * - Alignment: when k or n is not a multiple of 8 elements (16 bytes) for 16-bit data, or of 4 for
 *   fp32, kernels fall back to narrower loads. Factor calibrated on Anthony et al. 2024's H100
 *   example (d_model 4096: d_ff 10922 ran at 272.7 TFLOP/s vs 398.4 at 10944 -> 272.7/398.4).
 * - mfu: the fraction of peak that a perfectly shaped, compute-bound GEMM sustains inside a real
 *   training step (kernel efficiency and framework overhead). The quantization factors and the
 *   memory-bound terms come on top of it. Default 0.5, the order of well-tuned large-scale
 *   training (PaLM reports 46.2% MFU, Chowdhery et al. 2022 Table 3); lower it for eager
 *   frameworks, raise it when calibrating to a measured run.
 */
import { peakFlops, type HardwareEntry } from './hardware';

export type ComputePrecision = 'fp32' | 'bf16';

export interface GemmOptions {
  precision: ComputePrecision;
  mfu: number;
}

export const DEFAULT_MFU = 0.5; // order of PaLM's 46.2% MFU (Chowdhery et al. 2022, Table 3)
export const TILE_M = 128; // NVIDIA Matrix Multiplication Background guide: 128x128 / 256x128 tiles
export const TILE_N = 128;
/** 272.7 / 398.4 TFLOP/s: Anthony et al. 2024, H100, d_model 4096, d_ff 10922 vs 10944. */
export const MISALIGNED_FACTOR = 272.7 / 398.4;

export function bytesPerElement(precision: ComputePrecision): number {
  return precision === 'fp32' ? 4 : 2;
}

export interface GemmTime {
  seconds: number;
  flops: number;
  computeSeconds: number;
  memorySeconds: number;
  tileEfficiency: number;
  waveEfficiency: number;
  alignmentFactor: number;
}

/** Detailed time of a (batched) GEMM. */
export function gemmTime(m: number, n: number, k: number, hw: HardwareEntry, opts: GemmOptions, batch = 1): GemmTime {
  const tilesM = Math.ceil(m / TILE_M);
  const tilesN = Math.ceil(n / TILE_N);
  const tileEfficiency = (m * n) / (tilesM * TILE_M * tilesN * TILE_N);
  const tiles = tilesM * tilesN * batch;
  const sms = hw.sms ?? 0;
  const waveEfficiency = sms > 0 ? tiles / (Math.ceil(tiles / sms) * sms) : 1;
  const align = opts.precision === 'fp32' ? 4 : 8;
  const alignmentFactor = k % align === 0 && n % align === 0 ? 1 : MISALIGNED_FACTOR;
  const flops = 2 * m * n * k * batch;
  const rate = peakFlops(hw, opts.precision) * opts.mfu * tileEfficiency * waveEfficiency * alignmentFactor;
  const computeSeconds = flops / rate;
  const memorySeconds = ((m * k + k * n + m * n) * batch * bytesPerElement(opts.precision)) / (hw.bandwidthTBs * 1e12);
  return { seconds: Math.max(computeSeconds, memorySeconds), flops, computeSeconds, memorySeconds, tileEfficiency, waveEfficiency, alignmentFactor };
}

/** Seconds only; same model, no object allocation (the search loop calls this). */
export function gemmSeconds(m: number, n: number, k: number, hw: HardwareEntry, opts: GemmOptions, batch = 1): number {
  const tilesM = Math.ceil(m / TILE_M);
  const tilesN = Math.ceil(n / TILE_N);
  const tileEff = (m * n) / (tilesM * TILE_M * tilesN * TILE_N);
  const tiles = tilesM * tilesN * batch;
  const sms = hw.sms ?? 0;
  const waveEff = sms > 0 ? tiles / (Math.ceil(tiles / sms) * sms) : 1;
  const align = opts.precision === 'fp32' ? 4 : 8;
  const alignF = k % align === 0 && n % align === 0 ? 1 : MISALIGNED_FACTOR;
  const compute = (2 * m * n * k * batch) / (peakFlops(hw, opts.precision) * opts.mfu * tileEff * waveEff * alignF);
  const memory = ((m * k + k * n + m * n) * batch * bytesPerElement(opts.precision)) / (hw.bandwidthTBs * 1e12);
  return compute > memory ? compute : memory;
}
