/**
 * Evaluates shapes under one planning context (hardware, budget, conventions). The search and the
 * single-shape evaluation share this code, so a shape gets the same numbers from both.
 *
 * Hot path: the search calls `group(...)` once per (d_model, heads, d_head, d_ff) and `at(L)` for
 * every depth; everything that does not depend on depth (block time per micro-batch, per-block
 * parameter count, activation bytes per block) is computed once per group.
 */
import { isParameterization, type Parameterization } from '../param/parameterization';
import { PlanInputError, requirePositive } from './errors';
import { isFlopsConvention, type FlopsConvention } from './flops';
import { DEFAULT_MFU, type ComputePrecision } from './gemm';
import { peakFlops, resolveHardware, type HardwareEntry } from './hardware';
import { activationBytesPerSequence, logitBytesPerSequence, stateBytesPerParam, type TrainingPrecision } from './memory';
import { penaltyConstants, shapePenalty, type PenaltyConstants, type PenaltyOverrides } from './penalty';
import { DEFAULT_FIT, getFit, isScalingFitId, type ScalingFit, type ScalingFitId } from './scaling';
import { blockSeconds, DEFAULT_GLOBAL_BATCH_TOKENS, headSeconds, optimizerSeconds, type StepTimeOptions } from './steptime';

/** A budget: training FLOPs, or total GPU-hours on the chosen hardware (tokens then depend on the shape's speed). */
export type Budget = { flops: number; gpuHours?: undefined } | { gpuHours: number; flops?: undefined };

/** Options common to planning and evaluation. All optional except where noted. */
export interface ContextOptions {
  /** Required for a GPU-hours budget and for time predictions. Name, JSON path, inline JSON, or entry. */
  hardware?: string | Partial<HardwareEntry>;
  gpus?: number; // default 1
  seq?: number; // default 2048
  vocab?: number; // default 50304 (GPT-2's 50257 padded to a multiple of 64, as nanoGPT does)
  parameterization?: Parameterization; // default 'completep'
  fit?: ScalingFitId | ScalingFit; // default 'besiroglu'
  flopsConvention?: FlopsConvention; // default 'palm'
  /** Compute precision of the GEMMs (time model). Default 'fp32': ShapeLab's trainer runs fp32. */
  precision?: ComputePrecision;
  mfu?: number; // default 0.5
  tiedEmbeddings?: boolean; // default true
  flashAttention?: boolean; // default false
  /** Fraction of device memory usable (CUDA context, allocator fragmentation). Default 0.9. */
  memoryHeadroom?: number;
  /** Per-GPU memory cap in GiB overriding the device's. */
  maxMemoryGiB?: number;
  /** Largest micro-batch tried (powers of two up to this). Default 16. */
  maxMicroBatch?: number;
  globalBatchTokens?: number;
  penalty?: PenaltyOverrides;
}

export interface Context {
  hardware?: HardwareEntry;
  gpus: number;
  seq: number;
  vocab: number;
  parameterization: Parameterization;
  fit: ScalingFit;
  flopsConvention: FlopsConvention;
  precision: ComputePrecision;
  trainingPrecision: TrainingPrecision;
  mfu: number;
  tiedEmbeddings: boolean;
  flashAttention: boolean;
  memoryCapacityBytes: number;
  maxMicroBatch: number;
  globalBatchTokens: number;
  penalty: PenaltyConstants;
}

export const DEFAULT_SEQ = 2048;
/** GPT-2's 50257 rounded up to a multiple of 64 (nanoGPT; Anthony et al. 2024: vocab divisible by 64). */
export const DEFAULT_VOCAB = 50304;

function posInt(v: number, what: string): number {
  if (!(Number.isInteger(v) && v > 0)) throw new PlanInputError(`${what} must be a positive integer (got ${v})`);
  return v;
}

export function resolveContext(o: ContextOptions): Context {
  const hardware = o.hardware === undefined ? undefined : resolveHardware(o.hardware);
  const parameterization = o.parameterization ?? 'completep';
  if (!isParameterization(parameterization)) throw new PlanInputError(`unknown parameterization '${parameterization}'; known: completep, alpha0.5, mup, sp`);
  const flopsConvention = o.flopsConvention ?? 'palm';
  if (!isFlopsConvention(flopsConvention)) throw new PlanInputError(`unknown FLOP convention '${flopsConvention}'; known: palm, kaplan, megatron, 6n`);
  const fitArg = o.fit ?? DEFAULT_FIT;
  if (typeof fitArg === 'string' && !isScalingFitId(fitArg)) throw new PlanInputError(`unknown scaling fit '${fitArg}'; known: besiroglu, chinchilla`);
  const mfu = o.mfu ?? DEFAULT_MFU;
  // A lower bound keeps predicted times finite (an MFU of 5e-324 divides them into Infinity).
  if (!(mfu >= 1e-6 && mfu <= 1)) throw new PlanInputError(`mfu must be in [1e-6, 1] (got ${mfu})`);
  const headroom = o.memoryHeadroom ?? 0.9;
  if (!(headroom > 0 && headroom <= 1)) throw new PlanInputError(`memoryHeadroom must be in (0, 1] (got ${headroom})`);
  if (o.maxMemoryGiB !== undefined) requirePositive(o.maxMemoryGiB, 'maxMemoryGiB');
  const precision = o.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw new PlanInputError(`precision must be fp32 or bf16 (got ${precision})`);
  const memoryCapacityBytes = o.maxMemoryGiB !== undefined ? o.maxMemoryGiB * 2 ** 30 : hardware ? hardware.memoryGB * 1e9 * headroom : Infinity;
  const globalBatchTokens = o.globalBatchTokens ?? DEFAULT_GLOBAL_BATCH_TOKENS;
  requirePositive(globalBatchTokens, 'globalBatchTokens');
  return {
    hardware,
    gpus: posInt(o.gpus ?? 1, 'gpus'),
    seq: posInt(o.seq ?? DEFAULT_SEQ, 'seq'),
    vocab: posInt(o.vocab ?? DEFAULT_VOCAB, 'vocab'),
    parameterization,
    fit: getFit(fitArg),
    flopsConvention,
    precision,
    trainingPrecision: precision === 'fp32' ? 'fp32' : 'bf16-mixed',
    mfu,
    tiedEmbeddings: o.tiedEmbeddings ?? true,
    flashAttention: o.flashAttention ?? false,
    memoryCapacityBytes,
    maxMicroBatch: posInt(o.maxMicroBatch ?? 16, 'maxMicroBatch'),
    globalBatchTokens,
    penalty: penaltyConstants(o.penalty ?? getFit(fitArg).penalty),
  };
}

/** One evaluated shape: the fields of a plan candidate (stable JSON interface of the CLI). */
export interface Candidate {
  dModel: number;
  nLayers: number;
  nHeads: number;
  dHead: number;
  dFf: number;
  params: number;
  nonEmbeddingParams: number;
  tokens: number;
  tokensPerParam: number;
  flopsPerToken: number;
  trainingFlops: number;
  /** Scaling-law loss L(N, D) before the shape penalty. */
  scalingLoss: number;
  /** Relative shape penalty (0.01 = +1%). */
  penalty: number;
  predictedLoss: number;
  /** Wall-clock hours on `gpus` GPUs; null without hardware. */
  predictedHours: number | null;
  gpuHours: number | null;
  /** Per-GPU training memory at `microBatch`, GiB. */
  memoryGiB: number;
  microBatch: number;
  widthDepthRatio: number;
  /** Model FLOPs (palm convention) / (time * gpus * peak): what MFU the time model implies. */
  achievedMfu: number | null;
  pareto: boolean;
  /** 95% band of predictedLoss over a local fit's bootstrap refits (absent for published fits). */
  lossBand?: [number, number];
}

/** Why a shape was dropped by the constraints (counted in the plan's stats). */
export type Rejection = 'memory' | 'maxParams' | 'maxHours' | 'noTokens';

/** Evaluator for all depths of one (d_model, heads, d_head, d_ff). */
export interface GroupEvaluator {
  /** Evaluates depth L; returns a Rejection string instead when a constraint fails. */
  at(nLayers: number, budget: Budget, limits?: { maxParams?: number; maxHours?: number }, microBatch?: number): Candidate | Rejection;
}

const LOG2_MAX = 31;

export function makeGroup(ctx: Context, dModel: number, nHeads: number, dHead: number, dFf: number): GroupEvaluator {
  const V = ctx.vocab;
  const T = ctx.seq;
  const a = nHeads * dHead;
  // Parameter counts (same layout as shape.ts countParams, inlined for speed; tested to agree).
  const perBlock = dModel * 3 * a + 3 * a + a * dModel + dModel + dModel * dFf + dFf + dFf * dModel + dModel + 4 * dModel;
  const finalLN = 2 * dModel;
  const embed = V * dModel + T * dModel + (ctx.tiedEmbeddings ? 0 : V * dModel);
  const matmulExtra = finalLN + V * dModel; // LM-head matmul counted by PaLM/nanoGPT
  const shapeForAct = { vocab: V, seq: T, dModel, nLayers: 1, nHeads, dHead, dFf, tiedEmbeddings: ctx.tiedEmbeddings, positionEmbedding: 'learned' as const, bias: true };
  const actPerBlockPerSeq = activationBytesPerSequence(shapeForAct, ctx.trainingPrecision, ctx.flashAttention);
  const logitPerSeq = logitBytesPerSequence(shapeForAct);
  const sb = stateBytesPerParam(ctx.trainingPrecision);
  const stateBytes = sb.weights + sb.gradients + sb.optimizer;
  const hw = ctx.hardware;
  const peak = hw ? peakFlops(hw, ctx.precision) : 0;
  // Block/head seconds per micro-batch 2^i, filled lazily.
  const blockT = new Float64Array(LOG2_MAX + 1).fill(-1);
  const headT = new Float64Array(LOG2_MAX + 1).fill(-1);
  const stepOpts = (b: number): StepTimeOptions => ({ precision: ctx.precision, mfu: ctx.mfu, microBatch: b, flashAttention: ctx.flashAttention });

  return {
    at(L, budget, limits, fixedMicroBatch) {
      const nonEmbedding = L * perBlock + finalLN;
      const params = nonEmbedding + embed;
      if (limits?.maxParams !== undefined && params > limits.maxParams) return 'maxParams';
      let fpt: number;
      switch (ctx.flopsConvention) {
        case 'palm':
          fpt = 6 * (L * perBlock + matmulExtra) + 12 * L * a * T;
          break;
        case 'kaplan':
          fpt = 3 * (2 * nonEmbedding + 2 * L * T * a);
          break;
        case 'megatron':
          fpt = 96 * L * dModel * dModel * (1 + T / (6 * dModel) + V / (16 * L * dModel));
          break;
        case '6n':
          fpt = 6 * params;
          break;
      }
      const palmFpt = 6 * (L * perBlock + matmulExtra) + 12 * L * a * T;
      // Micro-batch: a fixed one (evaluate) or the largest power of two that fits (search).
      const states = stateBytes * params;
      const perSeq = L * actPerBlockPerSeq + logitPerSeq;
      let b: number;
      if (fixedMicroBatch !== undefined) {
        b = fixedMicroBatch;
      } else if (!Number.isFinite(ctx.memoryCapacityBytes)) {
        b = 1; // no GPU, no memory limit: report the minimum (micro-batch 1)
      } else {
        const fit = Math.floor((ctx.memoryCapacityBytes - states) / perSeq);
        if (!(fit >= 1)) return 'memory';
        const cap = Math.min(fit, ctx.maxMicroBatch);
        b = 2 ** Math.floor(Math.log2(cap));
      }
      const memBytes = states + b * perSeq;
      let secondsPerToken = NaN;
      if (hw) {
        const i = Math.log2(b);
        let bt: number;
        let ht: number;
        if (Number.isInteger(i) && i <= LOG2_MAX) {
          if (blockT[i] < 0) {
            blockT[i] = blockSeconds(dModel, nHeads, dHead, dFf, T, hw, stepOpts(b));
            headT[i] = headSeconds(dModel, V, T, hw, stepOpts(b));
          }
          bt = blockT[i];
          ht = headT[i];
        } else {
          bt = blockSeconds(dModel, nHeads, dHead, dFf, T, hw, stepOpts(b));
          ht = headSeconds(dModel, V, T, hw, stepOpts(b));
        }
        const perRound = b * T * ctx.gpus;
        // Wall seconds per token across all GPUs: micro-steps run in parallel on the GPUs, plus one
        // optimizer update per global batch.
        secondsPerToken = (L * bt + ht) / perRound + optimizerSeconds(params, hw) / Math.max(ctx.globalBatchTokens, perRound);
      }
      let tokens: number;
      if (budget.flops !== undefined) tokens = budget.flops / fpt;
      else tokens = (budget.gpuHours * 3600) / ctx.gpus / secondsPerToken;
      if (!(tokens > 0) || !Number.isFinite(tokens)) return 'noTokens';
      const hours = hw ? (tokens * secondsPerToken) / 3600 : null;
      if (limits?.maxHours !== undefined && hours !== null && hours > limits.maxHours) return 'maxHours';
      const f = ctx.fit;
      const scaling = f.E + f.A / Math.pow(params, f.alpha) + f.B / Math.pow(tokens, f.beta);
      const ratio = dModel / L;
      const pen = shapePenalty(ratio, ctx.parameterization, ctx.penalty);
      return {
        dModel,
        nLayers: L,
        nHeads,
        dHead,
        dFf,
        params,
        nonEmbeddingParams: nonEmbedding,
        tokens,
        tokensPerParam: tokens / params,
        flopsPerToken: fpt,
        trainingFlops: fpt * tokens,
        scalingLoss: scaling,
        penalty: pen,
        predictedLoss: scaling * (1 + pen),
        predictedHours: hours,
        gpuHours: hours === null ? null : hours * ctx.gpus,
        memoryGiB: memBytes / 2 ** 30,
        microBatch: b,
        widthDepthRatio: ratio,
        achievedMfu: hours === null ? null : (palmFpt * tokens) / (hours * 3600 * ctx.gpus * peak),
        pareto: false,
      };
    },
  };
}
