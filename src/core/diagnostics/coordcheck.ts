/**
 * Coordinate checks (CompleteP paper, arXiv 2505.01618; muP, arXiv 2203.03466; shared notes
 * completep.md): for each parameterization, train small models for a few steps and record the mean
 * |residual stream after the last block| on a fixed batch, at step 0 and after every step.
 *
 * - Across depth, at the base width (m_N = 1, so only the depth rule acts): alpha = 0.5 and
 *   CompleteP stay flat, SP and muP grow.
 * - Across width, at the base depth (m_L = 1, so only the width rule acts): muP, alpha = 0.5 and
 *   CompleteP stay flat, SP grows.
 *
 * Why the depth check runs at the base width: with width 64 under a base width of 256 the hidden
 * LR is 4x the base LR (eta / m_N), the residual stream grows ~85x in 10 steps, and depth effects
 * drown in that non-linear regime (alpha = 0.5 then falls from depth 2 to ~32 before levelling
 * off, 12.9 -> 4.8 -> 4.0 -> 4.1 -> 4.0 at depths 2/32/64/128/256; at lr 3e-5 it is flat, 1.03x).
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
  /** Width of the depth sweep. */
  width?: number;
  /** Widths of the width sweep (at the base depth); [] skips it. */
  widths?: number[];
  steps?: number;
  context?: number;
  batch?: number;
  seed?: number;
  /**
   * Base hyperparameters; DEFAULT_BASE otherwise, except that an unset base width is the depth
   * sweep's width (depth sweep) or the smallest width (width sweep).
   */
  base?: Partial<BaseHparams>;
  ep?: Ep;
  onProgress?: (p: { param: Parameterization; depth: number; width: number; values: number[] }) => void;
}

export interface CoordCheckResult {
  /** results[param][depth] = mean |x| after the last block at steps 0..steps (depth sweep). */
  results: Record<string, Record<string, number[]>>;
  /** Per parameterization: last-step value at the deepest depth / at the shallowest. */
  growth: Record<string, number>;
  /** byWidth[param][width] = the same statistic across widths at the base depth. */
  byWidth: Record<string, Record<string, number[]>>;
  /** Per parameterization: last-step value at the widest width / at the narrowest. */
  widthGrowth: Record<string, number>;
  settings: {
    depths: number[];
    width: number;
    widths: number[];
    steps: number;
    context: number;
    batch: number;
    seed: number;
    /** Base of the depth sweep. */
    base: BaseHparams;
    /** Base of the width sweep (undefined when it was skipped). */
    widthBase?: BaseHparams;
    ep: Ep;
    lrSchedule: 'constant';
  };
}

export const COORDCHECK_DEFAULTS = { depths: [2, 4, 8, 16, 32, 64], width: 64, widths: [32, 64, 128, 256], steps: 10, context: 32, batch: 4, seed: 1234 };

function checkList(xs: number[], what: string): void {
  if (xs.some((d) => !(Number.isInteger(d) && d > 0))) throw new RangeError(`${what} must be positive integers`);
}

export async function coordCheck(o: CoordCheckOptions = {}): Promise<CoordCheckResult> {
  const params = o.params ?? [...PARAMETERIZATIONS];
  const depths = o.depths ?? COORDCHECK_DEFAULTS.depths;
  const width = o.width ?? COORDCHECK_DEFAULTS.width;
  const widths = o.widths ?? COORDCHECK_DEFAULTS.widths;
  const steps = o.steps ?? COORDCHECK_DEFAULTS.steps;
  const context = o.context ?? COORDCHECK_DEFAULTS.context;
  const batch = o.batch ?? COORDCHECK_DEFAULTS.batch;
  const seed = o.seed ?? COORDCHECK_DEFAULTS.seed;
  const ep = o.ep ?? 'cpu';
  for (const p of params) if (!PARAMETERIZATIONS.includes(p)) throw new RangeError(`unknown parameterization '${p}'`);
  if (!depths.length) throw new RangeError('depths must not be empty');
  checkList(depths, 'depths');
  checkList(widths, 'widths');
  if (!(Number.isInteger(steps) && steps >= 0)) throw new RangeError('steps must be a non-negative integer');
  const base = defaultBase({ baseWidth: width, ...o.base });
  const widthBase = widths.length ? defaultBase({ baseWidth: Math.min(...widths), ...o.base }) : undefined;

  const trace = async (p: Parameterization, b: BaseHparams, w: number, depth: number): Promise<number[]> => {
    const shape = smallShape({ width: w, depth, context });
    const engine = await Engine.create({ shape, transfer: transferOf(b, p, w, depth), batch, optimizer: DEFAULT_OPTIMIZER, ep, residualStat: true });
    try {
      await engine.setState(freshState(initParams(engine.layout, seed)));
      // Same data for every model: the sampler and the fixed batch depend only on the seed.
      const { sampler, evalSet } = brownBatches({ batch, context, seed, evalBatches: 1 });
      const stat = async () => (await engine.evaluate(evalSet)).residualAbsMean!;
      const values = [await stat()];
      for (let s = 1; s <= steps; s++) {
        await engine.step(sampler.nextBatch(), 1, s); // constant LR (the base LR transferred), no warmup
        values.push(await stat());
      }
      o.onProgress?.({ param: p, depth, width: w, values });
      return values;
    } finally {
      await engine.release();
    }
  };
  const ratio = (byKey: Record<string, number[]>, keys: number[]) => {
    const lo = byKey[String(Math.min(...keys))], hi = byKey[String(Math.max(...keys))];
    return hi[hi.length - 1] / lo[lo.length - 1];
  };

  const results: CoordCheckResult['results'] = {};
  const byWidth: CoordCheckResult['byWidth'] = {};
  const growth: Record<string, number> = {};
  const widthGrowth: Record<string, number> = {};
  for (const p of params) {
    results[p] = {};
    for (const depth of depths) results[p][String(depth)] = await trace(p, base, width, depth);
    growth[p] = ratio(results[p], depths);
    if (widthBase) {
      byWidth[p] = {};
      for (const w of widths) byWidth[p][String(w)] = await trace(p, widthBase, w, widthBase.baseDepth);
      widthGrowth[p] = ratio(byWidth[p], widths);
    }
  }
  return { results, growth, byWidth, widthGrowth, settings: { depths, width, widths, steps, context, batch, seed, base, widthBase, ep, lrSchedule: 'constant' } };
}

/**
 * Least-squares exponent e of value ~ x^e (last step) over the sweep: a range-independent measure
 * that uses every point, so one noisy model does not decide the verdict.
 */
export function sweepExponent(byKey: Record<string, number[]>): number {
  const pts = Object.entries(byKey).map(([k, v]) => [Math.log(Number(k)), Math.log(v[v.length - 1])]);
  if (pts.length < 2) return 0;
  const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length, my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  const sxx = pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return sxx > 0 ? pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx : 0;
}

/**
 * 'flat' when |exponent| <= 0.25 (less than 2x over a 16x range). For scale: SP and muP grow with
 * depth at about 0.9, SP with width at about 1.6 (the defaults, CPU).
 */
export const FLAT_EXPONENT = 0.25;
const verdictOf = (e: number): 'flat' | 'grows' | 'shrinks' => (e > FLAT_EXPONENT ? 'grows' : e < -FLAT_EXPONENT ? 'shrinks' : 'flat');

export function coordCheckVerdict(r: CoordCheckResult): Record<string, 'flat' | 'grows' | 'shrinks'> {
  return Object.fromEntries(Object.entries(r.results).map(([p, byDepth]) => [p, verdictOf(sweepExponent(byDepth))]));
}

/** The same rule across widths (empty when the width sweep was skipped). */
export function coordCheckWidthVerdict(r: CoordCheckResult): Record<string, 'flat' | 'grows' | 'shrinks'> {
  return Object.fromEntries(Object.entries(r.byWidth).map(([p, bw]) => [p, verdictOf(sweepExponent(bw))]));
}

/** One panel per parameterization and sweep: mean |x| vs depth (or width), one line per step (0, 1, mid, last). */
export function coordCheckChart(r: CoordCheckResult): string {
  const s = r.settings;
  const steps = [...new Set([0, 1, Math.floor(s.steps / 2), s.steps])].filter((k) => k <= s.steps);
  const panel = (title: string, xLabel: string, xs: number[], byKey: Record<string, number[]>): Panel => ({
    title,
    xLabel,
    yLabel: 'mean |x| after last block',
    logX: true,
    logY: true,
    series: steps.map((k) => ({ name: `step ${k}`, points: xs.map((x) => [x, byKey[String(x)][k]] as [number, number]) })),
  });
  const panels: Panel[] = Object.entries(r.results).map(([p, byDepth]) => panel(`${p}: depth (width ${s.width})`, 'depth (blocks)', s.depths, byDepth));
  for (const [p, bw] of Object.entries(r.byWidth)) panels.push(panel(`${p}: width (depth ${s.widthBase!.baseDepth})`, 'width (d_model)', s.widths, bw));
  return chartSvg(panels, { columns: Object.keys(r.results).length, title: `coordinate check, lr ${s.base.lr}; depth sweep base ${s.base.baseWidth}x${s.base.baseDepth}${s.widthBase ? `, width sweep base ${s.widthBase.baseWidth}x${s.widthBase.baseDepth}` : ''}` });
}
