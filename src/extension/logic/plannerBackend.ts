/**
 * The planner webview's backend: validated PlanRequest (webview vocabulary) -> core planner
 * (src/core/plan) -> view models. No `vscode` import.
 *
 * Security: the webview names hardware only by an id from the list we sent it; we pass the
 * resolved entry object to the core, never the raw string (the core would read a `.json` path
 * or parse inline JSON from a string).
 */
import {
  DEFAULT_BASE, DEFAULT_GLOBAL_BATCH_TOKENS, DEFAULT_GPUS, DEFAULT_SEQ, DEFAULT_VOCAB, evaluateShape, listHardware, loadLocalHardware, planBatch as corePlanBatch, planShapes, transfer, validateEntry,
  type Candidate, type GrowthPlan, type HardwareEntry, type PlanRequest as CorePlanRequest, type PlanResult,
} from '../../core/plan';
import { gib, transferCaveat } from '../../core/plan/format';
import type { HardwareVM, PlanRequest, ShapeDetailVM, ShapeVM, SourcedValue, ParameterizationId } from '../../../webview/shared/messages';

export interface HardwareList {
  entries: Map<string, HardwareEntry>;
  vms: HardwareVM[];
  problems: string[];
}

export function buildHardwareList(extraRaw: unknown[]): HardwareList {
  const entries = new Map<string, HardwareEntry>();
  const problems: string[] = [];
  for (const e of listHardware()) entries.set(e.name, e);
  try {
    const local = loadLocalHardware();
    if (local) entries.set('local', local);
  } catch (e) {
    problems.push((e as Error).message);
  }
  extraRaw.forEach((raw, i) => {
    try {
      const e = validateEntry(raw, `shapelab.extraHardware[${i}]`);
      e.sourceKind = 'user';
      entries.set(e.name, e);
    } catch (err) {
      problems.push((err as Error).message);
    }
  });
  const vms: HardwareVM[] = [...entries.values()].map((e) => ({
    id: e.name,
    name: e.displayName ?? e.name,
    tflops16: e.bf16Tflops ?? null,
    tflops32: e.fp32Tflops,
    memoryGB: e.memoryGB,
    source: `${e.source} [${e.sourceKind}]`,
  }));
  return { entries, vms, problems };
}

export function defaultRequest(gpu: string, parameterization: ParameterizationId, hw: HardwareList): PlanRequest {
  const g = gpu.toLowerCase();
  const hit = hw.entries.has(g) ? g : [...hw.entries.values()].find((e) => (e.aliases ?? []).includes(g))?.name;
  return {
    budgetKind: 'flops',
    budget: 1e20,
    gpu: hit ?? 'h100-sxm',
    gpuCount: DEFAULT_GPUS,
    context: DEFAULT_SEQ,
    vocab: DEFAULT_VOCAB,
    parameterization,
    fit: 'besiroglu',
    base: { ...DEFAULT_BASE },
    constraints: {},
  };
}

export class PlannerError extends Error {}

export function shapeId(c: { dModel: number; nLayers: number; nHeads: number; dFf: number }): string {
  return `d${c.dModel}-L${c.nLayers}-h${c.nHeads}-f${c.dFf}`;
}

function toCore(req: PlanRequest, hw: HardwareList): CorePlanRequest {
  const entry = hw.entries.get(req.gpu);
  if (!entry) throw new PlannerError(`unknown GPU '${req.gpu}'`);
  const c = req.constraints;
  return {
    budget: req.budgetKind === 'flops' ? { flops: req.budget } : { gpuHours: req.budget },
    hardware: { ...entry },
    gpus: req.gpuCount,
    seq: req.context,
    vocab: req.vocab,
    parameterization: req.parameterization,
    fit: req.fit,
    // undefined: the core's default for the GPU (bf16 on tensor-core GPUs, fp32 for 'local')
    precision: req.precision,
    maxMemoryGiB: c.maxMemoryGB,
    search: {
      minLayers: c.minDepth,
      maxLayers: c.maxDepth,
      dModelMax: c.maxWidth,
      dHeads: c.headDim ? [c.headDim] : undefined,
    },
    top: 40,
  };
}

function toVM(c: Candidate): ShapeVM {
  return {
    id: shapeId(c),
    dModel: c.dModel,
    nLayers: c.nLayers,
    nHeads: c.nHeads,
    dHead: c.dHead,
    dFf: c.dFf,
    params: c.params,
    tokens: c.tokens,
    tokensPerParam: c.tokensPerParam,
    flops: c.trainingFlops,
    hours: c.predictedHours,
    gpuHours: c.gpuHours,
    predictedLoss: c.predictedLoss,
    penalty: c.penalty,
    memoryGiB: c.memoryGiB,
    microBatch: c.microBatch,
    memorySetting: c.memorySetting,
    fsdp: c.fsdp,
    activationCheckpointing: c.activationCheckpointing,
    mfu: c.achievedMfu,
    pareto: c.pareto,
  };
}

export interface PlanOutput {
  shapes: ShapeVM[];
  warnings: string[];
  sources: SourcedValue[];
  raw: PlanResult;
}

export function runPlan(req: PlanRequest, hw: HardwareList): PlanOutput {
  const raw = planShapes(toCore(req, hw));
  // Table: the top candidates plus every Pareto point (the chart needs the whole front).
  const byId = new Map<string, ShapeVM>();
  for (const c of raw.candidates) byId.set(shapeId(c), toVM(c));
  for (const c of raw.pareto) if (!byId.has(shapeId(c))) byId.set(shapeId(c), toVM(c));
  const ctx = raw.context;
  const sources: SourcedValue[] = [
    { name: 'scaling fit', value: ctx.fit.name, source: `${ctx.fit.source}; valid for ${ctx.fit.validity}` },
    { name: 'FLOPs per token', value: ctx.flopsConvention.formula, source: ctx.flopsConvention.source },
    { name: 'efficiency', value: `GEMMs at ${ctx.mfu} x peak, +${ctx.efficiency.layerMs} ms/block, +${ctx.efficiency.stepMs} ms/micro-step`, source: `${ctx.efficiency.source}; time model in src/core/plan/steptime.ts` },
    {
      name: 'precision',
      value: ctx.precision,
      source: ctx.precision === 'bf16' ? 'the exported train.py: bf16 autocast, fp32 master weights, gradients and AdamW state' : "fp32: ShapeLab's own trainer (onnxruntime-node) and GPUs without bf16 tensor cores",
    },
  ];
  if (ctx.hardware) sources.unshift({ name: 'GPU', value: `${ctx.hardware.displayName}, ${ctx.hardware.peakTflops} TFLOP/s peak (${ctx.precision})`, source: `${ctx.hardware.source} [${ctx.hardware.sourceKind}]` });
  if (raw.reference) {
    const r = raw.reference;
    sources.push({ name: 'compute-optimal (6ND)', value: `N ${r.computeOptimal.params.toExponential(2)}, D ${r.computeOptimal.tokens.toExponential(2)}`, source: ctx.fit.source });
    sources.push({ name: '20 tokens/param (6ND)', value: `N ${r.fixedTokensPerParam.params.toExponential(2)}, D ${r.fixedTokensPerParam.tokens.toExponential(2)}`, source: 'CompleteP (Dey et al. 2025) used 20 TPP' });
  }
  const warnings = [...raw.warnings, ...raw.notes];
  if (!raw.candidates.length) {
    const rj = raw.stats.rejected;
    warnings.unshift(`No shape fits: ${raw.stats.enumerated} enumerated, rejected for memory ${rj.memory}, max params ${rj.maxParams}, max hours ${rj.maxHours}, no tokens ${rj.noTokens}. Relax the constraints or add GPUs.`);
  }
  return { shapes: [...byId.values()], warnings, sources, raw };
}

export function shapeDetail(shape: ShapeVM, req: PlanRequest, hw: HardwareList): ShapeDetailVM {
  return detailWithGrowth(shape, req, hw).detail;
}

interface Parallel {
  fsdp: boolean;
  activationCheckpointing: boolean;
  microBatch: number;
  precision: string;
}

function detailWithGrowth(shape: ShapeVM, req: PlanRequest, hw: HardwareList): { detail: ShapeDetailVM; growthPlan: GrowthPlan; batch: PlanBatch; parallel: Parallel } {
  const core = toCore(req, hw);
  const ev = evaluateShape({
    hardware: core.hardware,
    gpus: core.gpus,
    seq: core.seq,
    vocab: core.vocab,
    parameterization: core.parameterization,
    fit: core.fit,
    precision: core.precision,
    maxMemoryGiB: core.maxMemoryGiB,
    dModel: shape.dModel,
    nLayers: shape.nLayers,
    nHeads: shape.nHeads,
    dFf: shape.dFf,
    tokens: shape.tokens,
  });
  const tr = transfer(req.base, { width: shape.dModel, depth: shape.nLayers }, req.parameterization);
  const paperSrc = 'Dey et al. 2025, arXiv 2505.01618, Table 1 (src/core/param/parameterization.ts)';
  const hparams = Object.entries(tr.groups).map(([group, g]) => ({ group, initStd: g.initStd, lr: g.lr, eps: g.eps, weightDecay: g.weightDecay }));
  const multipliers: SourcedValue[] = [
    { name: 'alpha (depth exponent)', value: String(tr.alpha), source: paperSrc },
    { name: 'm_N = width / base width', value: `${tr.mN}`, source: paperSrc },
    { name: 'm_L = depth / base depth', value: `${tr.mL}`, source: paperSrc },
    { name: 'residual multiplier', value: tr.residualMultiplier.toPrecision(4), source: paperSrc },
    { name: 'output (logit) multiplier', value: tr.outputMultiplier.toPrecision(4), source: paperSrc },
    { name: 'attention scale', value: `${tr.attentionScaleRule === 'inverse' ? '1/d_head' : '1/sqrt(d_head)'} = ${tr.attentionScale(shape.dHead).toPrecision(4)}`, source: paperSrc },
  ];
  const GIB = 2 ** 30;
  const m = ev.memory;
  const sharded = m.shards > 1 ? ` (sharded over ${m.shards} GPUs)` : '';
  const memory = [
    { part: `weights, fp32${sharded}`, gib: m.weights / GIB },
    { part: `gradients, fp32${sharded}`, gib: m.gradients / GIB },
    { part: `optimizer (AdamW moments, fp32)${sharded}`, gib: m.optimizer / GIB },
    { part: ev.fsdp ? 'gathered blocks (FSDP)' : ev.precision === 'bf16' ? 'bf16 weight copies' + (req.gpuCount > 1 ? ' + DDP buckets' : '') : 'DDP gradient buckets', gib: m.transient / GIB },
    { part: `activations (micro-batch ${ev.microBatch}${ev.activationCheckpointing ? ', checkpointed' : ''})`, gib: (m.activations - m.logits) / GIB },
    { part: 'logits + their gradient', gib: m.logits / GIB },
    { part: 'total', gib: m.total / GIB },
  ];
  const pc = ev.paramCounts as unknown as Record<string, number>;
  const paramCounts = Object.entries(pc)
    .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
    .map(([part, count]) => ({ part, count }));
  const g = ev.growth;
  const growth = [
    { stage: `1. train the small model (${g.smallModel.nLayers ?? '?'} layers)`, depth: g.smallModel.nLayers ?? 0, params: g.smallModel.params, tokens: g.growthTokens, flopsShare: g.flopSplit.smallFraction },
    { stage: `2. stack x${g.factor} (G_stack) and continue`, depth: shape.nLayers, params: shape.params, tokens: g.flopSplit.largeTokens, flopsShare: 1 - g.flopSplit.smallFraction },
  ];
  const batch = planBatch(ev.microBatch, req.gpuCount, req.context);
  const seqs = batch.batchSize * batch.gradAccum;
  const sources: SourcedValue[] = [
    { name: 'growth timing', value: g.formula, source: g.source },
    ...g.reportedSpeedups.map((s) => ({ name: 'reported', value: s.claim, source: s.source })),
    {
      name: 'memory model',
      value: `${gib(ev.memory.total)} at micro-batch ${ev.microBatch}, ${ev.memorySetting}${ev.fsdp ? ' (FSDP: export passes --fsdp)' : ''}${ev.activationCheckpointing ? ' (activation checkpointing)' : ''}`,
      source: 'ZeRO-3 sharding (Rajbhandari et al. 2020); Korthikanti et al. 2022 activation memory; SDPA without T x T scores; src/core/plan/memory.ts',
    },
    {
      name: 'batch per optimizer step (exported)',
      value: `${req.gpuCount} GPU x micro-batch ${ev.microBatch} x ${batch.gradAccum} accumulated = ${seqs} sequences (${((seqs * req.context) / 1e6).toFixed(2)}M tokens)`,
      source: 'time model global batch 2^19 tokens (src/core/plan/steptime.ts); export: batchSize + gradAccum',
    },
  ];
  const warnings = [...g.warnings];
  if (ev.memoryAdvice) warnings.unshift(ev.memoryAdvice);
  if (req.parameterization === 'alpha0.5' || req.parameterization === 'sp') warnings.push(`the shape penalty for ${req.parameterization} is an assumption, not a paper fit`);
  const caveat = transferCaveat(req.parameterization, shape.dModel, req.base.baseWidth, shape.nLayers, req.base.baseDepth);
  if (caveat) warnings.push(caveat);
  if (shape.nLayers / req.base.baseDepth > 64) warnings.push(`depth ${shape.nLayers} is ${Math.round(shape.nLayers / req.base.baseDepth)}x the base depth: far outside CompleteP's tested transfer range`);
  const parallel = { fsdp: ev.fsdp, activationCheckpointing: ev.activationCheckpointing, microBatch: ev.microBatch, precision: ev.precision };
  return { detail: { shapeId: shape.id, shape, hparams, multipliers, paramCounts, memory, growth, growthFactor: g.factor, sources, warnings }, growthPlan: g, batch, parallel };
}

/**
 * The batch geometry the planner's time and memory model assumed for a shape: every GPU runs its
 * micro-batch (`microBatch` sequences, the memory column), and micro-batches are accumulated up
 * to the global batch of DEFAULT_GLOBAL_BATCH_TOKENS (src/core/plan/steptime.ts). Exported as
 * batchSize (all GPUs' micro-batches together) and gradAccum, so a cluster run trains the batch
 * the plan priced, within the memory it priced.
 */
export interface PlanBatch {
  batchSize: number;
  gradAccum: number;
}

export function planBatch(microBatch: number, gpus: number, context: number): PlanBatch {
  const b = corePlanBatch(microBatch, gpus, context, DEFAULT_GLOBAL_BATCH_TOKENS);
  return { batchSize: b.batchSize, gradAccum: b.gradAccum };
}

/** The JSON written by "Export Plan" (and read by `shapelab train --plan` / `export torch --plan`). */
export function planDocument(shape: ShapeVM, req: PlanRequest, hw: HardwareList, opts: { useGrowth?: boolean } = {}): Record<string, unknown> {
  // The batch the detail pane shows is the one written here (both from the evaluated shape).
  const { detail: d0, growthPlan, batch, parallel } = detailWithGrowth(shape, req, hw);
  const d = { ...d0, parallel };
  const useGrowth = opts.useGrowth ?? growthPlan.recommended;
  return {
    format: 'shapelab-plan',
    version: 1,
    createdAt: new Date().toISOString(),
    label: `plan-${shape.id}`,
    /** Training tokens of the plan (from-scratch run). */
    tokens: Math.round(shape.tokens),
    batchSize: batch.batchSize,
    gradAccum: batch.gradAccum,
    /**
     * Optimizer steps of the plan as exported: from scratch, ceil(tokens / tokens per step); with
     * growth (useGrowth), the grown schedule's (growthTokens + flopSplit.largeTokens). export torch
     * recomputes them the same way from tokens and its growth choice.
     */
    steps: Math.max(1, Math.ceil((useGrowth ? growthPlan.growthTokens + growthPlan.flopSplit.largeTokens : shape.tokens) / (batch.batchSize * batch.gradAccum * req.context))),
    /** The planner counts the LM head tied to the token embedding; the export keeps it tied. */
    shape: { vocab: req.vocab, seq: req.context, dModel: shape.dModel, nLayers: shape.nLayers, nHeads: shape.nHeads, dHead: shape.dHead, dFf: shape.dFf, tiedEmbeddings: true },
    /** The memory setting the planner chose (export: --fsdp, activation checkpointing, micro-batch per GPU). */
    parallel: { gpus: req.gpuCount, fsdp: d.parallel.fsdp, activationCheckpointing: d.parallel.activationCheckpointing, microBatch: d.parallel.microBatch },
    /** Grow in the export: the planner's recommendation (a growth plan without warnings) unless the user chose. */
    useGrowth,
    parameterization: req.parameterization,
    base: req.base,
    budget: req.budgetKind === 'flops' ? { flops: req.budget } : { gpuHours: req.budget },
    hardware: { name: req.gpu, gpus: req.gpuCount, precision: d.parallel.precision },
    fit: req.fit,
    prediction: { params: shape.params, tokens: shape.tokens, loss: shape.predictedLoss, hours: shape.hours, memoryGiB: shape.memoryGiB, microBatch: shape.microBatch },
    hparams: d.hparams,
    /** The planner's G_stack plan (factor, growthTokens, smallModel, flopSplit: src/core/plan/growth.ts). */
    growth: growthPlan,
    growthStages: d.growth,
    growthFactor: d.growthFactor,
    growthFraction: d.growth[0]?.flopsShare,
    warnings: d.warnings,
  };
}
