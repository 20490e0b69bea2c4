/** loadStudy on the study that study.test.ts-style runs write: plain JSON with curves and the fit's line. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BASE } from '../../src/core/param/parameterization';
import { createRunDir, RunSession, writeConfig } from '../../src/core/runs/runStore';
import { gridRuns, runConfig, type GridRequest } from '../../src/core/study/grid';
import { writeManifest } from '../../src/core/study/manifest';
import { loadStudy, listStudies } from '../../src/core/study/loadStudy';
import { lawLoss } from '../../src/core/study/lawFit';
import { tmpDir } from '../reliability/helpers';

describe('study: loadStudy (data for the comparison view)', () => {
  it('returns runs with shapes, curves and the fit curve as JSON-safe data; a bad folder throws', () => {
    const root = tmpDir('load');
    try {
      const dir = path.join(root, 'st');
      fs.mkdirSync(dir);
      const req: GridRequest = { widths: [32, 48], depths: [1, 2], tpp: 20, tppSpread: 4, context: 64, batchSize: 8, parameterization: 'completep', base: { ...DEFAULT_BASE }, data: { source: 'brown', tokenizer: 'byte' }, ep: 'cpu', seed: 1, evalBatches: 4, name: 'st' };
      const grid = gridRuns(req);
      const law = { E: 1, A: 50, alpha: 0.4, B: 50, beta: 0.3 };
      const entries: import("../../src/core/study/manifest").StudyRunEntry[] = grid.map((g, i) => {
        if (i === 3) return { ...g, status: 'pending' as const, dir: null, predictedSeconds: 5 };
        const d = createRunDir(dir, g.label);
        writeConfig(d, runConfig(req, g));
        const s = RunSession.open(d);
        for (let k = 1; k <= 5; k++) s.metric({ step: k, tokens: k * 512, loss: 5 - k * 0.5, ...(k === 5 ? { evalLoss: 2.6 } : {}) });
        s.close();
        return { ...g, status: 'done' as const, dir: path.basename(d), predictedSeconds: 5, seconds: 6, evalLoss: lawLoss(law, g.params, g.tokens) };
      });
      writeManifest(dir, { format: 'shapelab-study', version: 1, name: 'st', createdAt: '2026-11-30T00:00:00Z', request: { ...req, minutes: null }, timing: null, predictedSeconds: 20, runs: entries });
      fs.writeFileSync(path.join(dir, 'fit.json'), JSON.stringify({ format: 'shapelab-fit', law, source: 'local study st: 3 runs', points: entries.slice(0, 3).map((e) => ({ run: e.dir, N: e.params, D: e.tokens, loss: e.evalLoss! })) }));
      const v = loadStudy(dir);
      assert.deepEqual(JSON.parse(JSON.stringify(v)), v, 'plain JSON');
      assert.equal(v.runs.length, 4);
      assert.equal(v.runs[0].curve.length, 5);
      assert.equal(v.runs[0].curve[4].evalLoss, 2.6);
      assert.equal(v.runs[3].dir, null);
      assert.deepEqual(v.runs[3].curve, []);
      assert.equal(v.runs[0].flopsPerToken, 6 * grid[0].params + 12 * 1 * 32 * 64);
      assert.ok(v.fit);
      assert.equal(v.fit!.points.length, 3);
      assert.ok(v.fit!.curves.length >= 2, 'one curve per tokens/param ratio of the checkerboard');
      for (const c of v.fit!.curves) for (const p of c.points) assert.ok(Math.abs(p.loss - lawLoss(law, p.N, p.D)) < 1e-12);
      assert.deepEqual(listStudies(root), [dir]);
      assert.throws(() => loadStudy(root), /is not a study folder/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
