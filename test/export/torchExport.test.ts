import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportTorch, ExportError, findTrainPy, growthSources, runConfigFromPlan, runConfigOfFolder, torchConfig } from '../../src/core/export/torchExport';
import { transfer, GROUPS, DEFAULT_BASE } from '../../src/core/param/parameterization';
import { lrFactor, type Schedule } from '../../src/core/train/schedule';
import { readShard, writeShard } from '../../src/core/data/shards';
import { checkpointConfigHash, validateConfig } from '../../src/core/runs/configSchema';
import { loadCheckpoint } from '../../src/core/runs/checkpoint';
import { command as exportCommand } from '../../src/cli/commands/export';
import { UserError } from '../../src/cli/errors';

const RUN = {
  label: 'test',
  model: { vocabSize: 256, context: 64, dModel: 384, nLayers: 3, nHeads: 6, tiedEmbeddings: false },
  parameterization: 'completep',
  base: { baseWidth: 128, baseDepth: 2, lr: 0.004, initStd: 0.02, eps: 1e-8, weightDecay: 0.1 },
  steps: 200,
  batchSize: 16,
  seed: 7,
  schedule: { kind: 'wsd', warmupSteps: 10, minLrRatio: 0.05, decayFraction: 0.3 },
  growth: { atStep: 50, factor: 4, operator: 'stack', multiplier: 'rescale', optimizer: 'copy', lr: 'rewarm' },
};

const python = (() => {
  const r = spawnSync('python3', ['--version']);
  return r.status === 0 ? 'python3' : undefined;
})();

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-export-'));
}

describe('export torch', () => {
  it('runConfigOfFolder reads ShapeLab and exported config.json alike; an edited export is refused', () => {
    const run = validateConfig(RUN);
    const exported = JSON.parse(JSON.stringify(torchConfig(RUN)));
    exported.model.vocab = exported.model.vocabSize; // as train.py writes its run folder
    assert.deepEqual(runConfigOfFolder(exported), run);
    assert.deepEqual(runConfigOfFolder({ ...run, resolved: { ep: 'cpu' } }), run);
    // `steps` may change (train further); anything else means the checkpoints belong to another run
    assert.deepEqual(runConfigOfFolder({ ...exported, steps: 400 }).steps, 400);
    assert.throws(() => runConfigOfFolder({ ...exported, seed: 8 }), /runConfigHash .* does not match the run config .*edited after export/);
    assert.throws(() => runConfigOfFolder({ ...exported, model: { ...exported.model, vocab: 50257 } }), /model\.vocab \(50257\) differs from model\.vocabSize \(256\)/);
    assert.throws(() => runConfigOfFolder([1]), /expected a JSON object/);
  });

  it('writes per-depth transfers equal to transfer() for the initial and the grown depth', () => {
    const cfg = torchConfig(RUN);
    assert.deepEqual(Object.keys(cfg.transfers).sort(), ['12', '3']);
    for (const depth of [3, 12]) {
      const t = transfer({ ...DEFAULT_BASE, ...RUN.base }, { width: 384, depth }, 'completep');
      const j = cfg.transfers[String(depth)];
      for (const g of GROUPS) assert.deepEqual(j.groups[g], t.groups[g], `depth ${depth} group ${g}`);
      assert.equal(j.residualMultiplier, t.residualMultiplier);
      assert.equal(j.outputMultiplier, t.outputMultiplier);
      assert.equal(j.inputMultiplier, t.inputMultiplier);
      assert.equal(j.attentionScale, t.attentionScale(64));
      assert.equal(j.depth, depth);
    }
    assert.equal(cfg.model.dFf, 4 * 384);
    assert.equal(cfg.schedule.totalSteps, 200);
    assert.equal(cfg.growth?.factor, 4);
    assert.equal(cfg.runConfigHash, checkpointConfigHash(validateConfig(RUN)));
    // a run folder's config.json (with its `resolved` section) exports too
    assert.deepEqual(torchConfig({ ...validateConfig(RUN), resolved: { ep: 'cpu' } }).transfers, cfg.transfers);
  });

  it('computes grown depths for stack, interleave and partial operators', () => {
    assert.deepEqual(growthSources(3, 2, 'stack'), [0, 1, 2, 0, 1, 2]);
    assert.deepEqual(growthSources(3, 2, 'interleave'), [0, 0, 1, 1, 2, 2]);
    assert.deepEqual(growthSources(4, 3, { partial: [1, 2] }), [0, 1, 2, 1, 2, 1, 2, 3]);
    const cfg = torchConfig({ ...RUN, growth: { atStep: 10, factor: 3, operator: { partial: [0, 1] } } });
    assert.deepEqual(Object.keys(cfg.transfers).sort(), ['3', '7']);
    assert.throws(() => torchConfig({ ...RUN, growth: { atStep: 10, factor: 2, operator: { partial: [1, 5] } } }), ExportError);
  });

  it('rejects bad run configs with one-line ExportErrors', () => {
    assert.throws(() => torchConfig({ ...RUN, model: { ...RUN.model, nHeads: 5 } }), /multiple of model.nHeads/);
    assert.throws(() => torchConfig({ ...RUN, parameterization: 'nope' }), /parameterization/);
    assert.throws(() => torchConfig({ ...RUN, steps: 0 }), /steps/);
    assert.throws(() => torchConfig({ ...RUN, growth: { ...RUN.growth, atStep: 500 } }), /atStep/);
    assert.throws(() => torchConfig({ ...RUN, growth: { ...RUN.growth, lr: 'later' } }), /growth\.lr/);
    assert.throws(() => torchConfig({ ...RUN, modle: {} }), ExportError);
  });

  it('turns a plan with a growth plan into a run config', () => {
    const plan = {
      shape: { vocab: 256, seq: 128, dModel: 256, nLayers: 8, nHeads: 4 },
      tokens: 128 * 32 * 1000,
      batchSize: 32,
      growth: { factor: 4, growthTokens: 128 * 32 * 100, smallModel: { nLayers: 2, params: 1 } },
    };
    const cfg = torchConfig(runConfigFromPlan(plan));
    assert.equal(cfg.steps, 1000);
    assert.equal(cfg.model.nLayers, 2);
    assert.equal(cfg.model.context, 128);
    assert.equal(cfg.growth?.atStep, 100);
    assert.deepEqual(Object.keys(cfg.transfers).sort(), ['2', '8']);
    // with accumulation, steps and the growth step count whole optimizer steps of batchSize * gradAccum
    const acc = torchConfig(runConfigFromPlan({ ...plan, batchSize: 8, gradAccum: 4 }));
    assert.equal(acc.gradAccum, 4);
    assert.equal(acc.steps, 1000);
    assert.equal(acc.growth?.atStep, 100);
    assert.throws(() => runConfigFromPlan({ ...plan, gradAccum: 0 }), /plan\.gradAccum/);
  });

  it('writes train.py verbatim, config.json and README.md, and refuses a non-empty folder', () => {
    const dir = tmp();
    const out = path.join(dir, 'out');
    const res = exportTorch({ config: RUN, outDir: out });
    assert.deepEqual(res.files.sort(), ['README.md', 'config.json', 'launch.sh', 'train.py']);
    assert.equal(fs.readFileSync(path.join(out, 'train.py'), 'utf8'), fs.readFileSync(findTrainPy(), 'utf8'));
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.deepEqual(cfg, JSON.parse(JSON.stringify(torchConfig(RUN))));
    const readme = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    // a run config carries no GPU count: the README launches 1 GPU (a plan's README launches the plan's GPUs)
    assert.match(readme, /torchrun --standalone --nproc_per_node=1 train\.py --config config\.json --out runs\/plan\n/);
    assert.equal(fs.readFileSync(path.join(out, 'launch.sh'), 'utf8').includes('torchrun --standalone --nproc_per_node=1 train.py --config config.json --out runs/plan "$@"'), true);
    assert.match(readme, /--nnodes=N --node_rank=NODE_RANK/);
    assert.match(readme, /--rdzv_endpoint=HOST:29500/);
    assert.throws(() => exportTorch({ config: RUN, outDir: out }), /not empty/);
    exportTorch({ config: RUN, outDir: out, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('CLI: exports with --data shards and fails with a UserError on bad input', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(RUN));
    fs.writeFileSync(path.join(dir, 'text.txt'), 'hello shapelab '.repeat(400));
    const out = path.join(dir, 'out');
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      assert.equal(await exportCommand.run(['torch', '--config', path.join(dir, 'run.json'), '--out', out, '--data', path.join(dir, 'text.txt')]), 0);
    } finally {
      process.stdout.write = write;
    }
    const shard = readShard(path.join(out, 'data', 'train.slab'));
    assert.equal(shard.header.tokenizer, 'byte');
    assert.ok(shard.header.count > 5000);
    await assert.rejects(exportCommand.run(['torch', '--config', path.join(dir, 'run.json'), '--out', out]), (e: unknown) => e instanceof UserError && e.exitCode === 2 && /not empty/.test(e.message) && !e.message.includes('\n'));
    await assert.rejects(exportCommand.run(['torch', '--out', out]), UserError);
    await assert.rejects(exportCommand.run(['torch', '--config', path.join(dir, 'missing.json'), '--out', path.join(dir, 'o2')]), /cannot be read/);
    await assert.rejects(exportCommand.run(['onnx', '--config', path.join(dir, 'run.json'), '--out', path.join(dir, 'o3')]), /unknown target/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('python (no torch needed)', function () {
    before(function () {
      if (!python) this.skip();
    });

    it('the written train.py compiles (python3 -m py_compile)', () => {
      const dir = tmp();
      exportTorch({ config: RUN, outDir: dir, force: true });
      const r = spawnSync(python!, ['-m', 'py_compile', path.join(dir, 'train.py')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('lr_factor in train.py equals lrFactor in schedule.ts and the documented formula', () => {
      const schedules: Schedule[] = [
        { kind: 'cosine', warmupSteps: 10, totalSteps: 100, minLrRatio: 0.1 },
        { kind: 'cosine', warmupSteps: 0, totalSteps: 37, minLrRatio: 0 },
        { kind: 'wsd', warmupSteps: 5, totalSteps: 100, minLrRatio: 0.05, decayFraction: 0.29 },
        { kind: 'wsd', warmupSteps: 3, totalSteps: 20, minLrRatio: 0.0, decayFraction: 0.01 },
        { kind: 'constant', warmupSteps: 4, totalSteps: 50, minLrRatio: 0.1 },
        { kind: 'cosine', warmupSteps: 10, totalSteps: 5, minLrRatio: 0.1 },
      ];
      const code = `import json,sys\nsys.path.insert(0, ${JSON.stringify(path.dirname(findTrainPy()))})\nfrom train import lr_factor\nS=json.loads(sys.argv[1])\nprint(json.dumps([[lr_factor(t, s) for t in range(1, s["totalSteps"] + 15)] for s in S]))`;
      const r = spawnSync(python!, ['-c', code, JSON.stringify(schedules)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const py: number[][] = JSON.parse(r.stdout);
      schedules.forEach((s, i) => py[i].forEach((v, k) => assert.ok(Math.abs(v - lrFactor(k + 1, s)) < 1e-12, `${JSON.stringify(s)} step ${k + 1}: py ${v} ts ${lrFactor(k + 1, s)}`)));
      // Hand-computed values of the formula in docs/model.md.
      const cos = schedules[0];
      assert.equal(py[0][0], 0.1); // warmup 1/10
      assert.equal(py[0][9], 1); // end of warmup
      assert.ok(Math.abs(py[0][54] - (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.5)))) < 1e-12); // t=55: p=0.5
      assert.ok(Math.abs(py[0][99] - 0.1) < 1e-12); // t=N
      assert.equal(lrFactor(55, cos), py[0][54]);
      // wsd, N=100, f=0.29: D = floor(29.0 + 0.5) = 29, decay starts after step 71
      assert.equal(py[2][70], 1);
      assert.ok(Math.abs(py[2][71] - (1 - 0.95 * (1 / 29))) < 1e-12);
      assert.ok(Math.abs(py[2][99] - 0.05) < 1e-12);
      // wsd, N=20, f=0.01: D = max(1, 0) = 1: only the last step decays
      assert.equal(py[3][18], 1);
      assert.equal(py[3][19], 0);
    });

    it('--print-schedule runs without torch and applies the rewarm policy at growth', () => {
      const dir = tmp();
      exportTorch({ config: { ...RUN, steps: 60, schedule: { kind: 'cosine', warmupSteps: 4, minLrRatio: 0.1 }, growth: { atStep: 20, factor: 2, lr: 'rewarm' } }, outDir: dir, force: true });
      const r = spawnSync(python!, [path.join(dir, 'train.py'), '--config', path.join(dir, 'config.json'), '--print-schedule'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(rows.length, 60);
      const s: Schedule = { kind: 'cosine', warmupSteps: 4, totalSteps: 60, minLrRatio: 0.1 };
      for (const row of rows.slice(0, 20)) assert.ok(Math.abs(row.factor - lrFactor(row.step, s)) < 1e-12);
      for (const row of rows.slice(20)) assert.ok(Math.abs(row.factor - lrFactor(row.step - 20, { ...s, totalSteps: 40 })) < 1e-12);
      assert.equal(rows[19].depth, 3);
      assert.equal(rows[20].depth, 6);
      assert.equal(rows[20].factor, 0.25); // first step after growth: warmup 1/4 again
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('token shards round-trip between the TS writer and the Python reader (and back)', () => {
      const dir = tmp();
      const tokens = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 50257);
      writeShard(path.join(dir, 'a.slab'), tokens, { vocabSize: 50257, tokenizer: 'gpt2' });
      const code = `import sys, json\nsys.path.insert(0, ${JSON.stringify(path.dirname(findTrainPy()))})\nimport train as T\nh = T.read_shard_header(sys.argv[1])\nraw = open(sys.argv[1], 'rb').read()[h['offset']:]\nimport array\na = array.array('H', raw)\nprint(json.dumps({'h': h, 'sum': sum(a), 'first': list(a[:5])}))\nT.write_shard(sys.argv[2], list(a), h['vocab'], h['tokenizer'])`;
      const r = spawnSync(python!, ['-c', code, path.join(dir, 'a.slab'), path.join(dir, 'b.slab')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const o = JSON.parse(r.stdout);
      assert.equal(o.h.count, 1000);
      assert.equal(o.h.vocab, 50257);
      assert.equal(o.h.tokenizer, 'gpt2');
      assert.equal(o.h.itemsize, 2);
      assert.equal(o.sum, tokens.reduce((a, b) => a + b, 0));
      assert.deepEqual(o.first, tokens.slice(0, 5));
      assert.deepEqual(fs.readFileSync(path.join(dir, 'b.slab')), fs.readFileSync(path.join(dir, 'a.slab')));
      const back = readShard(path.join(dir, 'b.slab'));
      assert.deepEqual(Array.from(back.tokens), tokens);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a checkpoint written by train.py verifies with ShapeLab\'s loadCheckpoint', function () {
      if (spawnSync(python!, ['-c', 'import numpy']).status !== 0) this.skip();
      const dir = tmp();
      const code = `import sys\nsys.path.insert(0, ${JSON.stringify(path.dirname(findTrainPy()))})\nimport numpy as np, train as T\nw = np.arange(6, dtype=np.float32).reshape(2, 3)\nT.write_safetensors(sys.argv[1], [("wte", w), ("opt.m.wte", w * 0), ("opt.v.wte", w * 0 + 1)], {"format": T.CHECKPOINT_FORMAT, "step": "7", "tokens": "70", "depth": "2", "configHash": "abc", "state": {"step": 7, "adamStep": 7, "scheduleOrigin": 0}})`;
      const file = path.join(dir, 'step-00000007.safetensors');
      const r = spawnSync(python!, ['-c', code, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const ck = loadCheckpoint(file, { shapes: { wte: [2, 3] }, configHash: 'abc' });
      assert.equal(ck.step, 7);
      assert.equal(ck.depth, 2);
      assert.deepEqual(Array.from(ck.params.get('wte')!.data), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual((ck.state as { adamStep: number }).adamStep, 7);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
});
