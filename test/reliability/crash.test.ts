/**
 * Issues 7 and 16: kill -9 of real `shapelab train` / `shapelab resume` processes (CLI, CPU EP,
 * tiny preset with a growth event) at random moments, including before the first checkpoint and
 * right after the growth. Checked: no line of any attempt is lost or changed; a resume without a
 * checkpoint is refused with one line and `--restart` keeps the earlier attempt; the resumed
 * run's curve equals an uninterrupted run's step for step; every reader (core history, the
 * monitor's follower, train.py's read_history) sees one history; a stale lock is taken over; a
 * second resume of a busy run is refused. Plus checkpoints by wall time.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listCheckpoints } from '../../src/core/runs/checkpoint';
import { RunFollower } from '../../src/extension/logic/runFolder';
import {
  assertOneLine, buildOnce, checkJsonl, evalByStep, historyOf, lossesByStep, prng, ROOT, runDirIn, shapelabSpawn, shapelabSync, sleep, tmpDir, verifyLatest, waitFor,
} from './helpers';

const STEPS = 200;
const GROW_AT = 130; // not a multiple of the checkpoint interval: the growth writes its own checkpoint
const TRAIN = ['--preset', 'tiny', '--steps', String(STEPS), '--ep', 'cpu', '--checkpoint-every', '40', '--grow-at-step', String(GROW_AT), '--grow-factor', '2'];
const TINY_DEPTH = 2;

const lines = (dir: string, f: string) => checkJsonl(path.join(dir, f)).lines;
const metricSteps = (dir: string) => checkJsonl(path.join(dir, 'metrics.jsonl')).records.map((r) => r.step as number);
const events = (dir: string) => checkJsonl(path.join(dir, 'events.jsonl')).records;
/** The latest checkpoint, verified at whichever depth it was written (before or after the growth). */
const latestVerified = (dir: string) => {
  try {
    return verifyLatest(dir, TINY_DEPTH * 2);
  } catch {
    return verifyLatest(dir, TINY_DEPTH);
  }
};
const hasPython = spawnSync('python3', ['--version']).status === 0;

describe('reliability: kill -9 of a real training process (CLI, CPU EP)', function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  before(() => buildOnce());

  let runDir = '';

  it('kills before the first checkpoint, right after the growth and at random moments: resume refuses without a checkpoint, --restart keeps the attempt, no line lost, the curve equals an uninterrupted run, every reader sees one history', async () => {
    const seed = Number(process.env.SHAPELAB_RELIABILITY_SEED ?? Date.now() % 1e9);
    const rnd = prng(seed);
    console.log(`      kill -9 seed ${seed} (SHAPELAB_RELIABILITY_SEED reproduces the moments)`);
    const refRoot = tmpDir('ref'), killRoot = tmpDir('kill');
    dirs.push(refRoot, killRoot);

    // The uninterrupted reference, same config.
    const ref = shapelabSync(['train', ...TRAIN, '--out', refRoot, '--label', 'ref']);
    assert.equal(ref.code, 0, ref.stderr);
    const refDir = runDirIn(refRoot)!;
    const refMetrics = checkJsonl(path.join(refDir, 'metrics.jsonl')).records;
    const refGrowth = events(refDir).filter((e) => e.type === 'growth');
    assert.equal(refGrowth.length, 1);

    const log: object[] = [];
    /** Kills `proc` once `ready()` holds plus a random delay; checks what a reader saw survived. */
    const killWhen = async (proc: ReturnType<typeof shapelabSpawn>, what: string, ready: () => boolean, maxDelayMs: number) => {
      await waitFor(what, () => proc.child.exitCode !== null || ready(), 60_000, 2);
      const delayMs = Math.round(rnd() * maxDelayMs);
      const finished = await Promise.race([sleep(delayMs).then(() => false), proc.exited.then(() => true)]);
      assert.ok(!finished, `the process ended before the kill (${what}, +${delayMs} ms): ${proc.err()}`);
      const seen = { metrics: lines(runDir, 'metrics.jsonl'), events: lines(runDir, 'events.jsonl') };
      proc.child.kill('SIGKILL');
      assert.equal((await proc.exited).signal, 'SIGKILL');
      const now = { metrics: lines(runDir, 'metrics.jsonl'), events: lines(runDir, 'events.jsonl') };
      assert.deepEqual(now.metrics.slice(0, seen.metrics.length), seen.metrics, 'a metrics line seen before the kill changed or vanished');
      assert.deepEqual(now.events.slice(0, seen.events.length), seen.events, 'an events line seen before the kill changed or vanished');
      const ck = latestVerified(runDir); // throws on any checksum/shape/config problem
      const lock = path.join(runDir, 'run.lock');
      const staleLock = fs.existsSync(lock) && JSON.parse(fs.readFileSync(lock, 'utf8')).pid === proc.child.pid;
      log.push({ what, ms: delayMs, lastStep: Math.max(0, ...metricSteps(runDir)), latest: ck?.step ?? null, staleLock });
      return now;
    };

    // 1. `train`, killed before its first checkpoint (step 40).
    const p0 = shapelabSpawn(['train', ...TRAIN, '--out', killRoot, '--label', 'killed']);
    runDir = await waitFor('the run folder and its config.json', () => { const d = runDirIn(killRoot); return d && fs.existsSync(path.join(d, 'config.json')) ? d : undefined; });
    const attempt1 = await killWhen(p0, 'train: first logged step', () => metricSteps(runDir).length > 0, 80);
    assert.equal(listCheckpoints(runDir).length, 0, `a checkpoint was written before the kill: ${JSON.stringify(log)}`);

    // 2. resume has nothing to continue from: one line, exit 2, nothing written.
    const refused = shapelabSync(['resume', runDir]);
    assert.equal(refused.code, 2, refused.stderr);
    const rows = attempt1.metrics.length;
    assertOneLine(refused.stderr, new RegExp(`has ${rows} logged steps? \\(last: step \\d+\\) but no checkpoint.*'shapelab resume .* --restart' starts it over.*metrics\\.attempt-1\\.jsonl`));
    assert.deepEqual(lines(runDir, 'metrics.jsonl'), attempt1.metrics);
    assert.deepEqual(lines(runDir, 'events.jsonl'), attempt1.events);

    // 3. `resume --restart`: attempt 1 is kept line for line, attempt 2 starts at step 0; killed right after the growth.
    const p1 = shapelabSpawn(['resume', runDir, '--restart']);
    await killWhen(p1, 'restart: the growth checkpoint', () => events(runDir).some((e) => e.type === 'checkpoint' && e.reason === 'growth'), 40);
    assert.deepEqual(lines(runDir, 'metrics.attempt-1.jsonl'), attempt1.metrics, 'attempt 1 metrics lost or changed');
    const ev1 = checkJsonl(path.join(runDir, 'events.attempt-1.jsonl'));
    assert.deepEqual(ev1.lines.slice(0, attempt1.events.length), attempt1.events, 'attempt 1 events lost or changed');
    assert.deepEqual(ev1.records.slice(attempt1.events.length).map((r) => [r.type, r.attempt]), [['restart', 1]]);
    const start2 = events(runDir).find((e) => e.type === 'start')!;
    assert.deepEqual([start2.step, start2.attempt, start2.restartOf], [0, 2, 1]);

    // 4. two resumes, each killed a random few ms after a random step at least 12 past its checkpoint
    //    (so the next resume re-trains logged steps and supersedes their rows).
    let before = { metrics: lines(runDir, 'metrics.jsonl'), events: lines(runDir, 'events.jsonl') };
    for (let k = 0; k < 2; k++) {
      const from = latestVerified(runDir)!.step;
      const target = Math.min(STEPS - 15, from + 12 + Math.floor(rnd() * 40));
      const p = shapelabSpawn(['resume', runDir]);
      const now = await killWhen(p, `resume from ${from}: step >= ${target}`, () => metricSteps(runDir).slice(before.metrics.length).some((s) => s >= target), 40);
      assert.deepEqual(now.metrics.slice(0, before.metrics.length), before.metrics, 'resume lost or changed earlier metrics lines');
      assert.deepEqual(now.events.slice(0, before.events.length), before.events, 'resume lost or changed earlier events lines');
      before = now;
    }

    // 5. resume to the end.
    const fin = shapelabSync(['resume', runDir]);
    assert.equal(fin.code, 0, fin.stderr);
    const m = checkJsonl(path.join(runDir, 'metrics.jsonl')), e = checkJsonl(path.join(runDir, 'events.jsonl'));
    assert.equal(m.torn, '');
    assert.equal(e.torn, '');
    assert.deepEqual(m.lines.slice(0, before.metrics.length), before.metrics);
    assert.deepEqual(e.lines.slice(0, before.events.length), before.events);
    assert.deepEqual(lines(runDir, 'metrics.attempt-1.jsonl'), attempt1.metrics);
    assert.equal(e.records.at(-1)!.type, 'done');
    assert.equal(latestVerified(runDir)!.step, STEPS);
    assert.ok(!fs.existsSync(path.join(runDir, 'run.lock')));
    // Each killed process left its lock; the next one took it over and logged whose it was.
    const takeovers = e.records.filter((r) => r.type === 'lock').length;
    assert.ok(takeovers >= 3, `expected the killed processes' locks to be taken over: ${JSON.stringify(log)}`);
    const resumes = e.records.filter((r) => r.type === 'resume');
    assert.equal(resumes.length, 3);
    for (const r of resumes) assert.ok(Number.isInteger(r.rewindTo) && Number.isInteger(r.metricsBytes), 'a resume event without its rewind point');

    // One history: the core rule drops the re-trained rows, and what is left is the uninterrupted curve.
    const h = historyOf(runDir);
    assert.ok(h.superseded.length > 0, 'the kills left no superseded rows: the rule was not exercised');
    const a = lossesByStep(refMetrics), b = lossesByStep(h.metrics); // b throws on a step seen twice
    // The same steps, plus the first step of each resumed session (always logged) if the reference skipped it.
    const firstOfSession = new Set(resumes.map((r) => (r.rewindTo as number) + 1));
    assert.deepEqual([...b.keys()].filter((s) => !(firstOfSession.has(s) && !a.has(s))), [...a.keys()], 'logged steps differ from the uninterrupted run');
    let maxDiff = 0;
    for (const [step, loss] of a) {
      const d = Math.abs(loss - b.get(step)!);
      maxDiff = Math.max(maxDiff, d);
      assert.ok(d <= 1e-6, `step ${step}: ${loss} (uninterrupted) vs ${b.get(step)} (killed + resumed)`);
    }
    const ea = evalByStep(refMetrics), eb = evalByStep(h.metrics);
    assert.deepEqual([...eb.keys()], [...ea.keys()]);
    for (const [step, v] of ea) assert.ok(Math.abs(v - eb.get(step)!) <= 1e-6, `eval at ${step}: ${v} vs ${eb.get(step)}`);
    assert.equal(h.metrics.filter((r) => r.evalLoss !== undefined).length, ea.size, 'an eval row appears twice');
    // The growth event: exactly one in the history, with the uninterrupted run's losses.
    const growth = h.events.filter((r) => r.type === 'growth');
    assert.equal(growth.length, 1, JSON.stringify(growth));
    assert.equal(growth[0].step, GROW_AT);
    assert.deepEqual((growth[0].lossesAfter as number[]).map((x) => +x.toFixed(6)), (refGrowth[0].lossesAfter as number[]).map((x) => +x.toFixed(6)));

    // The monitor's follower plots the same rows, and shows attempt 1 apart from them.
    const f = new RunFollower('killed', runDir);
    f.poll();
    assert.deepEqual(f.metrics.map((p) => [p.step, p.loss, p.evalLoss]), h.metrics.map((r) => [r.step, r.loss, r.evalLoss]));
    assert.equal(f.events.filter((x) => x.type === 'growth').length, 1);
    assert.deepEqual(f.attempts().map((x) => [x.attempt, x.metrics.map((p) => p.step)]), [[1, attempt1.metrics.map((l) => JSON.parse(l).step)]]);
    // So does the exported program's reader (train.py, no torch needed for it).
    if (hasPython) {
      const py = spawnSync('python3', [path.join(ROOT, 'python', 'shapelab_torch', 'train.py'), '--history', runDir], { encoding: 'utf8' });
      assert.equal(py.status, 0, py.stderr);
      const rowsPy = py.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(rowsPy.map((r) => [r.step, r.loss]), h.metrics.map((r) => [r.step, r.loss]));
    }
    console.log(`      kills ${JSON.stringify(log)}; ${a.size} logged steps + ${ea.size} evals compared, max |diff| ${maxDiff.toExponential(2)}; ${h.superseded.length} superseded rows dropped by every reader${hasPython ? ' (python too)' : ''}`);
  });

  it('two resumes of the same run folder: the second is refused with one line and exit code 2; Ctrl-C of the first checkpoints', async () => {
    assert.ok(runDir, 'needs the run of the previous test');
    const eventsBefore = checkJsonl(path.join(runDir, 'events.jsonl')).lines.length;
    const first = shapelabSpawn(['resume', runDir, '--steps', '100000']);
    await waitFor('the first resume to start training', () => /resumed at step/.test(first.err()) || first.child.exitCode !== null, 60_000);
    assert.equal(first.child.exitCode, null, first.err());
    const second = shapelabSync(['resume', runDir, '--steps', '100000']);
    assert.equal(second.code, 2, second.stderr);
    assert.equal(second.stdout, '');
    assertOneLine(second.stderr, new RegExp(`is in use by pid ${first.child.pid} `));
    // The refused process wrote nothing into the run: only the first session's records follow.
    const ev = checkJsonl(path.join(runDir, 'events.jsonl')).records.slice(eventsBefore);
    assert.deepEqual(ev.map((r) => r.type).filter((t) => t !== 'checkpoint' && t !== 'eval'), ['resume']);
    await sleep(300);
    first.child.kill('SIGINT');
    const ex = await first.exited;
    assert.equal(ex.code, 0, first.err());
    const after = checkJsonl(path.join(runDir, 'events.jsonl')).records.slice(eventsBefore);
    assert.equal(after.at(-1)!.type, 'stop');
    const stopStep = after.at(-1)!.step as number;
    assert.ok(stopStep > STEPS);
    assert.equal(latestVerified(runDir)!.step, stopStep);
    assert.ok(listCheckpoints(runDir).length >= 1);
    assert.ok(!fs.existsSync(path.join(runDir, 'run.lock')));
  });

  it('kill -9 after a growth at a step that already had a (pre-growth) checkpoint: the resume redoes the growth and gives the same curve', async () => {
    // Growth at 120 = 3 x 40: the step's checkpoint is the pre-growth one, so no growth checkpoint.
    const args = ['--preset', 'tiny', '--steps', '150', '--ep', 'cpu', '--checkpoint-every', '40', '--grow-at-step', '120', '--grow-factor', '2'];
    const refRoot = tmpDir('regrow-ref'), root = tmpDir('regrow');
    dirs.push(refRoot, root);
    const ref = shapelabSync(['train', ...args, '--out', refRoot]);
    assert.equal(ref.code, 0, ref.stderr);
    const p = shapelabSpawn(['train', ...args, '--out', root]);
    const dir = await waitFor('the run folder', () => runDirIn(root));
    await waitFor('a step after the growth', () => p.child.exitCode !== null || checkJsonl(path.join(dir, 'metrics.jsonl')).records.some((r) => (r.step as number) > 120), 60_000, 2);
    p.child.kill('SIGKILL');
    await p.exited;
    assert.deepEqual(events(dir).filter((e) => e.type === 'checkpoint').map((e) => [e.step, e.reason]), [[40, 'steps'], [80, 'steps'], [120, 'steps']]);
    const fin = shapelabSync(['resume', dir]);
    assert.equal(fin.code, 0, fin.stderr);
    assert.match(fin.stderr, /resumed at step 120\b[^]*growth @ step 120: depth 2 -> 4/);
    const a = lossesByStep(checkJsonl(path.join(runDirIn(refRoot)!, 'metrics.jsonl')).records), b = lossesByStep(historyOf(dir).metrics);
    for (const [step, loss] of a) assert.equal(b.get(step), loss, `step ${step}`);
    assert.equal(historyOf(dir).events.filter((e) => e.type === 'growth').length, 1);
  });

  it('checkpoints by wall time: with --checkpoint-every 0 and a tiny --checkpoint-minutes, checkpoints are written by time, each logged with its reason and cost', () => {
    const root = tmpDir('time');
    dirs.push(root);
    // 0.005 min = 0.3 s; the trainer also waits at least 20x the last write (a few ms here).
    const r = shapelabSync(['train', '--preset', 'tiny', '--steps', '120', '--ep', 'cpu', '--checkpoint-every', '0', '--checkpoint-minutes', '0.005', '--out', root]);
    assert.equal(r.code, 0, r.stderr);
    const dir = runDirIn(root)!;
    const cks = events(dir).filter((e) => e.type === 'checkpoint');
    const byTime = cks.filter((e) => e.reason === 'time');
    assert.ok(byTime.length >= 2, `expected several time-based checkpoints in a ~3 s run, got ${JSON.stringify(cks)}`);
    assert.equal(cks.at(-1)!.reason, 'end');
    // Consecutive time checkpoints are at least the interval apart (event times are Unix ms).
    for (let i = 1; i < byTime.length; i++) assert.ok((byTime[i].time as number) - (byTime[i - 1].time as number) >= 300 - 5, JSON.stringify(byTime));
    for (const c of cks) assert.ok(typeof c.seconds === 'number' && c.seconds >= 0);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).checkpointMinutes, 0.005);
    console.log(`      ${byTime.length} time-based checkpoints at steps ${byTime.map((c) => c.step).join(', ')}`);
  });
});
