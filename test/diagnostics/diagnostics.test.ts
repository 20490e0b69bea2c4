import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { coordCheck, coordCheckChart, coordCheckVerdict, coordCheckWidthVerdict, FLAT_EXPONENT, sweepExponent } from '../../src/core/diagnostics/coordcheck';
import { growthExperiment, growthExperimentChart } from '../../src/core/diagnostics/growthExperiment';
import { lrSweep, lrSweepChart } from '../../src/core/diagnostics/sweep';
import { chartSvg } from '../../src/core/diagnostics/svg';

const root = path.resolve(__dirname, '..', '..');
const tmp = () => mkdtempSync(path.join(tmpdir(), 'shapelab-diag-'));
function shapelab(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'shapelab.js'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, SHAPELAB_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('diagnostics: coordinate check (CPU EP)', function () {
  this.timeout(300_000);

  it('CompleteP and alpha 0.5 do not grow with depth; SP and muP do; only SP grows with width', async () => {
    const r = await coordCheck({ depths: [2, 16], width: 32, widths: [32, 128], steps: 10, ep: 'cpu' });
    for (const p of ['completep', 'alpha0.5', 'mup', 'sp']) {
      for (const d of ['2', '16']) {
        assert.equal(r.results[p][d].length, 11, `${p} ${d}: steps 0..10`);
        assert.ok(r.results[p][d].every((x) => Number.isFinite(x) && x > 0));
      }
      for (const w of ['32', '128']) assert.equal(r.byWidth[p][w].length, 11, `${p} width ${w}`);
    }
    const g = r.growth;
    assert.ok(g.completep > 0.5 && g.completep < 1.5, `completep depth-16/depth-2 ratio ${g.completep}`);
    assert.ok(g['alpha0.5'] > 0.5 && g['alpha0.5'] < 1.5, `alpha0.5 ratio ${g['alpha0.5']}`);
    assert.ok(g.sp > 2.5, `sp ratio ${g.sp}`);
    assert.ok(g.mup > 2.5, `mup ratio ${g.mup}`);
    // At initialization alpha = 0.5 is exactly depth-stable in expectation; muP/SP grow like sqrt(L).
    const init = (p: string) => r.results[p]['16'][0] / r.results[p]['2'][0];
    assert.ok(Math.abs(Math.log(init('alpha0.5'))) < Math.log(1.3), `alpha0.5 at init ${init('alpha0.5')}`);
    assert.ok(init('mup') > 1.4 && init('sp') > 1.4, `init ratios mup ${init('mup')} sp ${init('sp')}`);
    // The same depth-2 base model under CompleteP, alpha 0.5 and muP (m_L = 1) is the same computation.
    assert.deepEqual(r.results.completep['2'], r.results['alpha0.5']['2']);
    // Width sweep at the base depth: the three width-aware rules are one computation; SP is not.
    assert.deepEqual(r.byWidth.completep['128'], r.byWidth.mup['128']);
    assert.ok(r.widthGrowth.mup > 0.5 && r.widthGrowth.mup < 2, `mup width ratio ${r.widthGrowth.mup}`);
    assert.ok(r.widthGrowth.sp > 3, `sp width ratio ${r.widthGrowth.sp}`);
    assert.deepEqual(coordCheckVerdict(r), { completep: 'flat', 'alpha0.5': 'flat', mup: 'grows', sp: 'grows' });
    assert.deepEqual(coordCheckWidthVerdict(r), { completep: 'flat', 'alpha0.5': 'flat', mup: 'flat', sp: 'grows' });
    const svg = coordCheckChart(r);
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/<path /g) ?? []).length, 8 * 4, '4 depth + 4 width panels, 4 step lines each');
  });

  it('the verdict is the fitted log-log exponent', () => {
    // value ~ depth^1 exactly: 1, 8 at depths 2, 16 (ln 8 / ln 8)
    assert.ok(Math.abs(sweepExponent({ '2': [0, 1], '16': [0, 8] }) - 1) < 1e-12);
    assert.ok(Math.abs(sweepExponent({ '2': [3], '4': [3], '8': [3] })) < 1e-12);
    // one outlier among flat points moves the fit less than it moves an endpoint ratio
    assert.ok(Math.abs(sweepExponent({ '2': [1], '4': [1], '8': [1], '16': [1], '32': [0.45] })) < FLAT_EXPONENT);
  });

  it('refuses bad input', async () => {
    await assert.rejects(coordCheck({ depths: [0], ep: 'cpu' }), RangeError);
    await assert.rejects(coordCheck({ params: ['xp' as never], ep: 'cpu' }), RangeError);
  });
});

describe('diagnostics: LR sweep (CPU EP)', function () {
  this.timeout(300_000);

  it('loss per (depth, width, lr), best LR per depth and drift vs the shallowest', async () => {
    const r = await lrSweep({ param: 'completep', depths: [1, 2], widths: [32], lrs: [1e-3, 1e-2, 3e-1], steps: 30, batch: 4, evalBatches: 2, ep: 'cpu' });
    assert.equal(r.points.length, 2 * 3);
    assert.ok(r.points.every((p) => Number.isNaN(p.loss) || p.loss > 0));
    assert.equal(r.best.length, 2);
    for (const b of r.best) {
      const row = r.points.filter((p) => p.depth === b.depth && Number.isFinite(p.loss));
      assert.equal(b.bestLoss, Math.min(...row.map((p) => p.loss)));
      assert.ok(b.bestLrFit >= 1e-3 && b.bestLrFit <= 3e-1);
    }
    assert.equal(r.best[0].drift, 0);
    assert.equal(r.maxDrift['32'], Math.abs(r.best[1].drift));
    // The LR matters: the best and worst finite losses of a depth differ clearly.
    for (const d of [1, 2]) {
      const ls = r.points.filter((p) => p.depth === d && Number.isFinite(p.loss)).map((p) => p.loss);
      assert.ok(Math.max(...ls) - Math.min(...ls) > 0.02, `depth ${d}: ${ls}`);
    }
    assert.equal((lrSweepChart(r).match(/<path /g) ?? []).length, 2);
  });

  it('drift across widths is measured against the narrowest width at each depth', async () => {
    const r = await lrSweep({ param: 'completep', depths: [2], widths: [32, 64], lrs: [1e-3, 1e-2, 3e-1], steps: 20, batch: 4, evalBatches: 1, ep: 'cpu', base: { baseWidth: 32 } });
    const [narrow, wide] = r.best.sort((a, b) => a.width - b.width);
    assert.equal(narrow.widthDrift, 0);
    assert.ok(Math.abs(wide.widthDrift - Math.log2(wide.bestLrFit / narrow.bestLrFit)) < 1e-12);
    assert.equal(r.maxWidthDrift['2'], Math.abs(wide.widthDrift));
  });
});

describe('diagnostics: growth experiment (CPU EP)', function () {
  this.timeout(300_000);

  it('equal FLOP budget, final losses, FLOPs to the scratch loss and speed-up; run folders under the out dir', async () => {
    const out = tmp();
    try {
      const r = await growthExperiment({ preset: 'tiny', width: 32, heads: 1, depth: 2, context: 32, batch: 4, steps: 40, factor: 2, policies: ['rescale', 'keep'], evalEvery: 5, evalBatches: 2, ep: 'cpu', outDir: out });
      assert.deepEqual(r.runs.map((x) => x.name), ['scratch', 'G_stack rescale', 'G_stack keep']);
      const [scratch, ...grown] = r.runs;
      assert.equal(scratch.totalFlops, r.budgetFlops);
      assert.equal(r.targetLoss, scratch.finalEvalLoss);
      for (const g of grown) {
        assert.deepEqual(g.depths, [1, 2]);
        assert.equal(g.growAtStep, 8); // 0.2 x 40
        // Equal budget up to one target step.
        assert.ok(Math.abs(g.totalFlops - r.budgetFlops) <= r.tokensPerStep * r.target.flopsPerToken / 2 + 1, `${g.totalFlops} vs ${r.budgetFlops}`);
        assert.ok(g.steps > scratch.steps);
        assert.ok(Number.isFinite(g.finalEvalLoss));
        assert.equal(g.curve.at(-1)!.step, g.steps);
        assert.equal(g.curve.at(-1)!.flops, g.totalFlops);
        if (g.flopsToTarget === null) assert.equal(g.speedup, null);
        else assert.ok(Math.abs(g.speedup! - (scratch.totalFlops / g.flopsToTarget - 1)) < 1e-12);
        assert.ok(g.growth && Number.isFinite(g.growth.lossBefore) && g.growth.lossesAfter.length === 5);
        assert.ok(existsSync(path.join(g.runDir, 'events.jsonl')));
      }
      // Small-phase FLOPs are cheaper per step: the first grown eval point costs less than scratch's.
      assert.ok(grown[0].curve[0].flops < scratch.curve[0].flops);
      assert.equal(scratch.flopsToTarget! <= scratch.totalFlops, true);
      assert.equal(readdirSync(path.join(out, 'runs')).length, 3);
      assert.match(growthExperimentChart(r), /<svg /);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses a depth the factor does not divide', async () => {
    await assert.rejects(growthExperiment({ preset: 'tiny', depth: 3, factor: 2, steps: 10, ep: 'cpu', outDir: tmp() }), /not divisible/);
  });
});

describe('diagnostics: svg', () => {
  it('escapes text and survives empty or non-finite data', () => {
    const s = chartSvg([{ title: 'a<b', xLabel: 'x', yLabel: 'y', series: [{ name: 'n&m', points: [[1, NaN]] }] }]);
    assert.match(s, /a&lt;b/);
    assert.match(s, /no data/);
    const t = chartSvg([{ title: 't', xLabel: 'x', yLabel: 'y', logX: true, logY: true, series: [{ name: 's', points: [[1, 1], [10, 100]] }] }]);
    assert.doesNotMatch(t, /NaN|Infinity/);
  });
});

describe('diagnostics: CLI', function () {
  this.timeout(300_000);
  before(() => {
    const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
  });

  it('coordcheck --json: results keyed by parameterization and depth, per-step arrays; writes the SVG', () => {
    const dir = tmp();
    try {
      const svg = path.join(dir, 'cc.svg');
      const r = shapelab(['coordcheck', '--param', 'completep,sp', '--depths', '1,2', '--width', '32', '--widths', '32,64', '--steps', '3', '--ep', 'cpu', '--json', '--out', svg]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(doc.results), ['completep', 'sp']);
      assert.deepEqual(Object.keys(doc.results.sp), ['1', '2']);
      assert.equal(doc.results.completep['2'].length, 4);
      assert.deepEqual(Object.keys(doc.byWidth.sp), ['32', '64']);
      assert.deepEqual(Object.keys(doc.widthVerdict), ['completep', 'sp']);
      assert.equal(typeof doc.exponent.sp, 'number');
      assert.match(readFileSync(svg, 'utf8'), /^<svg /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sweep lr: table with the best LR and drift', () => {
    const r = shapelab(['sweep', 'lr', '--depths', '1,2', '--widths', '32', '--lrs', '1e-3,1e-2', '--steps', '5', '--batch', '2', '--eval-batches', '1', '--ep', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /width 32 depth 2: best .* drift [+-]\d/);
    assert.match(r.stdout, /max \|drift\| across depths at width 32/);
  });

  it('experiment growth --json writes the JSON and chart into --out', () => {
    const dir = tmp();
    try {
      const r = shapelab(['experiment', 'growth', '--preset', 'tiny', '--width', '32', '--heads', '1', '--depth', '2', '--context', '16', '--batch', '2', '--steps', '12', '--factor', '2', '--policies', 'rescale', '--eval-every', '4', '--eval-batches', '1', '--ep', 'cpu', '--json', '--out', dir]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.runs.length, 2);
      assert.ok(existsSync(path.join(dir, 'growth-experiment.json')) && existsSync(path.join(dir, 'growth-experiment.svg')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [args, msg] of [
    [['coordcheck', '--param', 'foo'], /--param: unknown parameterization 'foo'/],
    [['coordcheck', '--depths', '2,x'], /--depths: 'x' is not a finite number/],
    [['coordcheck', '--depths', '0'], /--depths: '0' must be > 0/],
    [['coordcheck', '--width', '-3'], /--width/],
    [['coordcheck', '--widths', '32,0'], /--widths: '0' must be > 0/],
    [['coordcheck', '--widths', '80'], /--widths 80: must split into heads/],
    [['coordcheck', '--out', 'x.png'], /--out: expected a \.svg/],
    [['coordcheck', '--ep', 'tpu'], /--ep: expected auto, webgpu, cpu or cuda/],
    [['sweep'], /expected 'sweep lr'/],
    [['sweep', 'lr', '--lrs', '0,1e-3'], /--lrs: '0' must be > 0/],
    [['sweep', 'lr', '--param', 'sp,mup'], /one parameterization/],
    [['experiment', 'growth', '--policies', 'bogus'], /--policies: unknown policy 'bogus'/],
    [['experiment', 'growth', '--factor', '1'], /--factor: must be >= 2/],
    [['experiment', 'growth', '--preset', 'tiny', '--depth', '3', '--factor', '2', '--ep', 'cpu', '--out', path.join(tmpdir(), 'shapelab-diag-bad')], /not divisible by the growth factor 2/],
    [['experiment', 'nope'], /expected 'experiment growth'/],
  ] as [string[], RegExp][]) {
    it(`bad input -> one line, exit 2: ${args.join(' ')}`, () => {
      const r = shapelab(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }
});
