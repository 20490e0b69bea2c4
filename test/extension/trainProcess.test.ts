import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TrainProcess, parseRunLine, resumeArgs, runtimeEnv, trainArgs } from '../../src/extension/logic/trainProcess';
import { ENGINE_RUNTIMES, runtimeFromEnv } from '../../src/core/train/runtimeChoice';
import { resumeBlocker } from '../../src/extension/logic/runFolder';

/** A stand-in for `shapelab train`: prints `run: <dir>`, logs metrics, checkpoints on SIGINT. */
const FAKE = `
const fs = require('fs'), path = require('path');
const out = process.argv[process.argv.indexOf('--out') + 1];
const dir = path.join(out, 'fake-run');
fs.mkdirSync(dir, { recursive: true });
let step = 0;
const ignoreInt = process.argv.includes('--ignore-sigint');
const t = setInterval(() => { step++; fs.appendFileSync(path.join(dir, 'metrics.jsonl'), JSON.stringify({ step, loss: 5 / step }) + '\\n'); }, 20);
let sigints = 0;
process.on('SIGINT', () => {
  if (ignoreInt) return;
  sigints++;
  if (process.argv.includes('--slow-stop')) {
    // like the real trainer: the checkpoint takes a while, and a second SIGINT would abort it
    if (sigints > 1) { fs.writeFileSync(path.join(dir, 'aborted'), String(sigints)); process.exit(130); }
    clearInterval(t);
    setTimeout(() => { fs.writeFileSync(path.join(dir, 'checkpoint'), String(step)); process.exit(0); }, 400);
    return;
  }
  clearInterval(t);
  fs.writeFileSync(path.join(dir, 'checkpoint'), String(step));
  fs.appendFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ type: 'stop', step }) + '\\n');
  process.exit(0);
});
// Announced only now: the parent may signal as soon as it reads this line, and a SIGINT before
// the handler above exists would kill the stand-in (the SIGTERM-fallback test then failed).
console.log('run: ' + dir);
`;

describe('training child process', () => {
  let tmp: string;
  let cli: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-train-'));
    cli = path.join(tmp, 'fake-cli.js');
    fs.writeFileSync(cli, FAKE);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('checkpoint-minutes setting and the Resume command\'s "Start over" reach the CLI; a run without a checkpoint is detected first', () => {
    assert.deepEqual(trainArgs({ cliPath: 'c.js', runsFolder: '/r', ep: 'auto', checkpointMinutes: 2.5 }), ['c.js', 'train', '--preset', 'tiny', '--out', '/r', '--checkpoint-minutes', '2.5']);
    assert.deepEqual(resumeArgs({ cliPath: 'c.js', runDir: '/r/x', ep: 'cpu' }), ['c.js', 'resume', '/r/x', '--ep', 'cpu']);
    assert.deepEqual(resumeArgs({ cliPath: 'c.js', runDir: '/r/x', ep: 'auto', restart: true, checkpointMinutes: 0 }), ['c.js', 'resume', '/r/x', '--checkpoint-minutes', '0', '--restart']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-blocker-'));
    try {
      fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"step":1,"loss":5}\n{"step":2,"loss":4}\n');
      assert.match(resumeBlocker(dir)!, /has 2 logged steps \(last: step 2\) but no checkpoint.*--restart/);
      fs.mkdirSync(path.join(dir, 'checkpoints'));
      fs.writeFileSync(path.join(dir, 'checkpoints', 'step-00000002.safetensors'), '');
      assert.equal(resumeBlocker(dir), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trainArgs builds the CLI command line', () => {
    assert.deepEqual(trainArgs({ cliPath: 'c.js', runsFolder: '/r', ep: 'cpu', steps: 30 }), ['c.js', 'train', '--preset', 'tiny', '--out', '/r', '--ep', 'cpu', '--steps', '30']);
    assert.deepEqual(trainArgs({ cliPath: 'c.js', runsFolder: '/r', ep: 'auto', extra: ['--preset', 'tiny', '--param', 'mup'] }), ['c.js', 'train', '--out', '/r', '--preset', 'tiny', '--param', 'mup']);
    assert.deepEqual(trainArgs({ cliPath: 'c.js', runsFolder: '/r', ep: 'webgpu', configFile: '/c.json', steps: 2.7 }), ['c.js', 'train', '--config', '/c.json', '--out', '/r', '--ep', 'webgpu', '--steps', '2']);
  });

  it('parseRunLine', () => {
    assert.equal(parseRunLine('run: /tmp/runs/x y'), '/tmp/runs/x y');
    assert.equal(parseRunLine('step 1'), undefined);
  });

  it('reports the run folder, then Stop = SIGINT makes it checkpoint and exit', async function () {
    this.timeout(20000);
    const p = new TrainProcess(process.execPath, [cli, 'train', '--out', tmp], path.join(tmp, 'logs', 'a.log'));
    const dir = await p.runDirPromise;
    assert.equal(dir, path.join(tmp, 'fake-run'));
    await new Promise((r) => setTimeout(r, 300));
    await p.stop(5000);
    assert.equal(p.exited, true);
    assert.equal(p.exitCode, 0);
    assert.ok(fs.existsSync(path.join(dir, 'checkpoint')), 'checkpoint written on SIGINT');
    assert.match(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8'), /"stop"/);
  });

  it('a second Stop while the first is still checkpointing waits instead of signalling again', async function () {
    this.timeout(20000);
    const out = path.join(tmp, 'slow');
    const p = new TrainProcess(process.execPath, [cli, 'train', '--out', out, '--slow-stop'], path.join(tmp, 'logs', 's.log'));
    const dir = await p.runDirPromise;
    await new Promise((r) => setTimeout(r, 200));
    const first = p.stop(5000);
    await new Promise((r) => setTimeout(r, 100));
    await Promise.all([first, p.stop(5000)]);
    assert.equal(p.exitCode, 0);
    assert.ok(!fs.existsSync(path.join(dir, 'aborted')), 'the trainer got a second SIGINT and aborted');
    assert.ok(fs.existsSync(path.join(dir, 'checkpoint')));
  });

  it('falls back to SIGTERM when the trainer ignores SIGINT', async function () {
    this.timeout(20000);
    const p = new TrainProcess(process.execPath, [cli, 'train', '--out', path.join(tmp, 'b'), '--ignore-sigint'], path.join(tmp, 'logs', 'b.log'));
    await p.runDirPromise;
    const t = Date.now();
    await p.stop(500);
    assert.equal(p.exited, true);
    assert.ok(Date.now() - t >= 450);
  });

  it('a trainer that fails before reporting a run rejects with its error line', async function () {
    this.timeout(20000);
    const bad = path.join(tmp, 'bad.js');
    fs.writeFileSync(bad, "process.stderr.write('shapelab: train is not available yet\\n'); process.exit(2);");
    const p = new TrainProcess(process.execPath, [bad], path.join(tmp, 'logs', 'c.log'));
    await assert.rejects(p.runDirPromise, /train is not available yet/);
    assert.equal(p.exitCode, 2);
  });
});

describe('shapelab.webgpuRuntime -> SHAPELAB_RUNTIME for training children (runtimeEnv)', () => {
  it("passes 'node' and 'capture' on; 'auto', missing and unknown values leave the child's default", () => {
    assert.deepEqual(runtimeEnv('node'), { SHAPELAB_RUNTIME: 'node' });
    assert.deepEqual(runtimeEnv('capture'), { SHAPELAB_RUNTIME: 'capture' });
    for (const v of ['auto', undefined, null, 'fast', 3, {}]) assert.deepEqual(runtimeEnv(v), {});
  });
  it('every value the setting offers (package.json enum) is one the engine accepts', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));
    const en = pkg.contributes.configuration.properties['shapelab.webgpuRuntime'].enum as string[];
    assert.deepEqual([...en].sort(), [...ENGINE_RUNTIMES].sort());
    for (const v of en) assert.equal(runtimeFromEnv(runtimeEnv(v)), v);
  });
});
