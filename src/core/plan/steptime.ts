/**
 * Training step time of a decoder on one GPU, composed from the GEMM model (gemm.ts) plus
 * memory-bound terms; wall-clock for a token budget on K data-parallel GPUs.
 *
 * Per block and micro-batch of b sequences of T tokens (t = b*T), forward GEMMs are
 * QKV (t x 3a x d), attn-out (t x d x a), MLP up (t x f x d), MLP down (t x d x f) and, batched over
 * b*H heads, Q K^T (T x T x d_head) and P V (T x d_head x T). Each linear Y = X W also runs its
 * backward as two GEMMs with transposed shapes (dX = dY W^T, dW = X^T dY), so quantization is
 * evaluated on the shapes that really run. The LM head (t x V x d) likewise.
 *
 * Memory-bound terms (bytes / bandwidth), rough by design -- the fitted efficiency (GEMM
 * fraction of peak, per-block and per-micro-step overheads: hardware.ts Efficiency) absorbs the rest:
 * - elementwise per block: LN1, LN2 (read+write d each), two residual adds (read 2d, write d),
 *   GELU (read+write f): 10d + 2f elements per token forward, about 2x that backward -> 3(10d+2f);
 * - attention softmax without a fused kernel: scale+mask+softmax read and write the b*H*T*T
 *   scores forward, read two and write one backward: 5 passes;
 * - cross-entropy: fp32 logits read/written twice forward and backward: 4 passes of t*V*4 bytes;
 * - AdamW update once per optimizer step: read p, g, m, v and write p, m, v in fp32 = 28 B/param.
 * Not modeled: gradient all-reduce between GPUs (overlapped with backward in DDP; folded into
 * the fitted overheads), FSDP all-gathers / reduce-scatters (overlapped), data loading, pipeline
 * bubbles (none: data parallel only).
 */
import { bytesPerElement, gemmSeconds, type ComputePrecision } from './gemm';
import type { HardwareEntry } from './hardware';
import { countParams, resolveShape, type ShapeSpec } from './shape';

export interface StepTimeOptions {
  precision: ComputePrecision;
  /** GEMM efficiency (fraction of peak of a large well-shaped GEMM; hardware efficiency.gemm). */
  mfu: number;
  microBatch: number;
  flashAttention?: boolean;
  /** Per-block and per-micro-step overheads, ms (hardware efficiency; default 0). */
  layerMs?: number;
  stepMs?: number;
  /** Activation checkpointing: every block's forward runs twice. */
  activationCheckpointing?: boolean;
  /** GPUs the AdamW state is sharded over (FSDP; default 1). */
  optimizerShards?: number;
}

/**
 * Full recompute re-runs each block's forward in backward: forward is about a third of
 * forward + backward (backward = 2 x forward FLOPs, Kaplan et al. 2020 Sec. 2.1), so 4/3
 * (Korthikanti et al. 2022, arXiv 2205.05198 Sec. 4: full recompute costs ~33% more).
 */
export const RECOMPUTE_FACTOR = 4 / 3;

/** Seconds of one micro-step of L blocks from the per-block and head times and the overheads. */
export function microStepSeconds(nLayers: number, block: number, head: number, o: Pick<StepTimeOptions, 'layerMs' | 'stepMs' | 'activationCheckpointing'>): number {
  return nLayers * (block * (o.activationCheckpointing ? RECOMPUTE_FACTOR : 1) + (o.layerMs ?? 0) / 1e3) + head + (o.stepMs ?? 0) / 1e3;
}

export interface StepTime {
  /** Forward + backward of one block for one micro-batch. */
  blockSeconds: number;
  /** Forward + backward of the LM head and loss for one micro-batch. */
  headSeconds: number;
  /** Forward + backward of the whole model for one micro-batch. */
  microStepSeconds: number;
  tokensPerMicroStep: number;
  /** One AdamW update of all parameters. */
  optimizerSeconds: number;
}

/** Y = X W with X [t x k], W [k x n]: forward, dgrad and wgrad GEMMs. */
function linearFwdBwd(t: number, n: number, k: number, hw: HardwareEntry, o: StepTimeOptions): number {
  return gemmSeconds(t, n, k, hw, o) + gemmSeconds(t, k, n, hw, o) + gemmSeconds(k, n, t, hw, o);
}

/** One block, forward + backward, micro-batch b. Independent of depth, so the search caches it. */
export function blockSeconds(dModel: number, nHeads: number, dHead: number, dFf: number, seq: number, hw: HardwareEntry, o: StepTimeOptions): number {
  const b = o.microBatch;
  const t = b * seq;
  const a = nHeads * dHead;
  const heads = b * nHeads;
  let s = linearFwdBwd(t, 3 * a, dModel, hw, o) + linearFwdBwd(t, dModel, a, hw, o) + linearFwdBwd(t, dFf, dModel, hw, o) + linearFwdBwd(t, dModel, dFf, hw, o);
  // Attention: S = Q K^T (T x T, inner d_head), O = P V (T x d_head, inner T); backward dQ, dK, dP, dV.
  s += gemmSeconds(seq, seq, dHead, hw, o, heads) + gemmSeconds(seq, dHead, seq, hw, o, heads);
  s += 3 * gemmSeconds(seq, dHead, seq, hw, o, heads) + gemmSeconds(seq, seq, dHead, hw, o, heads);
  const e = bytesPerElement(o.precision);
  const bw = hw.bandwidthTBs * 1e12;
  s += (e * t * 3 * (10 * dModel + 2 * dFf)) / bw;
  if (!o.flashAttention) s += (e * heads * seq * seq * 5) / bw;
  return s;
}

/** Final LN, LM head and cross-entropy, forward + backward, micro-batch b. */
export function headSeconds(dModel: number, vocab: number, seq: number, hw: HardwareEntry, o: StepTimeOptions): number {
  const t = o.microBatch * seq;
  const bw = hw.bandwidthTBs * 1e12;
  return linearFwdBwd(t, vocab, dModel, hw, o) + (bytesPerElement(o.precision) * t * 6 * dModel) / bw + (4 * t * vocab * 4) / bw;
}

/** AdamW update in fp32: 7 tensor passes of 4 bytes per parameter. */
export function optimizerSeconds(params: number, hw: HardwareEntry): number {
  return (28 * params) / (hw.bandwidthTBs * 1e12);
}

export function stepTime(shape: ShapeSpec, hw: HardwareEntry, o: StepTimeOptions): StepTime {
  const s = resolveShape(shape);
  const block = blockSeconds(s.dModel, s.nHeads, s.dHead, s.dFf, s.seq, hw, o);
  const head = headSeconds(s.dModel, s.vocab, s.seq, hw, o);
  return {
    blockSeconds: block,
    headSeconds: head,
    microStepSeconds: microStepSeconds(s.nLayers, block, head, o),
    tokensPerMicroStep: o.microBatch * s.seq,
    optimizerSeconds: optimizerSeconds(countParams(s).total / (o.optimizerShards ?? 1), hw),
  };
}

/**
 * GPT-3 trained its smaller models with 0.5M-token batches (Brown et al. 2020, Table 2.1); used as
 * the default optimizer-step size when the micro-batches of all GPUs hold fewer tokens.
 */
export const DEFAULT_GLOBAL_BATCH_TOKENS = 2 ** 19;

/**
 * The batch geometry of a plan: every GPU runs its micro-batch, and micro-batches are accumulated
 * up to the global batch (DEFAULT_GLOBAL_BATCH_TOKENS unless the GPUs' micro-batches together
 * already hold more). batchSize = sequences per micro-step over all GPUs (train.py's global
 * micro-batch), gradAccum = micro-steps per optimizer step. The time model and the export use it.
 */
export function planBatch(microBatch: number, gpus: number, seq: number, globalBatchTokens = DEFAULT_GLOBAL_BATCH_TOKENS): { batchSize: number; gradAccum: number; tokensPerStep: number } {
  const batchSize = Math.max(1, Math.floor(microBatch)) * Math.max(1, Math.floor(gpus));
  const globalSeqs = Math.max(1, Math.round(globalBatchTokens / seq));
  const gradAccum = Math.max(1, Math.ceil(globalSeqs / batchSize));
  return { batchSize, gradAccum, tokensPerStep: batchSize * gradAccum * seq };
}

/** Wall-clock seconds to train `tokens` on `gpus` data-parallel replicas. */
export function trainingSeconds(step: StepTime, tokens: number, gpus: number, globalBatchTokens = DEFAULT_GLOBAL_BATCH_TOKENS): number {
  const perRound = step.tokensPerMicroStep * gpus;
  const batch = Math.max(globalBatchTokens, perRound);
  return (tokens / perRound) * step.microStepSeconds + (tokens / batch) * step.optimizerSeconds;
}
