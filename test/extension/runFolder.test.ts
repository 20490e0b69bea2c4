import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonlTail, RunFollower, listRunDirs, runStatus, configInfo, INITIAL_TAIL_BYTES } from '../../src/extension/logic/runFolder';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { makeRun } = require('../e2e/fixture.js') as { makeRun: (root: string, name?: string) => string };

describe('monitor: reading run folders', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-runs-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('JsonlTail reads complete lines only and picks up a torn line once it is completed', () => {
    const f = path.join(root, 'm.jsonl');
    fs.writeFileSync(f, '{"step":1}\n{"step":2}\n{"st');
    const t = new JsonlTail(f);
    assert.deepEqual(t.read().rows, [{ step: 1 }, { step: 2 }]);
    assert.deepEqual(t.read().rows, []);
    fs.appendFileSync(f, 'ep":3}\n');
    assert.deepEqual(t.read().rows, [{ step: 3 }]);
  });

  it('JsonlTail skips garbage lines and binary data without throwing', () => {
    const f = path.join(root, 'm.jsonl');
    fs.writeFileSync(f, Buffer.concat([Buffer.from('{"step":1}\n'), Buffer.from([0, 1, 2, 255, 254, 10]), Buffer.from('not json\n{"step":2}\n')]));
    const t = new JsonlTail(f);
    assert.deepEqual(t.read().rows, [{ step: 1 }, { step: 2 }]);
    assert.equal(t.skipped, 2);
  });

  it('JsonlTail: a replaced (shorter) file resets; a missing file is empty', () => {
    const f = path.join(root, 'm.jsonl');
    assert.deepEqual(new JsonlTail(f).read(), { rows: [], reset: false, offsets: [] });
    fs.writeFileSync(f, '{"step":1}\n{"step":2}\n');
    const t = new JsonlTail(f);
    t.read();
    fs.writeFileSync(f + '.tmp', '{"step":9}\n');
    fs.renameSync(f + '.tmp', f);
    const r = t.read();
    assert.equal(r.reset, true);
    assert.deepEqual(r.rows, [{ step: 9 }]);
  });

  it('JsonlTail reads only the tail of a huge file, dropping the cut first line', function () {
    this.timeout(60000);
    const f = path.join(root, 'big.jsonl');
    const line = JSON.stringify({ step: 0, loss: 1, pad: 'x'.repeat(200) }) + '\n';
    const n = Math.ceil((INITIAL_TAIL_BYTES * 1.3) / line.length);
    const fd = fs.openSync(f, 'w');
    const chunk = line.repeat(10000);
    for (let i = 0; i < n; i += 10000) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    const t = new JsonlTail(f);
    const r = t.read();
    assert.equal(t.truncatedHead, true);
    assert.equal(t.skipped, 0, 'the partial first line is dropped, not counted as garbage');
    assert.ok(r.rows.length > 0 && r.rows.length <= Math.ceil(INITIAL_TAIL_BYTES / line.length));
  });

  it('RunFollower + fixture: metrics, growth event, status, config info', () => {
    const dir = makeRun(root);
    const f = new RunFollower('fixture-growth-run', dir);
    const r = f.poll();
    assert.equal(r.metrics.length, 400);
    assert.equal(f.events.filter((e) => e.type === 'growth').length, 1);
    const s = f.summary();
    assert.equal(s.status, 'done');
    assert.equal(s.step, 400);
    assert.equal(s.totalSteps, 400);
    assert.equal(s.device, 'cpu');
    // appended lines arrive incrementally
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), ', "lr": 0.1}\n{"step": 402, "loss": 3}\n');
    const r2 = f.poll();
    assert.deepEqual(r2.metrics.map((m) => m.step), [401, 402]);
  });

  it('listRunDirs: only direct sub-folders that look like runs, safe names, newest first; symlink loops do not hang', () => {
    makeRun(root, 'run-a');
    fs.mkdirSync(path.join(root, 'not-a-run'));
    fs.mkdirSync(path.join(root, 'bad name with spaces'));
    fs.writeFileSync(path.join(root, 'bad name with spaces', 'metrics.jsonl'), '');
    fs.writeFileSync(path.join(root, 'file.txt'), 'x');
    fs.symlinkSync(root, path.join(root, 'loop'));
    const ids = listRunDirs(root).map((e) => e.id);
    assert.ok(ids.includes('run-a'));
    assert.ok(ids.includes('junk-binary-run'));
    assert.ok(!ids.includes('not-a-run') && !ids.includes('bad name with spaces') && !ids.includes('file.txt'));
    assert.deepEqual(listRunDirs(path.join(root, 'missing')), []);
  });

  it('runStatus: the last session decides; a live lock means running', () => {
    assert.equal(runStatus([{ type: 'start', step: 0 }, { type: 'stop', step: 5 }], false), 'stopped');
    assert.equal(runStatus([{ type: 'start', step: 0 }, { type: 'stop', step: 5 }, { type: 'resume', step: 5 }], false), 'crashed');
    assert.equal(runStatus([{ type: 'start', step: 0 }, { type: 'stop', step: 5 }, { type: 'resume', step: 5 }], true), 'running');
    assert.equal(runStatus([{ type: 'start', step: 0 }, { type: 'eval', step: 2 }], false), 'crashed');
    assert.equal(runStatus([{ type: 'start', step: 0 }, { type: 'error', step: 3 }], false), 'failed');
    assert.equal(runStatus([], false), 'new');
  });

  it('configInfo finds steps and device under several layouts', () => {
    assert.deepEqual(configInfo({ schedule: { steps: 30 }, executionProvider: { asked: 'auto', used: 'webgpu' } }), { totalSteps: 30, device: 'webgpu', model: undefined });
    assert.deepEqual(configInfo({ steps: 'x', ep: 'cpu' }), { totalSteps: undefined, device: 'cpu', model: undefined });
    assert.deepEqual(configInfo(undefined), {});
  });

  it('configInfo: a one-line model summary from a run config (shape, parameterization, batch, growth)', () => {
    const c = { model: { dModel: 512, nLayers: 8, context: 256 }, parameterization: 'completep', batchSize: 16, gradAccum: 2, growth: { factor: 2, atStep: 1500 }, steps: 5000 };
    assert.equal(configInfo(c).model, 'd512 x L8, completep, batch 2 x 16 x 256, G_stack x2 at step 1500');
    assert.equal(configInfo({ ...c, gradAccum: undefined, growth: undefined }).model, 'd512 x L8, completep, batch 16 x 256');
    // a hostile parameterization string is left out, not echoed
    assert.equal(configInfo({ ...c, parameterization: '<img src=x onerror=alert(1)>', growth: undefined }).model, 'd512 x L8, batch 2 x 16 x 256');
  });
});
