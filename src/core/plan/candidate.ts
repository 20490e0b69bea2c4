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
import type { ComputePrecision } from './gemm';
import { defaultPrecision, DEFAULT_EFFICIENCY, efficiencyOf, peakFlops, resolveHardware, type Efficiency, type HardwareEntry } from './hardware';
import { memoryTerms, memoryTotal, settingLabel, type ParallelSetting, type TrainingPrecision } from './memory';
import { penaltyConstants, shapePenalty, type PenaltyConstants, type PenaltyOverrides } from './penalty';
import { DEFAULT_FIT, getFit, isScalingFitId, type ScalingFit, type ScalingFitId } from './scaling';
import { blockSeconds, DEFAULT_GLOBAL_BATCH_TOKENS, headSeconds, microStepSeconds, optimizerSeconds, planBatch, type StepTimeOptions } from './steptime';

/** A budget: training FLOPs, or total GPU-hours on the chosen hardware (tokens then depend on the shape's speed). */
export type Budget = { flops: number; gpuHours?: undefined } | { gpuHours: number; flops?: undefined };

/** Options common to planning and evaluation. All optional except where noted. */
export interface ContextOptions {
  /** Required for a GPU-hours budget and for time predictions. Name, JSON path, inline JSON, or entry. */
  hardware?: string | Partial<HardwareEntry>;
  gpus?: number; // default DEFAULT_GPUS (1)
  seq?: number; // default 2048
  vocab?: number; // default 50304 (GPT-2's 50257 padded to a multiple of 64, as nanoGPT does)
  parameterization?: Parameterization; // default 'completep'
  fit?: ScalingFitId | ScalingFit; // default 'besiroglu'
  flopsConvention?: FlopsConvention; // default 'palm'
  /**
   * Compute precision (time and memory model). Default: bf16 on GPUs with 16-bit tensor cores (the
   * exported train.py's autocast), fp32 for 'local' (ShapeLab's own fp32 engine), devices without
   * them and no GPU.
   */
  precision?: ComputePrecision;
  /** Overrides the hardware's measured GEMM efficiency (efficiency.gemm) for every GEMM. */
  mfu?: number;
  tiedEmbeddings?: boolean; // default true
  /** SDPA attention that stores no T x T scores. Default: true on a GPU other than 'local' (train.py uses SDPA on CUDA). */
  flashAttention?: boolean;
  /** Allow FSDP sharding / activation checkpointing when they are needed to fit. Default true (the exporter supports both). */
  allowFsdp?: boolean;
  allowCheckpointing?: boolean;
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
  /** The hardware's efficiency at this precision (mfu may override its gemm). */
  efficiency: Efficiency;
  /** Largest micro-batch tried: a power of two <= maxMicroBatch whose GPUs' sequences stay within the global batch. */
  targetMicroBatch: number;
  /** Memory settings tried, cheapest first. */
  settings: ParallelSetting[];
  tiedEmbeddings: boolean;
  flashAttention: boolean;
  memoryCapacityBytes: number;
  maxMicroBatch: number;
  globalBatchTokens: number;
  penalty: PenaltyConstants;
}

export const DEFAULT_SEQ = 2048;
/** GPUs when none are given: one, in the CLI and the planner webview alike. */
export const DEFAULT_GPUS = 1;
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
  const precision = o.precision ?? defaultPrecision(hardware);
  if (precision !== 'fp32' && precision !== 'bf16') throw new PlanInputError(`precision must be fp32 or bf16 (got ${precision})`);
  const efficiency = hardware ? efficiencyOf(hardware, precision) : DEFAULT_EFFICIENCY;
  const mfu = o.mfu ?? efficiency.gemm;
  // A lower bound keeps predicted times finite (an MFU of 5e-324 divides them into Infinity).
  if (!(mfu >= 1e-6 && mfu <= 1)) throw new PlanInputError(`mfu must be in [1e-6, 1] (got ${mfu})`);
  const headroom = o.memoryHeadroom ?? 0.9;
  if (!(headroom > 0 && headroom <= 1)) throw new PlanInputError(`memoryHeadroom must be in (0, 1] (got ${headroom})`);
  if (o.maxMemoryGiB !== undefined) requirePositive(o.maxMemoryGiB, 'maxMemoryGiB');
  const memoryCapacityBytes = o.maxMemoryGiB !== undefined ? o.maxMemoryGiB * 2 ** 30 : hardware ? hardware.memoryGB * 1e9 * headroom : Infinity;
  const globalBatchTokens = o.globalBatchTokens ?? DEFAULT_GLOBAL_BATCH_TOKENS;
  requirePositive(globalBatchTokens, 'globalBatchTokens');
  const gpus = posInt(o.gpus ?? DEFAULT_GPUS, 'gpus');
  const seq = posInt(o.seq ?? DEFAULT_SEQ, 'seq');
  const maxMicroBatch = posInt(o.maxMicroBatch ?? 16, 'maxMicroBatch');
  // The GPUs' micro-batches together should not exceed the global batch (more GPUs: smaller micro-batches).
  const perGpuSeqs = Math.max(1, Math.floor(globalBatchTokens / (seq * gpus)));
  const targetMicroBatch = 2 ** Math.floor(Math.log2(Math.min(maxMicroBatch, perGpuSeqs)));
  const allowFsdp = (o.allowFsdp ?? true) && gpus > 1;
  const allowCkpt = o.allowCheckpointing ?? true;
  const settings: ParallelSetting[] = [{ fsdp: false, activationCheckpointing: false }];
  if (allowFsdp) settings.push({ fsdp: true, activationCheckpointing: false });
  if (allowCkpt) settings.push({ fsdp: false, activationCheckpointing: true });
  if (allowFsdp && allowCkpt) settings.push({ fsdp: true, activationCheckpointing: true });
  return {
    hardware,
    gpus,
    seq,
    vocab: posInt(o.vocab ?? DEFAULT_VOCAB, 'vocab'),
    parameterization,
    fit: getFit(fitArg),
    flopsConvention,
    precision,
    trainingPrecision: precision === 'fp32' ? 'fp32' : 'bf16-mixed',
    mfu,
    efficiency,
    targetMicroBatch,
    settings,
    tiedEmbeddings: o.tiedEmbeddings ?? true,
    flashAttention: o.flashAttention ?? (hardware !== undefined && hardware.name !== 'local'),
    memoryCapacityBytes,
    maxMicroBatch,
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
  /** Per-GPU training memory at `microBatch` under the chosen memory setting, GiB. */
  memoryGiB: number;
  /** Sequences per GPU per micro-step. */
  microBatch: number;
  /** The memory setting chosen (the cheapest that fits): FSDP sharding over the GPUs, activation checkpointing. */
  fsdp: boolean;
  activationCheckpointing: boolean;
  /** 'DDP', 'FSDP', 'DDP+ckpt', 'FSDP+ckpt' ('1 GPU', '1 GPU+ckpt' on one GPU). */
  memorySetting: string;
  /** Sequences per micro-step over all GPUs (microBatch x gpus) and micro-steps per optimizer step. */
  batchSize: number;
  gradAccum: number;
  /** Optimizer steps the token budget makes at that batch. */
  optimizerSteps: number;
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
  at(nLayers: number, budget: Budget, limits?: { maxParams?: number; maxHours?: number }, microBatch?: number, opts?: AtOptions): Candidate | Rejection;
  /** Predicted loss at depth L for a FLOP budget, whatever the memory (no time model); NaN for a GPU-hours budget. */
  lossAt(nLayers: number, budget: Budget): number;
}

export interface AtOptions {
  /** Evaluate as if memory were unlimited (how good would the shape be if it fit?). */
  ignoreMemory?: boolean;
  /** Use this memory setting instead of choosing one (evaluation of a setting that does not fit). */
  setting?: ParallelSetting;
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
  const terms = memoryTerms(shapeForAct, ctx.trainingPrecision, ctx.flashAttention);
  const memTotal = memoryTotal; // a local binding: the hot loop skips the module's export accessor
  const hw = ctx.hardware;
  const peak = hw ? peakFlops(hw, ctx.precision) : 0;
  // Block/head seconds per micro-batch 2^i, filled lazily.
  const blockT = new Float64Array(LOG2_MAX + 1).fill(-1);
  const headT = new Float64Array(LOG2_MAX + 1).fill(-1);
  const stepOpts = (b: number): StepTimeOptions => ({ precision: ctx.precision, mfu: ctx.mfu, microBatch: b, flashAttention: ctx.flashAttention });
  const times = (b: number): [number, number] => {
    const hwx = hw as HardwareEntry;
    const i = Math.log2(b);
    if (Number.isInteger(i) && i <= LOG2_MAX) {
      if (blockT[i] < 0) {
        blockT[i] = blockSeconds(dModel, nHeads, dHead, dFf, T, hwx, stepOpts(b));
        headT[i] = headSeconds(dModel, V, T, hwx, stepOpts(b));
      }
      return [blockT[i], headT[i]];
    }
    return [blockSeconds(dModel, nHeads, dHead, dFf, T, hwx, stepOpts(b)), headSeconds(dModel, V, T, hwx, stepOpts(b))];
  };
  const eff = ctx.efficiency;
  const globalSeqs = Math.max(1, Math.round(ctx.globalBatchTokens / T));
  /** Wall seconds per token over all GPUs: micro-steps in parallel, one (sharded) AdamW update per optimizer step. */
  const secondsPerToken = (L: number, params: number, b: number, s: ParallelSetting): number => {
    const [bt, ht] = times(b);
    const micro = microStepSeconds(L, bt, ht, { layerMs: eff.layerMs, stepMs: eff.stepMs, activationCheckpointing: s.activationCheckpointing });
    const perRound = b * ctx.gpus;
    const tokensPerStep = perRound * Math.max(1, Math.ceil(globalSeqs / perRound)) * T; // = planBatch(...).tokensPerStep
    return micro / (perRound * T) + optimizerSeconds(s.fsdp ? params / ctx.gpus : params, hw as HardwareEntry) / tokensPerStep;
  };

  const fptOf = (L: number, params: number, nonEmbedding: number): number => {
    switch (ctx.flopsConvention) {
      case 'palm':
        return 6 * (L * perBlock + matmulExtra) + 12 * L * a * T;
      case 'kaplan':
        return 3 * (2 * nonEmbedding + 2 * L * T * a);
      case 'megatron':
        return 96 * L * dModel * dModel * (1 + T / (6 * dModel) + V / (16 * L * dModel));
      case '6n':
        return 6 * params;
    }
  };
  return {
    lossAt(L, budget) {
      if (budget.flops === undefined) return NaN;
      const nonEmbedding = L * perBlock + finalLN;
      const params = nonEmbedding + embed;
      const tokens = budget.flops / fptOf(L, params, nonEmbedding);
      const f = ctx.fit;
      const scaling = f.E + f.A / Math.pow(params, f.alpha) + f.B / Math.pow(tokens, f.beta);
      return scaling * (1 + shapePenalty(dModel / L, ctx.parameterization, ctx.penalty));
    },
    at(L, budget, limits, fixedMicroBatch, opts) {
      const nonEmbedding = L * perBlock + finalLN;
      const params = nonEmbedding + embed;
      if (limits?.maxParams !== undefined && params > limits.maxParams) return 'maxParams';
      const fpt = fptOf(L, params, nonEmbedding);
      const palmFpt = 6 * (L * perBlock + matmulExtra) + 12 * L * a * T;
      // Memory setting and micro-batch: for each micro-batch (the target, then halving; or the fixed
      // one), the first setting in cheapest-first order that fits; among those the fastest (no GPU:
      // the largest micro-batch). Sharding and recompute are only paid for when needed.
      const cap = opts?.ignoreMemory ? Infinity : ctx.memoryCapacityBytes;
      const top = fixedMicroBatch ?? (!hw && !Number.isFinite(cap) ? 1 : ctx.targetMicroBatch);
      let b = 0;
      let setting: ParallelSetting = ctx.settings[0];
      let mem = 0;
      let spt = Infinity;
      for (let mb = top; mb >= 1; mb = fixedMicroBatch !== undefined ? 0 : mb / 2) {
        const tried = opts?.setting ? [opts.setting] : ctx.settings;
        for (const st of tried) {
          const m = memTotal(terms, params, L, ctx.gpus, st.fsdp, st.activationCheckpointing, mb);
          if (!(m <= cap) && !opts?.setting) continue;
          const t = hw ? secondsPerToken(L, params, mb, st) : NaN;
          if (b === 0 || (hw && t < spt * (1 - 1e-9))) {
            b = mb;
            setting = st;
            mem = m;
            spt = t;
          }
          // The plainest setting fits: a smaller micro-batch with it is no faster.
          if (st === ctx.settings[0]) mb = 0;
          break;
        }
        if (b > 0 && !hw) break;
      }
      if (b === 0) return 'memory';
      const memBytes = mem;
      const secondsPerToken_ = spt;
      const batch = planBatch(b, ctx.gpus, T, ctx.globalBatchTokens);
      let tokens: number;
      if (budget.flops !== undefined) tokens = budget.flops / fpt;
      else tokens = (budget.gpuHours * 3600) / ctx.gpus / secondsPerToken_;
      if (!(tokens > 0) || !Number.isFinite(tokens)) return 'noTokens';
      const hours = hw ? (tokens * secondsPerToken_) / 3600 : null;
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
        fsdp: setting.fsdp,
        activationCheckpointing: setting.activationCheckpointing,
        memorySetting: settingLabel(setting, ctx.gpus),
        batchSize: batch.batchSize,
        gradAccum: batch.gradAccum,
        optimizerSteps: tokens / batch.tokensPerStep,
        widthDepthRatio: ratio,
        achievedMfu: hours === null ? null : (palmFpt * tokens) / (hours * 3600 * ctx.gpus * peak),
        pareto: false,
      };
    },
  };
}
