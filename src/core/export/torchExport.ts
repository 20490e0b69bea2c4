/**
 * `shapelab export torch`: writes a self-contained PyTorch training program for torchrun (DDP or
 * FSDP) plus its config. The program is python/shapelab_torch/train.py copied verbatim (the one
 * PyTorch implementation in the repository: it is also the parity reference of the local
 * trainer). Every number that depends on the parameterization -- multipliers, init stds,
 * per-group AdamW lr/eps/weight decay -- is computed here by `transfer()` and written into the
 * config's `transfers` map, one entry per depth the run goes through; Python never re-derives it.
 * docs/torch-export.md describes the config and the program.
 */
import { GROWTH_DEFAULTS, type GrowthDefaults } from '../model/growthDefaults';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GROUPS, transfer, type GroupHparams, type GroupName, type Transfer } from '../param/parameterization';
import { writeShard } from '../data/shards';
import { growthSources } from '../model/growthOrder';
import { checkpointConfigHash, ConfigError, validateConfig, type RunConfig } from '../runs/configSchema';
import type { FlopsConvention } from '../plan/flops';
import { growthPlan, growthSchedule, type GrowthSchedule } from '../plan/growth';
import { planBatch } from '../plan/steptime';
import { countParams } from '../plan/shape';
import { si } from '../plan/format';

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

/** The transfer of one depth as JSON: `Transfer` with attentionScale evaluated for the model's head size. */
export type TransferJson = Omit<Transfer, 'attentionScale'> & { attentionScale: number };

/**
 * config.json of an export, as train.py reads it: the validated ShapeLab run config
 * (src/core/runs/configSchema.ts, field names unchanged) plus a transfer per depth the run goes
 * through and the run config's hash (written into checkpoints, so they load back into ShapeLab).
 */
export type TorchConfig = RunConfig & {
  format: 'shapelab-torch';
  runConfigHash: string;
  transfers: Record<string, TransferJson>;
};

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function pick(o: Obj, names: string[]): unknown {
  for (const n of names) if (o[n] !== undefined) return o[n];
  return undefined;
}

function int(v: unknown, what: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ExportError(`${what} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
  return v;
}

function num(v: unknown, what: string, lo = -Infinity, hi = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new ExportError(`${what} must be a number in [${lo}, ${hi}] (got ${JSON.stringify(v)})`);
  return v;
}

export { growthSources };

/** Depths the run goes through: the initial depth, then the grown depth. */
export function depthsOf(cfg: Pick<RunConfig, 'model' | 'growth'>): number[] {
  const out = [cfg.model.nLayers];
  if (cfg.growth) {
    try {
      out.push(growthSources(cfg.model.nLayers, cfg.growth.factor, cfg.growth.operator).length);
    } catch (e) {
      throw new ExportError(`growth: ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * Validates a ShapeLab run config (a config file, or a run folder's config.json: its `resolved`
 * section is dropped) with validateConfig: defaults from the preset, one-line errors.
 */
export function normalizeRunConfig(raw: unknown): RunConfig {
  if (!isObj(raw)) throw new ExportError('the run config must be a JSON object');
  const { resolved: _resolved, ...rest } = raw;
  void _resolved;
  try {
    return validateConfig(rest);
  } catch (e) {
    if (e instanceof ConfigError) throw new ExportError(e.message);
    throw e;
  }
}

/** One depth's transfer as JSON. */
export function transferJson(cfg: Pick<TorchConfig, 'model' | 'base' | 'parameterization'>, depth: number): TransferJson {
  let t;
  try {
    t = transfer(cfg.base, { width: cfg.model.dModel, depth }, cfg.parameterization);
  } catch (e) {
    throw new ExportError(`transfer: ${(e as Error).message}`);
  }
  const groups = {} as Record<GroupName, GroupHparams>;
  for (const g of GROUPS) groups[g] = { ...t.groups[g] };
  return {
    parameterization: t.parameterization,
    alpha: t.alpha,
    width: t.width,
    depth: t.depth,
    mN: t.mN,
    mL: t.mL,
    groups,
    residualMultiplier: t.residualMultiplier,
    inputMultiplier: t.inputMultiplier,
    outputMultiplier: t.outputMultiplier,
    attentionScale: t.attentionScale(cfg.model.dModel / cfg.model.nHeads),
    attentionScaleRule: t.attentionScaleRule,
  };
}

/**
 * A run folder's config.json as a run config, whoever wrote it: ShapeLab's trainer (with its
 * `resolved` block) or the exported PyTorch program (format 'shapelab-torch': the run config plus
 * transfers, runConfigHash and train.py's `model.vocab` alias). An exported config whose run config
 * no longer matches its runConfigHash was edited after export, and its checkpoints would not
 * load: that is refused here with the reason.
 */
export function runConfigOfFolder(raw: unknown): RunConfig {
  if (!isObj(raw)) throw new ConfigError('config', ['config: expected a JSON object']);
  const { resolved: _r, ...rest } = raw;
  void _r;
  if (rest.format !== 'shapelab-torch') return validateConfig(rest);
  const { format: _f, runConfigHash, transfers: _t, ...cfg } = rest;
  void _f;
  void _t;
  if (isObj(cfg.model) && cfg.model.vocab !== undefined) {
    const { vocab, ...model } = cfg.model;
    if (vocab !== model.vocabSize) throw new ConfigError('model.vocab', [`model.vocab (${JSON.stringify(vocab)}) differs from model.vocabSize (${JSON.stringify(model.vocabSize)})`]);
    cfg.model = model;
  }
  const c = validateConfig(cfg);
  const h = checkpointConfigHash(c);
  if (runConfigHash !== h) throw new ConfigError('runConfigHash', [`runConfigHash ${JSON.stringify(runConfigHash)} does not match the run config (${h}): the exported config.json was edited after export`]);
  return c;
}

/** The config.json train.py reads: the validated run config plus a transfer per depth. */
export function torchConfig(runConfig: unknown): TorchConfig {
  const cfg = normalizeRunConfig(runConfig);
  const transfers: Record<string, TransferJson> = {};
  for (const d of depthsOf(cfg)) transfers[String(d)] = transferJson(cfg, d);
  return { ...cfg, format: 'shapelab-torch', runConfigHash: checkpointConfigHash(cfg), transfers };
}

/**
 * How the exported program is launched, from the plan: GPUs, FSDP, activation checkpointing and
 * the per-GPU micro-batch the planner's memory model chose (config.json's batchSize is the
 * micro-batch of all GPUs together, microBatch x gpus). Written into README.md and launch.sh.
 */
export interface Launch {
  gpus: number;
  fsdp: boolean;
  activationCheckpointing: boolean;
  /** Sequences per GPU per micro-step (null when the plan does not say). */
  microBatch: number | null;
  /** The plan's compute precision (informational: train.py picks bf16 autocast on bf16 GPUs itself). */
  precision: string | null;
}

/** train.py's flag for per-block activation checkpointing (python/shapelab_torch/train.py). */
export const ACTIVATION_CHECKPOINTING_FLAG = '--activation-checkpointing';

export interface PlanExportOptions {
  /** 1-based rank of the candidate in a `shapelab plan --json` document (default 1, the best). */
  pick?: number;
  /** Grow (true) or train from scratch (false); default: the plan's choice (useGrowth), else the planner's recommendation. */
  growth?: boolean;
}

export interface PlanExport {
  runConfig: Obj;
  launch: Launch;
  /** What the export decided and why (growth used or not, which candidate). */
  notes: string[];
}

const DEFAULT_LAUNCH: Launch = { gpus: 1, fsdp: false, activationCheckpointing: false, microBatch: null, precision: null };

function bool(v: unknown, what: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ExportError(`${what} must be true or false (got ${JSON.stringify(v)})`);
  return v;
}

/** The plan in one form, whichever document it came from. */
interface NormalPlan {
  shape: Obj;
  tokens: number;
  batchSize: number;
  gradAccum: number;
  steps?: number;
  growth?: Obj;
  useGrowth?: boolean;
  launch: Launch;
  rest: Obj;
  notes: string[];
}

/**
 * `shapelab plan --json` output: { context, candidates, growth (of the best) }. The candidate
 * `pick` (1-based) becomes the shape; its growth plan is the document's for the best and is
 * recomputed for any other pick.
 */
function fromPlanResult(plan: Obj, pickN: number): NormalPlan {
  const ctx = plan.context as Obj;
  const cands = plan.candidates as unknown[];
  if (cands.length === 0) throw new ExportError('the plan has no candidates (no shape satisfied its constraints)');
  if (!(Number.isInteger(pickN) && pickN >= 1 && pickN <= cands.length)) throw new ExportError(`--pick must be an integer in 1..${cands.length} (the plan lists ${cands.length} candidates; got ${pickN})`);
  const c = cands[pickN - 1];
  if (!isObj(c)) throw new ExportError(`plan.candidates[${pickN - 1}] is not an object`);
  const seq = int(ctx.seq, 'plan.context.seq');
  const vocab = int(ctx.vocab, 'plan.context.vocab');
  const gpus = int(ctx.gpus ?? 1, 'plan.context.gpus');
  const tied = bool(ctx.tiedEmbeddings, 'plan.context.tiedEmbeddings') ?? true;
  const shape: Obj = { vocab, seq, dModel: c.dModel, nLayers: c.nLayers, nHeads: c.nHeads, dFf: c.dFf, tiedEmbeddings: tied };
  const microBatch = int(c.microBatch ?? 1, `plan.candidates[${pickN - 1}].microBatch`);
  const b = c.batchSize !== undefined ? { batchSize: int(c.batchSize, 'candidate.batchSize'), gradAccum: int(c.gradAccum ?? 1, 'candidate.gradAccum') } : planBatch(microBatch, gpus, seq);
  let growth: Obj | undefined;
  if (pickN === 1 && isObj(plan.growth)) growth = plan.growth;
  else {
    try {
      growth = growthPlan({
        params: num(c.params, 'candidate.params', 1),
        tokens: num(c.tokens, 'candidate.tokens', 1),
        factor: isObj(plan.growth) && typeof plan.growth.factor === 'number' ? plan.growth.factor : undefined,
        shape: { vocab, seq, dModel: int(c.dModel, 'candidate.dModel'), nLayers: int(c.nLayers, 'candidate.nLayers'), nHeads: int(c.nHeads, 'candidate.nHeads'), dFf: int(c.dFf, 'candidate.dFf'), tiedEmbeddings: tied },
        flopsConvention: isObj(ctx.flopsConvention) && typeof ctx.flopsConvention.id === 'string' ? (ctx.flopsConvention.id as FlopsConvention) : undefined,
      }) as unknown as Obj;
    } catch {
      growth = undefined; // no growth plan for this budget (the planner notes why); trains from scratch
    }
  }
  const rest: Obj = { label: `plan-d${c.dModel}-L${c.nLayers}${pickN > 1 ? `-pick${pickN}` : ''}` };
  if (typeof ctx.parameterization === 'string') rest.parameterization = ctx.parameterization;
  for (const k of ['base', 'data', 'optimizer', 'schedule', 'seed']) if (plan[k] !== undefined) rest[k] = plan[k];
  return {
    shape,
    tokens: num(c.tokens, 'candidate.tokens', 1),
    ...b,
    growth,
    useGrowth: bool(plan.useGrowth, 'plan.useGrowth'),
    launch: {
      gpus,
      fsdp: bool(c.fsdp, 'candidate.fsdp') ?? false,
      activationCheckpointing: bool(c.activationCheckpointing, 'candidate.activationCheckpointing') ?? false,
      microBatch,
      precision: typeof ctx.precision === 'string' ? ctx.precision : null,
    },
    rest,
    notes: [`candidate ${pickN} of ${cands.length}: d_model ${c.dModel}, ${c.nLayers} blocks, ${c.nHeads} heads`],
  };
}

/** The planner webview's plan document (format 'shapelab-plan') or a hand-written plan with `shape`. */
function fromShapePlan(plan: Obj, shape: Obj): NormalPlan {
  const context = int(pick(shape, ['context', 'seq']), 'plan.shape.seq');
  const hw = isObj(plan.hardware) ? plan.hardware : {};
  const par = isObj(plan.parallel) ? plan.parallel : {};
  const gpus = int(hw.gpus ?? par.gpus ?? 1, 'plan.hardware.gpus');
  const batchSize = int(plan.batchSize ?? 32, 'plan.batchSize');
  const gradAccum = int(plan.gradAccum ?? 1, 'plan.gradAccum');
  const rest: Obj = {};
  for (const k of ['label', 'parameterization', 'base', 'optimizer', 'schedule', 'seed', 'data', 'preset']) if (plan[k] !== undefined) rest[k] = plan[k];
  const fromPlanner = plan.format === 'shapelab-plan';
  return {
    shape: { ...shape, tiedEmbeddings: bool(shape.tiedEmbeddings, 'plan.shape.tiedEmbeddings') ?? true, seq: context },
    tokens: plan.tokens !== undefined ? num(plan.tokens, 'plan.tokens', 1) : NaN,
    batchSize,
    gradAccum,
    // The planner's document's steps assumed growth; the export recomputes them from its choice.
    steps: plan.steps !== undefined && !(fromPlanner && plan.tokens !== undefined) ? int(plan.steps, 'plan.steps') : undefined,
    growth: isObj(plan.growth) ? plan.growth : undefined,
    useGrowth: bool(plan.useGrowth, 'plan.useGrowth'),
    launch: {
      gpus,
      fsdp: bool(par.fsdp, 'plan.parallel.fsdp') ?? false,
      activationCheckpointing: bool(par.activationCheckpointing, 'plan.parallel.activationCheckpointing') ?? false,
      microBatch: par.microBatch !== undefined ? int(par.microBatch, 'plan.parallel.microBatch') : isObj(plan.prediction) && typeof plan.prediction.microBatch === 'number' ? plan.prediction.microBatch : null,
      precision: typeof hw.precision === 'string' ? hw.precision : null,
    },
    rest,
    notes: [],
  };
}

/**
 * A run config and launch settings from a plan: `shapelab plan --json` output (`pick`), the
 * planner webview's plan document, or a hand-written plan (`shape`, `tokens` or `steps`,
 * `batchSize`, `gradAccum`, a planner `growth`). A plan may also embed the run config (`runConfig`).
 *
 * The export trains the plan: the planned depth, width, heads and d_ff, tied embeddings as the
 * planner counts them (default true), its tokens (steps = ceil(tokens / tokens per step)), batch
 * and GPUs. G_stack growth is used only when asked (`growth` option, or the plan's `useGrowth`) or,
 * when neither says, when the planner recommends it (a growth plan without warnings); it then
 * starts at the schedule's base depth and reaches the planned depth exactly (whole or partial
 * stack, growth.ts growthSchedule), after round(growthTokens / tokens per step) steps, and runs the
 * steps of the same FLOP budget (growth tokens + the grown model's tokens).
 */
export function planExport(plan: unknown, opts: PlanExportOptions = {}): PlanExport {
  if (!isObj(plan)) throw new ExportError('the plan must be a JSON object');
  const embedded = pick(plan, ['runConfig', 'config']);
  if (isObj(embedded)) {
    const hw = isObj(plan.hardware) ? plan.hardware : {};
    return { runConfig: embedded, launch: { ...DEFAULT_LAUNCH, gpus: typeof hw.gpus === 'number' && Number.isInteger(hw.gpus) && hw.gpus > 0 ? hw.gpus : 1 }, notes: [] };
  }
  let p: NormalPlan;
  if (isObj(plan.context) && Array.isArray(plan.candidates)) p = fromPlanResult(plan, opts.pick ?? 1);
  else {
    if (opts.pick !== undefined && opts.pick !== 1) throw new ExportError('--pick applies to `shapelab plan --json` output (a list of candidates); this plan holds one shape');
    const shape = pick(plan, ['shape', 'model']);
    if (!isObj(shape)) throw new ExportError("the plan has no 'shape', 'candidates' (shapelab plan --json) or embedded 'runConfig'");
    p = fromShapePlan(plan, shape);
  }
  const shape = p.shape;
  const context = int(shape.seq, 'plan.shape.seq');
  const tokensPerStep = p.batchSize * p.gradAccum * context;
  const targetDepth = int(shape.nLayers, 'plan.shape.nLayers');
  const model: Obj = {
    vocabSize: int(pick(shape, ['vocabSize', 'vocab']), 'plan.shape.vocab'),
    context,
    dModel: int(shape.dModel, 'plan.shape.dModel'),
    nLayers: targetDepth,
    nHeads: int(shape.nHeads, 'plan.shape.nHeads'),
    tiedEmbeddings: shape.tiedEmbeddings,
  };
  if (shape.dFf !== undefined) model.dFf = int(shape.dFf, 'plan.shape.dFf');
  const stepsFor = (tokens: number) => Math.max(1, Math.ceil(tokens / tokensPerStep));
  let steps = p.steps ?? stepsFor(num(p.tokens, 'plan.tokens', 1));
  const out: Obj = { ...p.rest, model, batchSize: p.batchSize };
  if (p.gradAccum > 1) out.gradAccum = p.gradAccum;
  const notes = [...p.notes];
  const g = p.growth;
  if (isObj(g) && g.atStep !== undefined) {
    out.growth = g; // a run config's growth section, as written
  } else if (isObj(g) && isObj(g.smallModel)) {
    const warnings = Array.isArray(g.warnings) ? g.warnings.filter((w): w is string => typeof w === 'string') : [];
    const recommended = typeof g.recommended === 'boolean' ? g.recommended : warnings.length === 0;
    const use = opts.growth ?? p.useGrowth ?? recommended;
    const why = opts.growth !== undefined ? 'as asked' : p.useGrowth !== undefined ? "the plan's choice" : recommended ? 'the planner recommends it' : `the planner warns: ${warnings[0] ?? 'not recommended'}`;
    if (use) {
      const factor = int(g.factor, 'plan.growth.factor');
      if (factor < 2) throw new ExportError(`plan.growth.factor must be >= 2 (got ${factor})`);
      const sched = isObj(g.schedule) && g.schedule.targetDepth === targetDepth ? (g.schedule as unknown as GrowthSchedule) : growthSchedule(targetDepth, factor);
      if (!sched) throw new ExportError(`growth x${factor} cannot reach the planned depth ${targetDepth} from a base of 2 or more blocks; export without growth or plan another depth`);
      model.nLayers = sched.baseDepth;
      const growthTokens = num(g.growthTokens, 'plan.growth.growthTokens', 0);
      const split = isObj(g.flopSplit) ? g.flopSplit : undefined;
      if (split && typeof split.largeTokens === 'number' && !(split.largeTokens > 0)) {
        throw new ExportError(`growth: the small model's phase (${si(growthTokens)} tokens) would use the whole budget, so the planned model would never train; export without growth (the planner does not recommend it here)`);
      }
      if (p.steps === undefined && split && typeof split.largeTokens === 'number') steps = stepsFor(growthTokens + split.largeTokens);
      if (steps < 2) throw new ExportError(`growth needs at least 2 steps (the plan has ${steps})`);
      const atStep = Math.min(steps - 1, Math.max(1, Math.round(growthTokens / tokensPerStep)));
      out.growth = { atStep, factor, operator: sched.operator };
      notes.push(`growth used (${why}): ${sched.description}, after step ${atStep} of ${steps}`);
    } else {
      notes.push(`growth not used (${why}): trains the planned ${targetDepth} blocks from scratch`);
    }
  }
  out.steps = steps;
  return { runConfig: out, launch: p.launch, notes };
}

/** The run config of a plan (planExport without the launch settings). */
export function runConfigFromPlan(plan: unknown, opts: PlanExportOptions = {}): Obj {
  return planExport(plan, opts).runConfig;
}

/** train.py with its growth defaults set from the one source (model/growthDefaults.ts). */
export function withGrowthDefaults(program: string, d: GrowthDefaults = GROWTH_DEFAULTS): string {
  const policies = /^GROWTH_DEFAULTS = \{.*\}$/m, factor = /^GROWTH_DEFAULT_FACTOR = \d+$/m;
  if (!policies.test(program) || !factor.test(program)) throw new ExportError('train.py has no GROWTH_DEFAULTS / GROWTH_DEFAULT_FACTOR lines to set; the installation is inconsistent');
  return program
    .replace(policies, `GROWTH_DEFAULTS = ${JSON.stringify({ multiplierPolicy: d.multiplier, optimizerPolicy: d.optimizer, lrPolicy: d.lr }).replace(/,/g, ', ').replace(/:/g, ': ')}`)
    .replace(factor, `GROWTH_DEFAULT_FACTOR = ${d.factor}`);
}

/** Where train.py lives: next to the bundle (dist/../python) or next to this source file. */
export function findTrainPy(): string {
  const candidates = [
    path.join(__dirname, '..', 'python', 'shapelab_torch', 'train.py'),
    path.join(__dirname, '..', '..', '..', 'python', 'shapelab_torch', 'train.py'),
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new ExportError(`the PyTorch program train.py was not found (looked in ${candidates.join(', ')}); the installation is incomplete`);
}

export interface ExportData {
  train: ArrayLike<number>;
  val?: ArrayLike<number>;
  vocabSize: number;
  tokenizer: string;
  /** Shown in the README, e.g. the source path. */
  description?: string;
}

export interface ExportOptions {
  /** The run config (or pass `plan`). */
  config?: unknown;
  /** A plan file's content; used when `config` is absent. */
  plan?: unknown;
  outDir: string;
  force?: boolean;
  /** Tokenized data to write as data/train.slab (+ data/val.slab). */
  data?: ExportData;
  /** Which candidate of a `plan --json` document, and whether to grow (plans only). */
  planOptions?: PlanExportOptions;
  /** Launch settings for a run config (plans carry their own). Default: 1 GPU, no FSDP. */
  launch?: Partial<Launch>;
}

export interface ExportResult {
  outDir: string;
  files: string[];
  config: TorchConfig;
  launch: Launch;
  /** What a plan export decided (candidate, growth used or not, and why). */
  notes: string[];
}

export function exportTorch(opts: ExportOptions): ExportResult {
  let raw: unknown;
  let launch: Launch = { ...DEFAULT_LAUNCH, ...opts.launch };
  let notes: string[] = [];
  if (opts.config !== undefined) raw = opts.config;
  else if (opts.plan !== undefined) {
    const pe = planExport(opts.plan, opts.planOptions);
    raw = pe.runConfig;
    launch = { ...pe.launch, ...opts.launch };
    notes = pe.notes;
  }
  if (raw === undefined) throw new ExportError('nothing to export: give a run config or a plan');
  const config = torchConfig(raw);
  if (config.batchSize % launch.gpus !== 0) throw new ExportError(`the global micro-batch (batchSize ${config.batchSize}) is not divisible by the plan's ${launch.gpus} GPUs`);
  if (opts.data && opts.data.vocabSize > config.model.vocabSize) {
    throw new ExportError(`the data's tokenizer '${opts.data.tokenizer}' has ${opts.data.vocabSize} tokens, more than model.vocabSize (${config.model.vocabSize})`);
  }
  const out = path.resolve(opts.outDir);
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new ExportError(`${opts.outDir} exists and is not a folder`);
    if (fs.readdirSync(out).length > 0 && !opts.force) throw new ExportError(`${opts.outDir} is not empty; choose another --out or pass --force`);
  }
  const program = withGrowthDefaults(fs.readFileSync(findTrainPy(), 'utf8'));
  fs.mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const write = (rel: string, content: string) => {
    fs.writeFileSync(path.join(out, rel), content);
    files.push(rel);
  };
  write('train.py', program);
  write('config.json', JSON.stringify(config, null, 2) + '\n');
  if (opts.data) {
    fs.mkdirSync(path.join(out, 'data'), { recursive: true });
    writeShard(path.join(out, 'data', 'train.slab'), opts.data.train, { vocabSize: opts.data.vocabSize, tokenizer: opts.data.tokenizer });
    files.push('data/train.slab');
    if (opts.data.val && opts.data.val.length > 0) {
      writeShard(path.join(out, 'data', 'val.slab'), opts.data.val, { vocabSize: opts.data.vocabSize, tokenizer: opts.data.tokenizer });
      files.push('data/val.slab');
    }
  }
  write('README.md', renderReadme(config, opts.data, launch, notes));
  write('launch.sh', renderLaunch(config, launch, !!opts.data));
  fs.chmodSync(path.join(out, 'launch.sh'), 0o755);
  return { outDir: out, files, config, launch, notes };
}

/** Processes per node: all GPUs up to 8 (one HGX node), else 8 per node. */
function nodesOf(gpus: number): { nodes: number; perNode: number } {
  if (gpus <= 8) return { nodes: 1, perNode: gpus };
  if (gpus % 8 === 0) return { nodes: gpus / 8, perNode: 8 };
  return { nodes: gpus, perNode: 1 };
}

/** train.py flags the plan's memory setting needs. */
export function launchFlags(launch: Launch): string[] {
  const f: string[] = [];
  if (launch.fsdp) f.push('--fsdp');
  if (launch.activationCheckpointing) f.push(ACTIVATION_CHECKPOINTING_FLAG);
  return f;
}

/** The torchrun command of the plan (one node, or every node of several). */
export function torchrunCommand(launch: Launch, data: boolean, out = 'runs/plan'): string {
  const { nodes, perNode } = nodesOf(launch.gpus);
  const tail = ['train.py --config config.json', ...(data ? ['--data data/'] : []), `--out ${out}`, ...launchFlags(launch)].join(' ');
  if (nodes === 1) return `torchrun --standalone --nproc_per_node=${perNode} ${tail}`;
  return `torchrun --nnodes=${nodes} --node_rank=$NODE_RANK --nproc_per_node=${perNode} --rdzv_id=shapelab --rdzv_backend=c10d --rdzv_endpoint=$HOST:29500 ${tail}`;
}

function renderLaunch(cfg: TorchConfig, launch: Launch, data: boolean): string {
  const { nodes } = nodesOf(launch.gpus);
  return `#!/bin/sh
# ShapeLab export: ${cfg.label}. Trains the plan on ${launch.gpus} GPU${launch.gpus > 1 ? 's' : ''}${nodes > 1 ? ` (${nodes} nodes: run on every node with NODE_RANK=0..${nodes - 1} and HOST=<address of node 0>)` : ''}.
set -e
cd "$(dirname "$0")"
${torchrunCommand(launch, data)} "$@"
`;
}

export function renderReadme(cfg: TorchConfig, data?: ExportData, launch: Launch = DEFAULT_LAUNCH, notes: string[] = []): string {
  const m = cfg.model;
  const depths = depthsOf(cfg);
  const g = cfg.growth;
  const growth = g
    ? `after step ${g.atStep}: depth ${depths[0]} -> ${depths[1]} (${typeof g.operator === 'string' ? g.operator : `partial ${g.operator.partial.join('..')}`}, x${g.factor}; multiplier ${g.multiplier}, optimizer ${g.optimizer}, lr ${g.lr})`
    : 'none';
  const dataLine = data
    ? `\`data/\` holds the tokenized text (${data.tokenizer} tokenizer${data.description ? `, from ${data.description}` : ''}): \`train.slab\`${data.val && data.val.length ? ' and the held-out `val.slab`' : ''}.`
    : 'No data was exported. Put ShapeLab token shards (`shapelab export torch ... --data TEXT_OR_FOLDER` writes them) in `data/` as `train*.slab` (and `val*.slab` for eval); without `--data` the program trains on random tokens (a smoke test only).';
  return `# ShapeLab run for PyTorch: ${cfg.label}

Written by \`shapelab export torch\`. \`train.py\` is ShapeLab's PyTorch trainer (the same program ShapeLab
uses as its parity reference); \`config.json\` holds the model, the schedule, the growth plan and the
per-depth ${cfg.parameterization} transfer (multipliers, init stds, per-group AdamW lr / eps / weight decay)
computed by ShapeLab. Needs Python 3 with \`torch\` (2.4 or newer) and \`numpy\`.

Model: vocab ${m.vocabSize}, context ${m.context}, d_model ${m.dModel}, ${depths[depths.length - 1]} blocks${depths.length > 1 ? ` (grown from ${depths[0]})` : ''}, ${m.nHeads} heads, MLP ${m.dFf}, ${m.tiedEmbeddings ? 'tied' : 'untied'} embeddings: ${si(countParams({ vocab: m.vocabSize, seq: m.context, dModel: m.dModel, nLayers: depths[depths.length - 1], nHeads: m.nHeads, dFf: m.dFf, tiedEmbeddings: m.tiedEmbeddings }).total)} parameters.
Training: ${cfg.steps} steps of ${(cfg.gradAccum ?? 1) > 1 ? `${cfg.gradAccum} accumulated micro-batches of ${cfg.batchSize} sequences (${cfg.batchSize * (cfg.gradAccum ?? 1) * m.context} tokens per step)` : `a global batch of ${cfg.batchSize} sequences (${cfg.batchSize * m.context} tokens)`}, ${cfg.schedule.kind} schedule, warmup ${cfg.schedule.warmupSteps}.
Growth: ${growth}.

${dataLine}

## Launch (the plan: ${launch.gpus} GPU${launch.gpus > 1 ? 's' : ''}${launch.microBatch ? `, micro-batch ${launch.microBatch} per GPU` : ''}${launch.fsdp || launch.activationCheckpointing ? `, ${[launch.fsdp ? 'FSDP' : '', launch.activationCheckpointing ? 'activation checkpointing' : ''].filter(Boolean).join(' + ')}` : ''})

\`\`\`sh
${torchrunCommand(launch, !!data)}
\`\`\`

\`launch.sh\` runs the same command.${nodesOf(launch.gpus).nodes > 1 ? ' Run it on every node with NODE_RANK = 0..N-1 and HOST = the address of node 0.' : ''} The global ${(cfg.gradAccum ?? 1) > 1 ? 'micro-batch' : 'batch'} (${cfg.batchSize} sequences) is
split across all processes, so it must be divisible by their number; the loss curve is the same
for any number of GPUs that divides it (with fewer GPUs each holds more sequences and needs more memory).
${launch.fsdp ? '\n`--fsdp` shards parameters, gradients and optimizer state over the GPUs (FSDP2): the planner found the model does not fit with DDP.\n' : ''}${launch.activationCheckpointing ? `\n\`${ACTIVATION_CHECKPOINTING_FLAG}\` recomputes each block's activations in backward (about 1/3 more compute): the planner found it needed to fit.\n` : ''}
## Several nodes (run on every node; NODE_RANK = 0..N-1, HOST = the address of node 0)

\`\`\`sh
torchrun --nnodes=N --node_rank=NODE_RANK --nproc_per_node=8 \\
  --rdzv_id=shapelab --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \\
  train.py --config config.json --data data/ --out runs/cluster${launchFlags(launch).map((f) => ' ' + f).join('')}
\`\`\`

Without the plan's setting: add \`--fsdp\` when the model does not fit on one GPU (parameters,
gradients and optimizer state are sharded with torch.distributed.fsdp).
${notes.length ? `\nFrom the plan: ${notes.join('; ')}.\n` : ''}
## Options

- \`--out DIR\`: run folder (ShapeLab's run format: \`config.json\`, \`metrics.jsonl\`, \`events.jsonl\`,
  \`checkpoints/\`). Sync or mount it locally and ShapeLab's monitor follows the run.
- \`--init FILE.safetensors\`: start from a ShapeLab checkpoint (e.g. a model grown locally); weights and, if
  present, optimizer moments. \`--resume\` continues the run in \`--out\` from its latest checkpoint.
- \`--checkpoint-every N\`, \`--log-every N\`, \`--steps N\`, \`--device cpu|cuda\`, \`--deterministic\`.
- \`python3 train.py --config config.json --print-schedule\` prints the LR factor and depth of every step
  (no torch needed).

Checkpoints use ShapeLab's parameter names, so they load back into ShapeLab.
`;
}
