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
 * A run config from a plan file. A plan may embed the run config (`runConfig` or `config`);
 * otherwise the shape comes from `shape` (planner field names), the step count from `steps` or
 * `tokens / (batchSize * gradAccum * context)`, and a G_stack growth from `growth` (planner GrowthPlan:
 * factor, growthTokens, smallModel.nLayers).
 */
export function runConfigFromPlan(plan: unknown): Obj {
  if (!isObj(plan)) throw new ExportError('the plan must be a JSON object');
  const embedded = pick(plan, ['runConfig', 'config']);
  if (isObj(embedded)) return embedded;
  const shape = pick(plan, ['shape', 'model']);
  if (!isObj(shape)) throw new ExportError("the plan has no 'shape' (or embedded 'runConfig')");
  const context = int(pick(shape, ['context', 'seq']), 'plan.shape.seq');
  const batchSize = int(plan.batchSize ?? 32, 'plan.batchSize');
  const gradAccum = int(plan.gradAccum ?? 1, 'plan.gradAccum');
  const seqsPerStep = batchSize * gradAccum;
  const steps = plan.steps !== undefined ? int(plan.steps, 'plan.steps') : Math.ceil(num(plan.tokens, 'plan.tokens', 1) / (seqsPerStep * context));
  const model: Obj = {
    vocabSize: int(pick(shape, ['vocabSize', 'vocab']), 'plan.shape.vocab'),
    context,
    dModel: int(shape.dModel, 'plan.shape.dModel'),
    nLayers: int(shape.nLayers, 'plan.shape.nLayers'),
    nHeads: int(shape.nHeads, 'plan.shape.nHeads'),
  };
  if (shape.dFf !== undefined) model.dFf = shape.dFf;
  if (shape.tiedEmbeddings !== undefined) model.tiedEmbeddings = shape.tiedEmbeddings;
  const out: Obj = { model, batchSize, steps };
  if (gradAccum > 1) out.gradAccum = gradAccum;
  for (const k of ['label', 'parameterization', 'base', 'optimizer', 'schedule', 'seed', 'data', 'preset']) if (plan[k] !== undefined) out[k] = plan[k];
  const g = plan.growth;
  if (isObj(g) && g.atStep !== undefined) out.growth = g;
  else if (isObj(g) && isObj(g.smallModel)) {
    // A planner GrowthPlan: train the small model for growthTokens, then stack to the target depth.
    const factor = int(g.factor, 'plan.growth.factor');
    model.nLayers = int(g.smallModel.nLayers, 'plan.growth.smallModel.nLayers');
    const atStep = Math.max(1, Math.round(num(g.growthTokens, 'plan.growth.growthTokens', 0) / (seqsPerStep * context)));
    out.growth = { atStep, factor, operator: 'stack' };
  }
  return out;
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
  write('README.md', renderReadme(config, opts.data));
  return { outDir: out, files, config };
}

export function renderReadme(cfg: TorchConfig, data?: ExportData): string {
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

Model: vocab ${m.vocabSize}, context ${m.context}, d_model ${m.dModel}, ${m.nLayers} blocks, ${m.nHeads} heads, MLP ${m.dFf}, ${m.tiedEmbeddings ? 'tied' : 'untied'} embeddings.
Training: ${cfg.steps} steps of ${(cfg.gradAccum ?? 1) > 1 ? `${cfg.gradAccum} accumulated micro-batches of ${cfg.batchSize} sequences (${cfg.batchSize * (cfg.gradAccum ?? 1) * m.context} tokens per step)` : `a global batch of ${cfg.batchSize} sequences (${cfg.batchSize * m.context} tokens)`}, ${cfg.schedule.kind} schedule, warmup ${cfg.schedule.warmupSteps}.
Growth: ${growth}.

${dataLine}

## One node (here: 8 GPUs)

\`\`\`sh
torchrun --standalone --nproc_per_node=8 train.py --config config.json --data data/
\`\`\`

The global ${(cfg.gradAccum ?? 1) > 1 ? 'micro-batch' : 'batch'} (${cfg.batchSize} sequences) is split across all processes, so it must be divisible by
their number; the loss curve is the same for any number of GPUs.

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
