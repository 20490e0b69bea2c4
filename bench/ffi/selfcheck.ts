/**
 * Mocha-free self-check of the FFI prototype (issue 10 part 3). Exits non-zero on the first failure.
 *   npx tsx bench/ffi/selfcheck.ts
 * Needs a WebGPU adapter (lavapipe here). Expected values come from a float64 reference of the
 * chain (models.ts chainReference) and from onnxruntime-node itself, never from the FFI path.
 */
import { strict as assert } from 'node:assert';
import * as ort from 'onnxruntime-node';
import { FfiEnv, loadOrt } from '../../src/core/train/ffi/ortApi';
import { pingPong } from './pingPong';
import { chainModel, chainReference, identityModel } from './models';

const NO_CPU = { 'session.disable_cpu_ep_fallback': '1' }; // session creation fails if a node would go to CPU
const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
const ok = (what: string) => console.log(`ok  ${what}`);

async function main() {
  const o = loadOrt();
  // The library is the one onnxruntime-node ships, so their versions must agree.
  assert.equal(o.version, require('onnxruntime-node/package.json').version);
  ok(`GetVersionString ${o.version}, GetApi(${o.apiVersion}) non-null`);
  // Entries 0, 1, 2, 93: a status made here comes back with its code and message.
  const st = o.f.CreateStatus(2, 'probe');
  assert.equal(o.f.GetErrorCode(st), 2);
  assert.equal(o.f.GetErrorMessage(st), 'probe');
  o.f.ReleaseStatus(st);
  ok('CreateStatus/GetErrorCode/GetErrorMessage/ReleaseStatus round trip');
  const env = new FfiEnv(o);
  assert.ok(env.providers().includes('WebGpuExecutionProvider'), `providers: ${env.providers()}`);
  ok('GetAvailableProviders lists WebGpuExecutionProvider');

  const n = 64, m = chainModel(40, n);
  const x = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 3);
  const ref = chainReference(x, m.consts);
  const node = (await (await ort.InferenceSession.create(m.bytes, { executionProviders: ['webgpu'], extra: { session: NO_CPU } })).run({ x: new ort.Tensor('float32', x, [n]) })).y.data as Float32Array;
  assert.ok(maxErr(node, ref) < 1e-4, 'onnxruntime-node vs reference');
  for (const ep of ['cpu', 'webgpu'] as const) {
    const s = env.session(m.bytes, ep, {}, ep === 'webgpu' ? NO_CPU : {});
    const h = env.hostTensor([n]);
    h.data.set(x);
    const [yv] = s.run({ x: h.value }, ['y']);
    const y = env.read(yv, n);
    env.release(yv);
    assert.ok(maxErr(y, ref) < 1e-4, `${ep}: off the reference by ${maxErr(y, ref)}`);
    if (ep === 'webgpu') assert.ok(maxErr(y, node) < 1e-6, 'webgpu FFI vs onnxruntime-node');
    ok(`Run on the ${ep} EP through the FFI matches the reference${ep === 'webgpu' ? ' and onnxruntime-node' : ''}`);
    s.release();
  }

  // The key reaches the EP's parser: a bad value is refused with its own message.
  assert.throws(() => env.session(m.bytes, 'webgpu', { enableGraphCapture: 'maybe' }), /Invalid enable graph capture: maybe/);
  ok("enableGraphCapture reaches the WebGPU EP's option parser");

  // IO binding to fixed WebGPU buffers, with and without capture; ping-pong A->B, B->A with one
  // captured graph per direction (gpu_graph_id). New input values each round prove that replays
  // read the bound buffers rather than repeating a stale result.
  const up = env.session(identityModel(n), 'webgpu', {}, NO_CPU), down = env.session(identityModel(n), 'webgpu', {}, NO_CPU);
  for (const capture of [false, true]) {
    const pp = pingPong(env, up, down, m.bytes, n, { enableGraphCapture: capture ? '1' : '0' }, NO_CPU);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n; i++) pp.input[i] = x[i] + round;
      pp.load();
      let want = Float32Array.from(pp.input);
      const steps = 3 + round; // odd and even counts, so both buffers end up holding the result
      for (let k = 0; k < steps; k++) {
        pp.step(k);
        want = Float32Array.from(chainReference(want, m.consts));
      }
      const got = pp.read(steps);
      assert.ok(maxErr(got, want) < 1e-4, `capture=${capture} round ${round}: off by ${maxErr(got, want)}`);
    }
    ok(`IO binding on WebGPU buffers, ping-pong over 2 bindings, enableGraphCapture=${capture ? 1 : 0}: 3 rounds match the reference`);
  }

  // Known trap: under capture a plain Run (no binding) returns an empty OrtValue from the replay on.
  const sp = env.session(m.bytes, 'webgpu', { enableGraphCapture: '1' }, NO_CPU);
  const hp = env.hostTensor([n]);
  hp.data.set(x);
  const [first] = sp.run({ x: hp.value }, ['y']);
  assert.ok(maxErr(env.read(first, n), ref) < 1e-4);
  const [second] = sp.run({ x: hp.value }, ['y']);
  assert.throws(() => env.read(second, n), /IsTensor\(\) was false/);
  ok('under capture, a plain Run after the first returns no tensor (use IO binding)');
  console.log('selfcheck: all passed');
}

main().then(() => process.exit(0), (e) => {
  console.error('selfcheck FAILED:', e);
  process.exit(1);
});
