/**
 * Loss points from run folders: each finished run gives (N, D, final eval loss). Runs that failed,
 * diverged, have no final eval loss, grew mid-run, or use another tokenizer/vocabulary/data than
 * the majority are skipped with a reason (losses in different units cannot share a law).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runConfigOfFolder } from '../export/torchExport';
import { countParams } from '../plan/shape';
import { readConfig, readJsonl, summarizeRun, EVENTS_FILE, type RunEvent } from '../runs/runStore';
import type { RunConfig } from '../runs/configSchema';
import { readManifest, STUDY_FILE } from './manifest';
import { StudyError } from './manifest';

export interface RunPoint {
  run: string;
  dir: string;
  N: number;
  D: number;
  loss: number;
  dModel: number;
  nLayers: number;
  /** d_model / layers (the planner's N:L). */
  ratio: number;
  units: string;
  parameterization: string;
}

export interface Skipped {
  run: string;
  reason: string;
}

/** Expands the arguments: a study folder gives its runs (study.json), a run folder itself. */
export function runDirsOf(args: string[]): { dirs: string[]; studies: string[] } {
  const dirs: string[] = [];
  const studies: string[] = [];
  for (const a of args) {
    if (fs.existsSync(path.join(a, STUDY_FILE))) {
      const m = readManifest(a);
      studies.push(a);
      for (const r of m.runs) dirs.push(r.dir ? path.join(a, r.dir) : path.join(a, `(${r.id}: not started)`));
    } else if (fs.existsSync(path.join(a, 'config.json'))) dirs.push(a);
    else if (!fs.existsSync(a)) throw new StudyError(`${a}: no such folder`);
    else throw new StudyError(`${a} is neither a run folder (config.json) nor a study folder (${STUDY_FILE})`);
  }
  return { dirs, studies };
}

export function unitsOf(c: RunConfig): string {
  const d = c.data;
  return `${d.tokenizer} tokenizer, vocab ${c.model.vocabSize}, data ${d.source}${d.path ? ':' + d.path : ''}`;
}

export function plannerParams(c: RunConfig): number {
  const m = c.model;
  return countParams({ vocab: m.vocabSize, seq: m.context, dModel: m.dModel, nLayers: m.nLayers, nHeads: m.nHeads, dFf: m.dFf, tiedEmbeddings: m.tiedEmbeddings, positionEmbedding: 'learned', bias: true }).total;
}

function pointOf(dir: string): RunPoint | string {
  if (!fs.existsSync(path.join(dir, 'config.json'))) return 'not started (no run folder)';
  let c: RunConfig;
  try {
    c = runConfigOfFolder(readConfig(dir));
  } catch (e) {
    return `unreadable config.json: ${(e as Error).message.split('\n')[0]}`;
  }
  if (c.growth) return 'grown mid-run (G_stack): its N changed during training';
  const s = summarizeRun(dir);
  const events = readJsonl<RunEvent>(path.join(dir, EVENTS_FILE)).records;
  if (events.some((e) => e.type === 'nonfinite') || (s.status === 'stopped' && events.at(-1)?.reason === 'nonfinite')) return 'diverged (non-finite loss)';
  if (s.status === 'failed') return `failed: ${s.error ?? 'error event'}`;
  if (s.status === 'running') return 'still running';
  if (s.status !== 'done') return `not finished (${s.status})`;
  const done = [...events].reverse().find((e) => e.type === 'done');
  const loss = done?.evalLoss;
  if (typeof loss !== 'number' || !Number.isFinite(loss)) return 'no final eval loss';
  // A loss above uniform guessing (ln V) is a diverged or broken run, not a point on a law.
  if (loss > Math.log(c.model.vocabSize) * 1.05) return `diverged (eval loss ${loss.toFixed(3)} above ln(vocab) ${Math.log(c.model.vocabSize).toFixed(3)})`;
  const N = plannerParams(c);
  return { run: path.basename(dir), dir, N, D: done!.tokens as number, loss, dModel: c.model.dModel, nLayers: c.model.nLayers, ratio: c.model.dModel / c.model.nLayers, units: unitsOf(c), parameterization: c.parameterization };
}

/** Points of the usable runs and one skip line for each other run. */
export function loadPoints(dirs: string[]): { points: RunPoint[]; skipped: Skipped[] } {
  const points: RunPoint[] = [];
  const skipped: Skipped[] = [];
  for (const d of dirs) {
    const p = pointOf(d);
    if (typeof p === 'string') skipped.push({ run: path.basename(d), reason: p });
    else points.push(p);
  }
  // Keep the majority's units (ties: the first seen); the rest are in other units.
  const counts = new Map<string, number>();
  for (const p of points) counts.set(p.units, (counts.get(p.units) ?? 0) + 1);
  const major = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const keep = points.filter((p) => p.units === major);
  for (const p of points) if (p.units !== major) skipped.push({ run: p.run, reason: `other units (${p.units}) than the majority (${major})` });
  const params = new Set(keep.map((p) => p.parameterization));
  if (params.size > 1) {
    const first = keep[0].parameterization;
    for (const p of keep.filter((q) => q.parameterization !== first)) skipped.push({ run: p.run, reason: `parameterization ${p.parameterization} differs from ${first}` });
    return { points: keep.filter((q) => q.parameterization === first), skipped };
  }
  return { points: keep, skipped };
}
