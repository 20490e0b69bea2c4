/**
 * Issue 7, runs 4: resources. A shape that cannot fit is refused with the numbers before any
 * folder or session exists; a runtime error in a step ends the run with a clear message, an error
 * event and a checkpoint of the last good state (from which resume gives the uninterrupted curve);
 * disk full while checkpointing leaves the previous checkpoint as latest.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchSampler } from '../../src/core/data/batches';
import { presetConfig, validateConfig, type RunConfig } from '../../src/core/runs/configSchema';
import { realFs } from '../../src/core/runs/fsutil';
import { checkResources, countModelParams, describeRunFailure, deviceLimits, estimateResources, ResourceError } from '../../src/core/train/resources';
import { train } from '../../src/core/train/trainer';
import { paramLayout, totalParams } from '../../src/core/model/gpt';
import { modelShapeOf, transferFor } from '../../src/core/train/trainer';
import { assertOneLine, buildOnce, checkJsonl, historyOf, lossesByStep, shapelabSync, tmpDir, verifyLatest } from './helpers';

function tiny(over: Partial<RunConfig> = {}): RunConfig {
  const c = presetConfig('tiny');
  return { ...c, steps: 12, logEvery: 1, evalEvery: 0, checkpointEvery: 4, evalBatches: 1, ep: 'cpu', ...over, schedule: { ...c.schedule, warmupSteps: 2, totalSteps: 100 } };
}
const HUGE = { preset: 'tiny', model: { dModel: 16384, nHeads: 128, nLayers: 512, context: 2048 }, batchSize: 64, ep: 'cpu' };

describe('reliability: resources, runtime errors, disk full (CPU EP)', function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const root = () => {
    const d = tmpDir('res');
    dirs.push(d);
    return d;
  };

  it('the estimate counts the parameters exactly (model layout) and names the largest buffers', () => {
    for (const c of [tiny(), validateConfig({ preset: 'small', model: { tiedEmbeddings: true } }), validateConfig({ preset: '25m' })]) {
      assert.equal(countModelParams(c.model), totalParams(paramLayout(modelShapeOf(c), transferFor(c, c.model.nLayers))));
    }
    const e = estimateResources(tiny());
    assert.deepEqual(e.buffers.map((b) => b.name.split(' [')[0]).sort(), ['attention scores', 'flat parameter vector', 'logits']);
    assert.ok(e.totalBytes > 40 * e.params && Number.isFinite(e.totalBytes));
    assert.equal(deviceLimits('webgpu', {}).maxBufferBytes, 2 * 2 ** 30);
    assert.equal(deviceLimits('cpu', {}).maxBufferBytes, undefined);
    assert.equal(deviceLimits('cpu', {}).memoryBytes, os.totalmem());
    assert.equal(deviceLimits('cpu', { SHAPELAB_MAX_BUFFER_BYTES: '1e6' }).maxBufferBytes, 1e6);
    assert.throws(() => deviceLimits('cpu', { SHAPELAB_MAX_BUFFER_BYTES: 'lots' }), ResourceError);
    checkResources(tiny(), 'cpu');
    checkResources(tiny(), 'webgpu');
  });

  it('a shape over the host memory (CPU) is refused with the numbers before a folder or session exists', async () => {
    const c = validateConfig(HUGE);
    const r = root();
    const t0 = Date.now();
    await assert.rejects(train({ config: c, runsRoot: path.join(r, 'runs') }), (e: Error) => {
      assert.ok(e instanceof ResourceError, String(e));
      assert.match(e.message, /^this shape does not fit the cpu device: training needs about [\d.]+ TiB \(\d+ parameters x 40 B \+ activations at batch 64\), this machine has [\d.]+ GiB/);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000);
    assert.ok(!fs.existsSync(path.join(r, 'runs')), 'a run folder was created for a refused shape');
  });

  it('a buffer over the WebGPU limit (logits [B*T, V]) is refused before any session, also after growth', async () => {
    const big = validateConfig({ preset: 'tiny', model: { context: 4096, vocabSize: 50257 }, data: { tokenizer: 'gpt2' }, batchSize: 8 });
    await assert.rejects(train({ config: big, runsRoot: path.join(root(), 'runs'), ep: 'webgpu' }), /does not fit the webgpu device: the logits \[32768, 50257\] needs 6\.13 GiB in one buffer, over the limit of 2\.00 GiB/);
    // Fits before growth, not after: refused now, not at the growth step.
    const grow = validateConfig({ preset: 'tiny', steps: 100, model: { dModel: 4096, nHeads: 32, nLayers: 2 }, growth: { atStep: 50, factor: 4 } });
    const lim = { maxBufferBytes: 4 * countModelParams(grow.model, 5) };
    checkResources({ ...grow, growth: undefined }, 'webgpu', lim);
    assert.throws(() => checkResources(grow, 'webgpu', lim), /after growth to depth 8: the flat parameter vector \[\d+\] needs/);
  });

  it('CLI: refused shapes and a bad SHAPELAB_MAX_BUFFER_BYTES are one line, exit code 2, no run folder', () => {
    buildOnce();
    const out = root();
    const cfg = path.join(out, 'huge.json');
    fs.writeFileSync(cfg, JSON.stringify(HUGE));
    let r = shapelabSync(['train', '--config', cfg, '--out', path.join(out, 'runs')]);
    assert.equal(r.code, 2, r.stderr);
    assertOneLine(r.stderr, /does not fit the cpu device: training needs about/);
    r = shapelabSync(['train', '--preset', 'tiny', '--steps', '2', '--ep', 'cpu', '--out', path.join(out, 'runs')], { env: { SHAPELAB_MAX_BUFFER_BYTES: '300000' } });
    assert.equal(r.code, 2, r.stderr);
    assertOneLine(r.stderr, /the flat parameter vector \[136960\] needs 535\.0 KiB in one buffer, over the limit of 293\.0 KiB/);
    r = shapelabSync(['train', '--preset', 'tiny', '--steps', '2', '--ep', 'cpu', '--out', path.join(out, 'runs')], { env: { SHAPELAB_MAX_BUFFER_BYTES: '-5' } });
    assert.equal(r.code, 2, r.stderr);
    assertOneLine(r.stderr, /SHAPELAB_MAX_BUFFER_BYTES: expected a positive number of bytes/);
    assert.ok(!fs.existsSync(path.join(out, 'runs')));
  });

  it('a failure whose state cannot be saved (lost device) names the newest checkpoint still on disk, or says there is none', () => {
    const dir = root();
    const lost = new Error('WebGPU device lost\n  at native stack');
    assert.match(describeRunFailure(lost, { ep: 'webgpu', runDir: dir, step: 9 }), /^training failed at step 10 on the webgpu execution provider: WebGPU device lost; the state of step 9 could not be saved \(device or disk unavailable\) and the run has no checkpoint yet$/);
    fs.mkdirSync(path.join(dir, 'checkpoints'));
    for (const f of ['step-00000004.safetensors', 'step-00000008.safetensors', 'latest']) fs.writeFileSync(path.join(dir, 'checkpoints', f), '');
    const m = describeRunFailure(lost, { ep: 'webgpu', runDir: dir, step: 9 });
    assert.match(m, /newest checkpoint on disk is step-00000008\.safetensors \(step 8\): 'shapelab resume .*' continues from it$/);
    assert.ok(!m.includes('\n'), 'one line');
  });

  it('an onnxruntime error in step 8 (out-of-range token id -> Gather fails): clear message, error event, checkpoint of step 7; resume gives the uninterrupted losses', async () => {
    const c = tiny();
    const ref = await train({ config: c, runsRoot: root() });
    const orig = BatchSampler.prototype.nextBatch;
    let calls = 0;
    BatchSampler.prototype.nextBatch = function (this: BatchSampler) {
      const b = orig.call(this);
      if (++calls === 8) b.inputs[3] = 1_000_000; // a token the embedding does not have
      return b;
    };
    let runDir = '';
    try {
      await assert.rejects(train({ config: c, runsRoot: root(), onProgress: (p) => { if (p.kind === 'start') runDir = p.runDir; } }), (e: Error) => {
        assert.match(e.message, /^training failed at step 8 on the cpu execution provider: .*(Gather|indices|out of|bounds)/i);
        assert.match(e.message, /the last good state \(step 7\) is saved in .*step-00000007\.safetensors: 'shapelab resume .*' continues from it$/);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    } finally {
      BatchSampler.prototype.nextBatch = orig;
    }
    const ev = checkJsonl(path.join(runDir, 'events.jsonl')).records;
    assert.deepEqual([ev.at(-1)!.type, ev.at(-1)!.step, ev.at(-1)!.checkpoint], ['error', 7, 'step-00000007.safetensors']);
    assert.equal(verifyLatest(runDir)!.step, 7);
    assert.ok(!fs.existsSync(path.join(runDir, 'run.lock')));
    const resumed = await train({ config: c, resumeDir: runDir });
    assert.equal(resumed.step, 12);
    const a = lossesByStep(checkJsonl(path.join(ref.runDir, 'metrics.jsonl')).records);
    const b = lossesByStep(historyOf(runDir).metrics);
    for (let s = 1; s <= 12; s++) assert.ok(Math.abs(a.get(s)! - b.get(s)!) <= 1e-5, `step ${s}: ${a.get(s)} vs ${b.get(s)}`);
  });

  it('disk full while writing the step-8 checkpoint: clear error, error event, latest stays step 4 and verifies, no temp file; resume continues the same curve', async () => {
    const c = tiny();
    const ref = await train({ config: c, runsRoot: root() });
    const orig = { openSync: realFs.openSync, writeSync: realFs.writeSync };
    const full = new Set<number>();
    realFs.openSync = ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
      const fd = orig.openSync(p, flags, mode);
      if (/checkpoints\/\.step-00000008\.safetensors\.tmp-/.test(String(p))) full.add(fd);
      return fd;
    }) as typeof fs.openSync;
    let written = 0;
    realFs.writeSync = (fd, buf, off, len, pos) => {
      if (full.has(fd) && (written += len) > 100_000) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return orig.writeSync(fd, buf, off, len, pos);
    };
    let runDir = '';
    try {
      await assert.rejects(train({ config: c, runsRoot: root(), onProgress: (p) => { if (p.kind === 'start') runDir = p.runDir; } }),
        /cannot write checkpoint .*step-00000008\.safetensors: disk full \(ENOSPC\); latest is still step-00000004\.safetensors/);
    } finally {
      Object.assign(realFs, orig);
    }
    assert.ok(full.size > 0 && written > 100_000, 'the fault was not injected');
    const ev = checkJsonl(path.join(runDir, 'events.jsonl')).records;
    assert.equal(ev.at(-1)!.type, 'error');
    assert.match(String(ev.at(-1)!.message), /disk full/);
    assert.equal(verifyLatest(runDir)!.step, 4);
    assert.deepEqual(fs.readdirSync(path.join(runDir, 'checkpoints')).filter((f) => f.startsWith('.')), []);
    const resumed = await train({ config: c, resumeDir: runDir });
    assert.equal(resumed.step, 12);
    const a = lossesByStep(checkJsonl(path.join(ref.runDir, 'metrics.jsonl')).records);
    const b = lossesByStep(historyOf(runDir).metrics);
    for (let s = 1; s <= 12; s++) assert.ok(Math.abs(a.get(s)! - b.get(s)!) <= 1e-5, `step ${s}`);
  });
});
