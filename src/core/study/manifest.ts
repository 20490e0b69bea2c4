/**
 * study.json: the manifest of a scaling study folder. It records the request, the device timing
 * the grid was sized with, and each run's shape, N, D, status and final eval loss. The run folders
 * themselves (ordinary run folders, docs/run-format.md) stay the truth: a run is found by its
 * label, so a study killed between creating a run folder and updating the manifest still finds it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../runs/fsutil';
import type { GridRequest, GridRun } from './grid';
import type { DeviceTiming } from './timeModel';

export const STUDY_FILE = 'study.json';

export type StudyRunStatus = 'pending' | 'running' | 'done' | 'stopped' | 'failed' | 'diverged';

export interface StudyRunEntry extends GridRun {
  status: StudyRunStatus;
  /** Run folder, relative to the study folder (null until it exists). */
  dir: string | null;
  predictedSeconds: number;
  seconds?: number;
  evalLoss?: number;
  error?: string;
}

export interface StudyManifest {
  format: 'shapelab-study';
  version: 1;
  name: string;
  createdAt: string;
  request: GridRequest & { minutes: number | null };
  timing: DeviceTiming | null;
  predictedSeconds: number;
  runs: StudyRunEntry[];
}

export class StudyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StudyError';
  }
}

export function readManifest(dir: string): StudyManifest {
  const file = path.join(dir, STUDY_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StudyError(code === 'ENOENT' ? `${dir} is not a study folder (no ${STUDY_FILE})` : `${file} cannot be read: ${(e as Error).message.split('\n')[0]}`);
  }
  const m = raw as StudyManifest;
  if (!m || m.format !== 'shapelab-study' || !Array.isArray(m.runs) || !m.request) throw new StudyError(`${file} is not a ShapeLab study manifest (format 'shapelab-study' with runs)`);
  for (const [i, r] of m.runs.entries()) {
    if (!r || typeof r.label !== 'string' || !(r.params > 0) || !(r.steps > 0)) throw new StudyError(`${file}: runs[${i}] is incomplete (label, params, steps)`);
  }
  return m;
}

/** Atomic replace (temp file + fsync + rename): a kill never leaves a half-written manifest. */
export function writeManifest(dir: string, m: StudyManifest): void {
  writeFileAtomic(path.join(dir, STUDY_FILE), JSON.stringify(m, null, 2) + '\n');
}

/** Run folders under the study folder by their config label (the newest if a label repeats). */
export function runFoldersByLabel(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const cfg = path.join(dir, n, 'config.json');
    try {
      const label = JSON.parse(fs.readFileSync(cfg, 'utf8'))?.label;
      if (typeof label === 'string') out.set(label, n);
    } catch {
      /* not a run folder, or one without a readable config yet */
    }
  }
  return out;
}
