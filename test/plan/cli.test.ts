import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');

function shapelab(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'shapelab.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env, SHAPELAB_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cli: plan, hparams, evaluate, growth', function () {
  this.timeout(120_000);

  before(() => {
    // The real build (npm test runs it too). If another part of the tree does not build yet,
    // fall back to bundling just the CLI with the same options so these tests still exercise it.
    const full = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, encoding: 'utf8' });
    if (full.status !== 0) {
      const cli = spawnSync(
        process.execPath,
        ['-e', "require('esbuild').buildSync({entryPoints:['src/cli/main.ts'],outfile:'dist/cli.js',bundle:true,platform:'node',format:'cjs',target:'node20',sourcemap:true,external:['vscode','onnxruntime-node'],logLevel:'error'})"],
        { cwd: root, encoding: 'utf8' },
      );
      assert.equal(cli.status, 0, cli.stderr);
    }
  });

  it('plan --json: candidates and growth with the documented fields', () => {
    const r = shapelab(['plan', '--flops', '1e19', '--gpu', 'h100-sxm', '--gpus', '2', '--seq', '1024', '--top', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.candidates.length, 3);
    for (const k of ['dModel', 'nLayers', 'nHeads', 'dFf', 'params', 'nonEmbeddingParams', 'tokens', 'predictedLoss', 'predictedHours', 'memoryGiB', 'widthDepthRatio']) assert.equal(typeof doc.candidates[0][k], 'number', k);
    assert.equal(doc.growth.factor, 4);
    assert.equal(typeof doc.growth.growthTokens, 'number');
    assert.equal(doc.growth.smallModel.dModel, doc.candidates[0].dModel);
  });

  it('plan/evaluate --precision bf16 time the same shapes at the bf16 tensor-core peak', () => {
    const run = (p: string) => JSON.parse(shapelab(['plan', '--flops', '1e19', '--gpu', 'h100-sxm', '--top', '1', '--precision', p, '--json']).stdout);
    const [f32, b16] = [run('fp32'), run('bf16')];
    assert.equal(f32.context.precision, 'fp32');
    assert.equal(b16.context.precision, 'bf16');
    assert.equal(b16.context.hardware.peakTflops, 989); // datasheet dense BF16 (hardware.json)
    assert.ok(b16.candidates[0].predictedHours < f32.candidates[0].predictedHours / 3, `${b16.candidates[0].predictedHours} vs ${f32.candidates[0].predictedHours}`);
    const e = JSON.parse(shapelab(['evaluate', '--d-model', '768', '--layers', '12', '--tokens', '1e10', '--gpu', 'a100', '--precision', 'bf16', '--json']).stdout);
    assert.equal(typeof e.step.microStepSeconds, 'number');
    const e32 = JSON.parse(shapelab(['evaluate', '--d-model', '768', '--layers', '12', '--tokens', '1e10', '--gpu', 'a100', '--precision', 'fp32', '--json']).stdout);
    assert.ok(e.predictedHours < e32.predictedHours / 3);
    // Default: bf16 on a GPU with bf16 tensor cores (what the exported train.py runs there)
    const eDefault = JSON.parse(shapelab(['evaluate', '--d-model', '768', '--layers', '12', '--tokens', '1e10', '--gpu', 'a100', '--json']).stdout);
    assert.equal(eDefault.precision, 'bf16');
    assert.equal(eDefault.predictedHours, e.predictedHours);
  });

  it('plan: a readable table by default', () => {
    const r = shapelab(['plan', '--flops', '1e19', '--gpu', 'a100', '--top', '3', '--param', 'mup']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /d_model\s+layers/);
    assert.match(r.stdout, /G_stack growth/);
    assert.match(r.stdout, /mup/);
  });

  it('hparams --json: groups keyed by parameter group, multipliers', () => {
    const r = shapelab(['hparams', '--base-width', '256', '--base-depth', '2', '--width', '1024', '--depth', '16', '--lr', '0.01', '--init-std', '0.02', '--eps', '1e-8', '--weight-decay', '0.1', '--param', 'completep', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc.groups), ['embedding', 'preLN', 'hidden', 'hiddenBias', 'finalLN', 'unembedding']);
    for (const g of Object.values(doc.groups) as Record<string, number>[]) for (const k of ['initStd', 'lr', 'eps', 'weightDecay']) assert.equal(typeof g[k], 'number');
    assert.equal(doc.groups.hidden.lr, 0.0025);
    assert.equal(doc.residualMultiplier, 0.125);
    assert.equal(doc.outputMultiplier, 0.25);
  });

  it('evaluate --json: the fields of a plan candidate (GPT-2 small)', () => {
    const r = shapelab(['evaluate', '--d-model', '768', '--layers', '12', '--heads', '12', '--seq', '1024', '--vocab', '50257', '--tokens', '1e10', '--gpu', 'rtx-4090', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.params, 124439808);
    assert.equal(doc.nonEmbeddingParams, 85056000);
    for (const k of ['dModel', 'nLayers', 'nHeads', 'dFf', 'tokens', 'predictedLoss', 'predictedHours', 'memoryGiB', 'widthDepthRatio']) assert.equal(typeof doc[k], 'number', k);
  });

  it('growth --json: Llama2-7B -> 11.11B tokens, outside the fit range', () => {
    const r = shapelab(['growth', '--params', '7e9', '--tokens', '2e12', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.factor, 4);
    assert.ok(Math.abs(doc.growthTokens - 11.11e9) < 0.01e9);
    assert.equal(doc.inFitRange, false);
  });

  it("--gpu accepts 'local' from SHAPELAB_HARDWARE_FILE", () => {
    const f = join(mkdtempSync(join(tmpdir(), 'shapelab-cli-')), 'hw.json');
    writeFileSync(f, JSON.stringify({ name: 'my-laptop', fp32Tflops: 21, memoryGB: 16, bandwidthTBs: 0.4 }));
    const r = shapelab(['plan', '--flops', '1e17', '--gpu', 'local', '--seq', '256', '--top', '1', '--json'], { SHAPELAB_HARDWARE_FILE: f });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).context.hardware.name, 'local');
  });

  it('plan --json > p.json && export torch --plan p.json --out d (issue 11): the top-ranked shape, or --pick N', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shapelab-cli-export-'));
    const r = shapelab(['plan', '--flops', '1e19', '--gpu', 'h100-sxm', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    writeFileSync(join(dir, 'p.json'), r.stdout);
    const e = shapelab(['export', 'torch', '--plan', join(dir, 'p.json'), '--out', join(dir, 'd')]);
    assert.equal(e.code, 0, e.stderr);
    const cfg = JSON.parse(readFileSync(join(dir, 'd', 'config.json'), 'utf8'));
    const best = plan.candidates[0];
    assert.deepEqual([cfg.model.dModel, cfg.model.nLayers, cfg.model.nHeads, cfg.model.dFf, cfg.model.tiedEmbeddings], [best.dModel, best.nLayers, best.nHeads, best.dFf, true]);
    assert.match(e.stdout, /growth not used/);
    const e3 = shapelab(['export', 'torch', '--plan', join(dir, 'p.json'), '--pick', '3', '--out', join(dir, 'd3')]);
    assert.equal(e3.code, 0, e3.stderr);
    const cfg3 = JSON.parse(readFileSync(join(dir, 'd3', 'config.json'), 'utf8'));
    assert.deepEqual([cfg3.model.dModel, cfg3.model.nLayers], [plan.candidates[2].dModel, plan.candidates[2].nLayers]);
    const bad = shapelab(['export', 'torch', '--plan', join(dir, 'p.json'), '--pick', '11', '--out', join(dir, 'd4')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^shapelab: export torch: --pick must be an integer in 1\.\.10/);
  });

  it('plan shows the memory setting and says memory-bound loudly', () => {
    const r = shapelab(['plan', '--flops', '1e22', '--gpu', 'h100-sxm', '--gpus', '4', '--top', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /memory\s+mb/);
    assert.match(r.stdout, /FSDP/);
    const m = shapelab(['plan', '--flops', '1e21', '--gpu', 'rtx-4090', '--top', '3']);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /^warning: memory-bound: /m);
  });

  const bad: [string, string[], RegExp][] = [
    ['GPU count -1', ['plan', '--flops', '1e20', '--gpu', 'h100-sxm', '--gpus', '-1'], /--gpus: must be > 0 \(got -1\)/],
    ['budget above the cap names the upper bound', ['plan', '--flops', '1e40'], /budget FLOPs must be between 1e9 and 1e30 \(got 1e40\)/],
    ['budget below the floor names the lower bound', ['plan', '--flops', '1e3'], /budget FLOPs must be between 1e9 and 1e30 \(got 1e3\)/],
    ['negative budget', ['plan', '--flops', '-1e20', '--gpu', 'h100-sxm'], /--flops: must be > 0/],
    ['non-numeric budget', ['plan', '--flops', 'lots', '--gpu', 'h100-sxm'], /--flops: 'lots' is not a finite number/],
    ['no budget', ['plan', '--gpu', 'h100-sxm'], /exactly one budget/],
    ['unknown GPU', ['plan', '--flops', '1e20', '--gpu', 'h100-sxn'], /unknown GPU 'h100-sxn'; known: h100-sxm/],
    ['unknown parameterization', ['plan', '--flops', '1e20', '--param', 'ntk'], /unknown parameterization 'ntk'/],
    ['unknown precision', ['plan', '--flops', '1e20', '--precision', 'fp16'], /--precision: expected fp32 or bf16 \(got 'fp16'\)/],
    ['unknown flag', ['plan', '--flops', '1e20', '--budget', '3'], /Unknown option '--budget'/],
    ['width not divisible by heads', ['evaluate', '--d-model', '1000', '--layers', '4', '--heads', '3', '--tokens', '1e9'], /not divisible by --heads 3/],
    ['both tokens and flops', ['evaluate', '--d-model', '1024', '--layers', '4', '--tokens', '1e9', '--flops', '1e19'], /exactly one of --tokens/],
    ['bad inline GPU JSON', ['evaluate', '--d-model', '1024', '--layers', '4', '--tokens', '1e9', '--gpu', '{"name":"x"}'], /needs fp32Tflops/],
    ['zero width', ['hparams', '--width', '0', '--depth', '2'], /--width: must be > 0/],
    ['missing tokens', ['growth', '--params', '7e9'], /--tokens: expected a number/],
    ['negative params', ['growth', '--params', '-7e9', '--tokens', '2e12'], /--params: must be > 0/],
  ];
  for (const [what, args, message] of bad) {
    it(`bad input (${what}): one stderr line, exit 2, no stack trace`, () => {
      const r = shapelab(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^shapelab: /);
      assert.match(lines[0], message);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }
});
