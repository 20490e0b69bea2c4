/**
 * What a user sees when an execution provider cannot be used: one plain line saying what is
 * missing and what to do; onnxruntime's and Dawn's own text (C++ source paths, lambda signatures,
 * "[E:onnxruntime:...]" log lines, Dawn "Warning:" lines) only with --verbose. Real CLI processes;
 * the machine states are made real for the child:
 * - no Vulkan driver: VK_DRIVER_FILES / VK_ICD_FILENAMES point at a file that does not exist, so the
 *   Vulkan loader finds no ICD and Dawn no adapter (what a GPU-less machine without lavapipe sees);
 * - no Vulkan loader: in a private mount namespace (unshare -r -m) libvulkan.so.1 is covered by an
 *   empty file, so dlopen fails as on a machine without libvulkan1 (skipped where unshare is not
 *   allowed: the test says so);
 * - lavapipe (installed by .ci/install-lavapipe.sh): the machine as it is; skipped if no adapter;
 * - CUDA: this machine has no CUDA provider (the .npmrc skips its download).
 * Dawn's stderr lines stay out because WebGPU is probed in a child process (isolatedProbe.ts);
 * onnxruntime's own log lines because of its log level (runtime.ts).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bits, finalLine } from '../../src/cli/runSummary';
import { readJsonl } from '../../src/core/runs/runStore';

const root = path.join(__dirname, '..', '..');
const cli = path.join(root, 'bin', 'shapelab.js');
const NO_DRIVER = { VK_DRIVER_FILES: '/nonexistent/shapelab-no-icd.json', VK_ICD_FILENAMES: '/nonexistent/shapelab-no-icd.json' };
/** Internals that must not reach a user without --verbose. */
const INTERNALS = [/\/onnxruntime_src\//, /\.cc:\d/, /\.cpp:\d/, /dawn-src/, /\[E:onnxruntime/, /RequestAdapterStatus/, /::<lambda/, /^Warning: /m];

function run(args: string[], env: NodeJS.ProcessEnv = {}, wrap?: (argv: string[]) => string[]) {
  const argv = [process.execPath, cli, ...args];
  const [cmd, ...rest] = wrap ? wrap(argv) : argv;
  const r = spawnSync(cmd, rest, { encoding: 'utf8', env: { ...process.env, SHAPELAB_VERBOSE: '', ...env }, timeout: 300_000, cwd: root });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', all: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function assertNoInternals(out: string) {
  for (const re of INTERNALS) assert.doesNotMatch(out, re, `internal text reached the user:\n${out}`);
}

describe('EP failures in plain words (CLI)', function () {
  this.timeout(600_000);
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'sl-ep-'));
    dirs.push(d);
    return d;
  };
  before(() => {
    const b = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
  });
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('no Vulkan driver: `train --ep auto` says so in one line, trains on the CPU, ends with loss in nats and bits/byte', () => {
    const out = tmp();
    const r = run(['train', '--preset', 'tiny', '--steps', '2', '--ep', 'auto', '--out', out], NO_DRIVER);
    assert.equal(r.status, 0, r.all);
    const notes = r.stderr.split('\n').filter((l) => /WebGPU|Vulkan/.test(l));
    assert.equal(notes.length, 1, r.stderr);
    assert.match(notes[0], /^no WebGPU adapter: the Vulkan loader found no GPU driver \(install your GPU vendor's Vulkan driver.*\); using the CPU$/);
    assert.match(r.stderr, /device cpu/);
    assertNoInternals(r.all);
    // The last line: the held-out loss the run logged, in nats and in bits per byte, and what next.
    const runDir = /^run: (.+)$/m.exec(r.stdout)![1];
    const done = readJsonl<{ type: string; evalLoss?: number }>(path.join(runDir, 'events.jsonl')).records.find((e) => e.type === 'done')!;
    const last = r.stdout.trim().split('\n').at(-1)!;
    assert.ok(last.startsWith(`done at step 2: eval loss ${done.evalLoss!.toFixed(4)} nats = ${(done.evalLoss! / Math.log(2)).toFixed(3)} bits/byte. Next: `), last);
    assert.match(last, /ShapeLab runs view.*shapelab export torch --config .*config\.json --out cluster\/.*shapelab resume /);
  });

  it('no Vulkan driver, --verbose: the raw onnxruntime and Dawn text is there (so the check above can fail)', () => {
    const r = run(['train', '--preset', 'tiny', '--steps', '1', '--ep', 'webgpu', '--out', tmp(), '--verbose'], NO_DRIVER);
    assert.equal(r.status, 2, r.all);
    assert.match(r.stderr, /\/onnxruntime_src\/.*webgpu_context\.cc:\d+/);
    assert.match(r.stderr, /^Warning: vkCreateInstance/m, 'Dawn\'s own lines pass unfiltered with --verbose');
  });

  it('no Vulkan driver, --ep webgpu: one line, exit 2', () => {
    const r = run(['train', '--preset', 'tiny', '--steps', '1', '--ep', 'webgpu', '--out', tmp()], NO_DRIVER);
    assert.equal(r.status, 2, r.all);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^shapelab: WebGPU is not usable here: no WebGPU adapter: .*; or use --ep cpu \/ --ep auto$/m);
    assertNoInternals(r.all);
  });

  it('no Vulkan loader (libvulkan.so.1 unloadable): `train --ep auto` names the loader and what to install', function () {
    const probe = spawnSync('unshare', ['-r', '-m', 'true']);
    if (probe.status !== 0) this.skip(); // no user namespaces here (unprivileged container): cannot hide the loader
    let lib: string;
    try {
      lib = realpathSync('/lib/x86_64-linux-gnu/libvulkan.so.1');
    } catch {
      return this.skip(); // this machine has no loader at all: the same case as the one under test
    }
    const empty = path.join(tmp(), 'empty.so');
    writeFileSync(empty, '');
    const wrap = (argv: string[]) => ['unshare', '-r', '-m', 'sh', '-c', `mount --bind "$0" "$1" && shift 2 && exec "$@"`, empty, lib, ...argv];
    const r = run(['train', '--preset', 'tiny', '--steps', '1', '--ep', 'auto', '--out', tmp()], {}, wrap);
    assert.equal(r.status, 0, r.all);
    assert.match(r.stderr, /^no Vulkan loader \(libvulkan\.so\.1: .+\): install it \(Debian\/Ubuntu: apt install libvulkan1\) to train on the GPU; using the CPU$/m);
    assertNoInternals(r.all);
  });

  it('lavapipe (software Vulkan): `train --ep auto` says it is slower than the CPU, without Dawn\'s warnings', function () {
    const r = run(['train', '--preset', 'tiny', '--steps', '1', '--ep', 'auto', '--out', tmp()]);
    assert.equal(r.status, 0, r.all);
    if (/no WebGPU adapter|no Vulkan loader/.test(r.stderr)) this.skip(); // lavapipe is not installed here
    assertNoInternals(r.all);
    if (/device cpu/.test(r.stderr)) assert.match(r.stderr, /^the WebGPU adapter is slower than the CPU here \(.* GFLOP\/s: a software Vulkan driver such as lavapipe, no GPU driver\?\); using the CPU$/m);
  });

  it('CUDA provider not installed: `train --ep cuda` is one line pointing at `shapelab setup cuda`, exit 2', () => {
    const r = run(['train', '--preset', 'tiny', '--steps', '1', '--ep', 'cuda', '--out', tmp()]);
    assert.equal(r.status, 2, r.all);
    assert.deepEqual(r.stderr.trim().split('\n'), ["shapelab: CUDA is not usable here: onnxruntime-node's CUDA provider is not installed: run `shapelab setup cuda` (needs network once, CUDA 12 and cuDNN 9)"]);
  });

  it("onnxruntime's own C++ error lines ([E:onnxruntime:...]) are silenced by its log level, and shown with --verbose", () => {
    const quiet = run(['train', '--preset', 'tiny', '--steps', '1', '--ep', 'cuda', '--out', tmp()]);
    assert.equal(quiet.status, 2, quiet.all);
    assert.doesNotMatch(quiet.stderr, /\[E:onnxruntime/);
    const loud = run(['train', '--preset', 'tiny', '--steps', '1', '--ep', 'cuda', '--out', tmp(), '--verbose']);
    assert.match(loud.stderr, /\[E:onnxruntime:.*provider_bridge_ort\.cc/, 'with --verbose the line is there');
  });
});

describe('the last line of a run', () => {
  it('bits are nats / ln 2: a uniform byte model (ln 256 nats) is 8 bits/byte', () => {
    assert.ok(Math.abs(bits(Math.log(256)) - 8) < 1e-12);
    assert.match(finalLine({ runDir: 'runs/x', reason: 'done', step: 5, evalLoss: Math.log(256) }, 'byte'), /^done at step 5: eval loss 5\.5452 nats = 8\.000 bits\/byte\. /);
    assert.match(finalLine({ runDir: 'runs/x', reason: 'stopped', step: 5, evalLoss: 2 }, 'gpt2'), /bits\/token.*shapelab resume runs\/x$/);
  });
});
