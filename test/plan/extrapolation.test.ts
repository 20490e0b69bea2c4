/** The planner warns when a plan leaves the runs of a local fit far behind (plan/search.ts extrapolationOf). */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXTRAPOLATION_LIMIT, extrapolationOf } from '../../src/core/plan/search';
import { loadLocalFit } from '../../src/core/plan/localFit';
import { SCALING_FITS } from '../../src/core/plan/scaling';
import { tmpDir } from '../reliability/helpers';

describe('plan: extrapolation beyond a local fit', () => {
  const root = tmpDir('extrap');
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const file = path.join(root, 'fit.json');
  fs.writeFileSync(file, JSON.stringify({
    format: 'shapelab-fit', name: 'grid', source: 'local study grid', law: { E: 1, A: 40, alpha: 0.3, B: 40, beta: 0.3 },
    points: [{ N: 5e4, D: 1e6 }, { N: 1e6, D: 3e7 }, { N: 2e5, D: 4e6 }],
  }));

  it('reads the N and D range of the runs from the fit file', () => {
    assert.deepEqual(loadLocalFit(file).range, { nMin: 5e4, nMax: 1e6, dMin: 1e6, dMax: 3e7 });
  });

  it('says nothing inside the range or within the limit, and names each factor beyond it', () => {
    const fit = loadLocalFit(file);
    assert.equal(EXTRAPOLATION_LIMIT, 4);
    assert.equal(extrapolationOf(fit, { params: 1e6, tokens: 3e7 }), null);
    assert.equal(extrapolationOf(fit, { params: 3.9e6, tokens: 1.1e8 }), null); // 3.9x and 3.7x: inside the limit
    const w = extrapolationOf(fit, { params: 5e6, tokens: 3e9 });
    assert.ok(w && /5\.0x the largest N \(1\.00M params\)/.test(w) && /100x the most tokens \(30\.0M\)/.test(w), String(w));
    const low = extrapolationOf(fit, { params: 1e4, tokens: 1e5 });
    assert.ok(low && /5\.0x below the smallest N/.test(low) && /10\.0x below the fewest tokens/.test(low), String(low));
  });

  it('published fits carry no range: no warning from this rule', () => {
    assert.equal(extrapolationOf(SCALING_FITS.chinchilla, { params: 1e12, tokens: 1e15 }), null);
  });
});
