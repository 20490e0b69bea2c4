/**
 * bench/calibrate-planner.ts: the fit recovers known efficiencies from throughputs made with them
 * (the inverse problem), keeps holdout shapes out of the fit, and runs as a script on a real file.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { calibrate, predictTokensPerSec, readMeasurements, type Measurement } from '../../bench/calibrate-planner';
import { resolveHardware } from '../../src/core/plan';

const shapes: Omit<Measurement, 'tokensPerSec'>[] = [
  { gpu: 'h200-sxm', precision: 'bf16', dModel: 768, nLayers: 12, nHeads: 6, context: 2048, vocab: 50304, microBatch: 16 },
  { gpu: 'h200-sxm', precision: 'bf16', dModel: 1024, nLayers: 24, nHeads: 8, context: 2048, vocab: 50304, microBatch: 16 },
  { gpu: 'h200-sxm', precision: 'bf16', dModel: 2048, nLayers: 16, nHeads: 16, context: 2048, vocab: 50304, microBatch: 8 },
  { gpu: 'h200-sxm', precision: 'bf16', dModel: 512, nLayers: 8, nHeads: 4, context: 1024, vocab: 50304, microBatch: 32 },
  { gpu: 'h200-sxm', precision: 'bf16', dModel: 1536, nLayers: 16, nHeads: 12, context: 2048, vocab: 50304, microBatch: 8, holdout: true },
];

describe('bench/calibrate-planner: efficiency fit', () => {
  const hw = resolveHardware('h200-sxm');
  const truth = { gemm: 0.62, layerMs: 0.35, stepMs: 4 };
  const ms = shapes.map((s) => ({ ...s, tokensPerSec: predictTokensPerSec(s as Measurement, hw, truth) }));

  it('recovers the GEMM efficiency and overheads that produced the throughputs', () => {
    const [f] = calibrate(ms, 'synthetic');
    assert.ok(Math.abs(f.efficiency.gemm - truth.gemm) <= 0.0025, JSON.stringify(f.efficiency));
    assert.ok(Math.abs(f.efficiency.layerMs - truth.layerMs) < 0.05, JSON.stringify(f.efficiency));
    assert.ok(Math.abs(f.efficiency.stepMs - truth.stepMs) < 0.5, JSON.stringify(f.efficiency));
    for (const r of f.rows) assert.ok(Math.abs(r.error) < 0.01, `${r.m.dModel}: ${r.error}`);
    assert.match(f.efficiency.source, /^fitted by bench\/calibrate-planner\.ts on \d{4}-\d\d-\d\d from 4 measured runs \(synthetic\)$/);
  });

  it('holdout shapes are predicted, not fitted: a wrong holdout shows up as its error only', () => {
    const noisy = ms.map((m) => (m.holdout ? { ...m, tokensPerSec: m.tokensPerSec * 1.3 } : m));
    const [f] = calibrate(noisy, 'synthetic');
    assert.ok(Math.abs(f.efficiency.gemm - truth.gemm) <= 0.0025);
    const h = f.rows.find((r) => r.m.holdout)!;
    assert.ok(Math.abs(h.error - (1 / 1.3 - 1)) < 0.01, String(h.error));
  });

  it('runs as a script on a JSONL file and prints the constants and the per-shape errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shapelab-cal-'));
    const file = join(dir, 'm.jsonl');
    writeFileSync(file, ms.map((m) => JSON.stringify(m)).join('\n') + '\n');
    const root = resolve(__dirname, '..', '..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'calibrate-planner.ts'), file], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^h200-sxm bf16: GEMM efficiency 0\.62/m);
    assert.match(r.stdout, /\(holdout\) \|/);
    assert.match(r.stdout, /"efficiency": \{ "bf16": \{"gemm":0\.62,/);
    assert.throws(() => readMeasurements('{"gpu":"h200-sxm","precision":"bf16","dModel":-1}', 'x.jsonl'), /x\.jsonl:1: dModel must be a number > 0/);
  });
});
