/**
 * The run config: its type, presets, defaults and validation.
 *
 * validateConfig accepts a partial config (a config file, CLI flags merged in), fills defaults
 * from a preset (`preset` field, default `tiny`), and refuses anything wrong with a one-line
 * message that names the field, e.g.
 *   config.model.dModel: must be a positive multiple of model.nHeads (got 100, nHeads 3)
 * Unknown fields are errors too (a typo must not silently fall back to a default).
 * The result is complete and canonical: validating it again gives the same object.
 */
import { createHash } from 'node:crypto';
import { GROWTH_DEFAULTS, GROWTH_DEFAULTS_V1, type GrowthLrPolicy, type GrowthMultiplierPolicy, type GrowthOptimizerPolicy } from '../model/growthDefaults';
import { DEFAULT_BASE, PARAMETERIZATIONS, type BaseHparams, type Parameterization } from '../param/parameterization';
import { TOKENIZER_NAMES, type TokenizerName } from '../data/tokenizers';
import type { DataSpec } from '../data/dataset';

/**
 * The model as config.json stores it (field names are part of the run format, docs/run-format.md,
 * and are read by the PyTorch exporter). The graph builder's ModelShape (model/gpt.ts) is the same
 * shape at one depth; trainer.modelShapeOf converts. The planner's ShapeSpec (plan/shape.ts) is a
 * looser spec with defaults (bias, position embedding, head size) that the trainer does not vary.
 */
export interface ModelConfig {
  vocabSize: number;
  context: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dFf: number;
  tiedEmbeddings: boolean;
}

export interface OptimizerConfig {
  beta1: number;
  beta2: number;
  /** Global-norm clip; 0 turns clipping off. */
  clip: number;
}

export interface ScheduleConfig {
  kind: 'cosine' | 'wsd';
  warmupSteps: number;
  totalSteps: number;
  /** Final LR as a fraction of the peak. */
  minLrRatio: number;
  /** WSD: fraction of totalSteps spent decaying at the end. */
  decayFraction: number;
}

export type GrowthOperator = 'stack' | 'interleave' | { partial: [number, number] };

export interface GrowthConfig {
  atStep: number;
  factor: number;
  operator: GrowthOperator;
  multiplier: GrowthMultiplierPolicy;
  optimizer: GrowthOptimizerPolicy;
  lr: GrowthLrPolicy;
}

/**
 * Config format version. 2: absent growth fields take GROWTH_DEFAULTS (model/growthDefaults.ts);
 * 1 (written before them): GROWTH_DEFAULTS_V1. A config without `version` is current. Validation
 * keeps the version it was given, so an old run's config.json validates (and hashes) as before.
 */
export const CONFIG_VERSION = 2;
export type ConfigVersion = 1 | 2;

export const EP_CHOICES = ['auto', 'webgpu', 'cpu', 'cuda'] as const;
export type EpChoice = (typeof EP_CHOICES)[number];

export interface RunConfig {
  version: ConfigVersion;
  label: string;
  model: ModelConfig;
  parameterization: Parameterization;
  base: BaseHparams;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  /** Sequences per micro-batch (per optimizer step when gradAccum is absent). */
  batchSize: number;
  /**
   * Micro-batches per optimizer step (gradient accumulation); absent = 1, so configs without it
   * keep their hash. Effective batch = batchSize * gradAccum sequences.
   */
  gradAccum?: number;
  steps: number;
  /** Evaluate every N steps (0: only at the end). */
  evalEvery: number;
  evalBatches: number;
  /** Checkpoint every N steps (0: only at the end / on stop). */
  checkpointEvery: number;
  /**
   * Also checkpoint when this many minutes of training passed since the last checkpoint (0: off).
   * Absent in configs written before it existed: validation fills the default. Not part of the
   * checkpoint hash (cadence does not change the curve), so old checkpoints stay loadable.
   */
  checkpointMinutes: number;
  keepCheckpoints: number;
  logEvery: number;
  /** uint32 seed for init and batch sampling. */
  seed: number;
  data: DataSpec;
  ep: EpChoice;
  growth?: GrowthConfig;
  nonFinite: 'stop' | 'skip';
}

/**
 * Default wall-time checkpoint interval (minutes). Writing one checkpoint of the 25m preset
 * (parameters + both AdamW moments, 307 MB) took 6.3 s on the 2-core CI-class VM's disk
 * (docs/results/checkpoint-cost-cpu.txt): about 1% of a 10-minute interval. The trainer also never
 * checkpoints by time more often than 20x the last write took, so it stays <= 5% on slow disks.
 */
export const DEFAULT_CHECKPOINT_MINUTES = 10;

export const PRESET_NAMES = ['tiny', 'small', '25m'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** A DeepPartial of RunConfig, as found in config files. */
export type PartialConfig = { [K in keyof RunConfig]?: RunConfig[K] extends object ? Partial<RunConfig[K]> : RunConfig[K] } & { preset?: PresetName };

const TOKENIZER_VOCAB: Record<TokenizerName, number> = { byte: 256, gpt2: 50257 };

/**
 * Default eval cadence: about 20 evals per run (a curve, not a point at 1/4 of the run), but the
 * evals together cost at most ~10% of the training compute: an eval of `evalBatches` micro-batches
 * is forward only, ~1/3 of a training micro-batch (2N vs 6N FLOPs per token, Kaplan et al. 2020,
 * Sec. 2.1), and an optimizer step is `gradAccum` micro-batches. Configs that set evalEvery (every
 * run's saved config.json does) keep it.
 */
export const EVALS_PER_RUN = 20;
export const MAX_EVAL_SHARE = 0.1;
export function defaultEvalEvery(steps: number, evalBatches: number, gradAccum = 1): number {
  const byCount = Math.ceil(steps / EVALS_PER_RUN);
  const byCost = Math.ceil(evalBatches / (3 * Math.max(1, gradAccum)) / MAX_EVAL_SHARE);
  return Math.max(1, byCount, byCost);
}

function preset(label: PresetName, m: { context: number; dModel: number; nLayers: number; nHeads: number }, batchSize: number, steps: number): RunConfig {
  return {
    version: CONFIG_VERSION,
    label,
    model: { vocabSize: 256, ...m, dFf: 4 * m.dModel, tiedEmbeddings: false },
    parameterization: 'completep',
    base: { ...DEFAULT_BASE },
    optimizer: { beta1: 0.9, beta2: 0.95, clip: 1.0 },
    schedule: { kind: 'cosine', warmupSteps: Math.min(100, Math.floor(steps / 10)), totalSteps: steps, minLrRatio: 0.1, decayFraction: 0.2 },
    batchSize,
    steps,
    evalEvery: defaultEvalEvery(steps, 8),
    evalBatches: 8,
    checkpointEvery: Math.max(1, Math.floor(steps / 4)),
    checkpointMinutes: DEFAULT_CHECKPOINT_MINUTES,
    keepCheckpoints: 3,
    logEvery: 10,
    seed: 1234,
    data: { source: 'brown', tokenizer: 'byte' },
    ep: 'auto',
    nonFinite: 'stop',
  };
}

export const PRESETS: Readonly<Record<PresetName, RunConfig>> = {
  tiny: preset('tiny', { context: 64, dModel: 64, nLayers: 2, nHeads: 2 }, 8, 500),
  small: preset('small', { context: 128, dModel: 128, nLayers: 4, nHeads: 2 }, 16, 2000),
  '25m': preset('25m', { context: 256, dModel: 512, nLayers: 8, nHeads: 8 }, 32, 5000),
};

export function presetConfig(name: PresetName): RunConfig {
  return structuredClone(PRESETS[name]);
}

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly issues: string[],
  ) {
    super(issues.length > 1 ? `${issues[0]} (and ${issues.length - 1} more)` : issues[0]);
    this.name = 'ConfigError';
  }
}

// ---- small validation toolkit: every check names its field ----

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown): string => {
  if (typeof v === 'number') return String(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 37) + '...' : s;
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
  return d[a.length][b.length];
}

class Checker {
  issues: { field: string; msg: string }[] = [];
  fail(field: string, msg: string): void {
    this.issues.push({ field, msg: `config.${field}: ${msg}` });
  }
  /** Unknown keys are errors, with a suggestion for near-misses (dmodel -> dModel). */
  known(field: string, o: Obj, keys: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (keys.includes(k)) continue;
      const near = keys.filter((c) => editDistance(k, c) <= 2).sort((x, y) => editDistance(k, x) - editDistance(k, y))[0];
      // A key may hold anything (newlines too): quote odd ones so the message stays one line.
      const name = /^[A-Za-z0-9_$-]{1,64}$/.test(k) ? k : JSON.stringify(k.length > 40 ? k.slice(0, 37) + '...' : k);
      this.fail(field ? `${field}.${name}` : name, `unknown field${near ? ` (did you mean ${near}?)` : ''}`);
    }
  }
  int(field: string, v: unknown, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `must be an integer in [${min}, ${max}] (got ${show(v)})`);
      return min;
    }
    return v;
  }
  num(field: string, v: unknown, min: number, max: number, opts: { minOpen?: boolean; maxOpen?: boolean } = {}): number {
    const ok =
      typeof v === 'number' && Number.isFinite(v) && (opts.minOpen ? v > min : v >= min) && (opts.maxOpen ? v < max : v <= max);
    if (!ok) {
      this.fail(field, `must be a finite number in ${opts.minOpen ? '(' : '['}${min}, ${max}${opts.maxOpen ? ')' : ']'} (got ${show(v)})`);
      return min;
    }
    return v as number;
  }
  oneOf<T extends string>(field: string, v: unknown, options: readonly T[]): T {
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
      this.fail(field, `must be one of ${options.map((o) => `'${o}'`).join(', ')} (got ${show(v)})`);
      return options[0];
    }
    return v as T;
  }
  bool(field: string, v: unknown): boolean {
    if (typeof v !== 'boolean') {
      this.fail(field, `must be true or false (got ${show(v)})`);
      return false;
    }
    return v;
  }
  str(field: string, v: unknown, maxLen: number): string {
    if (typeof v !== 'string' || v.length === 0 || v.length > maxLen) {
      this.fail(field, `must be a non-empty string of at most ${maxLen} characters (got ${show(v)})`);
      return '';
    }
    return v;
  }
  section(field: string, v: unknown): Obj {
    if (v === undefined) return {};
    if (!isObj(v)) {
      this.fail(field, `must be an object (got ${show(v)})`);
      return {};
    }
    return v;
  }
}

const TOP_KEYS = ['version', 'preset', 'label', 'model', 'parameterization', 'base', 'optimizer', 'schedule', 'batchSize', 'gradAccum', 'steps', 'evalEvery', 'evalBatches', 'checkpointEvery', 'checkpointMinutes', 'keepCheckpoints', 'logEvery', 'seed', 'data', 'ep', 'growth', 'nonFinite'] as const;
const MODEL_KEYS = ['vocabSize', 'context', 'dModel', 'nLayers', 'nHeads', 'dFf', 'tiedEmbeddings'] as const;
const BASE_KEYS = ['baseWidth', 'baseDepth', 'lr', 'initStd', 'eps', 'weightDecay', 'inputMultiplier', 'outputMultiplier'] as const;
const OPT_KEYS = ['beta1', 'beta2', 'clip'] as const;
const SCHED_KEYS = ['kind', 'warmupSteps', 'totalSteps', 'minLrRatio', 'decayFraction'] as const;
const DATA_KEYS = ['source', 'path', 'include', 'exclude', 'tokenizer', 'valFraction'] as const;
const GROWTH_KEYS = ['atStep', 'factor', 'operator', 'multiplier', 'optimizer', 'lr'] as const;

/** Sanity bounds: generous, but they keep products and allocations finite. */
export const LIMITS = { vocab: 1 << 20, context: 1 << 16, dModel: 1 << 16, layers: 1024, heads: 1024, dFf: 1 << 18, batch: 1 << 16, gradAccum: 4096, steps: 1e9, maxDepthAfterGrowth: 1024 };

function pick(o: Obj, k: string, fallback: unknown): unknown {
  return o[k] === undefined ? fallback : o[k];
}

function globList(c: Checker, field: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 100 || !v.every((g) => typeof g === 'string' && g.length > 0 && g.length <= 500)) {
    c.fail(field, `must be a list of at most 100 non-empty glob strings (got ${show(v)})`);
    return undefined;
  }
  return [...v] as string[];
}

/** Validates a (partial) config and returns the complete typed config, or throws ConfigError. */
export function validateConfig(input: unknown): RunConfig {
  const c = new Checker();
  if (!isObj(input)) throw new ConfigError('', [`config: must be a JSON object (got ${show(input)})`]);
  c.known('', input, TOP_KEYS);
  const presetName = input.preset === undefined ? 'tiny' : c.oneOf('preset', input.preset, PRESET_NAMES);
  const p = PRESETS[presetName];
  if (input.version !== undefined && input.version !== 1 && input.version !== 2) c.fail('version', `must be 1 or 2 (got ${show(input.version)})`);
  const version: ConfigVersion = input.version === 1 ? 1 : 2;
  const growthDefaults = version === 1 ? GROWTH_DEFAULTS_V1 : GROWTH_DEFAULTS;

  const label = c.str('label', pick(input, 'label', p.label), 64);
  const steps = c.int('steps', pick(input, 'steps', p.steps), 1, LIMITS.steps);

  // data first: the tokenizer decides the default vocabulary
  const d = c.section('data', input.data);
  c.known('data', d, DATA_KEYS);
  const source = c.oneOf('data.source', pick(d, 'source', p.data.source), ['brown', 'file', 'folder'] as const);
  const tokenizer = c.oneOf('data.tokenizer', pick(d, 'tokenizer', p.data.tokenizer), TOKENIZER_NAMES);
  const data: DataSpec = { source, tokenizer };
  if (source === 'brown') {
    for (const k of ['path', 'include', 'exclude', 'valFraction'] as const) {
      if (d[k] !== undefined) c.fail(`data.${k}`, `is only used with data.source 'file' or 'folder'`);
    }
  } else {
    data.path = c.str('data.path', d.path, 4096);
    const include = globList(c, 'data.include', d.include);
    const exclude = globList(c, 'data.exclude', d.exclude);
    if (source === 'file' && (include || exclude)) c.fail(include ? 'data.include' : 'data.exclude', `is only used with data.source 'folder'`);
    if (include) data.include = include;
    if (exclude) data.exclude = exclude;
    data.valFraction = c.num('data.valFraction', pick(d, 'valFraction', 0.05), 0, 0.5, { minOpen: true });
  }

  const m = c.section('model', input.model);
  c.known('model', m, MODEL_KEYS);
  const tokVocab = TOKENIZER_VOCAB[tokenizer];
  const vocabSize = c.int('model.vocabSize', pick(m, 'vocabSize', tokVocab), 1, LIMITS.vocab);
  if (vocabSize < tokVocab) c.fail('model.vocabSize', `must be at least the vocabulary of tokenizer '${tokenizer}' (${tokVocab}) (got ${vocabSize})`);
  const context = c.int('model.context', pick(m, 'context', p.model.context), 1, LIMITS.context);
  const nHeads = c.int('model.nHeads', pick(m, 'nHeads', p.model.nHeads), 1, LIMITS.heads);
  const dModelRaw = pick(m, 'dModel', p.model.dModel);
  let dModel = 1;
  if (typeof dModelRaw !== 'number' || !Number.isInteger(dModelRaw) || dModelRaw < 1 || dModelRaw > LIMITS.dModel || dModelRaw % nHeads !== 0) {
    c.fail('model.dModel', `must be a positive multiple of model.nHeads up to ${LIMITS.dModel} (got ${show(dModelRaw)}, nHeads ${nHeads})`);
  } else dModel = dModelRaw;
  const nLayers = c.int('model.nLayers', pick(m, 'nLayers', p.model.nLayers), 1, LIMITS.layers);
  const dFf = c.int('model.dFf', pick(m, 'dFf', 4 * dModel), 1, LIMITS.dFf);
  const tiedEmbeddings = c.bool('model.tiedEmbeddings', pick(m, 'tiedEmbeddings', p.model.tiedEmbeddings));

  const parameterization = c.oneOf('parameterization', pick(input, 'parameterization', p.parameterization), PARAMETERIZATIONS);

  const b = c.section('base', input.base);
  c.known('base', b, BASE_KEYS);
  const base: BaseHparams = {
    baseWidth: c.num('base.baseWidth', pick(b, 'baseWidth', p.base.baseWidth), 0, 1e6, { minOpen: true }),
    baseDepth: c.num('base.baseDepth', pick(b, 'baseDepth', p.base.baseDepth), 0, 1e4, { minOpen: true }),
    lr: c.num('base.lr', pick(b, 'lr', p.base.lr), 0, 10, { minOpen: true }),
    initStd: c.num('base.initStd', pick(b, 'initStd', p.base.initStd), 0, 10),
    eps: c.num('base.eps', pick(b, 'eps', p.base.eps), 0, 1),
    weightDecay: c.num('base.weightDecay', pick(b, 'weightDecay', p.base.weightDecay), 0, 100),
  };
  for (const k of ['inputMultiplier', 'outputMultiplier'] as const) {
    if (b[k] !== undefined) base[k] = c.num(`base.${k}`, b[k], 0, 1e6, { minOpen: true });
  }

  const o = c.section('optimizer', input.optimizer);
  c.known('optimizer', o, OPT_KEYS);
  const optimizer: OptimizerConfig = {
    beta1: c.num('optimizer.beta1', pick(o, 'beta1', p.optimizer.beta1), 0, 1, { maxOpen: true }),
    beta2: c.num('optimizer.beta2', pick(o, 'beta2', p.optimizer.beta2), 0, 1, { maxOpen: true }),
    clip: c.num('optimizer.clip', pick(o, 'clip', p.optimizer.clip), 0, 1e6),
  };

  const s = c.section('schedule', input.schedule);
  c.known('schedule', s, SCHED_KEYS);
  const totalSteps = c.int('schedule.totalSteps', pick(s, 'totalSteps', steps), 1, LIMITS.steps);
  const schedule: ScheduleConfig = {
    kind: c.oneOf('schedule.kind', pick(s, 'kind', p.schedule.kind), ['cosine', 'wsd'] as const),
    warmupSteps: c.int('schedule.warmupSteps', pick(s, 'warmupSteps', Math.min(100, Math.floor(totalSteps / 10))), 0, totalSteps),
    totalSteps,
    minLrRatio: c.num('schedule.minLrRatio', pick(s, 'minLrRatio', p.schedule.minLrRatio), 0, 1),
    decayFraction: c.num('schedule.decayFraction', pick(s, 'decayFraction', p.schedule.decayFraction), 0, 1),
  };
  if (schedule.kind === 'wsd' && schedule.decayFraction === 0) c.fail('schedule.decayFraction', `must be > 0 for schedule.kind 'wsd'`);

  const batchSize = c.int('batchSize', pick(input, 'batchSize', p.batchSize), 1, LIMITS.batch);
  const gradAccum = c.int('gradAccum', pick(input, 'gradAccum', 1), 1, LIMITS.gradAccum);
  const evalBatches = c.int('evalBatches', pick(input, 'evalBatches', p.evalBatches), 1, 10_000);
  const evalEvery = c.int('evalEvery', pick(input, 'evalEvery', defaultEvalEvery(steps, evalBatches, gradAccum)), 0, LIMITS.steps);
  const checkpointEvery = c.int('checkpointEvery', pick(input, 'checkpointEvery', Math.max(1, Math.floor(steps / 4))), 0, LIMITS.steps);
  // Up to a week; fractions allowed (tests use a fraction of a second).
  const checkpointMinutes = c.num('checkpointMinutes', pick(input, 'checkpointMinutes', p.checkpointMinutes), 0, 7 * 24 * 60);
  const keepCheckpoints = c.int('keepCheckpoints', pick(input, 'keepCheckpoints', p.keepCheckpoints), 1, 1000);
  const logEvery = c.int('logEvery', pick(input, 'logEvery', p.logEvery), 1, LIMITS.steps);
  const seed = c.int('seed', pick(input, 'seed', p.seed), 0, 0xffffffff);
  const ep = c.oneOf('ep', pick(input, 'ep', p.ep), EP_CHOICES);
  const nonFinite = c.oneOf('nonFinite', pick(input, 'nonFinite', p.nonFinite), ['stop', 'skip'] as const);

  let growth: GrowthConfig | undefined;
  if (input.growth !== undefined && input.growth !== null) {
    const g = c.section('growth', input.growth);
    c.known('growth', g, GROWTH_KEYS);
    const atStep = c.int('growth.atStep', g.atStep, 1, Math.max(1, steps - 1));
    const factor = c.int('growth.factor', pick(g, 'factor', growthDefaults.factor), 2, 64);
    let operator: GrowthOperator = 'stack';
    const op = pick(g, 'operator', growthDefaults.operator);
    let added = nLayers * (factor - 1);
    if (isObj(op)) {
      c.known('growth.operator', op, ['partial']);
      const r = op.partial;
      // Inclusive block range [a, b] (0-based), as in growth.ts, train.py and the CLI's partial:A-B.
      if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isInteger(x)) || !(r[0] >= 0 && r[0] <= r[1] && r[1] < nLayers)) {
        c.fail('growth.operator.partial', `must be [a, b] with 0 <= a <= b < model.nLayers (${nLayers}), an inclusive block range (got ${show(r)})`);
      } else {
        operator = { partial: [r[0], r[1]] };
        added = (r[1] - r[0] + 1) * (factor - 1);
      }
    } else operator = c.oneOf('growth.operator', op, ['stack', 'interleave'] as const);
    if (nLayers + added > LIMITS.maxDepthAfterGrowth) c.fail('growth.factor', `grows the model to ${nLayers + added} blocks, more than ${LIMITS.maxDepthAfterGrowth}`);
    growth = {
      atStep,
      factor,
      operator,
      multiplier: c.oneOf('growth.multiplier', pick(g, 'multiplier', growthDefaults.multiplier), ['keep', 'switch', 'rescale'] as const),
      optimizer: c.oneOf('growth.optimizer', pick(g, 'optimizer', growthDefaults.optimizer), ['reset', 'copy'] as const),
      lr: c.oneOf('growth.lr', pick(g, 'lr', growthDefaults.lr), ['continue', 'rewarm'] as const),
    };
  }

  if (c.issues.length) throw new ConfigError(c.issues[0].field, c.issues.map((i) => i.msg));
  const config: RunConfig = {
    version,
    label,
    model: { vocabSize, context, dModel, nLayers, nHeads, dFf, tiedEmbeddings },
    parameterization,
    base,
    optimizer,
    schedule,
    batchSize,
    steps,
    evalEvery,
    evalBatches,
    checkpointEvery,
    checkpointMinutes,
    keepCheckpoints,
    logEvery,
    seed,
    data,
    ep,
    nonFinite,
  };
  if (gradAccum > 1) config.gradAccum = gradAccum;
  if (growth) config.growth = growth;
  return config;
}

/** JSON with object keys sorted at every level, so equal configs hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The hash checkpoints carry: the run config without `steps`, which a resume may extend ('train
 * further'). Written by the trainer and by the exported PyTorch program (as runConfigHash), and
 * checked on every resume.
 */
export function checkpointConfigHash(config: RunConfig): string {
  return configHash({ ...config, steps: 0 });
}

/**
 * Hash of a run config: everything except `label`, `ep` (a run may be resumed on another
 * execution provider) and `checkpointMinutes` (a cadence, added later: leaving it out keeps the
 * hashes of older configs and checkpoints unchanged).
 */
export function configHash(config: RunConfig): string {
  const { label: _label, ep: _ep, checkpointMinutes: _cm, ...rest } = config;
  void _label;
  void _ep;
  void _cm;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 16);
}
