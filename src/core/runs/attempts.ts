/**
 * Attempts: `shapelab resume --restart` starts a run over in its own folder. The earlier attempt's
 * files are moved aside, never deleted or rewritten: `metrics.jsonl` -> `metrics.attempt-N.jsonl`,
 * `events.jsonl` -> `events.attempt-N.jsonl`, `checkpoints/` -> `checkpoints.attempt-N/` (N = 1, 2,
 * ...). The current attempt keeps the plain names, so a reader of `metrics.jsonl` never sees two
 * attempts mixed, and the monitor can show the earlier ones greyed.
 *
 * Crash safety: before moving anything a `restart` event naming N is appended to the attempt's
 * events.jsonl, and events.jsonl is moved last. A restart interrupted half way leaves that event as
 * the last line of the top-level events.jsonl, and the next restart finishes the moves under the
 * same N.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from './fsutil';
import { JsonlWriter, readJsonlTail } from './jsonl';
import { CHECKPOINTS_DIR, listCheckpoints } from './checkpoint';
import { readHistory } from './history';

const ATTEMPT_NAME = /^(?:metrics|events)\.attempt-(\d+)\.jsonl$|^checkpoints\.attempt-(\d+)$/;

export const attemptFiles = (n: number) => ({ metrics: `metrics.attempt-${n}.jsonl`, events: `events.attempt-${n}.jsonl`, checkpoints: `checkpoints.attempt-${n}` });

/** Numbers of the earlier attempts kept in a run folder, ascending. */
export function listAttempts(runDir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(runDir);
  } catch {
    return [];
  }
  const ns = new Set<number>();
  for (const f of names) {
    const m = ATTEMPT_NAME.exec(f);
    if (m) ns.add(Number(m[1] ?? m[2]));
  }
  return [...ns].sort((a, b) => a - b);
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Renames without ever replacing an existing target (link + unlink for files, checked rename for the folder). */
function moveAside(from: string, to: string): void {
  if (!exists(from)) return;
  if (exists(to)) throw new Error(`cannot keep ${path.basename(from)} as ${path.basename(to)}: ${path.basename(to)} already exists`);
  if (fs.lstatSync(from).isDirectory()) fs.renameSync(from, to);
  else {
    fs.linkSync(from, to); // fails if `to` appeared meanwhile: nothing is overwritten
    fs.unlinkSync(from);
  }
}

/**
 * Moves the current attempt's logs and checkpoints aside (caller holds the run lock). Returns the
 * number the moved attempt got, or null when there was nothing to move.
 */
export function archiveAttempt(runDir: string): number | null {
  const events = path.join(runDir, 'events.jsonl');
  const metrics = path.join(runDir, 'metrics.jsonl');
  const ckDir = path.join(runDir, CHECKPOINTS_DIR);
  const nonEmpty = (f: string) => {
    try {
      return fs.statSync(f).size > 0;
    } catch {
      return false;
    }
  };
  const hasCheckpoints = exists(ckDir) && (listCheckpoints(runDir).length > 0 || fs.readdirSync(ckDir).length > 0);
  if (!nonEmpty(events) && !nonEmpty(metrics) && !hasCheckpoints) return null;
  const last = readJsonlTail<{ type?: string; attempt?: unknown }>(events, 64 * 1024).records.at(-1);
  let n: number;
  if (last?.type === 'restart' && Number.isInteger(last.attempt) && (last.attempt as number) >= 1) {
    n = last.attempt as number; // finishing an interrupted restart
  } else {
    n = (listAttempts(runDir).at(-1) ?? 0) + 1;
    const w = new JsonlWriter(events);
    try {
      w.append({ type: 'restart', step: 0, tokens: 0, time: Date.now(), attempt: n });
    } finally {
      w.close();
    }
  }
  const to = attemptFiles(n);
  if (hasCheckpoints) moveAside(ckDir, path.join(runDir, to.checkpoints));
  moveAside(metrics, path.join(runDir, to.metrics));
  moveAside(events, path.join(runDir, to.events));
  fsyncDir(runDir);
  return n;
}

/** `shapelab resume` of a run that has no checkpoint: there is nothing to continue from. */
export class NoCheckpointError extends Error {
  constructor(readonly runDir: string) {
    super(describeNoCheckpoint(runDir));
    this.name = 'NoCheckpointError';
  }
}

/** One line: what the run holds (logged steps, no checkpoint) and how to start over. */
export function describeNoCheckpoint(runDir: string): string {
  let rows = 0, last = -1;
  for (const r of readHistory<{ step?: unknown; loss?: unknown; evalLoss?: unknown }>(runDir).metrics) {
    if (typeof r.step !== 'number' || r.evalLoss !== undefined) continue;
    rows++;
    last = Math.max(last, r.step);
  }
  const logged = rows ? `${rows} logged step${rows === 1 ? '' : 's'} (last: step ${last})` : 'no logged steps';
  const n = (listAttempts(runDir).at(-1) ?? 0) + 1;
  return `run ${runDir} has ${logged} but no checkpoint, so there is nothing to resume from; 'shapelab resume ${runDir} --restart' starts it over in the same folder and keeps this attempt as metrics.attempt-${n}.jsonl / events.attempt-${n}.jsonl`;
}
