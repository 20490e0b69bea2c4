/**
 * Everything the planner knows about one given shape -- what the peer calculators (EleutherAI
 * cookbook, llm-analysis, ...) do, plus predicted loss and a growth plan.
 */
import { makeGroup, resolveContext, type Candidate, type ContextOptions } from './candidate';
import { PlanInputError, requirePositive } from './errors';
import { flopsPerTokenAllConventions, FLOPS_CONVENTION_INFO, type FlopsConvention } from './flops';
import { growthPlan, type GrowthPlan } from './growth';
import { memoryTerms, memoryTotal, trainingMemory, type MemoryBreakdown } from './memory';
import type { Efficiency } from './hardware';
import { countParams, resolveShape, type ParamCounts } from './shape';
import { stepTime, type StepTime } from './steptime';

export interface EvaluateRequest extends ContextOptions {
  dModel: number;
  nLayers: number;
  /** Default d_model / DEFAULT_HEAD_SIZE (128), or d_model / 64 when 128 does not divide it. */
  nHeads?: number;
  /** Default 4 * d_model. */
  dFf?: number;
  /** Exactly one of tokens or flops. */
  tokens?: number;
  flops?: number;
  /** Micro-batch per GPU; default the largest power of two (<= maxMicroBatch) that fits. */
  microBatch?: number;
  growthFactor?: number;
}

export interface Evaluation extends Candidate {
  /**
   * False when even micro-batch 1 with FSDP (on several GPUs) and activation checkpointing exceeds
   * the GPU's usable memory (numbers are then shown for that setting at micro-batch 1).
   */
  fitsInMemory: boolean;
  /** Set when the shape does not fit: what it would need (more GPUs for FSDP, or tensor/pipeline parallelism). */
  memoryAdvice: string | null;
  paramCounts: ParamCounts;
  flopsPerTokenByConvention: Record<FlopsConvention, number>;
  flopsConvention: string;
  memory: MemoryBreakdown;
  step: StepTime | null;
  precision: string;
  efficiency: Efficiency;
  hardware: { name: string; source: string } | null;
  gpus: number;
  seq: number;
  vocab: number;
  parameterization: string;
  fit: string;
  growth: GrowthPlan;
}

/**
 * Head size when none is given, in the CLI and the planner webview alike: 128 (GPT-3 from 2.7B up,
 * Llama; Brown et al. 2020 Table 2.1), which the planner's GEMM model also finds at least as fast as
 * 64 on tensor-core GPUs, so the planner's own pick and `evaluate`'s default agree; 64 (GPT-2)
 * when 128 does not divide d_model.
 */
export const DEFAULT_HEAD_SIZE = 128;

export function defaultHeads(dModel: number): number {
  if (dModel % DEFAULT_HEAD_SIZE === 0) return dModel / DEFAULT_HEAD_SIZE;
  if (dModel % 64 === 0) return dModel / 64;
  throw new PlanInputError(`d_model ${dModel} is not divisible by 64: give --heads`);
}

export function evaluateShape(req: EvaluateRequest): Evaluation {
  const ctx = resolveContext(req);
  if ((req.tokens === undefined) === (req.flops === undefined)) throw new PlanInputError('give exactly one of tokens or flops');
  if (req.tokens !== undefined) requirePositive(req.tokens, 'tokens');
  if (req.flops !== undefined) requirePositive(req.flops, 'flops');
  const nHeads = req.nHeads ?? defaultHeads(req.dModel);
  const shape = resolveShape({ vocab: ctx.vocab, seq: ctx.seq, dModel: req.dModel, nLayers: req.nLayers, nHeads, dFf: req.dFf, tiedEmbeddings: ctx.tiedEmbeddings });
  const group = makeGroup(ctx, shape.dModel, shape.nHeads, shape.dHead, shape.dFf);
  // A token budget is turned into the equivalent FLOP budget under the context's convention, so the
  // candidate code path is the same as the search's.
  const fpt = flopsPerTokenAllConventions(shape)[ctx.flopsConvention];
  const flops = req.flops ?? (req.tokens as number) * fpt;
  let microBatch = req.microBatch;
  if (microBatch !== undefined && !(Number.isInteger(microBatch) && microBatch > 0)) throw new PlanInputError(`microBatch must be a positive integer (got ${microBatch})`);
  let c = group.at(shape.nLayers, { flops }, undefined, microBatch);
  const fitsInMemory = c !== 'memory';
  const most = { fsdp: ctx.settings.some((s) => s.fsdp), activationCheckpointing: ctx.settings.some((s) => s.activationCheckpointing) };
  if (c === 'memory') {
    // Report the shape anyway at micro-batch 1 with every saving, flagged as not fitting.
    microBatch = 1;
    c = group.at(shape.nLayers, { flops }, undefined, 1, { setting: most });
  }
  if (typeof c === 'string') throw new PlanInputError(`cannot evaluate this shape (${c})`);
  const cand = c;
  const hw = ctx.hardware;
  let memoryAdvice: string | null = null;
  if (!fitsInMemory) {
    const t = memoryTerms(shape, ctx.trainingPrecision, ctx.flashAttention);
    const big = 2 ** 52;
    const unsharded = memoryTotal(t, cand.params, shape.nLayers, big, true, most.activationCheckpointing, 1) - (16 * cand.params) / big;
    const cap = ctx.memoryCapacityBytes;
    memoryAdvice =
      unsharded < cap
        ? `memory-bound: does not fit on ${ctx.gpus} GPU${ctx.gpus > 1 ? 's' : ''} even with ${most.fsdp ? 'FSDP + ' : ''}activation checkpointing at micro-batch 1; FSDP over ${Math.ceil((16 * cand.params) / (cap - unsharded))} GPUs would fit it`
        : `memory-bound: needs tensor or pipeline parallelism (not in the exporter) or GPUs with more memory: ${(unsharded / 2 ** 30).toFixed(2)} GiB per GPU even fully sharded, usable ${(cap / 2 ** 30).toFixed(2)} GiB`;
  }
  return {
    ...cand,
    fitsInMemory,
    memoryAdvice,
    paramCounts: countParams(shape),
    flopsPerTokenByConvention: flopsPerTokenAllConventions(shape),
    flopsConvention: `${ctx.flopsConvention}: ${FLOPS_CONVENTION_INFO[ctx.flopsConvention].formula}`,
    memory: trainingMemory(shape, { microBatch: cand.microBatch, precision: ctx.trainingPrecision, flashAttention: ctx.flashAttention, gpus: ctx.gpus, fsdp: cand.fsdp, activationCheckpointing: cand.activationCheckpointing }),
    step: hw
      ? stepTime(shape, hw, {
          precision: ctx.precision,
          mfu: ctx.mfu,
          microBatch: cand.microBatch,
          flashAttention: ctx.flashAttention,
          layerMs: ctx.efficiency.layerMs,
          stepMs: ctx.efficiency.stepMs,
          activationCheckpointing: cand.activationCheckpointing,
          optimizerShards: cand.fsdp ? ctx.gpus : 1,
        })
      : null,
    precision: ctx.precision,
    efficiency: { ...ctx.efficiency },
    hardware: hw ? { name: hw.name, source: hw.source } : null,
    gpus: ctx.gpus,
    seq: ctx.seq,
    vocab: ctx.vocab,
    parameterization: ctx.parameterization,
    fit: ctx.fit.name,
    growth: growthPlan({ params: cand.params, tokens: cand.tokens, factor: req.growthFactor, shape, flopsConvention: ctx.flopsConvention }),
  };
}
