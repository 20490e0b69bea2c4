import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { growthExperiment, growthExperimentChart, type MultiplierPolicy } from '../../core/diagnostics/growthExperiment';
import { GROWTH_DEFAULTS, describeGrowthPolicy } from '../../core/model/growthDefaults';
import { PRESET_NAMES, type PresetName } from '../../core/runs/configSchema';
import { optNum, parse } from '../args';
import { UserError } from '../errors';
import type { Command } from '../command';
import { epFlag } from './coordcheck';

const HELP = `usage: shapelab experiment growth [--preset small] [--steps N] [--factor G] [--policies rescale,switch,keep]
                              [--width D] [--depth L] [--heads H] [--context T] [--batch B] [--lr X]
                              [--grow-at-step N | --grow-fraction 0.2] [--grow-optimizer reset|copy] [--grow-lr rewarm|continue]
                              [--eval-every N] [--eval-batches N] [--seed S] [--ep auto|webgpu|cpu|cuda] [--json] [--out DIR]
At an equal FLOP budget (--steps steps of the target model), trains the target from scratch and, per multiplier
policy, a depth/factor model stacked --factor-fold (G_stack) at --grow-at-step and trained on. Prints each run's
final held-out loss and the FLOPs it needed to reach the scratch run's final loss; speed-up = FLOPs_scratch /
FLOPs_grown - 1 (Du et al. 2024). Writes growth-experiment.json, growth-experiment.svg and the run folders
(runs/) into --out (default experiments/growth-<time>). Defaults (src/core/model/growthDefaults.ts): ${describeGrowthPolicy()}.`;

const POLICIES = ['rescale', 'switch', 'keep'] as const;
const sci = (x: number) => x.toExponential(3);

export const command: Command = {
  summary: 'growth experiment: scratch vs G_stack (each policy) at equal FLOPs, speed-up to the scratch loss',
  async run(argv) {
    const { values: v, positionals } = parse(argv, {
      preset: { type: 'string' },
      steps: { type: 'string' },
      factor: { type: 'string' },
      policies: { type: 'string' },
      width: { type: 'string' },
      depth: { type: 'string' },
      heads: { type: 'string' },
      context: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      'grow-at-step': { type: 'string' },
      'grow-fraction': { type: 'string' },
      'grow-optimizer': { type: 'string' },
      'grow-lr': { type: 'string' },
      'eval-every': { type: 'string' },
      'eval-batches': { type: 'string' },
      seed: { type: 'string' },
      ep: { type: 'string' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }, true);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== 'growth') throw new UserError(`experiment: expected 'experiment growth' (got '${positionals.join(' ') || '(nothing)'}'); see shapelab experiment --help`);
    const preset = (v.preset ?? 'small') as PresetName;
    if (!PRESET_NAMES.includes(preset)) throw new UserError(`--preset: expected ${PRESET_NAMES.join(', ')} (got '${preset}')`);
    const policies = String(v.policies ?? POLICIES.join(',')).split(',').map((s) => s.trim()) as MultiplierPolicy[];
    for (const p of policies) if (!POLICIES.includes(p)) throw new UserError(`--policies: unknown policy '${p}'; known: ${POLICIES.join(', ')}`);
    const opt = v['grow-optimizer'] ?? GROWTH_DEFAULTS.optimizer;
    if (opt !== 'reset' && opt !== 'copy') throw new UserError(`--grow-optimizer: expected reset or copy (got '${opt}')`);
    const lrp = v['grow-lr'] ?? GROWTH_DEFAULTS.lr;
    if (lrp !== 'rewarm' && lrp !== 'continue') throw new UserError(`--grow-lr: expected rewarm or continue (got '${lrp}')`);
    const steps = optNum(v.steps, '--steps', { integer: true, min: 4, max: 1e8 });
    const factor = optNum(v.factor, '--factor', { integer: true, min: 2, max: 64 });
    const width = optNum(v.width, '--width', { integer: true, positive: true, max: 65536 });
    const depth = optNum(v.depth, '--depth', { integer: true, positive: true, max: 1024 });
    const heads = optNum(v.heads, '--heads', { integer: true, positive: true, max: 1024 });
    const context = optNum(v.context, '--context', { integer: true, positive: true, max: 65536 });
    const batch = optNum(v.batch, '--batch', { integer: true, positive: true, max: 65536 });
    const baseLr = optNum(v.lr, '--lr', { positive: true });
    const growAtStep = optNum(v['grow-at-step'], '--grow-at-step', { integer: true, positive: true });
    const growFraction = optNum(v['grow-fraction'], '--grow-fraction', { positive: true, max: 0.9 });
    const evalEvery = optNum(v['eval-every'], '--eval-every', { integer: true, positive: true });
    const evalBatches = optNum(v['eval-batches'], '--eval-batches', { integer: true, positive: true, max: 10_000 });
    const seed = optNum(v.seed, '--seed', { integer: true, min: 0, max: 0xffffffff });
    if (growAtStep !== undefined && growFraction !== undefined) throw new UserError('--grow-at-step and --grow-fraction are exclusive');
    const { ep, note } = await epFlag(v.ep, 'auto');
    const outDir = typeof v.out === 'string' ? v.out : path.join('experiments', `growth-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
    try {
      mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw new UserError(`cannot create ${outDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const log = (s: string) => {
      if (!v.json) process.stderr.write(s + '\n');
    };
    if (note) log(note);
    let r;
    try {
      r = await growthExperiment({
        preset, steps, factor, policies, width, depth, heads, context, batch, baseLr, growAtStep, growFraction, evalEvery, evalBatches, seed,
        optimizer: opt, lr: lrp, ep, outDir,
        onProgress: (run, p) => {
          if (p.kind === 'start') log(`${run}: ${p.runDir} (${(p.params / 1e6).toFixed(2)}M params, depth ${p.depth}, ${p.ep})`);
          else if (p.kind === 'eval') log(`  ${run} step ${p.step}: eval loss ${p.evalLoss.toFixed(4)}`);
          else if (p.kind === 'growth') log(`  ${run} growth at step ${p.step}: depth ${p.depthBefore} -> ${p.depthAfter}`);
        },
      });
    } catch (e) {
      // Impossible shapes/budgets from the planner-side checks are the user's input.
      if (e instanceof RangeError || (e as Error).name === 'ConfigError') throw new UserError((e as Error).message.split('\n')[0]);
      throw e;
    }
    const json = path.join(outDir, 'growth-experiment.json'), svg = path.join(outDir, 'growth-experiment.svg');
    writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
    writeFileSync(svg, growthExperimentChart(r));
    if (v.json) {
      process.stdout.write(JSON.stringify({ ...r, files: { json, svg } }, null, 2) + '\n');
      return 0;
    }
    const t = r.target, s = r.settings;
    const lines = [
      `growth experiment: target width ${t.width}, depth ${t.depth}, heads ${t.heads}, context ${t.context}, batch ${r.tokensPerStep / t.context} (${(t.params / 1e6).toFixed(2)}M params, ${s.parameterization}, lr ${s.baseLr}, ${s.ep})`,
      `G_stack x${r.factor}: depth ${r.small.depth} (${(r.small.params / 1e6).toFixed(2)}M) for ${s.growAtStep} steps, then depth ${t.depth}; optimizer ${s.optimizer}, LR ${s.lr}`,
      `budget ${sci(r.budgetFlops)} FLOPs (${s.steps} target steps); target loss = scratch final eval loss ${r.targetLoss.toFixed(4)}`,
      '',
      `${'run'.padEnd(18)} ${'steps'.padStart(7)} ${'FLOPs'.padStart(10)} ${'final loss'.padStart(10)} ${'FLOPs to target'.padStart(16)} ${'speed-up'.padStart(9)}`,
    ];
    for (const x of r.runs) {
      lines.push(`${x.name.padEnd(18)} ${String(x.steps).padStart(7)} ${sci(x.totalFlops).padStart(10)} ${x.finalEvalLoss.toFixed(4).padStart(10)} ${(x.flopsToTarget === null ? 'not reached' : sci(x.flopsToTarget)).padStart(16)} ${(x.speedup === null ? '-' : `${(x.speedup * 100).toFixed(1)}%`).padStart(9)}`);
    }
    lines.push('', `files: ${json}, ${svg}, runs in ${path.join(outDir, 'runs')}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
