/**
 * Keeps the issue-10 part-3 prototype (bench/ffi: onnxruntime's C API through koffi, IO binding on
 * WebGPU buffers, graph capture) from rotting: its self-check runs in a child process, since a
 * native fault there would take mocha down with it. Not product code; see docs/engine-ffi-prototype.md.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { probeWebgpu } from '../../src/core/train/runtime';

describe('FFI prototype (bench/ffi, issue 10 part 3)', () => {
  it('the C API through koffi: WebGPU EP Run, IO binding ping-pong, graph capture, all match the reference', async function () {
    const why = await probeWebgpu();
    if (why && !process.env.CI && !process.env.SHAPELAB_REQUIRE_WEBGPU) this.skip(); // dev machines without Vulkan
    const root = path.resolve(__dirname, '..', '..');
    const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(root, 'bench', 'ffi', 'selfcheck.ts')], { cwd: root, encoding: 'utf8', timeout: 110_000 });
    const out = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => !/Warning/.test(l)).join('\n');
    assert.equal(r.status, 0, out.slice(-3000));
    assert.match(out, /selfcheck: all passed/);
    assert.match(out, /enableGraphCapture=1: 3 rounds match the reference/);
  });
});
