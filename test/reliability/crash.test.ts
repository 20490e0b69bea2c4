/**
 * Issue 7, runs 1 and 5: kill -9 of a real `shapelab train` / `shapelab resume` process at random
 * moments loses nothing, resume continues the same curve, a stale lock is taken over, and a second
 * resume of a busy run is refused with one line and exit code 2.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listCheckpoints } from '../../src/core/runs/checkpoint';
import {
  assertOneLine, buildOnce, checkJsonl, evalByStep, lossesByStep, prng, runDirIn, shapelabSpawn, shapelabSync, sleep, tmpDir, verifyLatest, waitFor,
} from './helpers';

const STEPS = 400;
const TRAIN = ['--preset', 'tiny', '--steps', String(STEPS), '--ep', 'cpu', '--checkpoint-every', '20'];
const KILLS = 4;

describe('reliability: kill -9 of a real training process (CLI, CPU EP)', function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  before(() => buildOnce());

  let runDir = '';

  it(`${KILLS} kills at random moments: complete lines survive, latest checkpoint verifies, stale lock taken over, resume reproduces the uninterrupted losses (<= 1e-5)`, async () => {
    const seed = Number(process.env.SHAPELAB_RELIABILITY_SEED ?? Date.now() % 1e9);
    const rnd = prng(seed);
    console.log(`      kill -9 seed ${seed} (SHAPELAB_RELIABILITY_SEED reproduces the moments)`);
    const refRoot = tmpDir('ref'), killRoot = tmpDir('kill');
    dirs.push(refRoot, killRoot);

    // The uninterrupted reference, same config.
    const ref = shapelabSync(['train', ...TRAIN, '--out', refRoot, '--label', 'ref']);
    assert.equal(ref.code, 0, ref.stderr);
    const refMetrics = checkJsonl(path.join(runDirIn(refRoot)!, 'metrics.jsonl')).records;

    const kills: { at: string; delayMs: number; pid: number; lines: number; torn: boolean; latest: number | null; lockLeft: boolean }[] = [];
    let before = { metrics: [] as string[], events: [] as string[] };
    for (let k = 0; k < KILLS; k++) {
      const proc = k === 0 ? shapelabSpawn(['train', ...TRAIN, '--out', killRoot, '--label', 'killed']) : shapelabSpawn(['resume', runDir]);
      if (k === 0) runDir = await waitFor('the run folder and its config.json', () => { const d = runDirIn(killRoot); return d && fs.existsSync(path.join(d, 'config.json')) ? d : undefined; });
      // A random moment: the first kill at 0-0.7 s after the folder appears (often before the first
      // checkpoint), later ones a random few ms after a random logged step of this session.
      const lastStep = Math.max(0, ...checkJsonl(path.join(runDir, 'metrics.jsonl')).records.map((r) => r.step as number));
      const target = k === 0 ? 0 : Math.min(STEPS - 20, lastStep + 5 + Math.floor(rnd() * ((STEPS - 40 - lastStep) / (KILLS - k))));
      if (k > 0) {
        await waitFor(`step ${target} in metrics.jsonl`, () => proc.child.exitCode !== null || checkJsonl(path.join(runDir, 'metrics.jsonl')).records.some((r) => (r.step as number) >= target && r !== undefined && (r.time as number) > 0 && (r.step as number) > lastStep), 60_000, 2);
      }
      const delayMs = Math.round(k === 0 ? rnd() * 700 : rnd() * 60);
      const finished = await Promise.race([sleep(delayMs).then(() => false), proc.exited.then(() => true)]);
      assert.ok(!finished, `the process ended before the kill (${delayMs} ms): ${proc.err()}`);
      // What a reader saw just before the kill must still be there after it.
      const seen = checkJsonl(path.join(runDir, 'metrics.jsonl')).lines;
      proc.child.kill('SIGKILL');
      const ex = await proc.exited;
      assert.equal(ex.signal, 'SIGKILL');

      const m = checkJsonl(path.join(runDir, 'metrics.jsonl'));
      const e = checkJsonl(path.join(runDir, 'events.jsonl'));
      assert.deepEqual(m.lines.slice(0, seen.length), seen, 'a metrics line seen before the kill changed or vanished');
      // Nothing written by an earlier session was lost or rewritten by the resume.
      assert.deepEqual(m.lines.slice(0, before.metrics.length), before.metrics, 'resume lost or changed earlier metrics lines');
      assert.deepEqual(e.lines.slice(0, before.events.length), before.events, 'resume lost or changed earlier events lines');
      before = { metrics: m.lines, events: e.lines };
      const ck = verifyLatest(runDir); // throws on any checksum/shape/config problem
      const lockFile = path.join(runDir, 'run.lock');
      const lockLeft = fs.existsSync(lockFile) && JSON.parse(fs.readFileSync(lockFile, 'utf8')).pid === proc.child.pid;
      kills.push({ at: k === 0 ? 'train' : `resume, >= step ${target}`, delayMs, pid: proc.child.pid!, lines: m.lines.length, torn: m.torn.length > 0 || e.torn.length > 0, latest: ck?.step ?? null, lockLeft });
    }

    // Resume to the end.
    const fin = shapelabSync(['resume', runDir]);
    assert.equal(fin.code, 0, fin.stderr);
    const lastKill = kills.at(-1)!;
    if (lastKill.latest !== null) assert.match(fin.stderr, new RegExp(`resumed at step ${lastKill.latest}\\b`));
    const m = checkJsonl(path.join(runDir, 'metrics.jsonl'));
    const e = checkJsonl(path.join(runDir, 'events.jsonl'));
    assert.equal(m.torn, '');
    assert.equal(e.torn, '');
    assert.deepEqual(m.lines.slice(0, before.metrics.length), before.metrics);
    const types = e.records.map((r) => r.type);
    // A session that found no checkpoint yet (killed before step 20) starts over and logs 'start'.
    const sessions = types.filter((t) => t === 'resume' || t === 'start').length;
    assert.ok(sessions === KILLS + 1 || (sessions === KILLS && kills[0].lines === 0), `${sessions} sessions logged for ${KILLS} kills`);
    assert.equal(types.at(-1), 'done');
    assert.equal(e.records.at(-1)!.step, STEPS);
    // Each killed process left its lock; the next one took it over and logged whose it was.
    const takeovers = e.records.filter((r) => r.type === 'lock').map((r) => (r.tookOverFrom as { pid: number }).pid);
    assert.deepEqual(takeovers, kills.filter((k) => k.lockLeft).map((k) => k.pid));
    assert.ok(takeovers.length >= KILLS - 1, `expected the killed processes' locks to be stale and taken over: ${JSON.stringify(kills)}`);
    assert.ok(!fs.existsSync(path.join(runDir, 'run.lock')));
    assert.equal(verifyLatest(runDir)!.step, STEPS);
    assert.deepEqual(fs.readdirSync(path.join(runDir, 'checkpoints')).filter((f) => f.includes('.tmp-')), []);

    // Same curve as the uninterrupted run, step by step.
    const a = lossesByStep(refMetrics), b = lossesByStep(m.records);
    let compared = 0, maxDiff = 0;
    for (const [step, loss] of a) {
      assert.ok(b.has(step), `step ${step} of the reference is missing from the killed+resumed run`);
      const d = Math.abs(loss - b.get(step)!);
      maxDiff = Math.max(maxDiff, d);
      assert.ok(d <= 1e-5, `step ${step}: ${loss} (uninterrupted) vs ${b.get(step)} (killed + resumed)`);
      compared++;
    }
    const ea = evalByStep(refMetrics), eb = evalByStep(m.records);
    for (const [step, v] of ea) assert.ok(Math.abs(v - eb.get(step)!) <= 1e-5, `eval at ${step}: ${v} vs ${eb.get(step)}`);
    console.log(`      ${KILLS} kills ${JSON.stringify(kills.map((k) => ({ at: k.at, ms: k.delayMs, latest: k.latest, lines: k.lines, torn: k.torn, staleLock: k.lockLeft })))}; ${compared} logged steps + ${ea.size} evals compared, max |diff| ${maxDiff.toExponential(2)}`);
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
    assert.equal(verifyLatest(runDir)!.step, stopStep);
    assert.ok(listCheckpoints(runDir).length >= 1);
    assert.ok(!fs.existsSync(path.join(runDir, 'run.lock')));
  });
});
