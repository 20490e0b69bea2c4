/**
 * Training memory per GPU: model states (weights, gradients, two AdamW moments) plus activations
 * at a micro-batch. Plain data parallelism is assumed (every GPU holds a full replica; no ZeRO
 * sharding, no tensor/pipeline parallelism), which is what ShapeLab's trainer does.
 */
import { PlanInputError } from './errors';
import { countParams, resolveShape, type ShapeSpec, type ResolvedShape } from './shape';

/**
 * 'fp32': ShapeLab's trainer -- fp32 weights, grads and both moments: 4 + 4 + 4 + 4 = 16 B/param.
 * 'bf16-mixed': bf16 weights (2) + fp32 master (4) + bf16 grads (2) + fp32 moments (8) = 16 B/param
 * (EleutherAI "Transformer Math 101" / cookbook; Rajbhandari et al. 2020 ZeRO, Sec. 3.1).
 */
export type TrainingPrecision = 'fp32' | 'bf16-mixed';

export interface MemoryOptions {
  microBatch: number;
  precision?: TrainingPrecision;
  /** Fused attention that never stores the T x T score matrix (drops the 5as^2b term). Default false. */
  flashAttention?: boolean;
}

export interface MemoryBreakdown {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  /** Logits and their gradient for the cross-entropy (part of activations, shown separately). */
  logits: number;
  /** Bytes. */
  total: number;
  totalGiB: number;
}

const GIB = 2 ** 30;

/** Bytes of model state per parameter, split (weights, grads, optimizer). */
export function stateBytesPerParam(precision: TrainingPrecision): { weights: number; gradients: number; optimizer: number } {
  return precision === 'fp32' ? { weights: 4, gradients: 4, optimizer: 8 } : { weights: 6, gradients: 2, optimizer: 8 };
}

/**
 * Activation bytes stored for the backward pass, per sequence (micro-batch 1), excluding logits.
 *
 * Korthikanti et al. 2022 (arXiv 2205.05198) eq. 1, no parallelism, no recompute, 16-bit:
 * per layer s*b*h*(34 + 5*a*s/h) bytes = attention 11sbh + 5as^2b, MLP 19sbh, LayerNorms 4sbh.
 * The MLP's 19sbh assumes d_ff = 4h: it is 2sbh (input of up-proj) + 2sbf (GELU input) + 2sbf
 * (down-proj input) + sbh (dropout mask), so for general f we use 3sbh + 4sbf, which gives
 * 19sbh at f = 4h. fp32 doubles every 2-byte term (we double all, the 1-byte dropout masks
 * included: a slight overestimate on the safe side).
 */
export function activationBytesPerSequence(shape: ResolvedShape, precision: TrainingPrecision, flashAttention: boolean): number {
  const s = shape.seq;
  const h = shape.dModel;
  const f = shape.dFf;
  const heads = shape.nHeads;
  const linearTerms = s * (11 * h + 3 * h + 4 * f + 4 * h); // attention + MLP + LayerNorms, 16-bit bytes
  const scoreTerm = flashAttention ? 0 : 5 * heads * s * s;
  const scale = precision === 'fp32' ? 2 : 1;
  return shape.nLayers * (linearTerms + scoreTerm) * scale;
}

/** Cross-entropy keeps fp32 logits and their softmax/gradient: 2 x 4 bytes per vocab entry per token. */
export function logitBytesPerSequence(shape: ResolvedShape): number {
  return 8 * shape.seq * shape.vocab;
}

export function trainingMemory(shape: ShapeSpec, opts: MemoryOptions): MemoryBreakdown {
  const s = resolveShape(shape);
  if (!(Number.isInteger(opts.microBatch) && opts.microBatch > 0)) throw new PlanInputError(`microBatch must be a positive integer (got ${opts.microBatch})`);
  const precision = opts.precision ?? 'fp32';
  const n = countParams(s).total;
  const per = stateBytesPerParam(precision);
  const weights = per.weights * n;
  const gradients = per.gradients * n;
  const optimizer = per.optimizer * n;
  const logits = opts.microBatch * logitBytesPerSequence(s);
  const activations = opts.microBatch * activationBytesPerSequence(s, precision, opts.flashAttention ?? false) + logits;
  const total = weights + gradients + optimizer + activations;
  if (!Number.isFinite(total)) throw new PlanInputError(`training memory of this shape at micro-batch ${opts.microBatch} is not a finite number of bytes`);
  return { weights, gradients, optimizer, activations, logits, total, totalGiB: total / GIB };
}

/** Largest micro-batch that fits in `capacityBytes` (0 when even the model states do not fit). */
export function maxMicroBatch(shape: ShapeSpec, capacityBytes: number, precision: TrainingPrecision = 'fp32', flashAttention = false): number {
  const s = resolveShape(shape);
  const per = stateBytesPerParam(precision);
  const states = (per.weights + per.gradients + per.optimizer) * countParams(s).total;
  const perSeq = activationBytesPerSequence(s, precision, flashAttention) + logitBytesPerSequence(s);
  if (states + perSeq > capacityBytes) return 0;
  return Math.floor((capacityBytes - states) / perSeq);
}
