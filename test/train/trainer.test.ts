import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { brownSplit } from '../../src/core/data/brown';
import { byteUnigramEntropy } from '../../src/core/data/entropy';
import { presetConfig, type RunConfig } from '../../src/core/runs/configSchema';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from '../../src/core/runs/checkpoint';
import { readJsonl } from '../../src/core/runs/runStore';
import { readSafetensors } from '../../src/core/runs/safetensors';
import { train } from '../../src/core/train/trainer';
import { resolveEp } from '../../src/core/train/epChoice';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'shapelab-train-'));
/** Parameter shapes as stored in a checkpoint (its tensors minus the `opt.` moments). */
const paramShapes = (file: string) => Object.fromEntries([...readSafetensors(file).tensors].filter(([k]) => !k.startsWith('opt.')).map(([k, t]) => [k, t.shape]));
const metrics = (dir: string) => readJsonl<{ step: number; loss: number; evalLoss?: number }>(path.join(dir, 'metrics.jsonl')).records;

function tinyConfig(over: Partial<RunConfig> = {}): RunConfig {
  const c = presetConfig('tiny');
  return { ...c, steps: 20, logEvery: 1, evalEvery: 0, checkpointEvery: 0, evalBatches: 2, ep: 'cpu', ...over, schedule: { ...c.schedule, warmupSteps: 5, totalSteps: 300, ...(over.schedule ?? {}) } };
}

describe('trainer (CPU EP, real onnxruntime sessions, real run folders)', function () {
  this.timeout(600_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('learns Brown: held-out loss falls well below the byte-unigram entropy within 300 steps', async () => {
    const root = tmp(); dirs.push(root);
    const h = byteUnigramEntropy(brownSplit().train);
    const r = await train({ config: tinyConfig({ steps: 300, logEvery: 50, evalBatches: 4 }), runsRoot: root });
    assert.equal(r.reason, 'done');
    assert.ok(r.evalLoss! < h - 0.5, `eval loss ${r.evalLoss} vs unigram entropy ${h.toFixed(3)} nats`);
    const events = readJsonl<{ type: string }>(path.join(r.runDir, 'events.jsonl')).records.map((e) => e.type);
    assert.deepEqual([events[0], events.at(-1)], ['start', 'done']);
    // the monitor's host-memory line: the trainer's resident memory, MiB (a real process: tens of MiB at least)
    const rss = readJsonl<{ rssMB?: number; evalLoss?: number }>(path.join(r.runDir, 'metrics.jsonl')).records.filter((m) => m.evalLoss === undefined).map((m) => m.rssMB);
    assert.ok(rss.length > 0 && rss.every((v) => typeof v === 'number' && v > 10 && v < 1e6), `rssMB ${rss.join(',')}`);
  });

  it('resume from a checkpoint reproduces the uninterrupted run\'s next losses', async () => {
    const root = tmp(); dirs.push(root);
    const full = await train({ config: tinyConfig({ steps: 20 }), runsRoot: root });
    const half = await train({ config: tinyConfig({ steps: 10 }), runsRoot: root });
    const resumed = await train({ config: tinyConfig({ steps: 20 }), resumeDir: half.runDir });
    assert.equal(resumed.step, 20);
    const a = metrics(full.runDir).filter((m) => m.step > 10 && m.evalLoss === undefined);
    const b = metrics(half.runDir).filter((m) => m.step > 10 && m.evalLoss === undefined);
    assert.equal(a.length, 10);
    assert.deepEqual(b.map((m) => m.step), a.map((m) => m.step));
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i].loss - b[i].loss) < 1e-5, `step ${a[i].step}: ${a[i].loss} vs ${b[i].loss}`);
    const types = readJsonl<{ type: string }>(path.join(half.runDir, 'events.jsonl')).records.map((e) => e.type);
    assert.ok(types.includes('resume'));
  });

  it('refuses a corrupt checkpoint on resume, naming the file, and keeps the run folder', async () => {
    const root = tmp(); dirs.push(root);
    const r = await train({ config: tinyConfig({ steps: 4 }), runsRoot: root });
    const ckDir = path.join(r.runDir, 'checkpoints');
    const file = readdirSync(ckDir).find((f) => f.endsWith('.safetensors'))!;
    const buf = readFileSync(path.join(ckDir, file));
    buf[buf.length - 10] ^= 0xff; // flip bits in the data section
    writeFileSync(path.join(ckDir, file), buf);
    await assert.rejects(train({ config: tinyConfig({ steps: 8 }), resumeDir: r.runDir }), new RegExp(`${file}.*corrupt|corrupt.*${file}`));
    assert.ok(readFileSync(path.join(r.runDir, 'metrics.jsonl'), 'utf8').length > 0);
  });

  it('refuses a checkpoint written for another model shape', async () => {
    const root = tmp(); dirs.push(root);
    const r = await train({ config: tinyConfig({ steps: 2 }), runsRoot: root });
    const other = tinyConfig({ steps: 4 });
    other.model = { ...other.model, dModel: 128 };
    await assert.rejects(train({ config: other, resumeDir: r.runDir }), /another (model|run config)/);
  });

  it('resumes from a checkpoint with no sampler state (as train.py writes) at the uninterrupted run\'s batches', async () => {
    const root = tmp(); dirs.push(root);
    const full = await train({ config: tinyConfig({ steps: 10 }), runsRoot: root });
    const half = await train({ config: tinyConfig({ steps: 6, checkpointEvery: 6 }), runsRoot: root });
    // Rewrite the checkpoint's trainer state the way the exported PyTorch program stores it.
    const file = latestCheckpoint(half.runDir)!;
    const ck = loadCheckpoint(file, { shapes: paramShapes(file) });
    const py = { step: ck.step, tokens: ck.tokens, adamStep: (ck.state as { adamStep: number }).adamStep, scheduleOrigin: 0, depth: ck.depth, grown: false, sampler: null };
    saveCheckpoint(half.runDir, { ...ck, state: py });
    const resumed = await train({ config: tinyConfig({ steps: 10, checkpointEvery: 6 }), resumeDir: half.runDir });
    assert.equal(resumed.step, 10);
    const a = metrics(full.runDir).filter((m) => m.step > 6 && m.evalLoss === undefined);
    const b = metrics(half.runDir).filter((m) => m.step > 6 && m.evalLoss === undefined);
    assert.deepEqual(b.map((m) => m.step), [7, 8, 9, 10]);
    // same batches as the uninterrupted run: the sampler was fast-forwarded, not restarted
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i].loss - b[i].loss) < 1e-5, `step ${a[i].step}: ${a[i].loss} vs ${b[i].loss}`);
    const ev = readJsonl<{ type: string; note?: string }>(path.join(half.runDir, 'events.jsonl')).records.find((e) => e.type === 'resume');
    assert.match(ev?.note ?? '', /no ShapeLab sampler state/);
  });

  it('refuses a checkpoint whose trainer state is malformed instead of starting over', async () => {
    const root = tmp(); dirs.push(root);
    const r = await train({ config: tinyConfig({ steps: 4, checkpointEvery: 4 }), runsRoot: root });
    const ck = loadCheckpoint(latestCheckpoint(r.runDir)!, { shapes: paramShapes(latestCheckpoint(r.runDir)!) });
    saveCheckpoint(r.runDir, { ...ck, state: { ...(ck.state as object), adamStep: -3 } });
    const before = readFileSync(path.join(r.runDir, 'metrics.jsonl'), 'utf8');
    await assert.rejects(train({ config: tinyConfig({ steps: 8, checkpointEvery: 4 }), resumeDir: r.runDir }), /trainer state: adamStep must be a non-negative integer/);
    assert.equal(readFileSync(path.join(r.runDir, 'metrics.jsonl'), 'utf8'), before);
  });

  it('gradAccum: a run of 2 micro-batches of 4 follows the run with batches of 8 (same sequences), and counts tokens per step', async () => {
    const root = tmp(); dirs.push(root);
    const eight = await train({ config: tinyConfig({ steps: 12, batchSize: 8 }), runsRoot: root });
    const twoByFour = await train({ config: tinyConfig({ steps: 12, batchSize: 4, gradAccum: 2 }), runsRoot: root });
    const a = metrics(eight.runDir).filter((m) => m.evalLoss === undefined), b = metrics(twoByFour.runDir).filter((m) => m.evalLoss === undefined);
    assert.equal(a.length, 12);
    for (let i = 0; i < 12; i++) assert.ok(Math.abs(a[i].loss - b[i].loss) <= 1e-5 * a[i].loss, `step ${a[i].step}: ${a[i].loss} vs ${b[i].loss}`);
    const tokens = readJsonl<{ tokens: number }>(path.join(twoByFour.runDir, 'metrics.jsonl')).records.at(-1)!.tokens;
    assert.equal(tokens, 12 * 2 * 4 * 64);
    assert.equal(JSON.parse(readFileSync(path.join(twoByFour.runDir, 'config.json'), 'utf8')).gradAccum, 2);
  });

  it('an explicit execution provider that cannot be honoured is a clear error', async () => {
    await assert.rejects(resolveEp('cuda'), /CUDA is not usable here: onnxruntime-node's CUDA provider is not installed: run `shapelab setup cuda`/);
  });
});
