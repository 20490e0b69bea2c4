/**
 * Which execution provider a run uses. It sits above runtime.ts (sessions) and isolatedProbe.ts
 * (the WebGPU probe and auto's MatMul comparison, in a child process so that Dawn's own stderr
 * lines stay off the terminal). Every failure reaches the user as one plain line (epFailure.ts);
 * onnxruntime's raw text only with --verbose.
 */
import { cudaProviderInstalled } from './cudaProvider';
import { describeEpFailure, explainCudaFailure, explainWebgpuFailure, type EpFailure } from './epFailure';
import { probeIsolated } from './isolatedProbe';
import { probeCuda, RuntimeError, type Ep, type EpChoice } from './runtime';

export interface EpResolution {
  ep: Ep;
  /** Why `auto` chose what it chose, or a fallback explanation (shown to the user). */
  note?: string;
}

/** Undefined when the WebGPU EP starts here, else why not, in plain words (probed in a child process). */
export async function webgpuFailure(): Promise<EpFailure | undefined> {
  const raw = (await probeIsolated()).webgpuError;
  return raw === undefined ? undefined : explainWebgpuFailure(raw);
}

/** Undefined when the CUDA EP starts here, else why not, in plain words. */
export async function cudaFailure(): Promise<EpFailure | undefined> {
  const raw = await probeCuda();
  return raw === undefined ? undefined : explainCudaFailure(raw, cudaProviderInstalled());
}

export async function resolveEp(choice: EpChoice): Promise<EpResolution> {
  if (choice === 'cpu') return { ep: 'cpu' };
  if (choice === 'webgpu') {
    const f = await webgpuFailure();
    if (f) throw new RuntimeError(`WebGPU is not usable here: ${describeEpFailure(f)}; or use --ep cpu / --ep auto`);
    return { ep: 'webgpu' };
  }
  if (choice === 'cuda') {
    const f = await cudaFailure();
    if (f) throw new RuntimeError(`CUDA is not usable here: ${describeEpFailure(f)}`);
    return { ep: 'cuda' };
  }
  // auto never picks CUDA (WebGPU is the default GPU path); say it is there when it is.
  const cuda = cudaProviderInstalled() ? ' (the CUDA provider is installed: --ep cuda uses it)' : '';
  // A software Vulkan driver (e.g. Mesa lavapipe on a machine with no GPU) passes the adapter
  // check but is far slower than the CPU EP: compare a small MatMul on both and keep the faster.
  const p = await probeIsolated({ measure: true });
  if (p.webgpuError !== undefined) return { ep: 'cpu', note: `${describeEpFailure(explainWebgpuFailure(p.webgpuError))}; using the CPU${cuda}` };
  const gpu = p.gpuTflops ?? 0, cpu = p.cpuTflops ?? 0;
  if (gpu >= cpu) return { ep: 'webgpu', note: `using the GPU through WebGPU (${(gpu * 1000).toFixed(0)} vs CPU ${(cpu * 1000).toFixed(0)} GFLOP/s)${cuda}` };
  return {
    ep: 'cpu',
    note: `the WebGPU adapter is slower than the CPU here (${(gpu * 1000).toFixed(1)} vs ${(cpu * 1000).toFixed(1)} GFLOP/s: a software Vulkan driver such as lavapipe, no GPU driver?); using the CPU${cuda}`,
  };
}
