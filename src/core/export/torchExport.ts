/**
 * `shapelab export torch`: writes a self-contained PyTorch training program for torchrun (DDP or
 * FSDP) plus its config. The program is python/shapelab_torch/train.py copied verbatim (the one
 * PyTorch implementation in the repository: it is also the parity reference of the local
 * trainer). Every number that depends on the parameterization -- multipliers, init stds,
 * per-group AdamW lr/eps/weight decay -- is computed here by `transfer()` and written into the
 * config's `transfers` map, one entry per depth the run goes through; Python never re-derives it.
 * docs/torch-export.md describes the config and the program.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BASE, GROUPS, isParameterization, transfer, type BaseHparams, type GroupHparams, type GroupName, type Parameterization } from '../param/parameterization';
import { writeShard } from '../data/shards';
import type { Schedule } from '../train/schedule';

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

export interface TorchModelShape {
  vocab: number;
  context: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dFf: number;
  tiedEmbeddings: boolean;
}

export type GrowthOperator = 'stack' | 'interleave' | { partial: [number, number] };

export interface GrowthEvent {
  /** Growth happens after step atStep (the first step of the grown model is atStep + 1). */
  atStep: number;
  factor: number;
  operator: GrowthOperator;
  multiplierPolicy: 'keep' | 'switch' | 'rescale';
  optimizerPolicy: 'reset' | 'copy';
  lrPolicy: 'continue' | 'rewarm';
}

/** The transfer of one depth as JSON (attentionScale evaluated for the model's head size). */
export interface TransferJson {
  parameterization: Parameterization;
  alpha: number;
  width: number;
  depth: number;
  mN: number;
  mL: number;
  groups: Record<GroupName, GroupHparams>;
  residualMultiplier: number;
  inputMultiplier: number;
  outputMultiplier: number;
  attentionScale: number;
  attentionScaleRule: 'inverse' | 'inverseSqrt';
}

/** The run config as train.py reads it (config.json in the export folder). */
export interface TorchConfig {
  format: 'shapelab-torch';
  version: 1;
  name?: string;
  model: TorchModelShape;
  parameterization: Parameterization;
  base: BaseHparams;
  optimizer: { beta1: number; beta2: number; clip: number };
  schedule: Schedule;
  steps: number;
  /** Global batch (sequences per step, split across ranks). */
  batchSize: number;
  seed: number;
  logEvery: number;
  evalEvery: number;
  evalBatches: number;
  checkpointEvery: number;
  growth: GrowthEvent[];
  tokenizer?: string;
  data?: unknown;
  transfers: Record<string, TransferJson>;
}

const OPTIMIZER_DEFAULTS = { beta1: 0.9, beta2: 0.95, clip: 1.0 }; // docs/model.md

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

/** For each block of the grown model, its source block (0-based); same as growth_sources in train.py. */
export function growthSources(depth: number, factor: number, op: GrowthOperator): number[] {
  const L = depth, g = factor;
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  if (op === 'stack') return Array.from({ length: g }, () => range(0, L - 1)).flat();
  if (op === 'interleave') return range(0, L - 1).flatMap((i) => Array(g).fill(i) as number[]);
  const [a, b] = op.partial;
  if (!(Number.isInteger(a) && Number.isInteger(b) && 0 <= a && a <= b && b < L)) throw new ExportError(`growth: partial range [${a}, ${b}] is outside blocks 0..${L - 1}`);
  const extra = Array.from({ length: g - 1 }, () => range(a, b)).flat();
  return [...range(0, b), ...extra, ...range(b + 1, L - 1)];
}

/** Depths the run goes through: the initial depth, then one per growth event. */
export function depthsOf(cfg: Pick<TorchConfig, 'model' | 'growth'>): number[] {
  const out = [cfg.model.nLayers];
  for (const ev of cfg.growth) out.push(growthSources(out[out.length - 1], ev.factor, ev.operator).length);
  return out;
}

function normalizeOperator(ev: Obj): GrowthOperator {
  const op = ev.operator ?? 'stack';
  if (op === 'stack' || op === 'interleave') return op;
  let r: unknown;
  if (op === 'partial') r = ev.range;
  else if (isObj(op) && op.partial !== undefined) r = op.partial;
  else if (isObj(op) && op.kind === 'partial') r = op.range;
  else if (typeof op === 'string' && /^partial:\d+-\d+$/.test(op)) r = op.slice(8).split('-').map(Number);
  else throw new ExportError(`growth.operator must be 'stack', 'interleave' or {partial: [a, b]} (got ${JSON.stringify(op)})`);
  if (!Array.isArray(r) || r.length !== 2) throw new ExportError('growth: a partial operator needs a range [a, b] (0-based, inclusive)');
  return { partial: [int(r[0], 'growth.range[0]', 0), int(r[1], 'growth.range[1]', 0)] };
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], dflt: T, what: string): T {
  if (v === undefined) return dflt;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new ExportError(`${what} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
}

/**
 * Normalizes a ShapeLab run config (src/core/runs/configSchema.ts, when it lands) into the torch
 * config. Accepts the model field names of src/core/model/gpt.ts (vocab, context, dModel, nLayers,
 * nHeads, dFf, tiedEmbeddings) and of the planner (seq), plus a few spelled-out aliases.
 */
export function normalizeRunConfig(raw: unknown): Omit<TorchConfig, 'transfers'> {
  if (!isObj(raw)) throw new ExportError('the run config must be a JSON object');
  const m = raw.model;
  if (!isObj(m)) throw new ExportError("the run config has no 'model' object");
  const dModel = int(pick(m, ['dModel', 'width', 'd']), 'model.dModel');
  const nHeads = int(pick(m, ['nHeads', 'heads']), 'model.nHeads');
  if (dModel % nHeads !== 0) throw new ExportError(`model.dModel (${dModel}) must be divisible by model.nHeads (${nHeads})`);
  const tied = pick(m, ['tiedEmbeddings', 'tied']);
  if (tied !== undefined && typeof tied !== 'boolean') throw new ExportError('model.tiedEmbeddings must be true or false');
  const model: TorchModelShape = {
    vocab: int(pick(m, ['vocab', 'vocabSize']), 'model.vocab'),
    context: int(pick(m, ['context', 'seq', 'contextLength']), 'model.context'),
    dModel,
    nLayers: int(pick(m, ['nLayers', 'depth', 'layers']), 'model.nLayers'),
    nHeads,
    dFf: pick(m, ['dFf', 'mlpWidth']) === undefined ? 4 * dModel : int(pick(m, ['dFf', 'mlpWidth']), 'model.dFf'),
    tiedEmbeddings: tied === undefined ? true : tied,
  };
  const p = raw.parameterization ?? 'completep';
  if (typeof p !== 'string' || !isParameterization(p)) throw new ExportError(`unknown parameterization ${JSON.stringify(p)}`);
  const baseRaw = pick(raw, ['base', 'hparams']) ?? {};
  if (!isObj(baseRaw)) throw new ExportError("'base' must be an object of base hyperparameters");
  const base: BaseHparams = { ...DEFAULT_BASE };
  for (const k of ['baseWidth', 'baseDepth', 'lr', 'initStd', 'eps', 'weightDecay', 'inputMultiplier', 'outputMultiplier'] as const) {
    if (baseRaw[k] !== undefined) base[k] = num(baseRaw[k], `base.${k}`, 0);
  }
  const optRaw = raw.optimizer ?? {};
  if (!isObj(optRaw)) throw new ExportError("'optimizer' must be an object");
  const optimizer = {
    beta1: optRaw.beta1 === undefined ? OPTIMIZER_DEFAULTS.beta1 : num(optRaw.beta1, 'optimizer.beta1', 0, 1),
    beta2: optRaw.beta2 === undefined ? OPTIMIZER_DEFAULTS.beta2 : num(optRaw.beta2, 'optimizer.beta2', 0, 1),
    clip: optRaw.clip === undefined ? OPTIMIZER_DEFAULTS.clip : num(optRaw.clip, 'optimizer.clip'),
  };
  const train = isObj(raw.training) ? raw.training : {};
  const steps = int(raw.steps ?? train.steps, 'steps');
  const batchSize = int(pick(raw, ['batchSize', 'batch']) ?? pick(train, ['batchSize', 'batch']), 'batchSize');
  const sRaw = raw.schedule ?? {};
  if (!isObj(sRaw)) throw new ExportError("'schedule' must be an object");
  const kind = oneOf(sRaw.kind, ['cosine', 'wsd', 'constant'] as const, 'cosine', 'schedule.kind');
  const schedule: Schedule = {
    kind,
    warmupSteps: sRaw.warmupSteps === undefined ? 0 : int(sRaw.warmupSteps, 'schedule.warmupSteps', 0),
    totalSteps: sRaw.totalSteps === undefined ? steps : int(sRaw.totalSteps, 'schedule.totalSteps'),
    minLrRatio: sRaw.minLrRatio === undefined ? 0.1 : num(sRaw.minLrRatio, 'schedule.minLrRatio', 0, 1),
  };
  if (kind === 'wsd') schedule.decayFraction = sRaw.decayFraction === undefined ? 0.2 : num(sRaw.decayFraction, 'schedule.decayFraction', 0, 1);
  const gRaw = raw.growth == null ? [] : Array.isArray(raw.growth) ? raw.growth : [raw.growth];
  const growth: GrowthEvent[] = gRaw.map((ev, i) => {
    if (!isObj(ev)) throw new ExportError(`growth[${i}] must be an object`);
    const atStep = int(ev.atStep, 'growth.atStep');
    if (atStep >= steps) throw new ExportError(`growth.atStep (${atStep}) must be below steps (${steps})`);
    return {
      atStep,
      factor: int(ev.factor ?? 4, 'growth.factor'),
      operator: normalizeOperator(ev),
      multiplierPolicy: oneOf(ev.multiplierPolicy, ['keep', 'switch', 'rescale'] as const, 'switch', 'growth.multiplierPolicy'),
      optimizerPolicy: oneOf(ev.optimizerPolicy, ['reset', 'copy'] as const, 'reset', 'growth.optimizerPolicy'),
      lrPolicy: oneOf(ev.lrPolicy, ['continue', 'rewarm'] as const, 'continue', 'growth.lrPolicy'),
    };
  });
  growth.sort((a, b) => a.atStep - b.atStep);
  const opt = (v: unknown, what: string, dflt: number, min = 0) => (v === undefined ? dflt : int(v, what, min));
  const data = raw.data;
  const tokenizer = typeof raw.tokenizer === 'string' ? raw.tokenizer : isObj(data) && typeof data.tokenizer === 'string' ? data.tokenizer : undefined;
  const out: Omit<TorchConfig, 'transfers'> = {
    format: 'shapelab-torch',
    version: 1,
    ...(typeof raw.name === 'string' ? { name: raw.name } : {}),
    model,
    parameterization: p,
    base,
    optimizer,
    schedule,
    steps,
    batchSize,
    seed: opt(raw.seed ?? train.seed, 'seed', 0, 0),
    logEvery: opt(raw.logEvery ?? train.logEvery, 'logEvery', 1),
    evalEvery: opt(raw.evalEvery ?? train.evalEvery, 'evalEvery', 0),
    evalBatches: opt(raw.evalBatches ?? train.evalBatches, 'evalBatches', 8),
    checkpointEvery: opt(raw.checkpointEvery ?? train.checkpointEvery, 'checkpointEvery', 0),
    growth,
    ...(tokenizer ? { tokenizer } : {}),
    ...(data !== undefined ? { data } : {}),
  };
  depthsOf(out); // validates partial ranges against the depths
  return out;
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

/** The config.json train.py reads: the normalized run config plus a transfer per depth. */
export function torchConfig(runConfig: unknown): TorchConfig {
  const cfg = normalizeRunConfig(runConfig);
  const transfers: Record<string, TransferJson> = {};
  for (const d of depthsOf(cfg)) transfers[String(d)] = transferJson(cfg, d);
  return { ...cfg, transfers };
}

/**
 * A run config from a plan file. A plan may embed the run config (`runConfig` or `config`);
 * otherwise the shape comes from `shape` (planner field names), the step count from `steps` or
 * `tokens / (batchSize * context)`, and a G_stack growth from `growth` (planner GrowthPlan:
 * factor, growthTokens, smallModel.nLayers).
 */
export function runConfigFromPlan(plan: unknown): Obj {
  if (!isObj(plan)) throw new ExportError('the plan must be a JSON object');
  const embedded = pick(plan, ['runConfig', 'config']);
  if (isObj(embedded)) return embedded;
  const shape = pick(plan, ['shape', 'model']);
  if (!isObj(shape)) throw new ExportError("the plan has no 'shape' (or embedded 'runConfig')");
  const context = int(pick(shape, ['context', 'seq', 'contextLength']), 'plan.shape.seq');
  const batchSize = int(plan.batchSize ?? 32, 'plan.batchSize');
  const steps = plan.steps !== undefined ? int(plan.steps, 'plan.steps') : Math.ceil(num(plan.tokens, 'plan.tokens', 1) / (batchSize * context));
  const out: Obj = { ...plan, model: { ...shape, context }, batchSize, steps };
  delete out.shape;
  const g = plan.growth;
  if (isObj(g) && g.atStep === undefined && isObj(g.smallModel)) {
    const factor = int(g.factor, 'plan.growth.factor');
    const small = int(g.smallModel.nLayers, 'plan.growth.smallModel.nLayers');
    const atStep = Math.max(1, Math.round(num(g.growthTokens, 'plan.growth.growthTokens', 0) / (batchSize * context)));
    out.model = { ...(out.model as Obj), nLayers: small };
    out.growth = { atStep, factor, operator: 'stack', multiplierPolicy: g.multiplierPolicy, optimizerPolicy: g.optimizerPolicy, lrPolicy: g.lrPolicy };
  }
  return out;
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
}

export interface ExportResult {
  outDir: string;
  files: string[];
  config: TorchConfig;
}

export function exportTorch(opts: ExportOptions): ExportResult {
  const raw = opts.config !== undefined ? opts.config : opts.plan !== undefined ? runConfigFromPlan(opts.plan) : undefined;
  if (raw === undefined) throw new ExportError('nothing to export: give a run config or a plan');
  const config = torchConfig(raw);
  if (opts.data && opts.data.vocabSize > config.model.vocab) {
    throw new ExportError(`the data's tokenizer '${opts.data.tokenizer}' has ${opts.data.vocabSize} tokens, more than model.vocab (${config.model.vocab})`);
  }
  if (opts.data) config.tokenizer = opts.data.tokenizer;
  const out = path.resolve(opts.outDir);
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new ExportError(`${opts.outDir} exists and is not a folder`);
    if (fs.readdirSync(out).length > 0 && !opts.force) throw new ExportError(`${opts.outDir} is not empty; choose another --out or pass --force`);
  }
  const program = fs.readFileSync(findTrainPy(), 'utf8');
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
  write('README.md', renderReadme(config, opts.data));
  return { outDir: out, files, config };
}

export function renderReadme(cfg: TorchConfig, data?: ExportData): string {
  const m = cfg.model;
  const depths = depthsOf(cfg);
  const growth = cfg.growth.length
    ? cfg.growth
        .map((g, i) => `- after step ${g.atStep}: depth ${depths[i]} -> ${depths[i + 1]} (${typeof g.operator === 'string' ? g.operator : `partial ${g.operator.partial.join('..')}`}, x${g.factor}; multiplier ${g.multiplierPolicy}, optimizer ${g.optimizerPolicy}, lr ${g.lrPolicy})`)
        .join('\n')
    : '- none';
  const dataLine = data
    ? `\`data/\` holds the tokenized text (${data.tokenizer} tokenizer${data.description ? `, from ${data.description}` : ''}): \`train.slab\`${data.val && data.val.length ? ' and the held-out `val.slab`' : ''}.`
    : 'No data was exported. Put ShapeLab token shards (`shapelab export torch ... --data TEXT_OR_FOLDER` writes them) in `data/` as `train*.slab` (and `val*.slab` for eval); without `--data` the program trains on random tokens (a smoke test only).';
  return `# ShapeLab run for PyTorch${cfg.name ? `: ${cfg.name}` : ''}

Written by \`shapelab export torch\`. \`train.py\` is ShapeLab's PyTorch trainer (the same program ShapeLab
uses as its parity reference); \`config.json\` holds the model, the schedule, the growth plan and the
per-depth ${cfg.parameterization} transfer (multipliers, init stds, per-group AdamW lr / eps / weight decay)
computed by ShapeLab. Needs Python 3 with \`torch\` (2.4 or newer) and \`numpy\`.

Model: vocab ${m.vocab}, context ${m.context}, d_model ${m.dModel}, ${m.nLayers} blocks, ${m.nHeads} heads, MLP ${m.dFf}, ${m.tiedEmbeddings ? 'tied' : 'untied'} embeddings.
Training: ${cfg.steps} steps of a global batch of ${cfg.batchSize} sequences (${cfg.batchSize * m.context} tokens), ${cfg.schedule.kind} schedule, warmup ${cfg.schedule.warmupSteps}.
Growth:
${growth}

${dataLine}

## One node (here: 8 GPUs)

\`\`\`sh
torchrun --standalone --nproc_per_node=8 train.py --config config.json --data data/
\`\`\`

The global batch (${cfg.batchSize}) is split across all processes, so it must be divisible by their number;
the loss curve is the same for any number of GPUs.

## Several nodes (run on every node; NODE_RANK = 0..N-1, HOST = the address of node 0)

\`\`\`sh
torchrun --nnodes=N --node_rank=NODE_RANK --nproc_per_node=8 \\
  --rdzv_id=shapelab --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \\
  train.py --config config.json --data data/ --out runs/cluster
\`\`\`

Add \`--fsdp\` when the model does not fit on one GPU (parameters, gradients and optimizer state are
sharded with torch.distributed.fsdp).

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
