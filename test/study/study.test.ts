/**
 * A tiny scaling study end to end through the real CLI (CPU EP): 2 widths x 2 depths, a SIGKILL
 * of the study process in the middle of the second run, then `study --resume`, which reuses the
 * finished run untouched and resumes the interrupted one from its checkpoint. Then `fit` on the
 * 2 x 2 study: 4 runs for 5 parameters is the clear error (exit 2).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { latestCheckpoint } from '../../src/core/runs/checkpoint';
import { readJsonl } from '../../src/core/runs/runStore';
import { buildOnce, shapelabSpawn, shapelabSync, tmpDir, waitFor } from '../reliability/helpers';

const GRID = ['--widths', '32,48', '--depths', '1,2', '--steps', '100', '--batch-size', '8', '--context', '64', '--ep', 'cpu', '--json'];

describe('study: tiny 2 x 2 study end to end (CLI, CPU EP) with SIGKILL and resume', function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  before(() => buildOnce());
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('killed in run 2 after its first checkpoint; --resume reuses run 1 and resumes run 2 from the checkpoint', async () => {
    const root = tmpDir('study');
    dirs.push(root);
    const dir = path.join(root, 'st');
    const p = shapelabSpawn(['study', '--out', dir, ...GRID]);
    const lines = () => p.out().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    // Run 2's folder, once it has a checkpoint and is still training.
    const run2 = await waitFor('a checkpoint in run 2', () => {
      if (p.child.exitCode !== null) throw new Error(`study ended early: ${p.err()}`);
      const start = lines().find((e) => e.kind === 'run-start' && e.index === 1);
      return start && latestCheckpoint(start.runDir) && !lines().some((e) => e.kind === 'run-end' && e.index === 1) ? (start.runDir as string) : undefined;
    }, 120_000, 5);
    p.child.kill('SIGKILL');
    assert.equal((await p.exited).signal, 'SIGKILL');

    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'study.json'), 'utf8'));
    assert.equal(manifest.runs.length, 4);
    assert.equal(manifest.runs[0].status, 'done');
    const run1 = path.join(dir, manifest.runs[0].dir);
    const run1Events = fs.readFileSync(path.join(run1, 'events.jsonl'), 'utf8');
    // The latest complete checkpoint (its event may not be written yet: the kill can fall between).
    const ckptStep = Number(/step-(\d+)\.safetensors$/.exec(latestCheckpoint(run2)!)![1]);
    assert.ok(ckptStep > 0 && ckptStep < 100);

    const r = shapelabSync(['study', '--resume', dir, '--json'], { timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stderr);
    const ev = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    assert.equal(ev[0].kind, 'study-start');
    assert.equal(ev[0].reused, 1);
    const starts = ev.filter((e) => e.kind === 'run-start');
    assert.deepEqual(starts.map((e) => e.index), [1, 2, 3], 'run 1 is reused, not started again');
    assert.equal(starts[0].runDir, run2, 'run 2 continues in its own folder');
    assert.ok(starts[0].resumedFrom >= ckptStep, `resumed from ${starts[0].resumedFrom}, checkpoint at ${ckptStep}`);
    assert.equal(fs.readFileSync(path.join(run1, 'events.jsonl'), 'utf8'), run1Events, 'the finished run is untouched');
    const end = JSON.parse(fs.readFileSync(path.join(dir, 'study.json'), 'utf8'));
    assert.deepEqual(end.runs.map((x: { status: string }) => x.status), ['done', 'done', 'done', 'done']);
    for (const x of end.runs) assert.ok(x.evalLoss > 0 && x.evalLoss < Math.log(256), `eval loss ${x.evalLoss}`);
    // Run 2 has one 'resume' event and ends at step 100.
    const e2 = readJsonl<{ type: string; step: number }>(path.join(run2, 'events.jsonl')).records;
    assert.equal(e2.filter((e) => e.type === 'resume').length, 1);
    assert.equal(e2.at(-1)!.type, 'done');
    assert.equal(e2.at(-1)!.step, 100);
    // Four folders for four runs: the resume made no new folder.
    assert.equal(fs.readdirSync(dir).filter((n) => fs.existsSync(path.join(dir, n, 'config.json'))).length, 4);

    // The 2 x 2 grid has 4 points for 5 parameters: one clear line, exit 2.
    const f = shapelabSync(['fit', dir]);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /^shapelab: 4 usable runs for 5 parameters/);
    assert.equal(f.stderr.trim().split('\n').length, 1);
  });

  it('bad study folders: not a study, a corrupt study.json, an existing non-empty --out', () => {
    const root = tmpDir('badstudy');
    dirs.push(root);
    fs.writeFileSync(path.join(root, 'notes.txt'), 'mine');
    let r = shapelabSync(['study', '--resume', root]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^shapelab: .* is not a study folder \(no study\.json\)\n$/);
    r = shapelabSync(['study', '--out', root, ...GRID]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exists and is not empty/);
    assert.equal(fs.readFileSync(path.join(root, 'notes.txt'), 'utf8'), 'mine');
    r = shapelabSync(['fit', root]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^shapelab: .* is neither a run folder \(config\.json\) nor a study folder \(study\.json\)\n$/);
    fs.writeFileSync(path.join(root, 'study.json'), '{"format": "shapelab-study", "runs": [');
    for (const args of [['fit', root], ['study', '--resume', root]]) {
      r = shapelabSync(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^shapelab: .*study\.json cannot be read: /);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    r = shapelabSync(['fit', path.join(root, 'missing')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no such folder/);
  });
});
