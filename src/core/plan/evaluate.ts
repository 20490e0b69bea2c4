/**
 * Everything the planner knows about one given shape -- what the peer calculators (EleutherAI
 * cookbook, llm-analysis, ...) do, plus predicted loss and a growth plan.
 */
import { makeGroup, resolveContext, type Candidate, type ContextOptions } from './candidate';
import { PlanInputError, requirePositive } from './errors';
import { flopsPerTokenAllConventions, FLOPS_CONVENTION_INFO, type FlopsConvention } from './flops';
import { growthPlan, type GrowthPlan } from './growth';
import { trainingMemory, type MemoryBreakdown } from './memory';
import { countParams, resolveShape, type ParamCounts } from './shape';
import { stepTime, type StepTime } from './steptime';

export interface EvaluateRequest extends ContextOptions {
  dModel: number;
  nLayers: number;
  /** Default d_model / 64 (or / 128 when 64 does not divide d_model). */
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
  /** False when even micro-batch 1 exceeds the GPU's usable memory (numbers are then shown at micro-batch 1). */
  fitsInMemory: boolean;
  paramCounts: ParamCounts;
  flopsPerTokenByConvention: Record<FlopsConvention, number>;
  flopsConvention: string;
  memory: MemoryBreakdown;
  step: StepTime | null;
  hardware: { name: string; source: string } | null;
  gpus: number;
  seq: number;
  vocab: number;
  parameterization: string;
  fit: string;
  growth: GrowthPlan;
}

export function defaultHeads(dModel: number): number {
  if (dModel % 64 === 0) return dModel / 64;
  if (dModel % 128 === 0) return dModel / 128;
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
  if (c === 'memory') {
    // Report the shape anyway at micro-batch 1, flagged as not fitting.
    microBatch = 1;
    c = group.at(shape.nLayers, { flops }, undefined, 1);
  }
  if (typeof c === 'string') throw new PlanInputError(`cannot evaluate this shape (${c})`);
  const cand = c;
  const hw = ctx.hardware;
  return {
    ...cand,
    fitsInMemory: fitsInMemory && cand.memoryGiB * 2 ** 30 <= ctx.memoryCapacityBytes,
    paramCounts: countParams(shape),
    flopsPerTokenByConvention: flopsPerTokenAllConventions(shape),
    flopsConvention: `${ctx.flopsConvention}: ${FLOPS_CONVENTION_INFO[ctx.flopsConvention].formula}`,
    memory: trainingMemory(shape, { microBatch: cand.microBatch, precision: ctx.trainingPrecision, flashAttention: ctx.flashAttention }),
    step: hw ? stepTime(shape, hw, { precision: ctx.precision, mfu: ctx.mfu, microBatch: cand.microBatch, flashAttention: ctx.flashAttention }) : null,
    hardware: hw ? { name: hw.name, source: hw.source } : null,
    gpus: ctx.gpus,
    seq: ctx.seq,
    vocab: ctx.vocab,
    parameterization: ctx.parameterization,
    fit: ctx.fit.name,
    growth: growthPlan({ params: cand.params, tokens: cand.tokens, factor: req.growthFactor, shape, flopsConvention: ctx.flopsConvention }),
  };
}
