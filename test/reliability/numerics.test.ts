/**
 * Issue 7, runs 3 (numerics): a NaN/Inf loss, gradient norm or parameter update is caught in the
 * step itself; 'stop' ends the run there (exit code 3 from the CLI) keeping the last good state,
 * 'skip' goes on with the state untouched.
 *
 * The real divergence: AdamW with eps = 0 (a value the config schema accepts, as PyTorch does)
 * divides 0 by 0 for every embedding row that no token of the batch used: loss and gradient norm
 * are finite, the update is NaN. Before the guard probed the update, step 1 wrote NaN parameters,
 * step 2 reported a NaN loss, and the "last good" checkpoint held NaN.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initParams } from '../../src/core/model/init';
import { paramLayout } from '../../src/core/model/gpt';
import { presetConfig, type RunConfig } from '../../src/core/runs/configSchema';
import { Engine } from '../../src/core/train/engine';
import { fromTensorMap, modelShapeOf, train, transferFor } from '../../src/core/train/trainer';
import { loadCheckpoint, checkpointsDir, checkpointFileName } from '../../src/core/runs/checkpoint';
import { buildOnce, checkJsonl, runDirIn, shapelabSync, tmpDir, verifyLatest } from './helpers';

function tiny(over: Partial<RunConfig> = {}): RunConfig {
  const c = presetConfig('tiny');
  return { ...c, steps: 12, logEvery: 1, evalEvery: 0, checkpointEvery: 0, evalBatches: 1, keepCheckpoints: 100, ep: 'cpu', ...over, schedule: { ...c.schedule, warmupSteps: 2, totalSteps: 100 } };
}
const layoutOf = (c: RunConfig) => paramLayout(modelShapeOf(c), transferFor(c, c.model.nLayers));
const paramsAt = (runDir: string, c: RunConfig, step?: number) => {
  const ck = step === undefined ? verifyLatest(runDir)! : loadCheckpoint(path.join(checkpointsDir(runDir), checkpointFileName(step)), { shapes: Object.fromEntries(layoutOf(c).map((p) => [p.name, p.shape])) });
  return { step: ck.step, params: fromTensorMap(layoutOf(c), ck.params), m: fromTensorMap(layoutOf(c), ck.optM) };
};
const allFinite = (a: Float32Array) => a.every((x) => Number.isFinite(x));
const sameArray = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** Wraps Engine.step so that step `at` (1-based call count) gets a NaN learning-rate factor. */
function poisonStep(at: number): () => void {
  const orig = Engine.prototype.step;
  let calls = 0;
  Engine.prototype.step = function (this: Engine, batch, lrFactor, t) {
    calls++;
    return orig.call(this, batch, calls === at ? NaN : lrFactor, t);
  };
  return () => {
    Engine.prototype.step = orig;
  };
}

describe('reliability: non-finite steps (CPU EP)', function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const root = () => {
    const d = tmpDir('nan');
    dirs.push(d);
    return d;
  };

  it("real divergence (AdamW eps = 0), nonFinite 'stop', CLI: stops at step 1 with a nonfinite event, exit code 3, checkpoint = the finite initial state", () => {
    buildOnce();
    const out = root();
    const cfgFile = path.join(out, 'diverge.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ preset: 'tiny', steps: 30, base: { eps: 0 }, nonFinite: 'stop', evalEvery: 0, checkpointEvery: 10, ep: 'cpu' }));
    const r = shapelabSync(['train', '--config', cfgFile, '--out', out]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /non-finite loss\/gradient at step 1 \(.*parameter update NaN\/Inf\): stopping; the last good state is kept/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const dir = runDirIn(out)!;
    const ev = checkJsonl(path.join(dir, 'events.jsonl')).records;
    const nf = ev.filter((e) => e.type === 'nonfinite');
    assert.equal(nf.length, 1);
    assert.deepEqual([nf[0].step, nf[0].action, nf[0].updateFinite], [1, 'stop', false]);
    assert.deepEqual([ev.at(-1)!.type, ev.at(-1)!.reason, ev.at(-1)!.step], ['stop', 'nonfinite', 0]);
    const c = tiny({ base: { ...presetConfig('tiny').base, eps: 0 } });
    const ck = paramsAt(dir, c);
    assert.equal(ck.step, 0);
    assert.ok(allFinite(ck.params), 'the kept parameters contain NaN/Inf');
    assert.ok(sameArray(ck.params, initParams(layoutOf(c), c.seed)), 'the kept parameters are not the last good (initial) state');
    assert.ok(ck.m.every((x) => x === 0));
  });

  it("real divergence, nonFinite 'skip': every bad step is skipped with an event, the run goes on to the end, parameters stay finite", async () => {
    const c = tiny({ steps: 6, base: { ...presetConfig('tiny').base, eps: 0 }, nonFinite: 'skip' });
    const r = await train({ config: c, runsRoot: root() });
    assert.deepEqual([r.reason, r.step], ['done', 6]);
    const ev = checkJsonl(path.join(r.runDir, 'events.jsonl')).records;
    assert.deepEqual(ev.filter((e) => e.type === 'nonfinite').map((e) => [e.step, e.action]), [1, 2, 3, 4, 5, 6].map((s) => [s, 'skip']));
    const ck = paramsAt(r.runDir, c);
    assert.ok(sameArray(ck.params, initParams(layoutOf(c), c.seed)));
  });

  it("a poisoned step after good ones (NaN learning-rate factor at step 7): 'stop' keeps exactly the state of step 6; 'skip' leaves the state untouched and trains on", async () => {
    const c = tiny({ checkpointEvery: 1 });
    const ref = await train({ config: { ...c, steps: 6 }, runsRoot: root() });
    const good = paramsAt(ref.runDir, c);
    assert.equal(good.step, 6);

    let restore = poisonStep(7);
    let stopped;
    try {
      stopped = await train({ config: { ...c, nonFinite: 'stop' }, runsRoot: root() });
    } finally {
      restore();
    }
    assert.deepEqual([stopped.reason, stopped.step], ['nonfinite', 6]);
    const nf = checkJsonl(path.join(stopped.runDir, 'events.jsonl')).records.filter((e) => e.type === 'nonfinite');
    assert.deepEqual(nf.map((e) => [e.step, e.action, e.updateFinite]), [[7, 'stop', false]]);
    const kept = paramsAt(stopped.runDir, c);
    assert.equal(kept.step, 6);
    assert.ok(sameArray(kept.params, good.params) && sameArray(kept.m, good.m), 'stop did not keep the state of step 6');

    // 'skip', poisoned last step: the final checkpoint (step 7) is exactly the state of step 6.
    for (const steps of [7, 12]) {
      restore = poisonStep(7);
      let skipped;
      try {
        skipped = await train({ config: { ...c, steps, nonFinite: 'skip' }, runsRoot: root() });
      } finally {
        restore();
      }
      assert.deepEqual([skipped.reason, skipped.step], ['done', steps]);
      const nf2 = checkJsonl(path.join(skipped.runDir, 'events.jsonl')).records.filter((e) => e.type === 'nonfinite');
      assert.deepEqual(nf2.map((e) => [e.step, e.action]), [[7, 'skip']]);
      const last = paramsAt(skipped.runDir, c);
      assert.equal(last.step, steps);
      assert.ok(allFinite(last.params));
      if (steps === 7) assert.ok(sameArray(last.params, good.params) && sameArray(last.m, good.m), 'the skipped step changed the state');
      else {
        // It trained on: finite losses after the skipped step, and the state moved on from step 6.
        const losses = checkJsonl(path.join(skipped.runDir, 'metrics.jsonl')).records.filter((m) => (m.step as number) > 7 && m.evalLoss === undefined).map((m) => m.loss as number);
        assert.equal(losses.length, 5);
        assert.ok(losses.every(Number.isFinite));
        assert.ok(!sameArray(last.params, good.params));
      }
    }
  });
});
