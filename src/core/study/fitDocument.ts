/**
 * `shapelab fit`: the law fit of a set of runs as one JSON document (the format `plan --fit` reads):
 * law, points, skipped runs, held-out error, bootstrap intervals and samples, and the width/depth
 * penalty measured from runs of about equal N at different depths.
 */
import * as path from 'node:path';
import { DEFAULT_PENALTY, shapePenalty } from '../plan/penalty';
import type { Parameterization } from '../param/parameterization';
import { bootstrapLaw, fitLaw, FitError, lawLoss, HUBER_DELTA, EXP_MAX, EXP_MIN, TIED_SPREAD, type Law } from './lawFit';
import { loadPoints, runDirsOf, type RunPoint, type Skipped } from './points';

export interface PenaltyPair {
  N: number;
  deep: { run: string; ratio: number; loss: number };
  wide: { run: string; ratio: number; loss: number };
  /** loss(deep)/loss(wide), each divided by the law at its own (N, D): the shape effect alone. */
  relativeGap: number;
}

export interface PenaltyEstimate {
  pairs: PenaltyPair[];
  /** Deep-side curvature of the planner's penalty form (plan/penalty.ts), fitted to the pairs; null when the pairs cannot determine it. */
  deep: number | null;
  optimalRatio: number;
  wide: number;
  parameterization: string;
  note: string;
}

export interface FitDocument {
  format: 'shapelab-fit';
  version: 1;
  createdAt: string;
  name: string;
  source: string;
  inputs: string[];
  units: string | null;
  parameterization: string | null;
  law: Law;
  form: string;
  method: string;
  identifiability: string[];
  points: { run: string; N: number; D: number; loss: number; dModel: number; nLayers: number; predicted: number }[];
  skipped: Skipped[];
  heldOut: { run: string; N: number; D: number; loss: number; predicted: number; relError: number } | { skipped: string };
  intervals: Record<keyof Law, [number, number]>;
  bootstrap: { requested: number; used: number; samples: Law[] };
  penalty: PenaltyEstimate;
}

const PAIR_TOLERANCE = 0.25; // runs within 25% of each other's N count as "equal N"

export function estimatePenalty(points: RunPoint[], law: Law): PenaltyEstimate {
  const param = (points[0]?.parameterization ?? 'completep') as Parameterization;
  const c = { ...DEFAULT_PENALTY };
  const rStar = c.optimalRatio, wide = c.wide;
  const pairs: PenaltyPair[] = [];
  const used = new Set<string>();
  const sorted = [...points].sort((a, b) => a.N - b.N);
  for (let i = 0; i < sorted.length; i++)
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i], b = sorted[j];
      if (a.nLayers === b.nLayers || b.N / a.N - 1 > PAIR_TOLERANCE || used.has(a.run) || used.has(b.run)) continue;
      const [deep, wd] = a.nLayers > b.nLayers ? [a, b] : [b, a];
      const rel = (p: RunPoint) => p.loss / lawLoss(law, p.N, p.D);
      pairs.push({ N: Math.sqrt(a.N * b.N), deep: { run: deep.run, ratio: deep.ratio, loss: deep.loss }, wide: { run: wd.run, ratio: wd.ratio, loss: wd.loss }, relativeGap: rel(deep) / rel(wd) - 1 });
      used.add(a.run);
      used.add(b.run);
    }
  // gap = pen(r_deep) - pen(r_wide) with pen(r) = k_side * ln(r/r*)^2 (offsets cancel); the wide-side
  // curvature is kept at the published value, the deep side is fitted (least squares over pairs).
  let num = 0, den = 0;
  for (const p of pairs) {
    const x = (r: number) => Math.log(r / rStar);
    const dd = (x(p.deep.ratio) < 0 ? x(p.deep.ratio) ** 2 : 0) - (x(p.wide.ratio) < 0 ? x(p.wide.ratio) ** 2 : 0);
    const dw = (x(p.deep.ratio) >= 0 ? x(p.deep.ratio) ** 2 : 0) - (x(p.wide.ratio) >= 0 ? x(p.wide.ratio) ** 2 : 0);
    num += dd * (p.relativeGap - wide * dw);
    den += dd * dd;
  }
  let deep: number | null = den > 1e-6 ? num / den : null;
  let note = `pairs of runs within ${PAIR_TOLERANCE * 100}% of each other's N at different depths; relative gap = (loss/law) of the deeper over the wider; deep-side curvature of the planner's form (r* ${rStar}, wide ${wide} kept from ${'plan/penalty.ts'}) fitted by least squares`;
  if (deep === null) note += '; no pair has a shape on the deep side of r*: deep curvature not determined (planner keeps its published value)';
  else if (deep < 0) {
    note += `; fitted ${deep.toExponential(2)} < 0 (the deeper runs did better than the form allows): clamped to 0`;
    deep = 0;
  }
  void shapePenalty;
  return { pairs, deep, optimalRatio: rStar, wide, parameterization: param, note };
}

function relErr(pred: number, actual: number): number {
  return (pred - actual) / actual;
}

export interface FitOptions {
  bootstrap?: number;
  seed?: number;
}

/** Fits the runs under `args`; throws FitError (fewer usable runs than parameters) or StudyError (bad folder). */
export function fitRuns(args: string[], o: FitOptions = {}): FitDocument {
  const { dirs, studies } = runDirsOf(args);
  const { points, skipped } = loadPoints(dirs);
  let fit;
  try {
    fit = fitLaw(points);
  } catch (e) {
    if (e instanceof FitError) throw new FitError(`${e.message}${skipped.length ? ` (${skipped.length} skipped)` : ''}`);
    throw e;
  }
  const law = fit.law;
  // Held out: the largest run (by N, then D), predicted by a fit without it.
  let heldOut: FitDocument['heldOut'];
  const largest = [...points].sort((a, b) => b.N - a.N || b.D - a.D)[0];
  const rest = points.filter((p) => p !== largest);
  if (rest.length < fit.nParams) heldOut = { skipped: `${rest.length} runs remain without the largest, fewer than the ${fit.nParams} parameters` };
  else {
    const f2 = fitLaw(rest, { tieExponents: fit.tied });
    const predicted = lawLoss(f2.law, largest.N, largest.D);
    heldOut = { run: largest.run, N: largest.N, D: largest.D, loss: largest.loss, predicted, relError: relErr(predicted, largest.loss) };
  }
  const requested = o.bootstrap ?? 200;
  const boot = bootstrapLaw(points, fit, requested, o.seed ?? 12);
  const identifiability = [
    `exponents bounded to [${EXP_MIN}, ${EXP_MAX}]${fit.atBound.length ? `; ${fit.atBound.join(' and ')} ended on a bound: not determined by these runs` : ''}`,
    fit.tied
      ? `tokens/param spread of the runs is below ${TIED_SPREAD}x: beta tied to alpha (4 free parameters), the split between A/N^alpha and B/D^beta is not identified`
      : `5 free parameters from ${points.length} runs (tokens/param spread ${(Math.max(...points.map((p) => p.D / p.N)) / Math.min(...points.map((p) => p.D / p.N))).toFixed(1)}x)`,
  ];
  const name = studies.length === 1 ? path.basename(path.resolve(studies[0])) : args.length === 1 ? path.basename(path.resolve(args[0])) : `${args.length} folders`;
  const held = 'relError' in heldOut ? `held-out error ${(Math.abs(heldOut.relError) * 100).toFixed(1)}%` : 'no held-out error';
  return {
    format: 'shapelab-fit',
    version: 1,
    createdAt: new Date().toISOString(),
    name,
    source: `local study ${name}: ${points.length} runs, ${held}`,
    inputs: args.map((a) => path.resolve(a)),
    units: points[0]?.units ?? null,
    parameterization: points[0]?.parameterization ?? null,
    law,
    form: 'L(N, D) = E + A / N^alpha + B / D^beta (N: the planner\'s params; D: training tokens; L: final eval loss in nats/token)',
    method: `Huber (delta ${HUBER_DELTA}) on log-loss residuals, LSE parameterization, L-BFGS from ${fit.starts} starts (Hoffmann et al. 2022, arXiv 2203.15556, approach 3)`,
    identifiability,
    points: points.map((p) => ({ run: p.run, N: p.N, D: p.D, loss: p.loss, dModel: p.dModel, nLayers: p.nLayers, predicted: lawLoss(law, p.N, p.D) })),
    skipped,
    heldOut,
    intervals: boot.intervals,
    bootstrap: { requested, used: boot.samples.length, samples: boot.samples },
    penalty: estimatePenalty(points, law),
  };
}
