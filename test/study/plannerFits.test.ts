/** The planner backend's fit list: published fits plus the local studies' fit.json, and planning with one. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFitList, buildHardwareList, defaultRequest, runPlan } from '../../src/extension/logic/plannerBackend';
import { parsePlannerMessage } from '../../webview/shared/messages';
import { StudyProgressTracker } from '../../src/extension/logic/studyProgress';
import { tmpDir } from '../reliability/helpers';

describe('study: planner fit list and the study progress text', () => {
  it('lists local fits as local-N with their source; a plan with one has loss bands in its units', () => {
    const root = tmpDir('fits');
    try {
      fs.mkdirSync(path.join(root, 'study-a'));
      const samples = Array.from({ length: 40 }, (_, i) => ({ E: 1 + i * 0.005, A: 40, alpha: 0.3, B: 40, beta: 0.3 }));
      fs.writeFileSync(path.join(root, 'study-a', 'fit.json'), JSON.stringify({ format: 'shapelab-fit', name: 'study-a', source: 'local study study-a: 8 runs, held-out error 1.5%', units: 'byte tokenizer, vocab 256, data brown', law: { E: 1.1, A: 40, alpha: 0.3, B: 40, beta: 0.3 }, points: [{ N: 1e5, D: 2e6 }], bootstrap: { samples } }));
      fs.mkdirSync(path.join(root, 'study-b'));
      fs.writeFileSync(path.join(root, 'study-b', 'fit.json'), '{broken');
      const fits = buildFitList(root);
      assert.deepEqual(fits.vms.map((v) => v.id), ['besiroglu', 'chinchilla', 'local-1']);
      assert.equal(fits.vms[2].source, 'local study study-a: 8 runs, held-out error 1.5%');
      const hw = buildHardwareList([]);
      const req = { ...defaultRequest('h100-sxm', 'completep', hw), fit: 'local-1' as const, budget: 1e18 };
      const msg = parsePlannerMessage({ type: 'plan', requestId: 1, request: req });
      assert.ok(msg.ok, JSON.stringify(msg));
      assert.equal(parsePlannerMessage({ type: 'plan', requestId: 1, request: { ...req, fit: '/etc/passwd' } }).ok, false);
      const out = runPlan(req, hw, fits);
      const s = out.shapes[0];
      assert.ok(s.lossBand && s.lossBand[0] <= s.predictedLoss && s.predictedLoss <= s.lossBand[1] + 1e-12);
      assert.equal(out.sources[1].value, 'local fit (study-a)');
      assert.throws(() => runPlan({ ...req, fit: 'local-2' as const }, hw, fits), /unknown scaling fit 'local-2'/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('progress text: per run step and ETA, study percent and ETA; increments add up to 100', () => {
    const t = new StudyProgressTracker();
    let total = 0;
    const lines = [
      { kind: 'study-start', studyDir: '/s', runs: 2, predictedSeconds: 100, reused: 0 },
      { kind: 'run-start', index: 0, runs: 2, id: 'w32-L2', runDir: '/s/a', predictedSeconds: 50 },
      { kind: 'run-progress', index: 0, runs: 2, id: 'w32-L2', step: 50, steps: 100, loss: 3, runEtaSec: 25, studyEtaSec: 75, fraction: 0.25 },
      { kind: 'run-progress', index: 1, runs: 2, id: 'w48-L2', step: 10, steps: 100, loss: 3, runEtaSec: 65, studyEtaSec: 65, fraction: 0.55 },
      { kind: 'study-end', studyDir: '/s', done: 2, failed: 0, stopped: false, seconds: 99 },
    ];
    const msgs = lines.map((l) => t.update(JSON.stringify(l))!);
    for (const m of msgs) total += m.increment;
    assert.equal(msgs[2].message, 'run 1/2 w32-L2: step 50/100, ETA 0:25 | study 25%, ETA 1:15');
    assert.equal(msgs[2].increment, 25);
    assert.equal(total, 100);
    assert.equal(t.update('shapelab: not json'), undefined);
    assert.deepEqual(t.finished, { done: 2, failed: 0, stopped: false });
  });
});
