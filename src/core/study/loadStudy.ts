/**
 * A study as plain JSON for views (the side-by-side comparison view, issue 12 part 4): the runs with
 * their shapes, N, D, status and loss curves, the fit (if `shapelab fit` wrote DIR/fit.json) and the
 * fit's curve next to the measured points. No vscode, no classes: JSON.stringify-able as is.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonl, METRICS_FILE, type MetricRecord } from '../runs/runStore';
import { FIT_FILE } from '../plan/localFit';
import { isLaw, lawLoss, type Law } from './lawFit';
import { readManifest } from './manifest';

export interface StudyCurvePoint {
  step: number;
  tokens: number;
  /** Training loss at the step (absent on eval-only records). */
  loss?: number;
  evalLoss?: number;
  /** Unix ms. */
  time: number;
}

export interface StudyRunView {
  id: string;
  label: string;
  /** Absolute run folder, null before the run started. */
  dir: string | null;
  status: string;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** N: the planner's params for the shape. */
  params: number;
  /** D: the run's token budget. */
  tokens: number;
  tokensPerParam: number;
  steps: number;
  /** FLOPs per training token (6N + 12 L d T, the trainer's convention) for an x-axis in FLOPs. */
  flopsPerToken: number;
  evalLoss: number | null;
  predictedSeconds: number | null;
  seconds: number | null;
  curve: StudyCurvePoint[];
}

export interface StudyView {
  dir: string;
  name: string;
  createdAt: string;
  parameterization: string;
  context: number;
  batchSize: number;
  runs: StudyRunView[];
  fit: null | {
    law: Law;
    source: string;
    intervals: Record<string, [number, number]> | null;
    heldOut: unknown;
    /** The fit at each measured point: { run, N, D, loss (measured), predicted }. */
    points: { run: string; N: number; D: number; loss: number; predicted: number }[];
    /**
     * The law's final loss along N at each depth's tokens-per-param, for drawing a line through
     * the points: 32 log-spaced N from the smallest to twice the largest run, D = N * (each run's
     * tokens/param; one curve per distinct ratio).
     */
    curves: { tokensPerParam: number; points: { N: number; D: number; loss: number }[] }[];
  };
}

/** Loads DIR/study.json, every run's metrics and DIR/fit.json (when present). Throws StudyError for a bad folder. */
export function loadStudy(dir: string, o: { maxCurvePoints?: number } = {}): StudyView {
  const m = readManifest(dir);
  const maxPts = o.maxCurvePoints ?? 2000;
  const T = m.request.context;
  const runs: StudyRunView[] = m.runs.map((r) => {
    const abs = r.dir ? path.resolve(dir, r.dir) : null;
    let curve: StudyCurvePoint[] = [];
    if (abs) {
      const recs = readJsonl<MetricRecord>(path.join(abs, METRICS_FILE)).records;
      const stride = Math.max(1, Math.ceil(recs.length / maxPts));
      curve = recs
        .filter((x, i) => i % stride === 0 || i === recs.length - 1 || typeof x.evalLoss === 'number')
        .map((x) => ({ step: x.step, tokens: x.tokens, ...(typeof x.loss === 'number' && Number.isFinite(x.loss) ? { loss: x.loss } : {}), ...(typeof x.evalLoss === 'number' ? { evalLoss: x.evalLoss } : {}), time: x.time }));
    }
    return {
      id: r.id, label: r.label, dir: abs, status: r.status, dModel: r.dModel, nLayers: r.nLayers, nHeads: r.nHeads, params: r.params, tokens: r.tokens,
      tokensPerParam: r.tokensPerParam, steps: r.steps, flopsPerToken: 6 * r.params + 12 * r.nLayers * r.dModel * T,
      evalLoss: typeof r.evalLoss === 'number' ? r.evalLoss : null,
      predictedSeconds: Number.isFinite(r.predictedSeconds) ? r.predictedSeconds : null,
      seconds: typeof r.seconds === 'number' ? r.seconds : null,
      curve,
    };
  });
  let fit: StudyView['fit'] = null;
  const fitFile = path.join(dir, FIT_FILE);
  if (fs.existsSync(fitFile)) {
    try {
      const doc = JSON.parse(fs.readFileSync(fitFile, 'utf8'));
      if (doc?.format === 'shapelab-fit' && isLaw(doc.law)) {
        const law = doc.law;
        const Ns = runs.map((r) => r.params);
        const lo = Math.min(...Ns), hi = 2 * Math.max(...Ns);
        const ratios = [...new Set(runs.map((r) => +r.tokensPerParam.toPrecision(3)))].sort((a, b) => a - b);
        fit = {
          law,
          source: String(doc.source ?? ''),
          intervals: doc.intervals ?? null,
          heldOut: doc.heldOut ?? null,
          points: (doc.points ?? []).map((p: { run: string; N: number; D: number; loss: number }) => ({ run: p.run, N: p.N, D: p.D, loss: p.loss, predicted: lawLoss(law, p.N, p.D) })),
          curves: ratios.map((t) => ({
            tokensPerParam: t,
            points: Array.from({ length: 32 }, (_, i) => {
              const N = lo * Math.pow(hi / lo, i / 31);
              return { N, D: N * t, loss: lawLoss(law, N, N * t) };
            }),
          })),
        };
      }
    } catch {
      fit = null; // a broken fit.json: the study still shows
    }
  }
  return { dir: path.resolve(dir), name: m.name, createdAt: m.createdAt, parameterization: m.request.parameterization, context: T, batchSize: m.request.batchSize, runs, fit };
}

/** Study folders (with study.json) directly under a runs folder, newest first. */
export function listStudies(runsFolder: string): string[] {
  try {
    return fs
      .readdirSync(runsFolder)
      .filter((n) => fs.existsSync(path.join(runsFolder, n, 'study.json')))
      .sort()
      .reverse()
      .map((n) => path.join(runsFolder, n));
  } catch {
    return [];
  }
}
