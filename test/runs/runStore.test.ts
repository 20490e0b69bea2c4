import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import {
  createRunDir,
  listRuns,
  makeRunName,
  readConfig,
  readJsonl,
  RunFollower,
  RunSession,
  RunStoreError,
  summarizeRun,
  writeConfig,
  LOCK_FILE,
  type RunEvent,
} from '../../src/core/runs/runStore';
import { saveCheckpoint } from '../../src/core/runs/checkpoint';
import { modelTensors } from './fixtures/model';

const T0 = new Date('2026-11-22T21:50:00.123Z');

describe('runs/runStore', function () {
  this.timeout(30000);
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-runs-'))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('run names: UTC timestamp + cleaned label', () => {
    assert.equal(makeRunName('tiny', T0), '2026-11-22T21-50-00-tiny');
    assert.equal(makeRunName('../../etc passwd', T0), '2026-11-22T21-50-00-etc-passwd');
    assert.equal(makeRunName('', T0), '2026-11-22T21-50-00');
  });

  it('never overwrites a run directory or its config', () => {
    const dir = createRunDir(root, 'tiny', T0);
    assert.equal(path.basename(dir), '2026-11-22T21-50-00-tiny');
    // Same label in the same second: a new folder with a suffix, the first one untouched.
    const second = createRunDir(root, 'tiny', T0);
    assert.equal(path.basename(second), '2026-11-22T21-50-00-tiny-2');
    fs.rmdirSync(second);
    writeConfig(dir, { a: 1 });
    assert.throws(() => writeConfig(dir, { a: 2 }), /config\.json already exists/);
    assert.deepEqual(readConfig(dir), { a: 1 });
    assert.deepEqual(fs.readdirSync(dir), ['config.json'], 'no temp files left');
    fs.writeFileSync(path.join(dir, 'config.json'), '{oops');
    assert.throws(() => readConfig(dir), /config\.json is not valid JSON/);
  });

  it('a session locks, logs and unlocks; a second session is refused', () => {
    const dir = createRunDir(root, 'x', T0);
    const s = RunSession.open(dir);
    assert.throws(() => RunSession.open(dir), /is in use by pid/);
    s.event({ type: 'start', step: 0, tokens: 0, ep: 'cpu' });
    s.metric({ step: 10, tokens: 640, loss: 4.2, lr: 0.001 });
    s.close();
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
    const m = readJsonl(path.join(dir, 'metrics.jsonl')).records;
    assert.equal(m[0].loss, 4.2);
    assert.equal(typeof m[0].time, 'number');
  });

  it('taking over a stale lock writes a lock event', () => {
    const dir = createRunDir(root, 'x', T0);
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: dead, host: os.hostname(), startedAt: 1, token: 't' }));
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"step":40,"tokens":999,"loss":3,"time":1}\n');
    const s = RunSession.open(dir);
    s.close();
    const ev = readJsonl<RunEvent>(path.join(dir, 'events.jsonl')).records;
    assert.equal(ev.length, 1);
    assert.equal(ev[0].type, 'lock');
    assert.equal(ev[0].step, 40);
    assert.equal((ev[0].tookOverFrom as { pid: number }).pid, dead);
  });

  function fakeRun(name: string, events: object[], metrics: object[], config: object | null = { model: { nLayers: 4 }, ep: 'auto' }): string {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    if (config) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), metrics.map((e) => JSON.stringify(e) + '\n').join(''));
    return dir;
  }

  it('listRuns derives status from events + lock liveness, with last step/loss/device/depth', async () => {
    const start = { type: 'start', step: 0, tokens: 0, time: 1000, ep: 'webgpu' };
    fakeRun('r1-done', [start, { type: 'done', step: 100, tokens: 6400, time: 2000 }], [{ step: 100, tokens: 6400, loss: 2.5, time: 2000, depth: 4, evalLoss: 2.6 }]);
    fakeRun('r2-stopped', [start, { type: 'stop', step: 50, tokens: 1, time: 3 }], [{ step: 50, tokens: 1, loss: 3, time: 3 }]);
    fakeRun('r3-failed', [start, { type: 'error', step: 5, tokens: 1, time: 3, message: 'WebGPU device lost' }], [{ step: 5, tokens: 1, loss: 3, time: 3 }]);
    fakeRun('r4-crashed', [start, { type: 'checkpoint', step: 20, tokens: 1, time: 3 }], [{ step: 20, tokens: 1, loss: 3.5, time: 3 }, { step: 30, tokens: 1, loss: 3.4, time: 4 }]);
    // done once, then resumed and killed: the last session has no end -> crashed
    fakeRun('r5-resumed-crashed', [start, { type: 'done', step: 9, tokens: 1, time: 3 }, { type: 'resume', step: 9, tokens: 1, time: 4 }], []);
    const live = fakeRun('r6-running', [{ ...start, runtime: 'capture' }], [{ step: 1, tokens: 1, loss: 5, time: 5 }]);
    fs.mkdirSync(path.join(root, 'not-a-run'));
    fs.writeFileSync(path.join(root, 'stray.txt'), 'x');
    const holder = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'fixtures', 'lockHolder.ts'), live], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => holder.stdout.once('data', r));
      const runs = listRuns(root);
      const by = Object.fromEntries(runs.map((r) => [r.name, r]));
      assert.deepEqual(runs.map((r) => r.name), ['r6-running', 'r5-resumed-crashed', 'r4-crashed', 'r3-failed', 'r2-stopped', 'r1-done']);
      assert.equal(by['r1-done'].status, 'done');
      assert.equal(by['r1-done'].lastStep, 100);
      assert.equal(by['r1-done'].lastLoss, 2.5);
      assert.equal(by['r1-done'].lastEvalLoss, 2.6);
      assert.equal(by['r1-done'].device, 'webgpu');
      assert.equal(by['r6-running'].device, 'webgpu (captured step)');
      assert.equal(by['r1-done'].depth, 4);
      assert.equal(by['r2-stopped'].status, 'stopped');
      assert.equal(by['r3-failed'].status, 'failed');
      assert.equal(by['r3-failed'].error, 'WebGPU device lost');
      assert.equal(by['r4-crashed'].status, 'crashed');
      assert.equal(by['r4-crashed'].lastStep, 30);
      assert.equal(by['r4-crashed'].depth, 4, 'from config when metrics lack depth');
      assert.equal(by['r5-resumed-crashed'].status, 'crashed');
      assert.equal(by['r6-running'].status, 'running');
      holder.kill('SIGKILL');
      await new Promise((r) => holder.on('exit', r));
      assert.equal(summarizeRun(live).status, 'crashed', 'lock of a dead process does not count');
    } finally {
      holder.kill('SIGKILL');
    }
    assert.deepEqual(listRuns(path.join(root, 'missing')), []);
  });

  it('summary names the latest checkpoint', () => {
    const dir = fakeRun('r', [], []);
    saveCheckpoint(dir, { step: 5, tokens: 5, depth: 2, configHash: 'h', ...modelTensors(5, 4) });
    assert.equal(path.basename(summarizeRun(dir).latestCheckpoint!), 'step-00000005.safetensors');
  });

  it('RunFollower returns only new complete lines, by byte offset', () => {
    const dir = createRunDir(root, 'f', T0);
    const f = new RunFollower(dir);
    assert.deepEqual(f.poll(), { metrics: [], metricOffsets: [], events: [], reset: false }, 'no files yet');
    const mf = path.join(dir, 'metrics.jsonl');
    fs.writeFileSync(mf, '{"step":1,"loss":5}\n{"step":2,"lo');
    assert.deepEqual(f.poll().metrics, [{ step: 1, loss: 5 }]);
    assert.deepEqual(f.poll().metrics, []);
    fs.appendFileSync(mf, 'ss":4.5}\n{"step":3,"loss":"NaN"}\n');
    const u = f.poll();
    assert.equal(u.metrics.length, 2);
    assert.deepEqual(u.metricOffsets, [20, 20 + '{"step":2,"loss":4.5}\n'.length]);
    assert.equal(u.metrics[0].loss, 4.5);
    assert.ok(Number.isNaN(u.metrics[1].loss));
    fs.appendFileSync(path.join(dir, 'events.jsonl'), '{"type":"done","step":3,"tokens":0,"time":1}\n');
    assert.equal(f.poll().events[0].type, 'done');
    // replaced by a shorter file: reset and start over
    fs.writeFileSync(mf, '{"step":1,"loss":9}\n');
    const r = f.poll();
    assert.equal(r.reset, true);
    assert.deepEqual(r.metrics, [{ step: 1, loss: 9 }]);
  });

  it('RunFollower reads a file being written by a session without ever returning a partial record', () => {
    const dir = createRunDir(root, 'g', T0);
    const s = RunSession.open(dir, { syncEveryMs: Infinity });
    const f = new RunFollower(dir, 1000); // small chunks: lines straddle chunk boundaries
    const seen: number[] = [];
    for (let i = 0; i < 2000; i++) {
      s.metric({ step: i, tokens: i, loss: 1, pad: 'z'.repeat(i % 97) });
      if (i % 13 === 0) for (const m of f.poll().metrics) seen.push(m.step);
    }
    s.close();
    for (let k = 0; k < 1000; k++) {
      const u = f.poll();
      if (!u.metrics.length) break;
      for (const m of u.metrics) seen.push(m.step);
    }
    assert.deepEqual(seen, [...Array(2000).keys()]);
  });

  it('RunFollower.start delivers updates on a timer', async () => {
    const dir = createRunDir(root, 'h', T0);
    const f = new RunFollower(dir);
    const got: number[] = [];
    f.start((u) => u.metrics.forEach((m) => got.push(m.step)), 20);
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"step":1}\n');
    await new Promise((r) => setTimeout(r, 100));
    f.stop();
    assert.deepEqual(got, [1]);
  });
});
