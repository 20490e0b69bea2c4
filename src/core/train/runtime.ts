/**
 * onnxruntime-node sessions for training: execution-provider choice, GPU-resident state and the
 * traps in docs (shared notes onnxruntime-webgpu.md): never call getData() on a gpu-buffer tensor
 * (it aborts the process in 1.30), never feed a gpu-buffer tensor to a CPU session, and dispose
 * every gpu-buffer tensor that is no longer needed (they are not garbage-collected).
 */
import * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/ir';
import { serialize } from '../graph/onnx';
import { buildCopy } from './graphs';
import { RuntimeError } from './runtimeError';

export { RuntimeError };

export type EpChoice = 'auto' | 'webgpu' | 'cpu' | 'cuda';
export type Ep = 'webgpu' | 'cpu' | 'cuda';

// onnxruntime prints its own error lines from C++ to stderr ("[E:onnxruntime:..., provider_bridge_ort.cc:...]")
// when e.g. the CUDA provider cannot load; the caller already gets the same error as an exception,
// explained in plain words (epFailure.ts). Only --verbose (SHAPELAB_VERBOSE=1) shows them. Applies
// from the first session on (onnxruntime reads it when it initializes its environment).
ort.env.logLevel = process.env.SHAPELAB_VERBOSE === '1' ? 'warning' : 'fatal';

/** Backends compiled into this onnxruntime-node build (CUDA needs its provider library installed). */
export function availableBackends(): { name: string; bundled: boolean }[] {
  const list = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends;
  return list ? list() : [{ name: 'cpu', bundled: true }];
}

/** Undefined when a one-node session can be created on `ep`, else onnxruntime's reason (raw). */
async function probeEp(ep: Ep): Promise<string | undefined> {
  try {
    const s = await createSession(buildCopy(1, ['x']), ep);
    await s.release();
    return undefined;
  } catch (e) {
    return String((e as Error).message ?? e);
  }
}

let webgpuProbe: Promise<string | undefined> | undefined;
/** Returns undefined when a WebGPU adapter works, else the reason it does not. */
export function probeWebgpu(): Promise<string | undefined> {
  webgpuProbe ??= probeEp('webgpu');
  return webgpuProbe;
}

/** Returns undefined when a CUDA session can be created, else onnxruntime's reason. */
export const probeCuda = () => probeEp('cuda');

/**
 * Buffer caches for the WebGPU EP. onnxruntime's default 'bucket' cache keeps at most 10 buffers of
 * 16 MiB and 6 of 64 MiB (onnxruntime core/providers/webgpu/buffer_manager.cc), so a training step
 * whose B*T*d and B*H*T*T tensors are exactly those sizes re-creates (and clears) dozens of buffers
 * every step. 'simple' reuses buffers by exact size with no cap: on an H200 the 25m step went from
 * ~200 to ~105 ms and peak GPU memory went down, not up (docs/results/h200-buffer-cache*.txt).
 * A training step allocates the same sizes every step, so the cache stays bounded by the largest
 * step's working set (checked over a 10-minute run with growth: docs/engine-performance.md).
 */
export const DEFAULT_WEBGPU_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  storageBufferCacheMode: 'simple',
  uniformBufferCacheMode: 'simple',
});

/** Options the 1.30 Node binding passes through; it refuses anything else at session creation. */
const KNOWN_WEBGPU_OPTIONS = new Set([
  'preferredLayout', 'validationMode', 'storageBufferCacheMode', 'uniformBufferCacheMode',
  'queryResolveBufferCacheMode', 'defaultBufferCacheMode', 'enableRobustness', 'forceCpuNodeNames',
]);

/**
 * WebGPU EP options for every session. They bind to the process-wide WebGPU device, so the first
 * session decides. SHAPELAB_WEBGPU_OPTIONS (a JSON object) overrides single keys of the defaults,
 * e.g. '{"storageBufferCacheMode":"bucket"}' to measure onnxruntime's own default.
 */
export function webgpuTuning(env: string | undefined = process.env.SHAPELAB_WEBGPU_OPTIONS): Record<string, string | boolean> {
  const opts: Record<string, string | boolean> = { ...DEFAULT_WEBGPU_OPTIONS };
  if (!env) return opts;
  let parsed: unknown;
  try {
    parsed = JSON.parse(env);
  } catch {
    throw new RuntimeError(`SHAPELAB_WEBGPU_OPTIONS is not JSON: ${env.slice(0, 80)}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RuntimeError('SHAPELAB_WEBGPU_OPTIONS must be a JSON object, e.g. {"storageBufferCacheMode":"bucket"}');
  }
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!KNOWN_WEBGPU_OPTIONS.has(k)) {
      throw new RuntimeError(`SHAPELAB_WEBGPU_OPTIONS: unknown option '${k}' (onnxruntime-node 1.30 accepts ${[...KNOWN_WEBGPU_OPTIONS].join(', ')})`);
    }
    opts[k] = v as string | boolean; // enableRobustness is a boolean; the binding takes it as given
  }
  return opts;
}

/** The execution-provider list a session is created with (exported so tests can pin it). */
export function executionProvidersFor(ep: Ep): ort.InferenceSession.SessionOptions['executionProviders'] {
  if (ep === 'webgpu') return [{ name: 'webgpu', ...webgpuTuning() } as ort.InferenceSession.ExecutionProviderConfig];
  return [ep];
}

export interface SessionOptions {
  /** Outputs to leave on the GPU (WebGPU only); everything else comes back to the CPU. */
  gpuOutputs?: string[];
  /** Write an onnxruntime profile (JSON trace; GPU kernel times on WebGPU) with this file prefix. */
  profilePrefix?: string;
}

export async function createSession(graph: Graph, ep: Ep, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    // Default optimizations fuse e.g. LayerNorm/Gelu patterns; keep them.
    graphOptimizationLevel: 'all',
  };
  if (opts.profilePrefix) {
    options.enableProfiling = true;
    options.profileFilePrefix = opts.profilePrefix;
  }
  if (ep === 'webgpu') {
    // A node that cannot run on the GPU must fail session creation, not silently round-trip.
    (options as Record<string, unknown>).extra = { session: { disable_cpu_ep_fallback: '1' } };
    options.executionProviders = executionProvidersFor('webgpu');
    if (opts.gpuOutputs?.length) {
      const loc: Record<string, 'gpu-buffer' | 'cpu'> = {};
      for (const o of graph.outputs) loc[o] = opts.gpuOutputs.includes(o) ? 'gpu-buffer' : 'cpu';
      options.preferredOutputLocation = loc as ort.InferenceSession.SessionOptions['preferredOutputLocation'];
    }
  }
  return ort.InferenceSession.create(serialize(graph), options);
}

/**
 * Moves float32 vectors between host and device. On the CPU EP tensors simply stay on the host;
 * on WebGPU, upload/download run tiny Identity graphs (the documented safe way).
 */
export class StateMover {
  private up?: ort.InferenceSession;
  private down?: ort.InferenceSession;
  private constructor(readonly ep: Ep, readonly n: number, readonly names: string[]) {}

  static async create(ep: Ep, n: number, names: string[]): Promise<StateMover> {
    const m = new StateMover(ep, n, names);
    if (ep === 'webgpu') {
      const g = buildCopy(n, names);
      m.up = await createSession(g, 'webgpu', { gpuOutputs: g.outputs });
      m.down = await createSession(g, 'webgpu');
    }
    return m;
  }

  async upload(values: Record<string, Float32Array>): Promise<Record<string, ort.Tensor>> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const k of this.names) feeds[k] = new ort.Tensor('float32', values[k], [this.n]);
    if (!this.up) return feeds;
    const out = await this.up.run(feeds);
    const res: Record<string, ort.Tensor> = {};
    for (const k of this.names) res[k] = out[`${k}_out`];
    return res;
  }

  /**
   * Device-side copy into tensors that this mover's session owns (WebGPU: one Identity run, no
   * host round-trip; CPU: the same host tensors). Needed to keep a gpu-buffer tensor past the
   * session that produced it: disposing one after its session was released crashes the process.
   */
  async copy(values: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const feeds = Object.fromEntries(this.names.map((k) => [k, values[k]]));
    if (!this.up) return feeds;
    const out = await this.up.run(feeds);
    return Object.fromEntries(this.names.map((k) => [k, out[`${k}_out`]]));
  }

  async download(values: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
    const res: Record<string, Float32Array> = {};
    if (!this.down) {
      for (const k of this.names) res[k] = values[k].data as Float32Array;
      return res;
    }
    const out = await this.down.run(Object.fromEntries(this.names.map((k) => [k, values[k]])));
    for (const k of this.names) res[k] = Float32Array.from(out[`${k}_out`].data as Float32Array);
    return res;
  }

  async release(): Promise<void> {
    await this.up?.release();
    await this.down?.release();
  }
}

/** Frees a tensor's GPU memory; a no-op for host tensors. */
export function disposeTensor(t: ort.Tensor | undefined): void {
  if (t && t.location === 'gpu-buffer') t.dispose();
}

export const scalar = (x: number) => new ort.Tensor('float32', Float32Array.of(x), [1]);
export const int64Column = (data: Int32Array | number[]) => {
  const arr = BigInt64Array.from(Array.from(data, (v) => BigInt(v)));
  return new ort.Tensor('int64', arr, [arr.length, 1]);
};
