/**
 * Coordinate check across depth (CompleteP paper, arXiv 2505.01618; shared notes completep.md):
 * for each parameterization and depth, train a small model for a few steps and record the mean
 * |residual stream after the last block| on a fixed batch, at step 0 and after every step.
 * A parameterization implemented correctly for depth (alpha = 0.5, CompleteP) gives curves that
 * do not grow with depth; SP and muP (no depth rule) grow.
 */
import { initParams } from '../model/init';
import { PARAMETERIZATIONS, type BaseHparams, type Parameterization } from '../param/parameterization';
import { Engine, freshState } from '../train/engine';
import { DEFAULT_OPTIMIZER } from '../train/graphs';
import type { Ep } from '../train/runtime';
import { brownBatches, defaultBase, smallShape, transferOf } from './common';
import { chartSvg, type Panel } from './svg';

export interface CoordCheckOptions {
  params?: Parameterization[];
  depths?: number[];
  width?: number;
  steps?: number;
  context?: number;
  batch?: number;
  seed?: number;
  /** Base hyperparameters (base width/depth, lr, init std...); DEFAULT_BASE by default. */
  base?: Partial<BaseHparams>;
  ep?: Ep;
  onProgress?: (p: { param: Parameterization; depth: number; values: number[] }) => void;
}

export interface CoordCheckResult {
  /** results[param][depth] = mean |x| after the last block at steps 0..steps. */
  results: Record<string, Record<string, number[]>>;
  /** Per parameterization: last-step value at the deepest depth / at the shallowest. */
  growth: Record<string, number>;
  settings: { depths: number[]; width: number; steps: number; context: number; batch: number; seed: number; base: BaseHparams; ep: Ep; lrSchedule: 'constant' };
}

export const COORDCHECK_DEFAULTS = { depths: [2, 4, 8, 16, 32], width: 64, steps: 10, context: 32, batch: 4, seed: 1234 };

export async function coordCheck(o: CoordCheckOptions = {}): Promise<CoordCheckResult> {
  const params = o.params ?? [...PARAMETERIZATIONS];
  const depths = o.depths ?? COORDCHECK_DEFAULTS.depths;
  const width = o.width ?? COORDCHECK_DEFAULTS.width;
  const steps = o.steps ?? COORDCHECK_DEFAULTS.steps;
  const context = o.context ?? COORDCHECK_DEFAULTS.context;
  const batch = o.batch ?? COORDCHECK_DEFAULTS.batch;
  const seed = o.seed ?? COORDCHECK_DEFAULTS.seed;
  const base = defaultBase(o.base);
  const ep = o.ep ?? 'cpu';
  for (const p of params) if (!PARAMETERIZATIONS.includes(p)) throw new RangeError(`unknown parameterization '${p}'`);
  if (!depths.length || depths.some((d) => !(Number.isInteger(d) && d > 0))) throw new RangeError('depths must be positive integers');
  if (!(Number.isInteger(steps) && steps >= 0)) throw new RangeError('steps must be a non-negative integer');
  const results: CoordCheckResult['results'] = {};
  const growth: Record<string, number> = {};
  for (const p of params) {
    results[p] = {};
    for (const depth of depths) {
      const shape = smallShape({ width, depth, context });
      const t = transferOf(base, p, width, depth);
      const engine = await Engine.create({ shape, transfer: t, batch, optimizer: DEFAULT_OPTIMIZER, ep, residualStat: true });
      try {
        const init = initParams(engine.layout, seed);
        await engine.setState(freshState(init));
        // Same data for every model: the sampler and the fixed batch depend only on the seed.
        const { sampler, evalSet } = brownBatches({ batch, context, seed, evalBatches: 1 });
        const stat = async () => (await engine.evaluate(evalSet)).residualAbsMean!;
        const values = [await stat()];
        for (let s = 1; s <= steps; s++) {
          await engine.step(sampler.nextBatch(), 1, s); // constant LR (the base LR transferred), no warmup
          values.push(await stat());
        }
        results[p][String(depth)] = values;
        o.onProgress?.({ param: p, depth, values });
      } finally {
        await engine.release();
      }
    }
    const lo = results[p][String(Math.min(...depths))], hi = results[p][String(Math.max(...depths))];
    growth[p] = hi[hi.length - 1] / lo[lo.length - 1];
  }
  return { results, growth, settings: { depths, width, steps, context, batch, seed, base, ep, lrSchedule: 'constant' } };
}

/** 'flat' when the last-step value at the deepest depth is within [1/2, 2] x the shallowest. */
export function coordCheckVerdict(r: CoordCheckResult): Record<string, 'flat' | 'grows' | 'shrinks'> {
  return Object.fromEntries(Object.entries(r.growth).map(([p, g]) => [p, g > 2 ? 'grows' : g < 0.5 ? 'shrinks' : 'flat']));
}

/** One panel per parameterization: mean |x| vs depth, one line per step (0, 1, mid, last). */
export function coordCheckChart(r: CoordCheckResult): string {
  const s = r.settings;
  const steps = [...new Set([0, 1, Math.floor(s.steps / 2), s.steps])].filter((k) => k <= s.steps);
  const panels: Panel[] = Object.entries(r.results).map(([p, byDepth]) => ({
    title: p,
    xLabel: 'depth (blocks)',
    yLabel: 'mean |x| after last block',
    logX: true,
    logY: true,
    series: steps.map((k) => ({ name: `step ${k}`, points: s.depths.map((d) => [d, byDepth[String(d)][k]] as [number, number]) })),
  }));
  return chartSvg(panels, { title: `coordinate check, width ${s.width}, base ${s.base.baseWidth}x${s.base.baseDepth}, lr ${s.base.lr}` });
}
