/**
 * One set of growth defaults (src/core/model/growthDefaults.ts): change it and every consumer
 * follows -- run configs, `train`'s flags, `experiment growth`, the planner, the planner webview's
 * backend and the exported PyTorch program. And a config written before (version 1) keeps its old
 * meaning and hash.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configFromFlags } from '../../src/cli/commands/train';
import { growthExperiment } from '../../src/core/diagnostics/growthExperiment';
import { exportTorch } from '../../src/core/export/torchExport';
import { GROWTH_DEFAULTS, type GrowthDefaults } from '../../src/core/model/growthDefaults';
import { growthPlan } from '../../src/core/plan/growth';
import { checkpointConfigHash, validateConfig } from '../../src/core/runs/configSchema';
import { buildHardwareList, defaultRequest, planDocument, runPlan } from '../../src/extension/logic/plannerBackend';

// Deliberately unlike both the G_stack defaults and the pre-version-2 ones in every field.
const CHANGED: GrowthDefaults = { factor: 3, operator: 'stack', multiplier: 'rescale', optimizer: 'copy', lr: 'continue' };

describe('growth defaults: one module', () => {
  let saved: GrowthDefaults;
  const tmps: string[] = [];
  before(() => {
    saved = { ...GROWTH_DEFAULTS };
    Object.assign(GROWTH_DEFAULTS, CHANGED);
  });
  after(() => {
    Object.assign(GROWTH_DEFAULTS, saved);
    for (const d of tmps) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'sl-growdef-'));
    tmps.push(d);
    return d;
  };
  const policies = (g: { factor: number; multiplier: string; optimizer: string; lr: string } | undefined) =>
    g && { factor: g.factor, multiplier: g.multiplier, optimizer: g.optimizer, lr: g.lr };
  const expected = { factor: 3, multiplier: 'rescale', optimizer: 'copy', lr: 'continue' };

  it('run configs and `train --grow-at-step` take them', () => {
    assert.deepEqual(policies(validateConfig({ preset: 'tiny', growth: { atStep: 10 } }).growth), expected);
    assert.deepEqual(policies(configFromFlags({ preset: 'tiny', 'grow-at-step': '10' }).growth), expected);
  });

  it('the planner and the planner webview backend take the factor', () => {
    assert.equal(growthPlan({ params: 1e9, tokens: 2e10 }).factor, 3);
    const hw = buildHardwareList([]);
    const req = defaultRequest('h100', 'completep', hw);
    const doc = planDocument(runPlan(req, hw).shapes[0], req, hw);
    assert.equal(doc.growthFactor, 3);
    const stages = doc.growthStages as { stage: string }[];
    assert.match(stages[1].stage, /g = 3, optimizer moments copied, LR schedule continued, residual multiplier rescale/);
  });

  it('the PyTorch export of a plan takes them, and so does its train.py for fields left out', () => {
    const hw = buildHardwareList([]);
    const req = defaultRequest('h100', 'completep', hw);
    const out = path.join(tmp(), 'cluster');
    // An export carries growth only when asked for (or recommended): ask, so the defaults show.
    const r = exportTorch({ plan: planDocument(runPlan(req, hw).shapes[0], req, hw, undefined, { useGrowth: true }), outDir: out });
    assert.deepEqual(policies(r.config.growth), expected);
    const py = spawnSync('python3', ['--version']);
    if (py.status !== 0) return; // the config half above still ran; train.py needs python3
    // The written program's own defaults (used for a hand-edited config that leaves fields out).
    const probe = `import sys, json; sys.path.insert(0, ${JSON.stringify(out)}); import train; print(json.dumps(train.growth_events({"growth": {"atStep": 5}})[0]))`;
    const p = spawnSync('python3', ['-c', probe], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const ev = JSON.parse(p.stdout);
    assert.deepEqual({ factor: ev.factor, multiplier: ev.multiplierPolicy, optimizer: ev.optimizerPolicy, lr: ev.lrPolicy }, expected);
  });

  it('`experiment growth` takes them (a real, tiny experiment on the CPU)', async () => {
    const r = await growthExperiment({ preset: 'tiny', steps: 6, width: 16, depth: 3, heads: 1, context: 8, batch: 2, policies: ['keep'], evalEvery: 3, evalBatches: 1, ep: 'cpu', outDir: tmp() });
    assert.equal(r.factor, 3);
    assert.equal(r.small.depth, 1);
    assert.deepEqual([r.settings.optimizer, r.settings.lr], ['copy', 'continue']);
    const cfg = JSON.parse(readFileSync(path.join(r.runs[1].runDir, 'config.json'), 'utf8'));
    assert.deepEqual(policies(cfg.growth), { ...expected, multiplier: 'keep' });
  });
});

describe('growth defaults: configs written before them', () => {
  it('a version-1 config that leaves growth fields out keeps g = 2, copied moments, continued schedule', () => {
    const c = validateConfig({ version: 1, preset: 'tiny', growth: { atStep: 10 } });
    assert.equal(c.version, 1);
    assert.deepEqual({ factor: c.growth!.factor, optimizer: c.growth!.optimizer, lr: c.growth!.lr, multiplier: c.growth!.multiplier }, { factor: 2, optimizer: 'copy', lr: 'continue', multiplier: 'keep' });
  });

  it('an old run folder config.json (version 1, every field written out) validates to itself and hashes as before', () => {
    // A version-1 config.json as the trainer wrote it before this change: validation is canonical.
    const old = { ...validateConfig({ version: 1, preset: 'tiny', growth: { atStep: 10, factor: 2, multiplier: 'keep', optimizer: 'copy', lr: 'continue' } }) };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sl-oldcfg-'));
    try {
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(old));
      const again = validateConfig(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')));
      assert.deepEqual(again, old);
      assert.equal(checkpointConfigHash(again), checkpointConfigHash(old));
      // ... and the partial version-1 form means the same run (same hash).
      assert.equal(checkpointConfigHash(validateConfig({ version: 1, preset: 'tiny', growth: { atStep: 10 } })), checkpointConfigHash(old));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a config without a version gets the current defaults and version 2', () => {
    const c = validateConfig({ preset: 'tiny', growth: { atStep: 10 } });
    assert.equal(c.version, 2);
    assert.equal(c.growth!.factor, GROWTH_DEFAULTS.factor);
  });
});
