/**
 * PROTOTYPE bench (issue 10 part 3): per-run time of a dispatch-bound graph (a chain of OPS tiny
 * Mul/Add kernels on N floats) on the WebGPU EP, three ways in one process:
 *   node-gpu      onnxruntime-node 1.30, outputs as 'gpu-buffer' fed back as the next input
 *   ffi-bind      the same library's C API through koffi, IO binding to two fixed WebGPU buffers
 *                 (ping-pong), no capture
 *   ffi-capture   as ffi-bind with enableGraphCapture=1, one captured graph per binding (gpu_graph_id)
 * plus node-cpuio / ffi-cpuio (host tensors in and out every run) for the binding overhead alone.
 * Every variant's final value is read back and checked against a float64 reference, so a variant
 * that silently did nothing cannot post a time. Time per run = (RUNS runs + one read back) / RUNS.
 *
 * On lavapipe (Mesa's CPU Vulkan driver) the "GPU" is the CPU: the numbers are host overhead plus
 * CPU-emulated kernels, not GPU behaviour.
 *
 *   npx tsx bench/ffi/bench.ts [--ops 200] [--n 256] [--runs 30] [--rounds 3] [--pending K | --ffi-only]
 *   GPU (device machine): see bench/ffi/README.md
 */
import * as ort from 'onnxruntime-node';
import { FfiEnv, loadOrt } from '../../src/core/train/ffi/ortApi';
import { pingPong } from './pingPong';
import { chainModel, chainReference, identityModel } from './models';

const arg = (k: string, d: number) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const OPS = arg('ops', 200), N = arg('n', 256), RUNS = arg('runs', 30), ROUNDS = arg('rounds', 3), WARM = 3;
// Same EP options for every variant: the WebGPU device is process-wide and the first session decides.
const EP_OPTS: Record<string, string> = { storageBufferCacheMode: 'simple', uniformBufferCacheMode: 'simple' };
// --pending K: maxNumPendingDispatches for the FFI sessions (unreachable from the Node binding). It may
// bind at WebGPU context creation like the cache modes, so with it the node variants are left out
// and the FFI sessions create the context.
const PENDING = arg('pending', 0);
const FFI_ONLY = PENDING > 0 || process.argv.includes('--ffi-only');
const FFI_OPTS: Record<string, string> = PENDING ? { ...EP_OPTS, maxNumPendingDispatches: String(PENDING) } : EP_OPTS;
const NO_CPU = { 'session.disable_cpu_ep_fallback': '1' };

const m = chainModel(OPS, N);
const x0 = Float32Array.from({ length: N }, (_, i) => Math.sin(i));
/** Reference after k chain applications (float64, then rounded per application like the GPU). */
function refAfter(k: number): Float32Array {
  let y = x0;
  for (let i = 0; i < k; i++) y = Float32Array.from(chainReference(y, m.consts));
  return y;
}
function maxErr(a: Float32Array, b: Float32Array) {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

/** y: the result read back; loop: ms in the run loop alone (host enqueue work; the GPU may still be busy). */
type Result = { y: Float32Array; loop: number };
type Variant = { name: string; setup: () => Promise<(runs: number) => Promise<Result>> };

async function nodeVariants(): Promise<Variant[]> {
  const gpu = { executionProviders: [{ name: 'webgpu', ...EP_OPTS }] as ort.InferenceSession.SessionOptions['executionProviders'], extra: { session: NO_CPU } };
  const readBack = await ort.InferenceSession.create(identityModel(N), gpu); // gpu-buffer -> CPU (getData() aborts in 1.30)
  return [
    {
      name: 'node-gpu',
      setup: async () => {
        const s = await ort.InferenceSession.create(m.bytes, { ...gpu, preferredOutputLocation: 'gpu-buffer' });
        return async (runs) => {
          let x: ort.Tensor = new ort.Tensor('float32', x0, [N]);
          const t = performance.now();
          for (let r = 0; r < runs; r++) {
            const y = (await s.run({ x })).y;
            if (r > 0) x.dispose();
            x = y;
          }
          const loop = performance.now() - t;
          const y = (await readBack.run({ x })).y.data as Float32Array;
          x.dispose();
          return { y, loop };
        };
      },
    },
    {
      name: 'node-cpuio',
      setup: async () => {
        const s = await ort.InferenceSession.create(m.bytes, gpu);
        return async (runs) => {
          let x: Float32Array = x0;
          const t = performance.now();
          for (let r = 0; r < runs; r++) x = (await s.run({ x: new ort.Tensor('float32', x, [N]) })).y.data as Float32Array;
          return { y: x, loop: performance.now() - t };
        };
      },
    },
  ];
}

function ffiVariants(env: FfiEnv): Variant[] {
  const up = env.session(identityModel(N), 'webgpu', FFI_OPTS, NO_CPU);
  const down = env.session(identityModel(N), 'webgpu', FFI_OPTS, NO_CPU);
  const bound = (capture: boolean): Variant => ({
    name: capture ? 'ffi-capture' : 'ffi-bind',
    setup: async () => {
      const pp = pingPong(env, up, down, m.bytes, N, { ...FFI_OPTS, enableGraphCapture: capture ? '1' : '0' }, NO_CPU);
      return async (runs) => {
        pp.input.set(x0);
        pp.load();
        // Output sync only at the end: per-run sync would add a host wait the node path does not have.
        const t = performance.now();
        for (let r = 0; r < runs; r++) pp.step(r);
        const loop = performance.now() - t;
        return { y: Float32Array.from(pp.read(runs)), loop };
      };
    },
  });
  return [
    bound(false),
    bound(true),
    {
      name: 'ffi-cpuio',
      setup: async () => {
        const s = env.session(m.bytes, 'webgpu', FFI_OPTS, NO_CPU);
        const hx = env.hostTensor([N]);
        return async (runs) => {
          hx.data.set(x0);
          const t = performance.now();
          for (let r = 0; r < runs; r++) {
            const [y] = s.run({ x: hx.value }, ['y']);
            hx.data.set(env.read(y, N));
            env.release(y);
          }
          return { y: Float32Array.from(hx.data), loop: performance.now() - t };
        };
      },
    },
  ];
}

async function main() {
  const o = loadOrt();
  console.log(`onnxruntime ${o.version} (C API ${o.apiVersion}), chain of ${OPS} kernels on ${N} floats, ${RUNS} runs x ${ROUNDS} rounds; EP options ${JSON.stringify(FFI_OPTS)}`);
  const variants = [...(FFI_ONLY ? [] : await nodeVariants()), ...ffiVariants(new FfiEnv(o))];
  const fns = await Promise.all(variants.map((v) => v.setup()));
  const want = refAfter(RUNS), wantWarm = refAfter(WARM);
  const times: number[][] = variants.map(() => []), loops: number[][] = variants.map(() => []);
  for (let i = 0; i < fns.length; i++) {
    const e = maxErr((await fns[i](WARM)).y, wantWarm); // warm-up (captures the graphs), checked too
    if (!(e < 1e-3)) throw new Error(`${variants[i].name}: warm-up result off by ${e}`);
  }
  for (let round = 0; round < ROUNDS; round++)
    for (let i = 0; i < fns.length; i++) { // interleaved, so drift on a shared machine hits all alike
      const t = performance.now();
      const { y, loop } = await fns[i](RUNS);
      times[i].push((performance.now() - t) / RUNS);
      loops[i].push(loop / RUNS);
      const e = maxErr(y, want);
      if (!(e < 1e-3)) throw new Error(`${variants[i].name}: result off by ${e}`);
    }
  const base = Math.min(...times[0]);
  console.log(`\n| variant | ms/run (best of ${ROUNDS}) | median | us/kernel | vs first row | run-loop ms/run (host enqueue, best) |`);
  console.log('|---|---|---|---|---|---|');
  variants.forEach((v, i) => {
    const s = [...times[i]].sort((a, b) => a - b), best = s[0], med = s[Math.floor(s.length / 2)];
    console.log(`| ${v.name} | ${best.toFixed(3)} | ${med.toFixed(3)} | ${((best * 1000) / OPS).toFixed(1)} | ${(base / best).toFixed(2)}x | ${Math.min(...loops[i]).toFixed(3)} |`);
  });
  console.log('\nAll variants matched the float64 reference (max abs err < 1e-3).');
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
