/**
 * What this machine offers for training: execution providers, whether a WebGPU adapter works, and
 * measured float32 MatMul throughput and memory bandwidth on each usable provider. The result can
 * be saved as the planner's hardware entry `local` ("plan for the GPU I have").
 */
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import { Graph } from '../graph/ir';
import { cudaProviderInstalled, cudaProviderOffered } from './cudaProvider';
import { explainCudaFailure, explainWebgpuFailure } from './epFailure';
import { matmulGraph, probeIsolated } from './isolatedProbe';
import { availableBackends, createSession, probeCuda, type Ep } from './runtime';

export interface EpMeasurement {
  ep: Ep;
  /** Best float32 MatMul TFLOP/s over the sizes tried (inputs resident on the device). */
  matmulTflops: number;
  bySize: { n: number; tflops: number }[];
  /** Elementwise add bandwidth, TB/s (2 reads + 1 write per element). */
  bandwidthTBs: number;
}

export interface DeviceReport {
  backends: { name: string; bundled: boolean }[];
  /** reason: one plain line (epFailure.ts); detail: onnxruntime's own text. */
  webgpu: { usable: boolean; reason?: string; detail?: string };
  /** installed: the provider libraries are in place (`shapelab setup cuda`); offered: this platform has them. */
  cuda: { offered: boolean; installed: boolean; usable: boolean; reason?: string; detail?: string };
  host: { cpus: number; cpuModel: string; memoryGB: number };
  measurements: EpMeasurement[];
}

/**
 * Uploads through an Identity session (also used by bench/matmul-shapes.ts) so timed runs see device-resident inputs (WebGPU). The
 * session must outlive its output tensors (releasing it first and disposing them later aborts the
 * process), so `free()` disposes the tensor and then releases the session.
 */
export async function resident(ep: Ep, data: Float32Array, dims: number[]): Promise<{ t: ort.Tensor; free: () => Promise<void> }> {
  const t = new ort.Tensor('float32', data, dims);
  if (ep !== 'webgpu') return { t, free: async () => {} };
  const g = new Graph('upload');
  g.output(g.identity(g.input('a', 'float32', dims), 'b'));
  const s = await createSession(g, ep, { gpuOutputs: ['b'] });
  const out = (await s.run({ a: t })).b;
  return {
    t: out,
    free: async () => {
      out.dispose();
      await s.release();
    },
  };
}

export async function timeGraph(ep: Ep, g: Graph, feeds: Record<string, ort.Tensor>, reps: number): Promise<number> {
  const s = await createSession(g, ep);
  await s.run(feeds); // warm-up (shader compilation)
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) await s.run(feeds); // each run reads a scalar back: synchronous timing
  const sec = (performance.now() - t0) / 1000 / reps;
  await s.release();
  return sec;
}

export async function measureMatmul(ep: Ep, n: number, chain = 4): Promise<number> {
  const g = matmulGraph(n, chain);
  const a = new Float32Array(n * n).map((_, i) => ((i % 13) - 6) / (6 * Math.sqrt(n)));
  const xs = await resident(ep, a, [n, n]), ws = await resident(ep, a, [n, n]);
  const sec = await timeGraph(ep, g, { x: xs.t, w: ws.t }, 3);
  await xs.free();
  await ws.free();
  return (chain * 2 * n ** 3) / sec / 1e12;
}

export async function measureBandwidth(ep: Ep, n = 1 << 24): Promise<number> {
  const g = new Graph('bandwidth');
  const a = g.input('a', 'float32', [n]), b = g.input('b', 'float32', [n]);
  let y = a;
  for (let i = 0; i < 4; i++) y = g.add(y, b);
  g.output(g.identity(g.reduceSum(g.slice(y, 0, 0, 1), [0], false), 'out'));
  const data = new Float32Array(n).fill(1e-3);
  const at = await resident(ep, data, [n]), bt = await resident(ep, data, [n]);
  const sec = await timeGraph(ep, g, { a: at.t, b: bt.t }, 3);
  await at.free();
  await bt.free();
  return (4 * 3 * 4 * n) / sec / 1e12;
}

export async function deviceReport(opts: { sizes?: number[]; eps?: Ep[] } = {}): Promise<DeviceReport> {
  // In a child: a machine without a working adapter gets no Dawn output here (isolatedProbe.ts).
  const why = (await probeIsolated()).webgpuError;
  const webgpuFailure = why === undefined ? undefined : explainWebgpuFailure(why);
  const installed = cudaProviderInstalled();
  // Probing CUDA without its provider only produces onnxruntime's "failed to load" noise.
  const cudaWhy = installed ? await probeCuda() : 'the CUDA provider library is not installed';
  const cudaFail = cudaWhy === undefined ? undefined : explainCudaFailure(cudaWhy, installed);
  const eps = opts.eps ?? (why ? ['cpu'] : ['webgpu', 'cpu']);
  const measurements: EpMeasurement[] = [];
  for (const ep of eps) {
    const sizes = opts.sizes ?? (ep === 'cpu' ? [256, 512] : [512, 1024, 2048, 4096]);
    const bySize = [];
    for (const n of sizes) {
      const t0 = performance.now();
      bySize.push({ n, tflops: await measureMatmul(ep, n) });
      // A slow adapter (software Vulkan) would take minutes at the larger sizes: stop growing.
      if (!opts.sizes && performance.now() - t0 > 3000) break;
    }
    measurements.push({ ep, bySize, matmulTflops: Math.max(...bySize.map((b) => b.tflops)), bandwidthTBs: await measureBandwidth(ep, ep === 'cpu' || bySize.length < 3 ? 1 << 20 : 1 << 24) });
  }
  return {
    backends: availableBackends(),
    webgpu: webgpuFailure ? { usable: false, reason: webgpuFailure.message, detail: webgpuFailure.detail } : { usable: true },
    cuda: { offered: cudaProviderOffered(), installed, usable: !cudaFail, ...(cudaFail ? { reason: cudaFail.message, detail: cudaFail.detail } : {}) },
    host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGB: os.totalmem() / 1e9 },
    measurements,
  };
}
