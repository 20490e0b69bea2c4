/**
 * The WebGPU step runtime choice, in a module without onnxruntime so the extension host can use it.
 */
import { RuntimeError } from './runtimeError';

/**
 * How the fused step runs on WebGPU: 'capture' replays a WebGPU graph capture through
 * onnxruntime's C API (ffi/capturedStep.ts), 'node' runs it through onnxruntime-node, 'auto'
 * takes capture where it applies (WebGPU, no gradient accumulation, no profiling, vocabulary up
 * to 8192) and the FFI loads, else node.
 */
export type EngineRuntime = 'auto' | 'node' | 'capture';
export const ENGINE_RUNTIMES: readonly EngineRuntime[] = ['auto', 'node', 'capture'];

/** SHAPELAB_RUNTIME: the default EngineOptions.runtime ('auto' when unset). */
export function runtimeFromEnv(env: NodeJS.ProcessEnv = process.env): EngineRuntime {
  const raw = (env.SHAPELAB_RUNTIME ?? '').trim();
  if (raw === '') return 'auto';
  if (!(ENGINE_RUNTIMES as readonly string[]).includes(raw)) throw new RuntimeError(`SHAPELAB_RUNTIME must be one of ${ENGINE_RUNTIMES.join(', ')} (got '${raw}')`);
  return raw as EngineRuntime;
}

/** How a run's device reads in the CLI, the runs view and the charts: "webgpu (captured step)" when captured. */
export function deviceLabel(ep: string, runtime: unknown): string {
  return runtime === 'capture' ? `${ep} (captured step)` : ep;
}
