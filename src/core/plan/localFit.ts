/**
 * A "local fit" source for the planner: the JSON `shapelab fit` writes (core/study/fitDocument.ts,
 * format 'shapelab-fit') turned into a ScalingFit, with its bootstrap refits (the loss band) and
 * the width/depth penalty it measured. Losses it predicts are in the user's units (nats per token
 * of their tokenizer on their data), not MassiveText's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PlanInputError } from './errors';
import type { ScalingFit } from './scaling';
import type { PenaltyOverrides } from './penalty';
import { isParameterization } from '../param/parameterization';
import { isLaw, type Law } from '../study/lawFit';

export const FIT_FILE = 'fit.json';


/** Reads a fit file (or a study folder holding fit.json) as a planner ScalingFit. */
export function loadLocalFit(fileOrDir: string): ScalingFit {
  let file = fileOrDir;
  try {
    if (fs.statSync(fileOrDir).isDirectory()) file = path.join(fileOrDir, FIT_FILE);
  } catch {
    throw new PlanInputError(`--fit ${fileOrDir}: no such file or folder`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PlanInputError(code === 'ENOENT' ? `${file}: no fit here (run 'shapelab fit ${fileOrDir}' first)` : `${file} is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!doc || doc.format !== 'shapelab-fit' || !isLaw(doc.law)) throw new PlanInputError(`${file} is not a ShapeLab fit (format 'shapelab-fit' with a law {E, A, alpha, B, beta})`);
  const boot = (doc.bootstrap as { samples?: unknown[] } | undefined)?.samples;
  const samples = Array.isArray(boot) ? boot.filter(isLaw) : [];
  const pen = doc.penalty as { deep?: number | null; parameterization?: string } | undefined;
  let penalty: PenaltyOverrides | undefined;
  const source = typeof doc.source === 'string' ? doc.source : `local fit ${file}`;
  if (pen && typeof pen.deep === 'number' && Number.isFinite(pen.deep) && pen.deep >= 0 && typeof pen.parameterization === 'string' && isParameterization(pen.parameterization)) {
    penalty = { deep: { [pen.parameterization]: pen.deep }, source: `deep-side curvature for ${pen.parameterization} measured by ${source}; the rest: published (plan/penalty.ts)` };
  }
  const pts = Array.isArray(doc.points) ? (doc.points as { N: number; D: number }[]) : [];
  const span = pts.length ? { nMin: Math.min(...pts.map((p) => p.N)), nMax: Math.max(...pts.map((p) => p.N)), dMin: Math.min(...pts.map((p) => p.D)), dMax: Math.max(...pts.map((p) => p.D)) } : undefined;
  const range = span ? `N ${span.nMin.toExponential(1)}-${span.nMax.toExponential(1)}, D ${span.dMin.toExponential(1)}-${span.dMax.toExponential(1)}` : 'unknown range';
  return {
    id: 'local',
    name: `local fit (${typeof doc.name === 'string' ? doc.name : path.basename(file)})`,
    ...(doc.law as Law),
    source,
    validity: `${typeof doc.units === 'string' ? doc.units : 'your runs'}; fitted on ${range}`,
    ...(span ? { range: span } : {}),
    ...(samples.length ? { bootstrap: samples } : {}),
    ...(penalty ? { penalty } : {}),
  };
}

export interface LocalFitEntry {
  /** Stable id for lists: 'local:' + the fit file's absolute path. */
  id: string;
  file: string;
  name: string;
  source: string;
}

/** fit.json files of the studies (and the folder itself) under a runs folder, one level deep. */
export function findLocalFits(runsFolder: string): LocalFitEntry[] {
  const out: LocalFitEntry[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(runsFolder).sort().reverse();
  } catch {
    return out;
  }
  for (const n of ['.', ...names]) {
    const file = path.resolve(runsFolder, n, FIT_FILE);
    if (!fs.existsSync(file)) continue;
    try {
      const f = loadLocalFit(file);
      out.push({ id: `local:${file}`, file, name: f.name, source: f.source });
    } catch {
      /* a broken fit file is not offered */
    }
  }
  return out;
}
