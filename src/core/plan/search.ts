/**
 * Shape search: enumerate shapes, apply constraints, predict loss and time, rank, Pareto front.
 *
 * Predicted loss = L_fit(N, D) * (1 + penalty(d_model / L, parameterization)) with N total
 * parameters and D = C / flops-per-token (FLOP budget) or the tokens the shape can process in the
 * GPU-hours (GPU-hours budget). Ranked by predicted loss (ties: faster first); the Pareto front is
 * over (predicted loss, predicted wall-clock).
 *
 * Alignment rules built into the enumeration (Anthony et al. 2024, arXiv 2401.14489): d_model a
 * multiple of 64 or 128, d_head in {64, 128}, d_ff rounded to a multiple of 64 (for SwiGLU-like
 * ratios such as 8/3 this searches near, not at, ratio * d_model).
 */
import { makeGroup, resolveContext, type Budget, type Candidate, type Context, type ContextOptions, type Rejection } from './candidate';
import { PlanInputError, requirePositive } from './errors';
import { FLOPS_CONVENTION_INFO } from './flops';
import { growthPlan, type GrowthPlan } from './growth';
import type { Efficiency, HardwareSourceKind } from './hardware';
import { gib, hours as fmtHours, int as fmtInt, si } from './format';
import { memoryTerms, memoryTotal } from './memory';
import { resolveShape } from './shape';
import type { PenaltyConstants } from './penalty';
import { computeOptimal, fixedTokensPerParam, type Allocation, type ScalingFit } from './scaling';

export interface SearchSpace {
  /** d_model step (64 or 128 recommended). Default 128. */
  dModelMultiple?: number;
  dModelMin?: number; // default = dModelMultiple
  dModelMax?: number; // default 16384
  dHeads?: number[]; // default [64, 128]
  minLayers?: number; // default 2 (CompleteP's base depth)
  maxLayers?: number; // default 160
  /** d_ff / d_model ratios; default [4] (GPT-2 MLP). */
  dFfRatios?: number[];
}

export interface PlanRequest extends ContextOptions {
  budget: Budget;
  search?: SearchSpace;
  maxParams?: number;
  /** Drop shapes whose predicted wall-clock exceeds this. */
  maxHours?: number;
  /** Candidates returned, best first. Default 10. */
  top?: number;
  /** G_stack growth factor for the growth plan of the best shape. Default 4. */
  growthFactor?: number;
}

export interface PlanResult {
  /** The resolved inputs, with sources, for display next to the numbers. */
  context: {
    budget: Budget;
    hardware: { name: string; displayName: string; source: string; sourceKind: HardwareSourceKind; peakTflops: number } | null;
    gpus: number;
    seq: number;
    vocab: number;
    parameterization: string;
    fit: { id: string; name: string; source: string; validity: string };
    flopsConvention: { id: string; formula: string; source: string };
    precision: string;
    /** GEMM efficiency used (the hardware's measured one unless overridden). */
    mfu: number;
    /** The hardware's efficiency at this precision, with its source (a placeholder until calibrated). */
    efficiency: Efficiency;
    memoryCapacityGiB: number | null;
    /** Whether attention memory assumes SDPA (no T x T scores). */
    flashAttention: boolean;
    /** LM head tied to the token embedding (counted once in params; the export keeps it tied). */
    tiedEmbeddings: boolean;
  };
  /**
   * Set when a shape that does not fit would be better than every shape that does: the plan is
   * capped by memory. `message` starts with "memory-bound:" and says what would fit it.
   */
  memoryBound: MemoryBound | null;
  /** Loud problems of the plan (memory-bound, too few optimizer steps): show them next to the results. */
  warnings: string[];
  /** Top candidates by predicted loss. */
  candidates: Candidate[];
  /** Loss vs wall-clock Pareto front, fastest first (needs hardware; just the best shape for a GPU-hours budget). */
  pareto: Candidate[];
  best: Candidate | null;
  /** G_stack plan for the best candidate. */
  growth: GrowthPlan | null;
  /** Reference allocations for a FLOP budget (6ND accounting). */
  reference: { computeOptimal: Allocation; fixedTokensPerParam: Allocation } | null;
  penalty: PenaltyConstants;
  stats: { enumerated: number; feasible: number; rejected: Record<Rejection, number>; elapsedMs: number };
  notes: string[];
}

export interface MemoryBound {
  message: string;
  /** The best shape by predicted loss if memory were unlimited. */
  unconstrained: { dModel: number; nLayers: number; nHeads: number; params: number; predictedLoss: number };
  /** Its memory per GPU with every saving the exporter has (FSDP over the GPUs, checkpointing, micro-batch 1), GiB. */
  minimumMemoryGiB: number;
  /** GPUs that FSDP would need to fit it (null when no number of GPUs does: tensor/pipeline parallelism needed). */
  gpusToFit: number | null;
  /** Relative loss gap: best fitting / unconstrained - 1 (null when no shape fits). */
  lossGap: number | null;
}

/** Fewer optimizer steps than this: the batch is too large for the budget (warmup alone often takes ~1k steps). */
export const MIN_OPTIMIZER_STEPS = 1000;

function resolveSpace(s: SearchSpace = {}) {
  const dModelMultiple = s.dModelMultiple ?? 128;
  const space = {
    dModelMultiple,
    dModelMin: s.dModelMin ?? dModelMultiple,
    dModelMax: s.dModelMax ?? 16384,
    dHeads: s.dHeads ?? [64, 128],
    minLayers: s.minLayers ?? 2,
    maxLayers: s.maxLayers ?? 160,
    dFfRatios: s.dFfRatios ?? [4],
  };
  for (const [k, v] of Object.entries(space)) {
    const vals = Array.isArray(v) ? v : [v];
    if (vals.length === 0) throw new PlanInputError(`search.${k} must not be empty`);
    for (const x of vals) if (!(Number.isFinite(x) && x > 0)) throw new PlanInputError(`search.${k} must hold positive numbers (got ${x})`);
  }
  for (const k of ['dModelMultiple', 'dModelMin', 'dModelMax', 'minLayers', 'maxLayers'] as const) {
    if (!Number.isInteger(space[k])) throw new PlanInputError(`search.${k} must be an integer (got ${space[k]})`);
  }
  if (space.dModelMin > space.dModelMax) throw new PlanInputError('search.dModelMin > dModelMax');
  if (space.minLayers > space.maxLayers) throw new PlanInputError('search.minLayers > maxLayers');
  return space;
}

/**
 * Budgets the planner accepts, the same in the CLI and the planner view. FLOPs: 1e9 (a toy run)
 * to 1e30 (about 1e5 x the largest published training runs, ~5e25); GPU-hours: 0.001 (3.6 s) to
 * 1e9. Outside, the scaling fits and the growth fit are meaningless extrapolations.
 */
export const BUDGET_LIMITS = { flops: { min: 1e9, max: 1e30 }, gpuHours: { min: 1e-3, max: 1e9 } } as const;

function validateBudget(b: Budget, ctx: Context): void {
  if (!b || (b.flops === undefined) === (b.gpuHours === undefined)) throw new PlanInputError('budget: give exactly one of flops or gpuHours');
  const check = (v: number, what: string, lim: { min: number; max: number }, show: (x: number) => string) => {
    requirePositive(v, what);
    if (v < lim.min || v > lim.max) throw new PlanInputError(`${what} must be between ${show(lim.min)} and ${show(lim.max)} (got ${show(v)})`);
  };
  if (b.flops !== undefined) check(b.flops, 'budget FLOPs', BUDGET_LIMITS.flops, (x) => x.toExponential().replace('e+', 'e'));
  else {
    check(b.gpuHours as number, 'budget GPU-hours', BUDGET_LIMITS.gpuHours, (x) => String(x));
    if (!ctx.hardware) throw new PlanInputError('a GPU-hours budget needs a GPU');
  }
}

function bandOf(samples: NonNullable<Context['fit']['bootstrap']>, c: Candidate): [number, number] {
  const v = samples.map((f) => (f.E + f.A / Math.pow(c.params, f.alpha) + f.B / Math.pow(c.tokens, f.beta)) * (1 + c.penalty)).sort((a, b) => a - b);
  const q = (p: number) => {
    const pos = (v.length - 1) * p, lo = Math.floor(pos), hi = Math.ceil(pos);
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
  };
  return [q(0.025), q(0.975)];
}

/** Loss vs hours Pareto front (fastest first): keeps each candidate strictly better in loss than every faster one. */
export function paretoFront(cands: Candidate[]): Candidate[] {
  const timed = cands.filter((c) => c.predictedHours !== null);
  timed.sort((x, y) => (x.predictedHours as number) - (y.predictedHours as number) || x.predictedLoss - y.predictedLoss);
  const front: Candidate[] = [];
  let bestLoss = Infinity;
  for (const c of timed) {
    if (c.predictedLoss < bestLoss) {
      front.push(c);
      bestLoss = c.predictedLoss;
    }
  }
  return front;
}

const byLossThenTime = (x: Candidate, y: Candidate) => x.predictedLoss - y.predictedLoss || (x.predictedHours ?? 0) - (y.predictedHours ?? 0);

/** Searches shapes for a budget and returns the ranked candidates, Pareto front and growth plan. */
export function planShapes(req: PlanRequest): PlanResult {
  const t0 = performance.now();
  const ctx = resolveContext(req);
  validateBudget(req.budget, ctx);
  const space = resolveSpace(req.search);
  const top = req.top ?? 10;
  if (!(Number.isInteger(top) && top > 0)) throw new PlanInputError(`top must be a positive integer (got ${top})`);
  if (req.maxParams !== undefined) requirePositive(req.maxParams, 'maxParams');
  if (req.maxHours !== undefined) requirePositive(req.maxHours, 'maxHours');
  const limits = { maxParams: req.maxParams, maxHours: req.maxHours };

  const rejected: Record<Rejection, number> = { memory: 0, maxParams: 0, maxHours: 0, noTokens: 0 };
  const feasible: Candidate[] = [];
  let enumerated = 0;
  // Best shape ignoring memory (to tell a memory-bound plan): by loss alone for a FLOP budget, the
  // full candidate of the winner is built once at the end.
  let unconstrained: Candidate | null = null;
  let uLoss = Infinity;
  let uAt: { group: ReturnType<typeof makeGroup>; L: number } | null = null;
  const dModelStart = Math.ceil(space.dModelMin / space.dModelMultiple) * space.dModelMultiple;
  for (let d = dModelStart; d <= space.dModelMax; d += space.dModelMultiple) {
    for (const dHead of space.dHeads) {
      if (d % dHead !== 0) continue;
      for (const ratio of space.dFfRatios) {
        const dFf = Math.max(64, Math.round((ratio * d) / 64) * 64);
        const group = makeGroup(ctx, d, d / dHead, dHead, dFf);
        for (let L = space.minLayers; L <= space.maxLayers; L++) {
          enumerated++;
          const c = group.at(L, req.budget, limits);
          if (typeof c === 'string') {
            rejected[c]++;
            if (c === 'memory') {
              const loss = group.lossAt(L, req.budget);
              if (Number.isNaN(loss)) {
                const u = group.at(L, req.budget, limits, undefined, { ignoreMemory: true });
                if (typeof u !== 'string' && (!unconstrained || byLossThenTime(u, unconstrained) < 0)) unconstrained = u;
              } else if (loss < uLoss) {
                uLoss = loss;
                uAt = { group, L };
              }
            }
          } else feasible.push(c);
        }
      }
    }
  }

  if (uAt) {
    const u = uAt.group.at(uAt.L, req.budget, limits, undefined, { ignoreMemory: true });
    if (typeof u !== 'string') unconstrained = u;
  }
  const candidates = topK(feasible, top);
  // With a GPU-hours budget every shape runs for the same wall-clock, so the loss-vs-time front
  // collapses to the best shape.
  const pareto = req.budget.gpuHours !== undefined ? candidates.slice(0, 1) : paretoFront(feasible);
  for (const c of pareto) c.pareto = true;
  // A local fit carries bootstrap refits: the shown shapes get a 95% band (computed only for them).
  if (ctx.fit.bootstrap && ctx.fit.bootstrap.length >= 10) for (const c of new Set([...candidates, ...pareto])) c.lossBand = bandOf(ctx.fit.bootstrap, c);
  const best = candidates[0] ?? null;
  let growthNote: string | undefined;
  const growthOf = (b: Candidate): GrowthPlan | null => {
    try {
      return growthPlan({
        params: b.params,
        tokens: b.tokens,
        factor: req.growthFactor,
        shape: { vocab: ctx.vocab, seq: ctx.seq, dModel: b.dModel, nLayers: b.nLayers, nHeads: b.nHeads, dHead: b.dHead, dFf: b.dFf, tiedEmbeddings: ctx.tiedEmbeddings },
        flopsConvention: ctx.flopsConvention,
      });
    } catch (e) {
      // A bad growth factor is the caller's error; a fit with no answer for this budget is a note.
      if (!(e instanceof PlanInputError) || /growth factor/.test(e.message)) throw e;
      growthNote = `no growth plan: ${e.message}`;
      return null;
    }
  };
  const growth = best ? growthOf(best) : null;
  const reference = req.budget.flops !== undefined ? { computeOptimal: computeOptimal(ctx.fit, req.budget.flops), fixedTokensPerParam: fixedTokensPerParam(ctx.fit, req.budget.flops) } : null;

  const notes: string[] = [
    ctx.fit.id === 'local'
      ? `Losses are in the units of your own runs (${ctx.fit.validity}): ${ctx.fit.source}.`
      : `Losses are in the units of the ${ctx.fit.name} fit (its own data and tokenizer): compare them only with each other.`,
    `Shape penalty: ${ctx.penalty.source}.`,
  ];
  if (ctx.vocab % 64 !== 0) notes.push(`vocab ${ctx.vocab} is not a multiple of 64: pad it (Anthony et al. 2024; Megatron pads to 128).`);
  if (growthNote) notes.push(growthNote);
  if (feasible.length === 0) notes.push('no shape satisfies the constraints: raise the budget or memory, or widen the search space.');
  const hw = ctx.hardware;
  const warnings: string[] = [];
  const memoryBound = unconstrained ? memoryBoundOf(unconstrained, best, ctx) : null;
  if (memoryBound) warnings.push(memoryBound.message);
  const beyond = best ? extrapolationOf(ctx.fit, best) : null;
  if (beyond) warnings.push(beyond);
  if (best && best.optimizerSteps < MIN_OPTIMIZER_STEPS) {
    warnings.push(
      `only ${fmtInt(best.optimizerSteps)} optimizer steps: ${ctx.gpus} GPUs x micro-batch ${best.microBatch} x ${ctx.seq} tokens = ${si(best.batchSize * best.gradAccum * ctx.seq)} tokens per step is too large a batch for ${si(best.tokens)} tokens; use fewer GPUs (or a larger budget)`,
    );
  }
  return {
    context: {
      budget: req.budget,
      hardware: hw
        ? { name: hw.name, displayName: hw.displayName ?? hw.name, source: hw.source, sourceKind: hw.sourceKind, peakTflops: (ctx.precision === 'bf16' && hw.bf16Tflops ? hw.bf16Tflops : hw.fp32Tflops) }
        : null,
      gpus: ctx.gpus,
      seq: ctx.seq,
      vocab: ctx.vocab,
      parameterization: ctx.parameterization,
      fit: { id: ctx.fit.id, name: ctx.fit.name, source: ctx.fit.source, validity: ctx.fit.validity },
      flopsConvention: { id: ctx.flopsConvention, formula: FLOPS_CONVENTION_INFO[ctx.flopsConvention].formula, source: FLOPS_CONVENTION_INFO[ctx.flopsConvention].source },
      precision: ctx.precision,
      mfu: ctx.mfu,
      efficiency: { ...ctx.efficiency },
      memoryCapacityGiB: Number.isFinite(ctx.memoryCapacityBytes) ? ctx.memoryCapacityBytes / 2 ** 30 : null,
      flashAttention: ctx.flashAttention,
      tiedEmbeddings: ctx.tiedEmbeddings,
    },
    memoryBound,
    warnings,
    candidates,
    pareto,
    best,
    growth,
    reference,
    penalty: ctx.penalty,
    stats: { enumerated, feasible: feasible.length, rejected, elapsedMs: performance.now() - t0 },
    notes,
  };
}

/**
 * The memory-bound verdict: `u` (best ignoring memory) against the best shape that fits. Null when
 * the fitting shape is within 0.1% of u's loss (memory did not cost anything that matters).
 */
function memoryBoundOf(u: Candidate, best: Candidate | null, ctx: Context): MemoryBound | null {
  const lossGap = best ? best.predictedLoss / u.predictedLoss - 1 : null;
  if (lossGap !== null && lossGap < 1e-3) return null;
  const shape = resolveShape({ vocab: ctx.vocab, seq: ctx.seq, dModel: u.dModel, nLayers: u.nLayers, nHeads: u.nHeads, dHead: u.dHead, dFf: u.dFf, tiedEmbeddings: ctx.tiedEmbeddings });
  const t = memoryTerms(shape, ctx.trainingPrecision, ctx.flashAttention);
  const fsdp = ctx.settings.some((s) => s.fsdp);
  const ckpt = ctx.settings.some((s) => s.activationCheckpointing);
  const min = memoryTotal(t, u.params, u.nLayers, ctx.gpus, fsdp, ckpt, 1);
  // What FSDP over more GPUs leaves: everything but the sharded 16 B/param states.
  const unsharded = memoryTotal(t, u.params, u.nLayers, 2 ** 52, true, ckpt, 1) - (16 * u.params) / 2 ** 52;
  const cap = ctx.memoryCapacityBytes;
  const gpusToFit = unsharded < cap ? Math.max(ctx.gpus + 1, Math.ceil((16 * u.params) / (cap - unsharded))) : null;
  const uName = `${u.dModel} x ${u.nLayers} (${si(u.params)} params)`;
  const fix =
    gpusToFit !== null
      ? `it would fit with FSDP over ${fmtInt(gpusToFit)} GPUs (or GPUs with more memory)`
      : `no number of GPUs fits it with FSDP + activation checkpointing (${gib(unsharded)} per GPU even fully sharded): it needs tensor or pipeline parallelism, which the exporter does not do, or GPUs with more memory`;
  const head = best
    ? `the best shape that fits, ${best.dModel} x ${best.nLayers} (${si(best.params)} params, ${si(best.tokens)} tokens), predicts ${((lossGap as number) * 100).toFixed(2)}% higher loss than ${uName}`
    : `no shape fits; the best would be ${uName}`;
  const timeNote = u.predictedHours !== null ? ` (${fmtHours(u.predictedHours)})` : '';
  return {
    message: `memory-bound: ${head}${timeNote}, which needs ${gib(min)} per GPU at micro-batch 1 with ${fsdp ? 'FSDP + ' : ''}activation checkpointing (usable ${gib(cap)}); ${fix}.`,
    unconstrained: { dModel: u.dModel, nLayers: u.nLayers, nHeads: u.nHeads, params: u.params, predictedLoss: u.predictedLoss },
    minimumMemoryGiB: min / 2 ** 30,
    gpusToFit,
    lossGap,
  };
}

/**
 * The k best by loss. Shapes that differ only in d_head have the same predicted loss (same N, D,
 * N:L), so only the fastest of them is listed. One pass with a small sorted buffer instead of a
 * full sort (the search produces up to ~1e5 candidates).
 */
function topK(all: Candidate[], k: number): Candidate[] {
  const cap = k * 4 + 8; // room for d_head variants before de-duplication
  const buf: Candidate[] = [];
  for (const c of all) {
    if (buf.length < cap) {
      buf.push(c);
      if (buf.length === cap) buf.sort(byLossThenTime);
    } else if (byLossThenTime(c, buf[cap - 1]) < 0) {
      let i = cap - 1;
      while (i > 0 && byLossThenTime(c, buf[i - 1]) < 0) i--;
      buf.splice(i, 0, c);
      buf.pop();
    }
  }
  if (buf.length < cap) buf.sort(byLossThenTime);
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const c of buf) {
    const key = `${c.dModel}/${c.nLayers}/${c.dFf}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
    if (out.length === k) break;
  }
  return out;
}

/**
 * How far the top shape lies outside the runs a local fit was made on. A power law fitted on one
 * decade of N says little about the next two (the fit's held-out error is measured on the largest
 * run, one step out); past a factor EXTRAPOLATION_LIMIT the planner says so instead of a quiet note.
 */
export const EXTRAPOLATION_LIMIT = 4;
export function extrapolationOf(fit: ScalingFit, c: { params: number; tokens: number }): string | null {
  const r = fit.range;
  if (!r) return null;
  const out: string[] = [];
  const f = (x: number) => (x >= 100 ? fmtInt(Math.round(x)) : x.toFixed(1));
  if (c.params > EXTRAPOLATION_LIMIT * r.nMax) out.push(`${f(c.params / r.nMax)}x the largest N (${si(r.nMax)} params)`);
  if (c.params < r.nMin / EXTRAPOLATION_LIMIT) out.push(`${f(r.nMin / c.params)}x below the smallest N (${si(r.nMin)} params)`);
  if (c.tokens > EXTRAPOLATION_LIMIT * r.dMax) out.push(`${f(c.tokens / r.dMax)}x the most tokens (${si(r.dMax)})`);
  if (c.tokens < r.dMin / EXTRAPOLATION_LIMIT) out.push(`${f(r.dMin / c.tokens)}x below the fewest tokens (${si(r.dMin)})`);
  return out.length ? `extrapolating the ${fit.name}: the top shape (${si(c.params)} params, ${si(c.tokens)} tokens) is ${out.join(' and ')} of its runs; its losses and ranking are guesses there: run a study nearer this budget or use a published fit` : null;
}
