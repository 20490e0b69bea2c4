/**
 * Ctrl-C of a real `shapelab train` process on WebGPU, where the step is the captured one (synchronous
 * C calls through the FFI): the stop must still reach the training thread between steps, write a
 * checkpoint at the stop step and exit 0. Before the trainer yielded to the event loop around
 * captured steps, the worker thread never saw the stop message and trained on.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listCheckpoints } from '../../src/core/runs/checkpoint';
import { probeWebgpu } from '../../src/core/train/runtime';
import { assertOneLine, buildOnce, checkJsonl, runDirIn, shapelabSpawn, shapelabSync, sleep, tmpDir, waitFor } from './helpers';

describe('reliability: Ctrl-C of a WebGPU training process (captured step)', function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  before(async function () {
    const why = await probeWebgpu();
    if (why && !process.env.CI && !process.env.SHAPELAB_REQUIRE_WEBGPU) this.skip();
    assert.equal(why, undefined, `WebGPU adapter missing: ${why}`);
    buildOnce();
  });

  it('stops after the current step with a checkpoint, exit code 0, and the run says it used the captured step', async () => {
    const root = tmpDir('stop-captured');
    dirs.push(root);
    const p = shapelabSpawn(['train', '--preset', 'tiny', '--ep', 'webgpu', '--steps', '100000', '--checkpoint-every', '100000', '--out', root]);
    const dir = await waitFor('the run folder', () => runDirIn(root));
    await waitFor('ten logged steps', () => p.child.exitCode !== null || checkJsonl(path.join(dir, 'metrics.jsonl')).records.length >= 10, 120_000, 50);
    assert.equal(p.child.exitCode, null, p.err());
    p.child.kill('SIGINT');
    const killedAt = Date.now();
    const ex = await Promise.race([p.exited, sleep(60_000).then(() => undefined)]);
    if (!ex) p.child.kill('SIGKILL');
    assert.ok(ex, `still training 60 s after SIGINT: ${p.err().slice(-400)}`);
    assert.equal(ex.code, 0, p.err());
    const events = checkJsonl(path.join(dir, 'events.jsonl')).records;
    assert.equal(events[0].type, 'start');
    assert.equal(events[0].runtime, 'capture');
    const stop = events.at(-1)!;
    assert.equal(stop.type, 'stop');
    assert.ok(listCheckpoints(dir).some((c) => c.step === stop.step), `no checkpoint at the stop step ${stop.step}`);
    console.log(`      stopped at step ${stop.step}, ${((Date.now() - killedAt) / 1000).toFixed(1)} s after SIGINT`);
  });

  it('without the FFI library, auto trains through onnxruntime-node and says why; SHAPELAB_RUNTIME=capture refuses in one line (exit 2)', () => {
    const root = tmpDir('no-ffi');
    dirs.push(root);
    const env = { SHAPELAB_ORT_LIB: path.join(root, 'missing-libonnxruntime.so') };
    const auto = shapelabSync(['train', '--preset', 'tiny', '--ep', 'webgpu', '--steps', '3', '--out', root], { env });
    assert.equal(auto.code, 0, auto.stderr);
    const start = checkJsonl(path.join(runDirIn(root)!, 'events.jsonl')).records[0];
    assert.equal(start.runtime, 'node');
    assert.match(String(start.runtimeNote), /missing-libonnxruntime\.so/);
    const forced = shapelabSync(['train', '--preset', 'tiny', '--ep', 'webgpu', '--steps', '3', '--out', root], { env: { ...env, SHAPELAB_RUNTIME: 'capture' } });
    assert.equal(forced.code, 2, forced.stderr);
    assertOneLine(forced.stderr, /SHAPELAB_RUNTIME=capture cannot run here: .*missing-libonnxruntime\.so/);
  });
});
