/**
 * A study (or experiment) folder for the comparison view: its runs' measured final eval losses
 * against N, and the fitted law when the folder has a fit.json (`law` {E, A, alpha, B, beta}, as
 * `shapelab fit --json` writes it). Until the study branch's core loader lands, this reads
 * study.json and the run folders directly. No `vscode` import.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rowsToPlot } from '../../../webview/shared/chartData';
import { readJsonObject as readJson } from './runFolder';
import type { MetricPoint, RunEvent, RunSummaryVM, StudyVM } from '../../../webview/shared/messages';

export function isStudyFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'study.json'));
}

/** The law from fit.json, or undefined when absent or not five finite numbers. */
export function readFitLaw(dir: string): StudyVM['law'] {
  const law = readJson(path.join(dir, 'fit.json'))?.law as Record<string, unknown> | undefined;
  if (!law) return undefined;
  const keys = ['E', 'A', 'alpha', 'B', 'beta'] as const;
  if (!keys.every((k) => typeof law[k] === 'number' && Number.isFinite(law[k]))) return undefined;
  return { E: law.E as number, A: law.A as number, alpha: law.alpha as number, B: law.B as number, beta: law.beta as number };
}

/** Final eval loss, its tokens D and the parameter count N at the depth it was measured, per run. */
export function studyPoint(r: { run: RunSummaryVM; metrics: MetricPoint[]; events: RunEvent[] }): StudyVM['points'][number] | undefined {
  const { rows } = rowsToPlot(r.metrics, r.events);
  let last: MetricPoint | undefined;
  for (const p of rows) if (p.evalLoss !== undefined) last = p;
  if (!last || last.tokens === undefined || !(last.tokens > 0)) return undefined;
  const pbd = r.run.paramsByDepth ?? {};
  const N = (last.depth !== undefined ? pbd[last.depth] : undefined) ?? Object.values(pbd)[0];
  if (N === undefined) return undefined;
  return { run: r.run.name, N, D: last.tokens, loss: last.evalLoss as number };
}

export function readStudy(dir: string, runs: Array<{ run: RunSummaryVM; metrics: MetricPoint[]; events: RunEvent[] }>): StudyVM {
  const manifest = readJson(path.join(dir, 'study.json'));
  const name = typeof manifest?.name === 'string' && manifest.name ? manifest.name.slice(0, 120) : path.basename(dir);
  const points = runs.map(studyPoint).filter((p): p is StudyVM['points'][number] => !!p);
  const law = readFitLaw(dir);
  return law ? { name, points, law } : { name, points };
}
