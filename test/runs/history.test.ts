/**
 * The one-history rule (src/core/runs/history.ts) on hand-written logs, attempts (attempts.ts),
 * the monitor's follower on a live rewind, and config hashes that must not move.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readHistory, rewindsOf } from '../../src/core/runs/history';
import { archiveAttempt, describeNoCheckpoint, listAttempts } from '../../src/core/runs/attempts';
import { checkpointConfigHash, validateConfig } from '../../src/core/runs/configSchema';
import { RunFollower } from '../../src/extension/logic/runFolder';

const line = (o: object) => JSON.stringify(o) + '\n';

describe('runs: one history per run', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-history-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (f: string, text: string) => fs.appendFileSync(path.join(dir, f), text);
  const size = (f: string) => fs.statSync(path.join(dir, f)).size;

  it('a resume from step C supersedes the earlier rows after C (by byte offset) and the curve events after C, nothing else', () => {
    write('events.jsonl', line({ type: 'start', step: 0, time: 1 }));
    for (let s = 1; s <= 13; s++) write('metrics.jsonl', line({ step: s, loss: 10 - s / 10, time: 100 + s }));
    write('metrics.jsonl', line({ step: 10, loss: 9, evalLoss: 8.5, time: 111 }));
    write('events.jsonl', line({ type: 'checkpoint', step: 10, time: 112 }) + line({ type: 'eval', step: 12, time: 113 }) + line({ type: 'growth', step: 11, time: 114 }));
    // The resumed session: from checkpoint 10, re-logs 11..14 with other values (as a non-deterministic EP could).
    const b = size('metrics.jsonl');
    write('events.jsonl', line({ type: 'lock', step: 13, time: 200 }) + line({ type: 'resume', step: 10, rewindTo: 10, metricsBytes: b, time: 201 }));
    for (let s = 11; s <= 14; s++) write('metrics.jsonl', line({ step: s, loss: 20 + s, time: 50 })); // times earlier than the old rows: only offsets count
    const h = readHistory(dir);
    assert.deepEqual(h.metrics.map((r) => [r.step, r.loss]), [...Array.from({ length: 10 }, (_, i) => [i + 1, 10 - (i + 1) / 10]), [10, 9], [11, 31], [12, 32], [13, 33], [14, 34]]);
    assert.deepEqual(h.superseded.map((r) => r.step), [11, 12, 13]);
    assert.deepEqual(h.events.map((e) => e.type), ['start', 'checkpoint', 'lock', 'resume']);
    assert.deepEqual(h.supersededEvents.map((e) => [e.type, e.step]), [['eval', 12], ['growth', 11]]);
  });

  it('two rewinds: the second resume (from an older checkpoint) supersedes rows of both earlier sessions', () => {
    write('events.jsonl', line({ type: 'start', step: 0 }));
    for (let s = 1; s <= 8; s++) write('metrics.jsonl', line({ step: s, loss: s }));
    write('events.jsonl', line({ type: 'resume', step: 6, rewindTo: 6, metricsBytes: size('metrics.jsonl') }));
    for (let s = 7; s <= 9; s++) write('metrics.jsonl', line({ step: s, loss: 100 + s }));
    write('events.jsonl', line({ type: 'resume', step: 4, rewindTo: 4, metricsBytes: size('metrics.jsonl') }));
    for (let s = 5; s <= 10; s++) write('metrics.jsonl', line({ step: s, loss: 200 + s }));
    assert.deepEqual(readHistory(dir).metrics.map((r) => r.loss), [1, 2, 3, 4, 205, 206, 207, 208, 209, 210]);
  });

  it('logs written before the rule: a resume without rewindTo rewinds to its step, a second start to 0, by time', () => {
    const ev = [{ type: 'start', step: 0, time: 10 }, { type: 'resume', step: 5, time: 100 }, { type: 'start', step: 0, time: 200 }];
    assert.deepEqual(rewindsOf(ev), [{ rewindTo: 5, time: 100, eventIndex: 1 }, { rewindTo: 0, time: 200, eventIndex: 2 }]);
    write('events.jsonl', ev.map(line).join(''));
    // session 1: steps 1..7 (t 11..17); session 2 from 5: 6..8 (t 101..103); session 3 (old "started over"): 1..2 (t 201..202)
    for (let s = 1; s <= 7; s++) write('metrics.jsonl', line({ step: s, loss: s, time: 10 + s }));
    for (let s = 6; s <= 8; s++) write('metrics.jsonl', line({ step: s, loss: 100 + s, time: 95 + s }));
    for (let s = 1; s <= 2; s++) write('metrics.jsonl', line({ step: s, loss: 200 + s, time: 200 + s }));
    // The issue-16 picture: the third session's steps 1-2 must not be drawn with the first's 3-7.
    assert.deepEqual(readHistory(dir).metrics.map((r) => r.loss), [201, 202]);
  });

  it('restart: the attempt is moved aside whole, numbered, and a half-done restart is finished under the same number', () => {
    write('events.jsonl', line({ type: 'start', step: 0 }));
    write('metrics.jsonl', line({ step: 1, loss: 5 }));
    fs.mkdirSync(path.join(dir, 'checkpoints'));
    fs.writeFileSync(path.join(dir, 'checkpoints', 'step-00000001.safetensors'), 'x');
    const before = { m: fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8'), e: fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8') };
    assert.match(describeNoCheckpoint(dir), /has 1 logged step \(last: step 1\) but no checkpoint.*--restart.*metrics\.attempt-1\.jsonl/);
    assert.equal(archiveAttempt(dir), 1);
    assert.equal(fs.readFileSync(path.join(dir, 'metrics.attempt-1.jsonl'), 'utf8'), before.m);
    assert.ok(fs.readFileSync(path.join(dir, 'events.attempt-1.jsonl'), 'utf8').startsWith(before.e));
    assert.ok(fs.existsSync(path.join(dir, 'checkpoints.attempt-1', 'step-00000001.safetensors')));
    assert.ok(!fs.existsSync(path.join(dir, 'metrics.jsonl')) && !fs.existsSync(path.join(dir, 'events.jsonl')));
    assert.equal(archiveAttempt(dir), null, 'nothing to move');
    // Attempt 2, then a restart that died after moving the metrics (its restart event names attempt 2).
    write('events.jsonl', line({ type: 'start', step: 0 }) + line({ type: 'restart', step: 0, attempt: 2 }));
    write('metrics.attempt-2.jsonl', line({ step: 1, loss: 6 }));
    assert.equal(archiveAttempt(dir), 2);
    assert.deepEqual(listAttempts(dir), [1, 2]);
    assert.equal(fs.readFileSync(path.join(dir, 'events.attempt-2.jsonl'), 'utf8').split('\n').filter(Boolean).length, 2, 'the restart event is not written twice');
    // A target that exists is never replaced (a journal naming attempt 3 while metrics.attempt-3.jsonl exists).
    write('metrics.jsonl', line({ step: 1, loss: 7 }));
    write('events.jsonl', line({ type: 'restart', step: 0, attempt: 3 }));
    fs.writeFileSync(path.join(dir, 'metrics.attempt-3.jsonl'), 'keep me\n');
    assert.throws(() => archiveAttempt(dir), /already exists/);
    assert.equal(fs.readFileSync(path.join(dir, 'metrics.attempt-3.jsonl'), 'utf8'), 'keep me\n');
  });

  it('monitor follower: rows arrive live; a resume event drops the rows it supersedes and asks for a redraw', () => {
    write('events.jsonl', line({ type: 'start', step: 0 }));
    for (let s = 1; s <= 6; s++) write('metrics.jsonl', line({ step: s, loss: s }));
    const f = new RunFollower('r', dir);
    assert.equal(f.poll().metrics.length, 6);
    write('metrics.jsonl', line({ step: 7, loss: 7 }));
    assert.deepEqual(f.poll(), { reset: false, metrics: [{ step: 7, loss: 7 }], events: [] });
    write('events.jsonl', line({ type: 'resume', step: 4, rewindTo: 4, metricsBytes: size('metrics.jsonl') }));
    write('metrics.jsonl', line({ step: 5, loss: 50 }));
    const r = f.poll();
    assert.equal(r.reset, true);
    assert.deepEqual(r.metrics.map((p) => p.loss), [1, 2, 3, 4, 50]);
    assert.deepEqual(f.metrics.map((p) => p.loss), [1, 2, 3, 4, 50]);
    // Earlier attempts are a separate series, never mixed into the current one.
    write('metrics.attempt-1.jsonl', line({ step: 1, loss: 99 }));
    assert.deepEqual(f.attempts(), [{ attempt: 1, metrics: [{ step: 1, loss: 99 }] }]);
  });

  it('checkpointConfigHash of configs without checkpointMinutes is what it was before the field existed', () => {
    // config.json files as the code of commit de5a805 wrote them (before checkpointMinutes and the
    // shared growth defaults), with the hashes that code computed: old checkpoints must still load.
    const old = (f: string) => JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', f), 'utf8')) as Record<string, unknown>;
    assert.equal(checkpointConfigHash(validateConfig(old('config-de5a805-tiny.json'))), 'b6e65e72827ea6e8');
    assert.equal(checkpointConfigHash(validateConfig(old('config-de5a805-25m-growth.json'))), '218559792922da78');
    assert.equal(validateConfig({ preset: 'tiny' }).checkpointMinutes, 10);
    assert.equal(checkpointConfigHash(validateConfig({ ...old('config-de5a805-tiny.json'), checkpointMinutes: 0.5 })), 'b6e65e72827ea6e8');
    assert.throws(() => validateConfig({ checkpointMinutes: -1 }), /config\.checkpointMinutes: must be a finite number in \[0, 10080\]/);
  });
});
