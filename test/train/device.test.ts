import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const cli = path.join(__dirname, '..', '..', 'bin', 'shapelab.js');
const run = (args: string[], env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });

describe('shapelab device', function () {
  this.timeout(300_000);
  before(() => {
    const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
  });
  it('measures the CPU EP and --save makes `plan --gpu local` plan for this machine', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'shapelab-hw-')), 'hardware.json');
    const r = run(['device', '--ep', 'cpu', '--save', '--json'], { SHAPELAB_HARDWARE_FILE: file });
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout);
    assert.ok(rep.backends.some((b: { name: string }) => b.name === 'cpu'));
    const m = rep.measurements[0];
    assert.equal(m.ep, 'cpu');
    assert.ok(m.matmulTflops > 0 && Number.isFinite(m.matmulTflops));
    const saved = JSON.parse(readFileSync(file, 'utf8')).gpus.find((e: { name: string }) => e.name === 'local');
    assert.equal(saved.fp32Tflops, +m.matmulTflops.toFixed(3));
    const p = run(['plan', '--flops', '1e16', '--gpu', 'local', '--top', '1', '--json'], { SHAPELAB_HARDWARE_FILE: file });
    assert.equal(p.status, 0, p.stderr);
    assert.ok(JSON.parse(p.stdout).candidates.length >= 1);
  });
  it('an impossible --ep is one line and exit 2', () => {
    const r = run(['device', '--ep', 'tpu'], {});
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
