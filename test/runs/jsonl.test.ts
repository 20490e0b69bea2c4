import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { JsonlWriter, readJsonl, readJsonlTail, repairTornTail, stringifyRecord } from '../../src/core/runs/jsonl';

interface Rec {
  step: number;
  pad: string;
}

describe('runs/jsonl', function () {
  this.timeout(60000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-jsonl-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('appends and reads back; non-finite numbers survive', () => {
    const f = path.join(dir, 'a.jsonl');
    const w = new JsonlWriter(f, { syncEveryMs: 0 });
    w.append({ step: 1, loss: 2.5 });
    w.append({ step: 2, loss: NaN, gradNorm: Infinity, x: -Infinity });
    w.close();
    assert.equal(fs.readFileSync(f, 'utf8').split('\n')[1], '{"step":2,"loss":"NaN","gradNorm":"Infinity","x":"-Infinity"}');
    const r = readJsonl<{ step: number; loss: number; gradNorm?: number }>(f);
    assert.equal(r.records.length, 2);
    assert.ok(Number.isNaN(r.records[1].loss));
    assert.equal(r.records[1].gradNorm, Infinity);
    assert.equal(r.tornTail, false);
    assert.throws(() => w.append({}), /closed/);
  });

  it('a torn last line is ignored on read and cut before the next append', () => {
    const f = path.join(dir, 'torn.jsonl');
    fs.writeFileSync(f, stringifyRecord({ step: 1 }) + '\n' + stringifyRecord({ step: 2 }) + '\n' + '{"step":3,"lo');
    const r = readJsonl<{ step: number }>(f);
    assert.deepEqual(r.records.map((x) => x.step), [1, 2]);
    assert.equal(r.tornTail, true);
    const w = new JsonlWriter(f);
    assert.equal(w.repairedBytes, 13);
    w.append({ step: 3 });
    w.close();
    const r2 = readJsonl<{ step: number }>(f);
    assert.deepEqual(r2.records.map((x) => x.step), [1, 2, 3]);
    assert.equal(r2.badLines, 0);
    assert.equal(r2.tornTail, false);
  });

  it('garbage complete lines are skipped and counted; missing file reads empty', () => {
    const f = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(f, '{"a":1}\nnot json\n[1,2]\n\n{"a":2}\n');
    const r = readJsonl(f);
    assert.equal(r.records.length, 2);
    assert.equal(r.badLines, 2);
    assert.deepEqual(readJsonl(path.join(dir, 'nope.jsonl')), { records: [], tornTail: false, badLines: 0, offsets: [] });
    // Each record's byte offset (the history rule compares them with a resume's metricsBytes).
    assert.deepEqual(r.offsets, [0, '{"a":1}\nnot json\n[1,2]\n\n'.length]);
    fs.writeFileSync(path.join(dir, 'only-torn.jsonl'), '{"a"');
    assert.equal(repairTornTail(path.join(dir, 'only-torn.jsonl')), 4);
    assert.equal(fs.statSync(path.join(dir, 'only-torn.jsonl')).size, 0);
  });

  it('readJsonlTail reads only complete lines of the end of a file', () => {
    const f = path.join(dir, 'long.jsonl');
    const w = new JsonlWriter(f, { syncEveryMs: Infinity });
    for (let i = 0; i < 5000; i++) w.append({ step: i, pad: 'y'.repeat(i % 50) });
    w.close();
    const t = readJsonlTail<{ step: number }>(f, 4096);
    assert.ok(t.records.length > 10 && t.records.length < 200);
    assert.equal(t.records.at(-1)!.step, 4999);
    assert.equal(t.badLines, 0, 'the partial first line is dropped, not parsed');
    const steps = t.records.map((r) => r.step);
    assert.deepEqual(steps, steps.map((_, i) => steps[0] + i));
  });

  it('kill -9 of a writer at random moments loses no complete line (8 kills, resumed each time)', async () => {
    const f = path.join(dir, 'metrics.jsonl');
    let next = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'fixtures', 'metricsWriter.ts'), f, String(next)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 200));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const r = readJsonl<Rec>(f);
      assert.equal(r.badLines, 0, `round ${round}: no garbled complete line`);
      // Every record whole and in sequence: nothing lost before the last complete line.
      r.records.forEach((rec, i) => {
        assert.equal(rec.step, i, `round ${round}: record ${i}`);
        assert.equal(rec.pad.length, (i * 7919) % 3000);
      });
      assert.ok(r.records.length > next + 100, `round ${round}: the child wrote past its ready mark`);
      next = r.records.length; // resume where the complete lines end (a torn tail is cut on open)
    }
  });
});
