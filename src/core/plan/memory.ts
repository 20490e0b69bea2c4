/**
 * Training memory per GPU of the programs ShapeLab runs: its own trainer (fp32, one process) and
 * the exported train.py (bf16 autocast on GPUs with bf16 tensor cores; DDP, or FSDP2 `fully_shard`
 * per block with `--fsdp`; optional activation checkpointing per block). No tensor or pipeline
 * parallelism: a shape that does not fit with FSDP + checkpointing at micro-batch 1 needs it, and
 * the planner says so.
 *
 * What is counted, per parameter (N = all parameters, K = data-parallel GPUs sharding with FSDP,
 * K = 1 otherwise):
 * - 'fp32' (ShapeLab's trainer, train.py --deterministic): fp32 weights 4 + fp32 gradients 4 +
 *   AdamW first and second moments 4 + 4 = 16 B.
 * - 'bf16-mixed' (train.py with bf16 autocast, FSDP2 MixedPrecisionPolicy(param_dtype=bf16,
 *   reduce_dtype=fp32)): the trained weights stay fp32 ("master") 4 B, their gradients fp32 4 B
 *   (autocast only casts the inputs of matmuls; a leaf's gradient has the leaf's dtype; FSDP2
 *   reduce-scatters in reduce_dtype fp32 into fp32 sharded grads), moments 8 B: 16 B sharded, plus
 *   the bf16 copies the matmuls use, 2 B: without FSDP every weight's copy is kept from forward to
 *   backward (autocast casts once per forward and the matmul saves its input); with FSDP only the
 *   all-gathered blocks in flight have one (`transient`).
 *   This is not ZeRO's 2 + 2 + 12 = 16 (Rajbhandari et al. 2020, arXiv 1910.02054, Sec. 3.1: fp16
 *   weights and grads, fp32 master copy and moments), because PyTorch AMP keeps the fp32 weight as
 *   the parameter and the 16-bit one as a temporary (PyTorch docs, "Automatic Mixed Precision",
 *   torch.autocast: "ops run in lower precision ... parameters stay in float32").
 * - Sharding (FSDP = ZeRO stage 3, Rajbhandari et al. 2020 Sec. 5, P_os+g+p: every state / K):
 *   weights, gradients and moments divided by K. The unit that FSDP2 all-gathers is one block;
 *   at a time one block computes while the next is prefetched (FSDP2 default: one unit ahead), so
 *   `transient` = 2 blocks' unsharded compute-dtype weights + 1 block's unsharded fp32 gradient
 *   before its reduce-scatter, plus the root unit (embeddings, final LayerNorm; fully_shard on the
 *   root keeps it gathered between forward and backward) in compute dtype and its fp32 gradient.
 * - DDP without FSDP on K > 1 GPUs: its gradient buckets are a second copy of the gradients, 4 B
 *   (torch.nn.parallel.DistributedDataParallel, gradient_as_bucket_view=False default: "the saved
 *   memory size will be equal to the total gradients size" when it is True).
 *
 * Activations per sequence (micro-batch 1) and block, Korthikanti et al. 2022 (arXiv 2205.05198)
 * eq. 1, 16-bit, no parallelism: s h (34 + 5 a s / h) bytes = attention 11sh + 5as^2 (scores,
 * softmax, dropout), MLP 19sh, LayerNorms 4sh. For a general d_ff f the MLP is 3sh + 4sf (19sh at
 * f = 4h). fp32 doubles every term. Attention through SDPA (flash / memory-efficient kernels, what
 * train.py uses on CUDA) never stores the a x s x s scores: the 5as^2 term is replaced by the
 * kernel's fp32 log-sum-exp, 4 bytes per head and token (Dao et al. 2022, arXiv 2205.14135, Alg. 2).
 * Activation checkpointing per block (Korthikanti et al. 2022 Sec. 4, full recompute): each block
 * stores only its input, the fp32 residual stream (4sh; the residual adds promote to fp32 under
 * autocast), and one block's activations are rebuilt at a time in backward.
 * Logits: the cross-entropy keeps the fp32 log-softmax (4 B) and builds the fp32 gradient (4 B) per
 * token and vocabulary entry; in bf16 the LM head's bf16 output (2 B) also exists: 8 / 10 B.
 */
import { PlanInputError } from './errors';
import { countParams, resolveShape, type ShapeSpec, type ResolvedShape } from './shape';

export type TrainingPrecision = 'fp32' | 'bf16-mixed';

/** How the states and activations are laid out: the memory settings the planner chooses among. */
export interface ParallelSetting {
  /** FSDP (ZeRO-3) over the data-parallel GPUs; without it DDP (or one process). */
  fsdp: boolean;
  /** Activation checkpointing of every block (recompute in backward). */
  activationCheckpointing: boolean;
}

export interface MemoryOptions {
  microBatch: number;
  precision?: TrainingPrecision;
  /** Fused attention (SDPA) that never stores the T x T score matrix. Default false. */
  flashAttention?: boolean;
  /** Data-parallel GPUs (default 1). */
  gpus?: number;
  fsdp?: boolean;
  activationCheckpointing?: boolean;
}

export interface MemoryBreakdown {
  weights: number;
  gradients: number;
  optimizer: number;
  /** FSDP: gathered blocks and their unsharded grads; DDP: gradient buckets; bf16 without FSDP: the bf16 weight copies. */
  transient: number;
  activations: number;
  /** Logits and their gradient for the cross-entropy (part of activations, shown separately). */
  logits: number;
  /** Bytes. */
  total: number;
  totalGiB: number;
  /** GPUs the states are divided over (1 without FSDP). */
  shards: number;
}

const GIB = 2 ** 30;

/** Bytes per parameter of the sharded model states (weights, gradients, AdamW moments): 4 + 4 + 8 in both precisions. */
export function stateBytesPerParam(_precision: TrainingPrecision): { weights: number; gradients: number; optimizer: number } {
  return { weights: 4, gradients: 4, optimizer: 8 };
}

/** Bytes per element the matmuls compute in. */
export function computeBytes(precision: TrainingPrecision): number {
  return precision === 'fp32' ? 4 : 2;
}

/** Activation bytes one block stores per sequence (micro-batch 1) without checkpointing. */
export function blockActivationBytes(shape: Pick<ResolvedShape, 'seq' | 'dModel' | 'dFf' | 'nHeads'>, precision: TrainingPrecision, flashAttention: boolean): number {
  const s = shape.seq;
  const h = shape.dModel;
  const f = shape.dFf;
  const scale = precision === 'fp32' ? 2 : 1;
  const linear = s * (11 * h + 3 * h + 4 * f + 4 * h) * scale; // attention + MLP + LayerNorms
  const scores = flashAttention ? 4 * shape.nHeads * s : 5 * shape.nHeads * s * s * scale;
  return linear + scores;
}

/** Activation bytes stored for the backward pass, per sequence, all blocks, no checkpointing, excluding logits. */
export function activationBytesPerSequence(shape: ResolvedShape, precision: TrainingPrecision, flashAttention: boolean): number {
  return shape.nLayers * blockActivationBytes(shape, precision, flashAttention);
}

/** Bytes a checkpointed block keeps per sequence: its fp32 input (the residual stream). */
export function checkpointBytesPerBlock(shape: Pick<ResolvedShape, 'seq' | 'dModel'>): number {
  return 4 * shape.seq * shape.dModel;
}

/** Cross-entropy per sequence: fp32 log-softmax + fp32 gradient (+ bf16 logits in bf16). */
export function logitBytesPerSequence(shape: Pick<ResolvedShape, 'seq' | 'vocab'>, precision: TrainingPrecision = 'fp32'): number {
  return (precision === 'fp32' ? 8 : 10) * shape.seq * shape.vocab;
}

/** The depth-independent inputs of the memory formula for one (width, heads, d_ff, seq, vocab). */
export interface MemoryTerms {
  precision: TrainingPrecision;
  /** Parameters of one block. */
  blockParams: number;
  /** Activation bytes per block and sequence (no checkpointing). */
  blockActivation: number;
  /** Bytes a checkpointed block keeps per sequence. */
  checkpointPerBlock: number;
  /** Logit bytes per sequence. */
  logitsPerSequence: number;
}

export function memoryTerms(shape: ResolvedShape, precision: TrainingPrecision, flashAttention: boolean): MemoryTerms {
  return {
    precision,
    blockParams: countParams(shape).perBlock,
    blockActivation: blockActivationBytes(shape, precision, flashAttention),
    checkpointPerBlock: checkpointBytesPerBlock(shape),
    logitsPerSequence: logitBytesPerSequence(shape, precision),
  };
}

/**
 * Memory per GPU in bytes of a model of `params` parameters and `nLayers` blocks under a setting.
 * The one formula: trainingMemory and the search both call it.
 */
export function memoryBytes(t: MemoryTerms, params: number, nLayers: number, gpus: number, setting: ParallelSetting, microBatch: number): Omit<MemoryBreakdown, 'totalGiB'> {
  const shards = setting.fsdp ? gpus : 1;
  const weights = (4 * params) / shards;
  const gradients = (4 * params) / shards;
  const optimizer = (8 * params) / shards;
  const e = computeBytes(t.precision);
  let transient: number;
  if (setting.fsdp) {
    const root = params - nLayers * t.blockParams;
    transient = (Math.min(nLayers, 2) * e + 4) * t.blockParams + (e + 4) * root;
  } else {
    transient = (t.precision === 'fp32' ? 0 : 2 * params) + (gpus > 1 ? 4 * params : 0);
  }
  const perSequence = setting.activationCheckpointing ? nLayers * t.checkpointPerBlock + t.blockActivation : nLayers * t.blockActivation;
  const logits = microBatch * t.logitsPerSequence;
  const activations = microBatch * perSequence + logits;
  const total = weights + gradients + optimizer + transient + activations;
  return { weights, gradients, optimizer, transient, activations, logits, total, shards };
}

/** memoryBytes(...).total without building the breakdown (the search's hot path; tested to agree). */
export function memoryTotal(t: MemoryTerms, params: number, nLayers: number, gpus: number, fsdp: boolean, ckpt: boolean, microBatch: number): number {
  const e = t.precision === 'fp32' ? 4 : 2;
  const states = fsdp ? (16 * params) / gpus : 16 * params;
  const transient = fsdp
    ? (Math.min(nLayers, 2) * e + 4) * t.blockParams + (e + 4) * (params - nLayers * t.blockParams)
    : (t.precision === 'fp32' ? 0 : 2 * params) + (gpus > 1 ? 4 * params : 0);
  const perSequence = (ckpt ? nLayers * t.checkpointPerBlock + t.blockActivation : nLayers * t.blockActivation) + t.logitsPerSequence;
  return states + transient + microBatch * perSequence;
}

export function trainingMemory(shape: ShapeSpec, opts: MemoryOptions): MemoryBreakdown {
  const s = resolveShape(shape);
  if (!(Number.isInteger(opts.microBatch) && opts.microBatch > 0)) throw new PlanInputError(`microBatch must be a positive integer (got ${opts.microBatch})`);
  const gpus = opts.gpus ?? 1;
  if (!(Number.isInteger(gpus) && gpus > 0)) throw new PlanInputError(`gpus must be a positive integer (got ${gpus})`);
  const t = memoryTerms(s, opts.precision ?? 'fp32', opts.flashAttention ?? false);
  const m = memoryBytes(t, countParams(s).total, s.nLayers, gpus, { fsdp: opts.fsdp ?? false, activationCheckpointing: opts.activationCheckpointing ?? false }, opts.microBatch);
  if (!Number.isFinite(m.total)) throw new PlanInputError(`training memory of this shape at micro-batch ${opts.microBatch} is not a finite number of bytes`);
  return { ...m, totalGiB: m.total / GIB };
}

/** Largest micro-batch that fits in `capacityBytes` (0 when even micro-batch 1 does not fit). */
export function maxMicroBatch(shape: ShapeSpec, capacityBytes: number, precision: TrainingPrecision = 'fp32', flashAttention = false, gpus = 1, setting: ParallelSetting = { fsdp: false, activationCheckpointing: false }): number {
  const s = resolveShape(shape);
  const t = memoryTerms(s, precision, flashAttention);
  const n = countParams(s).total;
  const fixed = memoryBytes(t, n, s.nLayers, gpus, setting, 0).total;
  const perSeq = memoryBytes(t, n, s.nLayers, gpus, setting, 1).total - fixed;
  if (fixed + perSeq > capacityBytes) return 0;
  return Math.floor((capacityBytes - fixed) / perSeq);
}

/** Short name of a setting for tables: 'DDP', 'FSDP', 'DDP+ckpt', 'FSDP+ckpt' ('1 GPU' forms without DDP). */
export function settingLabel(s: ParallelSetting, gpus: number): string {
  const base = s.fsdp ? 'FSDP' : gpus > 1 ? 'DDP' : '1 GPU';
  return s.activationCheckpointing ? `${base}+ckpt` : base;
}
