import { readFileSync, statSync } from 'node:fs';
import { describeGrowthPolicy } from '../../core/model/growthDefaults';
import { ConfigError, validateConfig, type RunConfig } from '../../core/runs/configSchema';
import { startTraining, TrainingFailed } from '../../core/train/launcher';
import type { Progress, TrainResult } from '../../core/train/trainer';
import { parse, optNum } from '../args';
import { finalLine } from '../runSummary';
import { UserError } from '../errors';
import type { Command } from '../command';
import { deviceLabel } from '../../core/train/runtimeChoice';

const HELP = `usage: shapelab train [--preset tiny|small|25m] [--config FILE] [--data PATH] [--tokenizer byte|gpt2]
                      [--ep auto|webgpu|cpu|cuda] [--steps N] [--batch-size B] [--grad-accum K] [--seed S] [--out DIR] [--label NAME]
                      [--param completep|alpha0.5|mup|sp] [--lr X] [--eval-every N] [--checkpoint-every N] [--checkpoint-minutes M]
                      [--grow-at-step N [--grow-factor G] [--grow-operator stack|interleave|partial:A-B]
                       [--grow-multiplier keep|switch|rescale] [--grow-optimizer reset|copy] [--grow-lr continue|rewarm]]
                      [--json]
Trains a CompleteP GPT through onnxruntime-node in a new run folder inside --out (default runs/).
Without --data it uses the embedded Brown corpus. Ctrl-C writes a checkpoint and exits cleanly.
--grad-accum K: K micro-batches of --batch-size sequences per optimizer step (gradient accumulation;
the effective batch is K * B sequences at the memory of B).
--checkpoint-every N / --checkpoint-minutes M: a checkpoint every N steps and at least every M minutes
of training (default 10; 0 turns it off; never more often than 20x the time one checkpoint takes).

Growth defaults (src/core/model/growthDefaults.ts): ${describeGrowthPolicy()}.`;

export const OPTIONS = {
  preset: { type: 'string' },
  config: { type: 'string' },
  data: { type: 'string' },
  tokenizer: { type: 'string' },
  ep: { type: 'string' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  'grad-accum': { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  label: { type: 'string' },
  param: { type: 'string' },
  lr: { type: 'string' },
  'eval-every': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'checkpoint-minutes': { type: 'string' },
  'grow-at-step': { type: 'string' },
  'grow-factor': { type: 'string' },
  'grow-operator': { type: 'string' },
  'grow-multiplier': { type: 'string' },
  'grow-optimizer': { type: 'string' },
  'grow-lr': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

function readConfigFile(file: string): Obj {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Obj;
  } catch (e) {
    throw new UserError(`config ${file} is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

function parseOperator(s: string): unknown {
  const m = /^partial:(\d+)-(\d+)$/.exec(s);
  if (m) return { partial: [Number(m[1]), Number(m[2])] };
  if (s === 'stack' || s === 'interleave') return s;
  throw new UserError(`--grow-operator: expected stack, interleave or partial:A-B (got '${s}')`);
}

/** Builds the validated run config from a preset or file plus command-line overrides. */
export function configFromFlags(v: Record<string, string | boolean | undefined>): RunConfig {
  const c: Obj = v.config ? readConfigFile(String(v.config)) : {};
  if (v.preset) c.preset = v.preset;
  const steps = optNum(v.steps, '--steps', { integer: true, positive: true });
  if (steps !== undefined) {
    c.steps = steps;
    // A shorter run from a preset gets a schedule of its own length unless the file set one.
    const s = obj(c.schedule);
    if (s.totalSteps === undefined) c.schedule = { ...s, totalSteps: steps };
    // evalEvery: left unset, the config default for this length (defaultEvalEvery, ~20 evals).
    if (c.checkpointEvery === undefined) c.checkpointEvery = Math.max(1, Math.floor(steps / 4));
    if (c.logEvery === undefined) c.logEvery = Math.max(1, Math.min(10, Math.floor(steps / 20)));
  }
  if (v.data) {
    let isDir: boolean;
    try {
      isDir = statSync(String(v.data)).isDirectory();
    } catch {
      throw new UserError(`--data ${v.data}: no such file or folder`);
    }
    c.data = { ...obj(c.data), source: isDir ? 'folder' : 'file', path: String(v.data) };
  }
  if (v.tokenizer) c.data = { ...obj(c.data), tokenizer: v.tokenizer };
  if (v.tokenizer === 'gpt2' && obj(c.model).vocabSize === undefined) c.model = { ...obj(c.model), vocabSize: 50257 };
  if (v.ep) c.ep = v.ep;
  if (v.label) c.label = v.label;
  if (v.param) c.parameterization = v.param;
  const bs = optNum(v['batch-size'], '--batch-size', { integer: true, positive: true });
  if (bs !== undefined) c.batchSize = bs;
  const ga = optNum(v['grad-accum'], '--grad-accum', { integer: true, positive: true });
  if (ga !== undefined) c.gradAccum = ga;
  const seed = optNum(v.seed, '--seed', { integer: true, min: 0 });
  if (seed !== undefined) c.seed = seed;
  const lr = optNum(v.lr, '--lr', { positive: true });
  if (lr !== undefined) c.base = { ...obj(c.base), lr };
  const ee = optNum(v['eval-every'], '--eval-every', { integer: true, min: 0 });
  if (ee !== undefined) c.evalEvery = ee;
  const ce = optNum(v['checkpoint-every'], '--checkpoint-every', { integer: true, min: 0 });
  if (ce !== undefined) c.checkpointEvery = ce;
  const cm = optNum(v['checkpoint-minutes'], '--checkpoint-minutes', { min: 0 });
  if (cm !== undefined) c.checkpointMinutes = cm;
  const growKeys = ['grow-at-step', 'grow-factor', 'grow-operator', 'grow-multiplier', 'grow-optimizer', 'grow-lr'];
  if (growKeys.some((k) => v[k] !== undefined)) {
    const g = obj(c.growth);
    const at = optNum(v['grow-at-step'], '--grow-at-step', { integer: true, min: 0 });
    const f = optNum(v['grow-factor'], '--grow-factor', { integer: true, positive: true });
    // Unset policies take the run-config defaults (configSchema.ts): one source of truth.
    c.growth = {
      ...g,
      ...(at !== undefined ? { atStep: at } : {}),
      ...(f !== undefined ? { factor: f } : {}),
      ...(v['grow-operator'] ? { operator: parseOperator(String(v['grow-operator'])) } : {}),
      ...(v['grow-multiplier'] ? { multiplier: v['grow-multiplier'] } : {}),
      ...(v['grow-optimizer'] ? { optimizer: v['grow-optimizer'] } : {}),
      ...(v['grow-lr'] ? { lr: v['grow-lr'] } : {}),
    };
    if (obj(c.growth).atStep === undefined) throw new UserError('--grow-at-step is required with the other --grow-* options');
  }
  try {
    return validateConfig(c);
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError((e as Error).message.split('\n').join('; '));
    throw e;
  }
}

const fmtTime = (s: number) => {
  if (!Number.isFinite(s)) return '--:--';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return `${h ? h + ':' : ''}${String(m).padStart(h ? 2 : 1, '0')}:${String(sec).padStart(2, '0')}`;
};
const fmtRate = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));

/** Renders progress: a live bar on a terminal, plain lines otherwise, JSON lines with --json. */
export function progressPrinter(json: boolean): (p: Progress) => void {
  const tty = process.stderr.isTTY && !json;
  return (p) => {
    if (json) {
      process.stdout.write(JSON.stringify(p) + '\n');
      return;
    }
    switch (p.kind) {
      case 'start':
        process.stdout.write(`run: ${p.runDir}\n`);
        if (p.note) process.stderr.write(`${p.note}\n`);
        process.stderr.write(
          `device ${deviceLabel(p.ep, p.runtime)}, ${(p.params / 1e6).toFixed(2)}M parameters, depth ${p.depth}, batch ${p.gradAccum > 1 ? `${p.gradAccum} x ${p.batchSize}` : p.batchSize} x ${p.context} tokens, data ${p.data}${p.resumedFrom !== undefined ? `, resumed at step ${p.resumedFrom}` : ''}\n`,
        );
        break;
      case 'step': {
        const width = 24, done = Math.round((width * p.step) / p.steps);
        const bar = `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
        const line = `${bar} step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  ${fmtRate(p.tokensPerSec)} tok/s  ${p.tflops.toFixed(2)} TFLOP/s  ETA ${fmtTime(p.etaSec)}`;
        process.stderr.write(tty ? `\r${line}\x1b[K` : line + '\n');
        break;
      }
      case 'eval':
        process.stderr.write(`${tty ? '\n' : ''}eval @ step ${p.step}: loss ${p.evalLoss.toFixed(4)}\n`);
        break;
      case 'growth':
        process.stderr.write(`${tty ? '\n' : ''}growth @ step ${p.step}: depth ${p.depthBefore} -> ${p.depthAfter}\n`);
        break;
      case 'nonfinite':
        process.stderr.write(`${tty ? '\n' : ''}non-finite loss/gradient at step ${p.step} (loss ${p.loss}, grad norm ${p.gradNorm}${p.updateFinite === false ? ', parameter update NaN/Inf' : ''}): ${p.action === 'stop' ? 'stopping; the last good state is kept' : 'step skipped'}\n`);
        break;
      case 'checkpoint':
        break;
      case 'end':
        // The run's summary is the last line runTraining prints (runSummary.ts); here only end the bar.
        if (tty) process.stderr.write('\n');
        break;
    }
  };
}

const USER_FIXABLE = new Set(['RunLockedError', 'ResourceError', 'DataSourceError', 'ConfigError', 'RuntimeError', 'NoCheckpointError']);

/** Runs training in a worker; the first Ctrl-C stops with a checkpoint, a second one aborts. */
export async function runTraining(opts: Parameters<typeof startTraining>[0], json: boolean): Promise<TrainResult> {
  const handle = startTraining(opts, progressPrinter(json));
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\nstopping after this step (writing a checkpoint); press Ctrl-C again to abort\n');
      handle.stop();
    } else void handle.kill();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await handle.done;
    if (!json) process.stdout.write(finalLine(r, opts.config.data.tokenizer) + '\n');
    return r;
  } catch (e) {
    const msg = String((e as Error)?.message ?? e).split('\n').find((l) => l.trim()) ?? 'unknown error';
    // Problems the user fixes by changing the input (busy run folder, shape too big, unusable data): exit 2.
    if (e instanceof TrainingFailed && e.errorName && USER_FIXABLE.has(e.errorName)) throw new UserError(msg, 2);
    throw new UserError(msg.startsWith('training failed') ? msg : `training failed: ${msg}`, 1);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const command: Command = {
  summary: 'train a model on this machine (WebGPU, CUDA or CPU) in a new run folder',
  async run(argv) {
    const { values: v } = parse(argv, OPTIONS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const config = configFromFlags(v as Record<string, string | boolean | undefined>);
    const r = await runTraining({ config, runsRoot: typeof v.out === 'string' ? v.out : 'runs' }, Boolean(v.json));
    return r.reason === 'nonfinite' ? 3 : 0;
  },
};
