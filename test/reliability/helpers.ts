/** Shared helpers of the reliability tests: the real CLI, run-folder checks, a seeded PRNG. */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { latestCheckpoint, loadCheckpoint, type LoadedCheckpoint } from '../../src/core/runs/checkpoint';
import { readHistory } from '../../src/core/runs/history';
import { attemptFiles } from '../../src/core/runs/attempts';
import { checkpointConfigHash, validateConfig, type RunConfig } from '../../src/core/runs/configSchema';
import { paramLayout } from '../../src/core/model/gpt';
import { modelShapeOf, shapesOf, transferFor } from '../../src/core/train/trainer';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'shapelab.js');

/** Builds dist/ once per process (the spawned CLI runs the bundle). */
let built = false;
export function buildOnce(): void {
  if (built) return;
  const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  built = true;
}

export const cliEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, SHAPELAB_DEBUG: '', ...extra });

export function shapelabSync(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: cliEnv(opts.env), timeout: opts.timeoutMs ?? 120_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export interface Spawned {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function shapelabSpawn(args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out: () => out, err: () => err, exited };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 60_000, everyMs = 10): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const tmpDir = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `shapelab-rel-${tag}-`));

/** mulberry32, the core's seeded PRNG: reproducible "random" moments (seed printed by the tests). */
export { prng } from '../../src/core/study/lawFit';

/** The only run folder under `root` (the CLI creates one per train). */
export function runDirIn(root: string): string | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return undefined;
  }
  const dirs = names.filter((n) => fs.statSync(path.join(root, n)).isDirectory());
  return dirs.length === 1 ? path.join(root, dirs[0]) : undefined;
}

export interface LogCheck {
  /** Complete lines, in order (raw text). */
  lines: string[];
  /** Bytes after the last newline (a torn record), '' if none. */
  torn: string;
  records: Record<string, unknown>[];
}

/** Every complete line must parse; only a last line without '\n' may be torn. */
export function checkJsonl(file: string): LogCheck {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const parts = text.split('\n');
  const torn = parts.pop() ?? '';
  const records = parts.map((l, i) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new assert.AssertionError({ message: `${path.basename(file)} line ${i + 1} of ${parts.length} does not parse: ${JSON.stringify(l.slice(0, 80))}` });
    }
  });
  return { lines: parts, torn, records };
}

export function runConfigOf(runDir: string): RunConfig {
  const raw = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
  delete raw.resolved;
  return validateConfig(raw);
}

/** Loads and verifies the latest checkpoint (checksums, tensor names/shapes, config hash). */
export function verifyLatest(runDir: string, depth?: number): LoadedCheckpoint | null {
  const latest = latestCheckpoint(runDir);
  if (!latest) return null;
  const c = runConfigOf(runDir);
  const d = depth ?? c.model.nLayers;
  const layout = paramLayout(modelShapeOf(c, d), transferFor(c, d));
  return loadCheckpoint(latest, { shapes: shapesOf(layout), configHash: checkpointConfigHash(c) });
}

/**
 * Training losses by step of a list of rows that must hold one history (an uninterrupted run, or a
 * run's rows after the history rule): a step that appears twice fails the test.
 */
export function lossesByStep(records: Record<string, unknown>[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of records) {
    if (r.evalLoss !== undefined || typeof r.step !== 'number' || typeof r.loss !== 'number') continue;
    assert.ok(!m.has(r.step), `step ${r.step} appears twice in what should be one history`);
    m.set(r.step, r.loss);
  }
  return m;
}

/** The run's one history (src/core/runs/history.ts, the rule every reader applies). */
export function historyOf(runDir: string, attempt?: number) {
  return readHistory<Record<string, unknown>, Record<string, unknown>>(runDir, attempt === undefined ? undefined : attemptFiles(attempt));
}

export function evalByStep(records: Record<string, unknown>[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of records) if (typeof r.evalLoss === 'number') m.set(r.step as number, r.evalLoss);
  return m;
}

/** Asserts stderr is exactly one 'shapelab: ...' line and no stack trace. */
export function assertOneLine(stderr: string, re?: RegExp): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${stderr}`);
  assert.match(lines[0], /^shapelab: /);
  assert.doesNotMatch(stderr, /\n\s+at |^\s+at /m);
  if (re) assert.match(lines[0], re);
  return lines[0];
}
