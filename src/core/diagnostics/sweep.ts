/**
 * Learning-rate transfer sweep: the held-out loss after a fixed small budget vs the base learning
 * rate, for several depths and widths under one parameterization. Under a parameterization that
 * transfers (CompleteP), the best base LR does not drift with depth (or width).
 *
 * Every group's LR is proportional to the base LR eta (parameterization.ts), so one compiled
 * engine per shape serves all LRs: the step's lr_factor input carries schedule(t) * lr / eta.
 */
import { initParams } from '../model/init';
import { type BaseHparams, type Parameterization } from '../param/parameterization';
import { Engine, freshState } from '../train/engine';
import { DEFAULT_OPTIMIZER } from '../train/graphs';
import type { Ep } from '../train/runtime';
import { lrFactor } from '../train/schedule';
import { brownBatches, defaultBase, smallShape, transferOf } from './common';
import { chartSvg, type Panel } from './svg';

export interface LrSweepOptions {
  param?: Parameterization;
  depths?: number[];
  widths?: number[];
  lrs?: number[];
  steps?: number;
  context?: number;
  batch?: number;
  evalBatches?: number;
  seed?: number;
  base?: Partial<BaseHparams>;
  ep?: Ep;
  onProgress?: (p: { width: number; depth: number; lr: number; loss: number }) => void;
}

export interface LrSweepPoint {
  width: number;
  depth: number;
  lr: number;
  /** Held-out loss after the budget (NaN when training diverged). */
  loss: number;
}

export interface LrSweepBest {
  width: number;
  depth: number;
  /** Grid LR with the lowest loss. */
  bestLr: number;
  bestLoss: number;
  /** Vertex of a parabola through the best point and its neighbours in log2(lr) (grid value at an edge). */
  bestLrFit: number;
  /** True when the best grid LR is the smallest or largest tried (the optimum may lie outside). */
  atEdge: boolean;
  /** log2(bestLrFit / bestLrFit of the shallowest depth at this width). */
  drift: number;
  /** log2(bestLrFit / bestLrFit of the narrowest width at this depth) (muP's width transfer). */
  widthDrift: number;
}

export interface LrSweepResult {
  points: LrSweepPoint[];
  best: LrSweepBest[];
  /** Largest |drift| over depths per width (log2 units; 1 = a factor of 2). */
  maxDrift: Record<string, number>;
  /** Largest |widthDrift| over widths per depth (log2 units). */
  maxWidthDrift: Record<string, number>;
  settings: { param: Parameterization; depths: number[]; widths: number[]; lrs: number[]; steps: number; context: number; batch: number; evalBatches: number; seed: number; base: BaseHparams; ep: Ep; schedule: string };
}

export const SWEEP_DEFAULTS = { depths: [2, 4, 8], widths: [64], lrs: [3e-4, 1e-3, 3e-3, 1e-2, 3e-2], steps: 100, context: 32, batch: 8, evalBatches: 4, seed: 1234 };

export async function lrSweep(o: LrSweepOptions = {}): Promise<LrSweepResult> {
  const param = o.param ?? 'completep';
  const depths = o.depths ?? SWEEP_DEFAULTS.depths;
  const widths = o.widths ?? SWEEP_DEFAULTS.widths;
  const lrs = [...(o.lrs ?? SWEEP_DEFAULTS.lrs)].sort((a, b) => a - b);
  const steps = o.steps ?? SWEEP_DEFAULTS.steps;
  const context = o.context ?? SWEEP_DEFAULTS.context;
  const batch = o.batch ?? SWEEP_DEFAULTS.batch;
  const nEval = o.evalBatches ?? SWEEP_DEFAULTS.evalBatches;
  const seed = o.seed ?? SWEEP_DEFAULTS.seed;
  const base = defaultBase(o.base);
  const ep = o.ep ?? 'cpu';
  if (!lrs.length || lrs.some((x) => !(x > 0 && Number.isFinite(x)))) throw new RangeError('learning rates must be positive numbers');
  if (!(Number.isInteger(steps) && steps > 0)) throw new RangeError('steps must be a positive integer');
  const schedule = { kind: 'cosine' as const, warmupSteps: Math.floor(steps / 10), totalSteps: steps, minLrRatio: 0.1 };
  const points: LrSweepPoint[] = [];
  for (const width of widths) {
    for (const depth of depths) {
      const shape = smallShape({ width, depth, context });
      const engine = await Engine.create({ shape, transfer: transferOf(base, param, width, depth), batch, optimizer: DEFAULT_OPTIMIZER, ep });
      try {
        const init = initParams(engine.layout, seed);
        for (const lr of lrs) {
          await engine.setState(freshState(init));
          const { sampler, evalSet } = brownBatches({ batch, context, seed, evalBatches: nEval });
          let loss = NaN, ok = true;
          for (let t = 1; t <= steps && ok; t++) {
            const r = await engine.step(sampler.nextBatch(), lrFactor(t, schedule) * (lr / base.lr), t);
            ok = Number.isFinite(r.loss) && Number.isFinite(r.gradNorm);
          }
          if (ok) loss = (await engine.evaluate(evalSet)).loss;
          if (!Number.isFinite(loss)) loss = NaN;
          points.push({ width, depth, lr, loss });
          o.onProgress?.({ width, depth, lr, loss });
        }
      } finally {
        await engine.release();
      }
    }
  }
  const best: LrSweepBest[] = [];
  const maxDrift: Record<string, number> = {};
  for (const width of widths) {
    let ref: number | undefined;
    maxDrift[String(width)] = 0;
    for (const depth of [...depths].sort((a, b) => a - b)) {
      const row = lrs.map((lr) => points.find((p) => p.width === width && p.depth === depth && p.lr === lr)!);
      const finite = row.filter((p) => Number.isFinite(p.loss));
      if (!finite.length) continue;
      const i = row.indexOf(finite.reduce((a, b) => (b.loss < a.loss ? b : a)));
      const atEdge = i === 0 || i === row.length - 1;
      let fit = row[i].lr;
      if (!atEdge && Number.isFinite(row[i - 1].loss) && Number.isFinite(row[i + 1].loss)) fit = parabolaVertex(row[i - 1], row[i], row[i + 1]);
      ref ??= fit;
      const drift = Math.log2(fit / ref);
      maxDrift[String(width)] = Math.max(maxDrift[String(width)], Math.abs(drift));
      best.push({ width, depth, bestLr: row[i].lr, bestLoss: row[i].loss, bestLrFit: fit, atEdge, drift, widthDrift: 0 });
    }
  }
  const maxWidthDrift: Record<string, number> = {};
  for (const depth of depths) {
    const row = best.filter((b) => b.depth === depth).sort((a, b) => a.width - b.width);
    maxWidthDrift[String(depth)] = 0;
    for (const b of row) {
      b.widthDrift = Math.log2(b.bestLrFit / row[0].bestLrFit);
      maxWidthDrift[String(depth)] = Math.max(maxWidthDrift[String(depth)], Math.abs(b.widthDrift));
    }
  }
  return { points, best, maxDrift, maxWidthDrift, settings: { param, depths, widths, lrs, steps, context, batch, evalBatches: nEval, seed, base, ep, schedule: `cosine, warmup ${schedule.warmupSteps}, min ratio 0.1` } };
}

/** Vertex in log2(lr) of the parabola through three points (clamped to the outer two). */
function parabolaVertex(a: LrSweepPoint, b: LrSweepPoint, c: LrSweepPoint): number {
  const [x1, x2, x3] = [a, b, c].map((p) => Math.log2(p.lr));
  const [y1, y2, y3] = [a.loss, b.loss, c.loss];
  const den = (x1 - x2) * (x1 - x3) * (x2 - x3);
  const A = (x3 * (y2 - y1) + x2 * (y1 - y3) + x1 * (y3 - y2)) / den;
  const B = (x3 * x3 * (y1 - y2) + x2 * x2 * (y3 - y1) + x1 * x1 * (y2 - y3)) / den;
  if (!(A > 0)) return b.lr;
  return 2 ** Math.min(x3, Math.max(x1, -B / (2 * A)));
}

/** One panel per width: loss vs LR, one line per depth. */
export function lrSweepChart(r: LrSweepResult): string {
  const panels: Panel[] = r.settings.widths.map((w) => ({
    title: `width ${w}`,
    xLabel: 'base learning rate',
    yLabel: `held-out loss after ${r.settings.steps} steps`,
    logX: true,
    series: r.settings.depths.map((d) => ({ name: `depth ${d}`, points: r.points.filter((p) => p.width === w && p.depth === d).map((p) => [p.lr, p.loss] as [number, number]) })),
  }));
  return chartSvg(panels, { title: `LR sweep (${r.settings.param})` });
}
