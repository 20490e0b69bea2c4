/**
 * `shapelab fit` and `plan --fit` through the real CLI on run folders written with the run store
 * (config.json by writeConfig, events through RunSession: the files the trainer writes), whose final
 * eval losses come from a known law with noise. Training them for real would take minutes per run
 * here; the trainer's side of the contract is covered by study.test.ts.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BASE } from '../../src/core/param/parameterization';
import { createRunDir, RunSession, writeConfig } from '../../src/core/runs/runStore';
import { gridRuns, runConfig, type GridRequest } from '../../src/core/study/grid';
import { lawLoss, prng } from '../../src/core/study/lawFit';
import { buildOnce, shapelabSync, tmpDir } from '../reliability/helpers';

const TRUE = { E: 1.1, A: 60, alpha: 0.35, B: 60, beta: 0.3 };

function request(over: Partial<GridRequest> = {}): GridRequest {
  return {
    widths: [64, 96, 128, 192], depths: [2, 4], tpp: 20, tppSpread: 4, context: 128, batchSize: 16, parameterization: 'completep',
    base: { ...DEFAULT_BASE }, data: { source: 'brown', tokenizer: 'byte' }, ep: 'cpu', seed: 1, evalBatches: 16, name: 'syn', ...over,
  };
}

/** A finished run folder with a final eval loss (or a failed / diverged / unfinished one). */
function writeRun(root: string, req: GridRequest, index: number, kind: 'done' | 'failed' | 'nonfinite' | 'noeval' | 'running', loss?: number): string {
  const g = gridRuns(req)[index];
  const cfg = runConfig(req, g);
  const dir = createRunDir(root, g.label);
  writeConfig(dir, cfg);
  const s = RunSession.open(dir);
  s.event({ type: 'start', step: 0, tokens: 0, ep: 'cpu' });
  const end = { step: g.steps, tokens: g.tokens };
  if (kind === 'done') {
    s.metric({ ...end, loss: loss!, evalLoss: loss! });
    s.event({ type: 'done', ...end, reason: 'done', evalLoss: loss });
  } else if (kind === 'failed') s.event({ type: 'error', ...end, message: 'device lost' });
  else if (kind === 'nonfinite') {
    s.event({ type: 'nonfinite', ...end, loss: 'NaN', gradNorm: 'NaN', action: 'stop' });
    s.event({ type: 'stop', ...end, reason: 'nonfinite' });
  } else if (kind === 'noeval') s.event({ type: 'done', ...end, reason: 'done' });
  s.close();
  if (kind === 'running') fs.writeFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ type: 'start', step: 0, tokens: 0, time: Date.now() }) + '\n');
  return dir;
}

describe('study: shapelab fit and plan --fit (CLI)', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  before(() => buildOnce());
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('fits 8 good runs, skips failed / diverged / no-eval / unfinished / other-tokenizer runs with one line each, and plan --fit uses it', () => {
    const root = tmpDir('fit');
    dirs.push(root);
    const req = request();
    const rnd = prng(9);
    const grid = gridRuns(req);
    // The true loss with 0.3% noise, plus a 2% width/depth effect on the deeper runs (N:L below r*).
    grid.forEach((g, i) => writeRun(root, req, i, 'done', lawLoss(TRUE, g.params, g.tokens) * (1 + 0.003 * (rnd() - 0.5)) * (g.nLayers === 4 ? 1.02 : 1)));
    writeRun(root, req, 0, 'failed');
    writeRun(root, req, 1, 'nonfinite');
    writeRun(root, req, 2, 'noeval');
    writeRun(root, req, 3, 'running');
    writeRun(root, request({ data: { source: 'brown', tokenizer: 'gpt2' } }), 4, 'done', 3.0);
    const runs = fs.readdirSync(root).map((n) => path.join(root, n));
    const out = path.join(root, 'myfit.json');
    const r = shapelabSync(['fit', ...runs, '--json', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.points.length, 8, JSON.stringify(doc.skipped));
    assert.equal(doc.skipped.length, 5);
    const reasons = doc.skipped.map((s: { reason: string }) => s.reason).join('\n');
    for (const re of [/failed: device lost/, /diverged/, /no final eval loss/, /not finished \(crashed\)/, /other units \(gpt2 tokenizer, vocab 50257/]) assert.match(reasons, re);
    assert.equal(r.stderr.trim().split('\n').length, 5, 'one stderr line per skipped run');
    // 8 runs with a shape effect the law does not model: the exponents are weakly determined (the
    // unit test recovers them on a denser grid); here the law must reproduce the points within 2%.
    for (const pt of doc.points) assert.ok(Math.abs(pt.predicted / pt.loss - 1) < 0.02, `${pt.run}: ${pt.predicted} vs ${pt.loss}`);
    for (const k of ['E', 'A', 'alpha', 'B', 'beta']) assert.ok(doc.intervals[k][0] < doc.intervals[k][1], `${k} interval ${doc.intervals[k]}`);
    assert.ok(doc.bootstrap.used >= 150);
    assert.ok(Math.abs(doc.heldOut.relError) < 0.03, `held-out ${doc.heldOut.relError}`);
    assert.match(doc.heldOut.run, /-syn-w192-L4$/); // the largest N
    // The 2% deeper-is-worse effect shows up in the equal-N pairs.
    assert.ok(doc.penalty.pairs.length >= 2);
    for (const p of doc.penalty.pairs) assert.ok(Math.abs(p.relativeGap - 0.02) < 0.01, `gap ${p.relativeGap}`);
    assert.ok(doc.penalty.deep > 0);
    assert.match(doc.source, /^local study .*: 8 runs, held-out error \d+\.\d%$/);

    // plan --fit: losses from the local law (its own numbers), a band, the source line.
    const p = shapelabSync(['plan', '--flops', '1e15', '--vocab', '256', '--seq', '128', '--fit', out, '--json', '--top', '3']);
    assert.equal(p.code, 0, p.stderr);
    const plan = JSON.parse(p.stdout);
    assert.equal(plan.context.fit.id, 'local');
    const c = plan.candidates[0];
    const law = lawLoss(doc.law, c.params, c.tokens);
    assert.ok(Math.abs(c.scalingLoss - law) < 1e-9);
    assert.ok(c.lossBand[0] < c.predictedLoss && c.predictedLoss < c.lossBand[1], `band ${c.lossBand} around ${c.predictedLoss}`);
    assert.match(plan.notes[0], /units of your own runs \(byte tokenizer, vocab 256/);
    assert.equal(plan.penalty.deep.completep, doc.penalty.deep);
    const text = shapelabSync(['plan', '--flops', '1e15', '--vocab', '256', '--seq', '128', '--fit', out, '--top', '3']);
    assert.match(text.stdout, /loss 95%/);
  });

  it('fewer usable runs than parameters, a bad --fit file: one line, exit 2', () => {
    const root = tmpDir('fitfew');
    dirs.push(root);
    const req = request();
    const grid = gridRuns(req);
    for (let i = 0; i < 3; i++) writeRun(root, req, i, 'done', lawLoss(TRUE, grid[i].params, grid[i].tokens));
    writeRun(root, req, 3, 'failed');
    const r = shapelabSync(['fit', ...fs.readdirSync(root).map((n) => path.join(root, n))]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^shapelab: 3 usable runs for 5 parameters .*\(1 skipped\)\n$/);
    const bad = path.join(root, 'bad.json');
    fs.writeFileSync(bad, '{"format": "shapelab-fit"}');
    const p = shapelabSync(['plan', '--flops', '1e15', '--fit', bad]);
    assert.equal(p.code, 2);
    assert.match(p.stderr, /^shapelab: .*bad\.json is not a ShapeLab fit/);
    const q = shapelabSync(['plan', '--flops', '1e15', '--fit', path.join(root, 'nope')]);
    assert.equal(q.code, 2);
    assert.match(q.stderr, /no such file or folder/);
  });
});
