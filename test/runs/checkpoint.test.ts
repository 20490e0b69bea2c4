import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import {
  CheckpointError,
  checkpointFileName,
  findResumeCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
  type CheckpointData,
} from '../../src/core/runs/checkpoint';
import { realFs, type WriteFs } from '../../src/core/runs/fsutil';
import { modelShapes, modelTensors } from './fixtures/model';

const D = 8;
function ck(step: number, d = D): CheckpointData {
  return { step, tokens: step * 512, depth: 2, configHash: 'abc123', ...modelTensors(step, d), state: { sampler: { rng: [1, 2, 3, 4] }, lr: 0.001 } };
}
const expect = (d = D) => ({ shapes: modelShapes(d), configHash: 'abc123' });
const tmpRun = () => fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-ck-'));
const noTemps = (runDir: string) => assert.deepEqual(fs.readdirSync(path.join(runDir, 'checkpoints')).filter((f) => f.includes('.tmp-')), []);

describe('runs/checkpoint', function () {
  this.timeout(60000);
  const dirs: string[] = [];
  const newRun = () => {
    const d = tmpRun();
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('save + load round-trips params, moments, counters and state', () => {
    const run = newRun();
    const file = saveCheckpoint(run, ck(100));
    assert.equal(path.basename(file), 'step-00000100.safetensors');
    assert.equal(fs.readFileSync(path.join(run, 'checkpoints', 'latest'), 'utf8'), 'step-00000100.safetensors\n');
    const l = loadCheckpoint(file, expect());
    assert.equal(l.step, 100);
    assert.equal(l.tokens, 51200);
    assert.equal(l.depth, 2);
    assert.deepEqual(l.state, { sampler: { rng: [1, 2, 3, 4] }, lr: 0.001 });
    const src = modelTensors(100, D);
    for (const [n, t] of src.params) assert.deepEqual(l.params.get(n)!.data, t.data);
    for (const [n, t] of src.optV) assert.deepEqual(l.optV.get(n)!.data, t.data);
    assert.equal(l.optM.size, src.optM.size);
    noTemps(run);
  });

  it('latest moves forward; only the last K are kept', () => {
    const run = newRun();
    for (const s of [10, 20, 30, 40, 50]) saveCheckpoint(run, ck(s), { keep: 3 });
    assert.deepEqual(listCheckpoints(run).map((c) => c.step), [30, 40, 50]);
    assert.equal(path.basename(latestCheckpoint(run)!), checkpointFileName(50));
    // latest missing (crash between the two renames): the newest complete file is used
    fs.unlinkSync(path.join(run, 'checkpoints', 'latest'));
    assert.equal(path.basename(latestCheckpoint(run)!), checkpointFileName(50));
    // latest must never point outside the folder
    fs.writeFileSync(path.join(run, 'checkpoints', 'latest'), '../../etc/passwd\n');
    assert.equal(path.basename(latestCheckpoint(run)!), checkpointFileName(50));
  });

  it('refuses a truncated checkpoint at any length, naming the file', () => {
    const run = newRun();
    const file = saveCheckpoint(run, ck(100));
    const full = fs.readFileSync(file);
    const cut = path.join(run, 'checkpoints', 'step-00000200.safetensors');
    for (const len of [0, 4, 8, 50, 200, full.length >> 1, full.length - 4, full.length - 1]) {
      fs.writeFileSync(cut, full.subarray(0, len));
      assert.throws(
        () => loadCheckpoint(cut, expect()),
        (e: Error) => e instanceof CheckpointError && e.message.startsWith(`checkpoint ${cut} is corrupt: `),
        `length ${len}`,
      );
    }
  });

  it('refuses a bit flip at every header byte and at 300 data bytes', () => {
    const run = newRun();
    const file = saveCheckpoint(run, ck(7, 2));
    const full = fs.readFileSync(file);
    const dataStart = 8 + Number(full.readBigUInt64LE(0));
    const positions = [...Array(dataStart).keys()];
    for (let k = 0; k < 300; k++) positions.push(dataStart + Math.floor(((k + 0.5) / 300) * (full.length - dataStart)));
    const bad = path.join(run, 'flipped.safetensors');
    let corrupt = 0;
    for (const i of positions) {
      const b = Buffer.from(full);
      b[i] ^= 1 << (i % 8);
      fs.writeFileSync(bad, b);
      try {
        loadCheckpoint(bad, expect(2));
        assert.fail(`flip at byte ${i} was not detected`);
      } catch (e) {
        assert.ok(e instanceof CheckpointError, `byte ${i}: ${(e as Error).message}`);
        assert.ok(e.message.includes(bad), e.message);
        if (e.problem === 'corrupt') corrupt++;
      }
    }
    assert.equal(corrupt, positions.length, 'every flip is reported as corruption');
    assert.throws(() => loadCheckpoint(file.replace('00000007', '00000008'), expect(2)), /cannot be read/);
  });

  it('the data checksum message', () => {
    const run = newRun();
    const file = saveCheckpoint(run, ck(100));
    const b = fs.readFileSync(file);
    b[b.length - 3] ^= 0x10;
    fs.writeFileSync(file, b);
    assert.throws(() => loadCheckpoint(file, expect()), { message: `checkpoint ${file} is corrupt: checksum mismatch (data section)` });
  });

  it('refuses a checkpoint of another model, naming tensor and shapes', () => {
    const run = newRun();
    const file = saveCheckpoint(run, ck(100, 64));
    assert.throws(() => loadCheckpoint(file, { shapes: modelShapes(128) }), {
      message: `checkpoint ${file} was written for another model: wte has shape [256,64], expected [256,128]`,
    });
    const shapes = modelShapes(64);
    shapes.set('h.0.attn.qkv.weight', [128, 384]);
    assert.throws(() => loadCheckpoint(file, { shapes }), {
      message: `checkpoint ${file} was written for another model: h.0.attn.qkv.weight has shape [64,192], expected [128,384]`,
    });
    const deeper = modelShapes(64, 3);
    assert.throws(() => loadCheckpoint(file, { shapes: deeper }), /another model: tensor h\.2\.attn\.qkv\.weight is missing/);
    const shallower = modelShapes(64, 1);
    assert.throws(() => loadCheckpoint(file, { shapes: shallower }), /another model: unexpected tensor h\.1\./);
    assert.throws(() => loadCheckpoint(file, { shapes: modelShapes(64), configHash: 'other' }), /another run config: configHash abc123 != other/);
  });

  it('optimizer moments are required unless the caller says otherwise', () => {
    const run = newRun();
    const { params } = modelTensors(1, D);
    const file = saveCheckpoint(run, { step: 1, tokens: 1, depth: 2, configHash: 'abc123', params });
    assert.throws(() => loadCheckpoint(file, expect()), /tensor opt\.m\.wte is missing/);
    assert.equal(loadCheckpoint(file, { ...expect(), optimizer: false }).optM.size, 0);
  });

  it('disk full while writing: clear error, temp removed, latest unchanged and loadable', () => {
    const run = newRun();
    saveCheckpoint(run, ck(100));
    let written = 0;
    const full: WriteFs = {
      ...realFs,
      writeSync: (fd, buf, off, len, pos) => {
        if (written + len > 3000) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        written += len;
        return realFs.writeSync(fd, buf, off, len, pos);
      },
    };
    assert.throws(() => saveCheckpoint(run, ck(200), { io: full }), (e: Error) => {
      return e instanceof CheckpointError && /cannot write checkpoint .*step-00000200\.safetensors: disk full \(ENOSPC\); latest is still step-00000100\.safetensors/.test(e.message);
    });
    noTemps(run);
    assert.deepEqual(listCheckpoints(run).map((c) => c.step), [100]);
    assert.equal(loadCheckpoint(latestCheckpoint(run)!, expect()).step, 100);

    // ENOSPC while replacing `latest`: the new file is complete, latest still names the old one.
    let calls = 0;
    const latestFails: WriteFs = {
      ...realFs,
      openSync: ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
        if (String(p).includes('.latest.tmp-') && calls++ === 0) throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
        return realFs.openSync(p, flags, mode);
      }) as typeof fs.openSync,
    };
    assert.throws(() => saveCheckpoint(run, ck(300), { io: latestFails }), /latest not updated: disk full/);
    assert.equal(path.basename(latestCheckpoint(run)!), 'step-00000100.safetensors');
    noTemps(run);
  });

  it('resume skips a corrupt latest and reports it; refuses a foreign model outright', () => {
    const run = newRun();
    saveCheckpoint(run, ck(100));
    const newest = saveCheckpoint(run, ck(200));
    const b = fs.readFileSync(newest);
    fs.writeFileSync(newest, b.subarray(0, b.length - 100));
    const r = findResumeCheckpoint(run, expect())!;
    assert.equal(r.checkpoint.step, 100);
    assert.equal(r.rejected.length, 1);
    assert.match(r.rejected[0].error, /step-00000200\.safetensors is corrupt/);
    assert.throws(() => findResumeCheckpoint(run, expect(16)), /another model/);
    assert.equal(findResumeCheckpoint(newRun(), expect()), null);
  });

  it('kill -9 at random moments while checkpointing never leaves a bad latest', async function () {
    const run = newRun();
    let start = 1;
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'fixtures', 'checkpointWriter.ts'), run, String(start)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (out.includes('saved')) {
            clearInterval(check);
            setTimeout(resolve, Math.random() * 150);
          }
        }, 5);
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const latest = latestCheckpoint(run)!;
      const l = loadCheckpoint(latest, { shapes: modelShapes(64), configHash: 'cafe' });
      const lastSaved = Math.max(...[...out.matchAll(/saved (\d+)/g)].map((m) => Number(m[1])));
      assert.ok(l.step >= lastSaved, `latest ${l.step} older than the last completed save ${lastSaved}`);
      assert.deepEqual(l.params.get('wte')!.data, modelTensors(l.step, 64).params.get('wte')!.data);
      start = l.step + 1;
    }
  });
});
