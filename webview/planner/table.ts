/** Pure helpers for the planner's results table and Pareto chart (unit-tested, no DOM). */
import type { ShapeVM } from '../shared/messages';

export type SortKey = 'dModel' | 'nLayers' | 'nHeads' | 'params' | 'tokens' | 'tokensPerParam' | 'predictedLoss' | 'hours' | 'memoryGiB' | 'microBatch' | 'mfu';

/** Stable sort; missing values (null) always last whatever the direction. Ties: by loss, then id. */
export function sortShapes(shapes: readonly ShapeVM[], key: SortKey, dir: 1 | -1): ShapeVM[] {
  const val = (s: ShapeVM): number | null => {
    const v = key === 'dModel' ? s.dModel * 1e6 + s.nLayers : s[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  return shapes
    .map((s, i) => ({ s, i, v: val(s) }))
    .sort((a, b) => {
      if (a.v === null && b.v === null) return a.i - b.i;
      if (a.v === null) return 1;
      if (b.v === null) return -1;
      if (a.v !== b.v) return (a.v - b.v) * dir;
      if (a.s.predictedLoss !== b.s.predictedLoss) return a.s.predictedLoss - b.s.predictedLoss;
      return a.s.id < b.s.id ? -1 : a.s.id > b.s.id ? 1 : 0;
    })
    .map((x) => x.s);
}

/**
 * uPlot columns for the Pareto chart: x = hours (ascending; shapes without hours dropped),
 * `all` = every shape's loss, `front` = loss only for Pareto shapes (null elsewhere, spanned).
 * `order[i]` is the shape at column index i (for click-to-select).
 */
export function paretoSeries(shapes: readonly ShapeVM[]): { xs: number[]; all: (number | null)[]; front: (number | null)[]; order: ShapeVM[] } {
  const order = shapes
    .filter((s) => typeof s.hours === 'number' && Number.isFinite(s.hours) && s.hours > 0 && Number.isFinite(s.predictedLoss))
    .sort((a, b) => (a.hours as number) - (b.hours as number) || a.predictedLoss - b.predictedLoss);
  return {
    xs: order.map((s) => s.hours as number),
    all: order.map((s) => s.predictedLoss),
    front: order.map((s) => (s.pareto ? s.predictedLoss : null)),
    order,
  };
}
