/**
 * Growth experiment (G_stack, Du et al. 2024, arXiv 2405.15319; shared notes gstack.md): at an
 * equal FLOP budget, train the target model from scratch and, for each multiplier policy, a
 * 1/g-depth model that is stacked g-fold partway and trained on. Reports each run's final held-out
 * loss and the FLOPs it needed to reach the scratch run's final loss; the speed-up is the paper's
 * FLOPs_scratch / FLOPs_grown - 1. FLOPs count the small model's training (6N + 12LdT per token,
 * flopsPerToken in trainer.ts). Runs go through train(), so each leaves a normal run folder.
 */
import { GROWTH_DEFAULTS } from '../model/growthDefaults';
import * as path from 'node:path';
import { paramLayout, totalParams } from '../model/gpt';
import { presetConfig, validateConfig, type GrowthConfig, type PresetName, type RunConfig } from '../runs/configSchema';
import { readJsonl } from '../runs/runStore';
import type { Ep } from '../train/runtime';
import { flopsPerToken, modelShapeOf, train, transferFor, type Progress } from '../train/trainer';
import { chartSvg } from './svg';

export type MultiplierPolicy = GrowthConfig['multiplier'];

export interface GrowthExperimentOptions {
  preset?: PresetName;
  /** Target model overrides. */
  width?: number;
  depth?: number;
  heads?: number;
  context?: number;
  batch?: number;
  /** Steps of the scratch run (the FLOP budget is steps x tokens/step x FLOPs/token of the target). */
  steps?: number;
  factor?: number;
  policies?: MultiplierPolicy[];
  optimizer?: GrowthConfig['optimizer'];
  lr?: GrowthConfig['lr'];
  /** Small-model steps before growth; default growFraction x steps. */
  growAtStep?: number;
  growFraction?: number;
  evalEvery?: number;
  evalBatches?: number;
  seed?: number;
  /** Base learning rate override. */
  baseLr?: number;
  ep: Ep;
  /** Run folders go under outDir/runs. */
  outDir: string;
  onProgress?: (run: string, p: Progress) => void;
}

export interface ExperimentRun {
  name: string;
  policy?: MultiplierPolicy;
  runDir: string;
  depths: number[];
  steps: number;
  growAtStep?: number;
  totalFlops: number;
  finalEvalLoss: number;
  /** FLOPs at which the held-out loss first reached the scratch run's final loss (linear interpolation between evals); null: never. */
  flopsToTarget: number | null;
  /** FLOPs_scratch / flopsToTarget - 1 (null when the target was not reached). */
  speedup: number | null;
  curve: { step: number; flops: number; evalLoss: number }[];
  growth?: { lossBefore: number; lossesAfter: number[] };
}

export interface GrowthExperimentResult {
  target: { width: number; depth: number; heads: number; context: number; batch: number; params: number; flopsPerToken: number };
  small: { depth: number; params: number; flopsPerToken: number };
  factor: number;
  tokensPerStep: number;
  budgetFlops: number;
  targetLoss: number;
  runs: ExperimentRun[];
  settings: { preset: PresetName; steps: number; optimizer: GrowthConfig['optimizer']; lr: GrowthConfig['lr']; growAtStep: number; evalEvery: number; evalBatches: number; seed: number; ep: Ep; parameterization: string; baseLr: number };
}

function firstReach(curve: ExperimentRun['curve'], target: number): number | null {
  for (let i = 0; i < curve.length; i++) {
    if (curve[i].evalLoss <= target) {
      if (i === 0) return curve[i].flops;
      const a = curve[i - 1], b = curve[i];
      const f = (a.evalLoss - target) / (a.evalLoss - b.evalLoss);
      return a.flops + f * (b.flops - a.flops);
    }
  }
  return null;
}

export async function growthExperiment(o: GrowthExperimentOptions): Promise<GrowthExperimentResult> {
  const presetName = o.preset ?? 'small';
  const p = presetConfig(presetName);
  const factor = o.factor ?? GROWTH_DEFAULTS.factor;
  const policies = o.policies ?? ['rescale', 'switch', 'keep'];
  const steps = o.steps ?? p.steps;
  const depth = o.depth ?? p.model.nLayers;
  const width = o.width ?? p.model.dModel;
  if (!(Number.isInteger(factor) && factor >= 2)) throw new RangeError(`growth factor must be an integer >= 2 (got ${factor})`);
  if (depth % factor !== 0) throw new RangeError(`target depth ${depth} is not divisible by the growth factor ${factor}`);
  const heads = o.heads ?? (o.width !== undefined ? Math.max(1, Math.round(width / 64)) : p.model.nHeads);
  const evalEvery = o.evalEvery ?? Math.max(1, Math.floor(steps / 20));
  const seed = o.seed ?? p.seed;
  const model = { ...p.model, dModel: width, nLayers: depth, nHeads: heads, dFf: 4 * width, context: o.context ?? p.model.context };
  const base = { ...p.base, ...(o.baseLr ? { lr: o.baseLr } : {}) };
  const common = (label: string, m: RunConfig['model'], n: number, growth?: GrowthConfig): RunConfig =>
    validateConfig({
      ...p,
      preset: presetName,
      label,
      model: m,
      base,
      batchSize: o.batch ?? p.batchSize,
      steps: n,
      schedule: { ...p.schedule, warmupSteps: Math.min(100, Math.floor(steps / 10)), totalSteps: n },
      evalEvery,
      evalBatches: o.evalBatches ?? p.evalBatches,
      checkpointEvery: 0,
      checkpointMinutes: 0,
      keepCheckpoints: 1,
      logEvery: Math.max(1, Math.floor(n / 50)),
      seed,
      ep: o.ep,
      ...(growth ? { growth } : {}),
    } as unknown as Parameters<typeof validateConfig>[0]);
  const scratchCfg = common('scratch', model, steps);
  const smallDepth = depth / factor;
  const fpt = (c: RunConfig, d: number) => {
    const n = totalParams(paramLayout(modelShapeOf(c, d), transferFor(c, d)));
    return { params: n, flopsPerToken: flopsPerToken(n, modelShapeOf(c, d)) };
  };
  const tgt = fpt(scratchCfg, depth), sml = fpt(scratchCfg, smallDepth);
  const tokensPerStep = scratchCfg.batchSize * scratchCfg.model.context;
  const budget = steps * tokensPerStep * tgt.flopsPerToken;
  const growAt = o.growAtStep ?? Math.max(1, Math.round((o.growFraction ?? 0.2) * steps));
  // Equal budget: a small steps at f_s, then the target's f_t: total steps a + (budget - a*f_s)/f_t.
  const grownSteps = growAt + Math.round((budget / tokensPerStep - growAt * sml.flopsPerToken) / tgt.flopsPerToken);
  if (!(growAt < grownSteps)) throw new RangeError(`growth at step ${growAt} leaves no steps for the grown model within the budget`);
  const flopsAt = (step: number, grownAtStep?: number) =>
    grownAtStep === undefined ? step * tokensPerStep * tgt.flopsPerToken : tokensPerStep * (Math.min(step, grownAtStep) * sml.flopsPerToken + Math.max(0, step - grownAtStep) * tgt.flopsPerToken);

  const runsRoot = path.join(o.outDir, 'runs');
  const runs: ExperimentRun[] = [];
  const runOne = async (name: string, c: RunConfig, policy?: MultiplierPolicy): Promise<ExperimentRun> => {
    const curve: ExperimentRun['curve'] = [];
    const grownAt = c.growth?.atStep;
    const r = await train({
      config: c,
      runsRoot,
      ep: o.ep,
      onProgress: (ev) => {
        if (ev.kind === 'eval') curve.push({ step: ev.step, flops: flopsAt(ev.step, grownAt), evalLoss: ev.evalLoss });
        o.onProgress?.(name, ev);
      },
    });
    if (r.reason !== 'done') throw new Error(`${name}: training ended with '${r.reason}' at step ${r.step} (${r.runDir})`);
    let growth: ExperimentRun['growth'];
    if (c.growth) {
      const ev = readJsonl<{ type: string; lossBefore: number; lossesAfter: number[] }>(path.join(r.runDir, 'events.jsonl')).records.find((e) => e.type === 'growth');
      if (ev) growth = { lossBefore: ev.lossBefore, lossesAfter: ev.lossesAfter };
    }
    return {
      name, policy, runDir: r.runDir,
      depths: c.growth ? [c.model.nLayers, depth] : [depth],
      steps: c.steps, growAtStep: grownAt,
      totalFlops: flopsAt(c.steps, grownAt),
      finalEvalLoss: r.evalLoss ?? NaN,
      flopsToTarget: null, speedup: null, curve, growth,
    };
  };

  const scratch = await runOne('scratch', scratchCfg);
  runs.push(scratch);
  for (const policy of policies) {
    const g: GrowthConfig = { atStep: growAt, factor, operator: 'stack', multiplier: policy, optimizer: o.optimizer ?? GROWTH_DEFAULTS.optimizer, lr: o.lr ?? GROWTH_DEFAULTS.lr };
    runs.push(await runOne(`G_stack ${policy}`, common(`gstack-${policy}`, { ...model, nLayers: smallDepth }, grownSteps, g), policy));
  }
  const targetLoss = scratch.finalEvalLoss;
  for (const r of runs) {
    r.flopsToTarget = firstReach(r.curve, targetLoss);
    if (r === scratch) r.flopsToTarget = Math.min(r.flopsToTarget ?? r.totalFlops, r.totalFlops);
    r.speedup = r.flopsToTarget ? scratch.totalFlops / r.flopsToTarget - 1 : null;
  }
  return {
    target: { width, depth, heads, context: model.context, batch: scratchCfg.batchSize, params: tgt.params, flopsPerToken: tgt.flopsPerToken },
    small: { depth: smallDepth, params: sml.params, flopsPerToken: sml.flopsPerToken },
    factor, tokensPerStep, budgetFlops: budget, targetLoss, runs,
    settings: { preset: presetName, steps, optimizer: o.optimizer ?? GROWTH_DEFAULTS.optimizer, lr: o.lr ?? GROWTH_DEFAULTS.lr, growAtStep: growAt, evalEvery, evalBatches: scratchCfg.evalBatches, seed, ep: o.ep, parameterization: scratchCfg.parameterization, baseLr: scratchCfg.base.lr },
  };
}

/** Held-out loss vs cumulative training FLOPs, scratch and each policy, with the target loss. */
export function growthExperimentChart(r: GrowthExperimentResult): string {
  return chartSvg(
    [{
      title: `G_stack x${r.factor} vs scratch (depth ${r.small.depth} -> ${r.target.depth}, width ${r.target.width})`,
      xLabel: 'training FLOPs (incl. the small model)',
      yLabel: 'held-out loss',
      series: r.runs.map((x) => ({ name: x.name, points: x.curve.map((c) => [c.flops, c.evalLoss] as [number, number]), dashed: x.name === 'scratch' })),
      hLine: { y: r.targetLoss, label: `scratch final ${r.targetLoss.toFixed(4)}` },
    }],
    { panelWidth: 640, height: 380 },
  );
}
