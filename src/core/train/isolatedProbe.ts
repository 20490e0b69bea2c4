/**
 * The WebGPU probe (and auto's GPU-vs-CPU MatMul comparison) in a short-lived child process.
 * Dawn writes to the process's stderr from C++ ("Warning: vkCreateInstance: Found no drivers!",
 * "Warning: Couldn't load Vulkan ... at (/build/.../dawn-src/.../BackendVk.cpp:368)"), which no
 * onnxruntime log level silences; once Dawn has been started in a process, that process prints it.
 * Probing in a child keeps it off the user's terminal (it is passed through under --verbose) and
 * leaves the calling process free of a WebGPU device unless it goes on to use one.
 */
import { spawn } from 'node:child_process';
import { Graph } from '../graph/ir';
import { serialize } from '../graph/onnx';
import { isVerbose } from './epFailure';
import { buildCopy } from './graphs';
import { webgpuTuning } from './runtime';

/** A chain of n x n float32 MatMuls reduced to one scalar (the output read back is tiny). */
export function matmulGraph(n: number, chain: number): Graph {
  const g = new Graph('matmul');
  let x = g.input('x', 'float32', [n, n]);
  const w = g.input('w', 'float32', [n, n]);
  for (let i = 0; i < chain; i++) x = g.matmul(x, w);
  g.output(g.identity(g.reduceSum(g.slice(x, 0, 0, 1), [0, 1], false), 'out'));
  return g;
}

function uploadGraph(n: number): Graph {
  const g = new Graph('upload');
  g.output(g.identity(g.input('a', 'float32', [n, n]), 'b'));
  return g;
}

export interface IsolatedProbe {
  /** onnxruntime's raw message when a WebGPU session cannot be created; undefined when it can. */
  webgpuError?: string;
  /** MatMul TFLOP/s on each provider (only with `measure` and a working adapter). */
  gpuTflops?: number;
  cpuTflops?: number;
}

// Plain JavaScript run by `node -e`: needs only onnxruntime-node (path in argv) and the models on stdin.
const CHILD = String.raw`
const ort = require(process.argv[1]);
ort.env.logLevel = process.argv[2];
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const model = (k) => Buffer.from(job[k], 'base64');
  const gpu = { executionProviders: [Object.assign({ name: 'webgpu' }, job.tuning)], extra: { session: { disable_cpu_ep_fallback: '1' } } };
  const out = {};
  try {
    const s = await ort.InferenceSession.create(model('copy'), gpu);
    await s.release();
  } catch (e) {
    out.webgpuError = String((e && e.message) || e);
  }
  if (!out.webgpuError && job.measure) {
    const n = job.n, data = new Float32Array(n * n).map((_, i) => ((i % 13) - 6) / (6 * Math.sqrt(n)));
    const time = async (ep) => {
      let x = new ort.Tensor('float32', data, [n, n]), w = new ort.Tensor('float32', data, [n, n]), up;
      if (ep === 'webgpu') {
        // Inputs resident on the GPU, as in training (uploads are not what is measured).
        up = await ort.InferenceSession.create(model('up'), Object.assign({}, gpu, { preferredOutputLocation: 'gpu-buffer' }));
        x = (await up.run({ a: x })).b;
        w = (await up.run({ a: w })).b;
      }
      const s = await ort.InferenceSession.create(model('mm'), ep === 'webgpu' ? gpu : { executionProviders: ['cpu'] });
      await s.run({ x, w });
      const t0 = performance.now();
      for (let r = 0; r < 3; r++) await s.run({ x, w });
      const sec = (performance.now() - t0) / 1000 / 3;
      await s.release();
      if (up) { x.dispose(); w.dispose(); await up.release(); }
      return (job.chain * 2 * n ** 3) / sec / 1e12;
    };
    out.gpuTflops = await time('webgpu');
    out.cpuTflops = await time('cpu');
  }
  process.stdout.write(JSON.stringify(out));
});
`;

/** Probes WebGPU (and with `measure`, times a 512^3 MatMul chain on WebGPU and CPU) in a child. */
export function probeIsolated(opts: { measure?: boolean; n?: number; chain?: number; timeoutMs?: number } = {}): Promise<IsolatedProbe> {
  const n = opts.n ?? 512, chain = opts.chain ?? 2;
  const b64 = (g: Graph) => Buffer.from(serialize(g)).toString('base64');
  const job = { copy: b64(buildCopy(1, ['x'])), up: b64(uploadGraph(n)), mm: b64(matmulGraph(n, chain)), n, chain, measure: !!opts.measure, tuning: webgpuTuning() };
  const verbose = isVerbose();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, require.resolve('onnxruntime-node'), verbose ? 'warning' : 'fatal'], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['pipe', 'pipe', verbose ? 'inherit' : 'pipe'],
      windowsHide: true,
    });
    let out = '', err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as IsolatedProbe);
      } catch {
        // The child died inside onnxruntime/Dawn (a crashing driver is a failure to start WebGPU too).
        const last = err.trim().split('\n').filter(Boolean).at(-1) ?? '';
        resolve({ webgpuError: `the WebGPU probe process ended with ${signal ?? `exit code ${code}`}${last ? `: ${last}` : ''}` });
      }
    });
    child.stdin!.end(JSON.stringify(job));
  });
}
