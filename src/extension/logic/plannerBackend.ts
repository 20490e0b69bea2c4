/**
 * The planner webview's backend: validated PlanRequest (webview vocabulary) -> core planner
 * (src/core/plan) -> view models. No `vscode` import.
 *
 * Security: the webview names hardware only by an id from the list we sent it; we pass the
 * resolved entry object to the core, never the raw string (the core would read a `.json` path
 * or parse inline JSON from a string).
 */
import { GROWTH_DEFAULTS, describeGrowthPolicy } from '../../core/model/growthDefaults';
import {
  DEFAULT_BASE, DEFAULT_GLOBAL_BATCH_TOKENS, DEFAULT_GPUS, DEFAULT_SEQ, DEFAULT_VOCAB, evaluateShape, listHardware, loadLocalHardware, planBatch as corePlanBatch, planShapes, transfer, validateEntry,
  SCALING_FITS, SCALING_FIT_IDS, findLocalFits, loadLocalFit, type ScalingFit as CoreScalingFit,
  type Candidate, type GrowthPlan, type HardwareEntry, type PlanRequest as CorePlanRequest, type PlanResult,
} from '../../core/plan';
import { PROXY_DEFAULTS, defaultProxyWidth, proxyCost, proxyRunConfig, proxyShape, proxyTransfer, proxyWidthChoices, type PlannedShape, type ProxyData } from '../../core/plan/proxy';
import { gib, transferCaveat } from '../../core/plan/format';
import { defaultPrecision } from '../../core/plan/hardware';
import { LOCAL_FIT_ID, type FitVM, type HardwareVM, type PlanRequest, type ProxyChoice, type ProxyPreviewVM, type ShapeDetailVM, type ShapeVM, type SourcedValue, type ParameterizationId } from '../../../webview/shared/messages';

export interface FitList {
  /** Local fits by the id the webview knows ('local-1', ...); published fits resolve by name. */
  entries: Map<string, CoreScalingFit>;
  vms: FitVM[];
  /** The fit.json behind each local id. */
  files?: Map<string, string>;
}

/**
 * The "Scaling fit" list: the published fits, then the fit.json of every study under the runs
 * folder. Given the previous list, a file keeps its id and a new file gets a number never used
 * before: a study finishing while the planner is open must not turn the user's chosen 'local-1'
 * into another study's fit.
 */
export function buildFitList(runsFolder: string, prev?: FitList): FitList {
  const entries = new Map<string, CoreScalingFit>();
  const files = new Map<string, string>();
  const vms: FitVM[] = SCALING_FIT_IDS.map((k) => SCALING_FITS[k]).map((f) => ({ id: f.id as FitVM['id'], name: f.name, source: f.source, local: false }));
  const idOfFile = new Map([...(prev?.files ?? new Map<string, string>())].map(([id, file]) => [file, id]));
  let next = Math.max(0, ...[...(prev?.files?.keys() ?? [])].map((id) => Number(id.slice('local-'.length)))) + 1;
  for (const e of findLocalFits(runsFolder)) {
    try {
      const f = loadLocalFit(e.file);
      const id = (idOfFile.get(e.file) ?? `local-${next++}`) as `local-${number}`;
      entries.set(id, f);
      files.set(id, e.file);
      vms.push({ id, name: f.name, source: f.source, local: true });
    } catch {
      /* findLocalFits already dropped unreadable files; a race with a rewrite is dropped too */
    }
  }
  return { entries, vms, files };
}

/** The local ids of a list as workspaceState keeps them: [id, fit.json path] pairs. */
export function fitIdsToSave(list: FitList): [string, string][] {
  return [...(list.files ?? new Map<string, string>())];
}

/**
 * A saved [id, path] list (fitIdsToSave) as the `prev` of buildFitList, so after a window reload
 * the planner's saved 'local-2' still means the same study's fit.json (a study finished since
 * would otherwise renumber the list). Anything malformed is dropped.
 */
export function restoreFitIds(v: unknown): FitList | undefined {
  if (!Array.isArray(v)) return undefined;
  const files = new Map<string, string>();
  for (const e of v) if (Array.isArray(e) && typeof e[0] === 'string' && LOCAL_FIT_ID.test(e[0]) && typeof e[1] === 'string') files.set(e[0], e[1]);
  return files.size ? { entries: new Map(), vms: [], files } : undefined;
}

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
    // The CLI's default too: bf16 autocast on GPUs with bf16 tensor cores, fp32 elsewhere and for 'local'.
    precision: defaultPrecision(hw.entries.get(hit ?? 'h100-sxm')),
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

function fitOf(req: PlanRequest, fits?: FitList): CorePlanRequest['fit'] {
  if (req.fit === 'besiroglu' || req.fit === 'chinchilla') return req.fit;
  const f = fits?.entries.get(req.fit);
  if (!f) throw new PlannerError(`unknown scaling fit '${req.fit}' (the list changed? reopen the planner)`);
  return f;
}

function toCore(req: PlanRequest, hw: HardwareList, fits?: FitList): CorePlanRequest {
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
    fit: fitOf(req, fits),
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
    ...(c.lossBand ? { lossBand: c.lossBand } : {}),
  };
}

export interface PlanOutput {
  shapes: ShapeVM[];
  warnings: string[];
  sources: SourcedValue[];
  raw: PlanResult;
}

export function runPlan(req: PlanRequest, hw: HardwareList, fits?: FitList): PlanOutput {
  const raw = planShapes(toCore(req, hw, fits));
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
  const boot = fits?.entries.get(req.fit)?.bootstrap?.length ?? 0;
  if (raw.candidates.some((c) => c.lossBand)) sources.push({ name: 'predicted loss band', value: `95% band over ${boot} bootstrap fits (shaded on the chart)`, source: `${ctx.fit.source}; bootstrap of shapelab fit (src/core/study/lawFit.ts), times each shape's penalty` });
  // raw.warnings first: memory-bound and too-few-optimizer-steps verdicts (src/core/plan/search.ts)
  const warnings = [...raw.warnings, ...raw.notes];
  if (!raw.candidates.length) {
    const rj = raw.stats.rejected;
    warnings.unshift(`No shape fits: ${raw.stats.enumerated} enumerated, rejected for memory ${rj.memory}, max params ${rj.maxParams}, max hours ${rj.maxHours}, no tokens ${rj.noTokens}. Relax the constraints or add GPUs.`);
  }
  return { shapes: [...byId.values()], warnings, sources, raw };
}

export function shapeDetail(shape: ShapeVM, req: PlanRequest, hw: HardwareList, fits?: FitList): ShapeDetailVM {
  return detailWithGrowth(shape, req, hw, fits).detail;
}

interface Parallel {
  fsdp: boolean;
  activationCheckpointing: boolean;
  microBatch: number;
  precision: string;
}

function detailWithGrowth(shape: ShapeVM, req: PlanRequest, hw: HardwareList, fits?: FitList): { detail: ShapeDetailVM; growthPlan: GrowthPlan; batch: PlanBatch; parallel: Parallel } {
  const core = toCore(req, hw, fits);
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
    { stage: `2. stack x${g.factor} (G_stack) and continue: ${describeGrowthPolicy({ ...GROWTH_DEFAULTS, factor: g.factor })}`, depth: shape.nLayers, params: shape.params, tokens: g.flopSplit.largeTokens, flopsShare: 1 - g.flopSplit.smallFraction },
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
  const local = fits?.entries.get(req.fit);
  if (local && shape.lossBand) sources.unshift({ name: 'predicted loss', value: `${shape.predictedLoss.toFixed(4)}, 95% band ${shape.lossBand[0].toFixed(4)}-${shape.lossBand[1].toFixed(4)}`, source: local.source });
  const warnings = [...g.warnings];
  if (ev.memoryAdvice) warnings.unshift(ev.memoryAdvice);
  if (req.parameterization === 'alpha0.5' || req.parameterization === 'sp') warnings.push(`the shape penalty for ${req.parameterization} is an assumption, not a paper fit`);
  const caveat = transferCaveat(req.parameterization, shape.dModel, req.base.baseWidth, shape.nLayers, req.base.baseDepth);
  if (caveat) warnings.push(caveat);
  if (shape.nLayers / req.base.baseDepth > 64) warnings.push(`depth ${shape.nLayers} is ${Math.round(shape.nLayers / req.base.baseDepth)}x the base depth: far outside CompleteP's tested transfer range`);
  const parallel = { fsdp: ev.fsdp, activationCheckpointing: ev.activationCheckpointing, microBatch: ev.microBatch, precision: ev.precision };
  const proxyWidth = defaultProxyWidth(plannedShapeOf(shape, req));
  return { detail: { shapeId: shape.id, shape, hparams, multipliers, paramCounts, memory, growth, growthFactor: g.factor, sources, warnings, proxyWidth }, growthPlan: g, batch, parallel };
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

/** The planned shape a proxy stands in for. */
export function plannedShapeOf(s: ShapeVM, req: PlanRequest): PlannedShape {
  return { dModel: s.dModel, nLayers: s.nLayers, nHeads: s.nHeads, dHead: s.dHead, dFf: s.dFf, seq: req.context };
}

const PROXY_RULE =
  'Proxy = the planned model at its planned depth, made narrower: CompleteP/muP transfer the base hyperparameters across width (Dey et al. 2025, Table 1), and keeping the depth keeps every depth factor (residual multiplier, block LRs and eps) exactly the plan\'s. Head size and d_ff/d_model kept; context and batch only set the local cost (src/core/plan/proxy.ts).';

/** What "Train this" will train for a choice: proxy shape, cost and per-group hyperparameters next to the plan's. Throws ProxyError on a bad width. */
export function proxyPreview(s: ShapeVM, req: PlanRequest, choice: ProxyChoice, dataLabel: string): ProxyPreviewVM {
  const planned = plannedShapeOf(s, req);
  const proxy = proxyShape(planned, { width: choice.width });
  const vocab = choice.tokenizer === 'gpt2' ? 50257 : 256;
  const cost = proxyCost(proxy, vocab);
  const t = proxyTransfer(planned, proxy, req.base, req.parameterization);
  return {
    choice,
    dataLabel,
    planned: { dModel: s.dModel, nLayers: s.nLayers, nHeads: s.nHeads, dHead: s.dHead, dFf: s.dFf, context: req.context },
    proxy: { dModel: proxy.dModel, nLayers: proxy.nLayers, nHeads: proxy.nHeads, dHead: proxy.dHead, dFf: proxy.dFf, context: proxy.context, vocab, batchSize: PROXY_DEFAULTS.batchSize, params: cost.params, flopsPerStep: cost.flopsPerStep },
    widthChoices: proxyWidthChoices(planned),
    defaultWidth: defaultProxyWidth(planned),
    rows: t.rows.map((r) => ({ group: r.group, proxy: { ...r.proxy }, plan: { ...r.plan } })),
    multipliers: [
      { name: 'm_N (width / base width)', proxy: t.proxy.mN, plan: t.plan.mN },
      { name: 'm_L (depth / base depth)', proxy: t.proxy.mL, plan: t.plan.mL },
      { name: 'residual multiplier', proxy: t.proxy.residualMultiplier, plan: t.plan.residualMultiplier },
      { name: 'output (logit) multiplier', proxy: t.proxy.outputMultiplier, plan: t.plan.outputMultiplier },
    ],
    rule: PROXY_RULE,
    notes: t.notes,
  };
}

/** The run config (partial config.json) of a confirmed proxy choice. */
export function proxyConfig(s: ShapeVM, req: PlanRequest, choice: ProxyChoice, data: ProxyData): Record<string, unknown> {
  const proxy = proxyShape(plannedShapeOf(s, req), { width: choice.width });
  return proxyRunConfig(proxy, {
    steps: choice.steps,
    data,
    tokenizer: choice.tokenizer,
    parameterization: req.parameterization,
    base: req.base,
    label: `proxy-d${s.dModel}-L${s.nLayers}`,
  });
}

/** The JSON written by "Export Plan" (and read by `shapelab train --plan` / `export torch --plan`). */
export function planDocument(shape: ShapeVM, req: PlanRequest, hw: HardwareList, fits?: FitList, opts: { useGrowth?: boolean } = {}): Record<string, unknown> {
  // The batch the detail pane shows is the one written here (both from the evaluated shape).
  const { detail: d0, growthPlan, batch, parallel } = detailWithGrowth(shape, req, hw, fits);
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
    // A local fit's id is only meaningful inside this planner session: record its source instead.
    fit: req.fit.startsWith('local-') ? fits?.entries.get(req.fit)?.source ?? req.fit : req.fit,
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
