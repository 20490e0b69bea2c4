/**
 * Resource check before a run starts: a shape that cannot fit is refused with the numbers, before
 * any onnxruntime session exists (not as an abort deep in the runtime).
 *
 * Two rules (docs/reliability.md):
 * - Largest single buffer of the step graph: the flat parameter vector (and its moments and
 *   gradient, same size), the attention scores [B, H, T, T] and the logits [B*T, V], all fp32.
 *   onnxruntime-node does not expose the WebGPU adapter's limits; its WebGPU EP requests the
 *   adapter's own maxBufferSize / maxStorageBufferBindingSize, which are large on desktop GPUs but
 *   not unlimited. We refuse any buffer above `maxBufferBytes`: 2 GiB by default on WebGPU, or
 *   SHAPELAB_MAX_BUFFER_BYTES (then applied to every execution provider).
 * - Total memory estimate (state vectors, step temporaries, activations) above os.totalmem() on
 *   the CPU EP (the host memory is the device memory there).
 */
import * as os from 'node:os';
import { activationBytesPerSequence, logitBytesPerSequence } from '../plan/memory';
import type { RunConfig } from '../runs/configSchema';
import { listCheckpoints } from '../runs/checkpoint';
import type { Ep } from './runtime';

export const DEFAULT_WEBGPU_MAX_BUFFER_BYTES = 2 * 2 ** 30;
export const MAX_BUFFER_ENV = 'SHAPELAB_MAX_BUFFER_BYTES';

export class ResourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceError';
  }
}

export interface ResourceLimits {
  /** Largest single buffer allowed (bytes); undefined: no per-buffer limit. */
  maxBufferBytes?: number;
  /** Memory the whole step may use (bytes); undefined: unknown (not checked). */
  memoryBytes?: number;
}

export interface ResourceEstimate {
  depth: number;
  params: number;
  /** The largest fp32 tensors of the step graph, bytes. */
  buffers: { name: string; bytes: number }[];
  /** Resident state (params, m, v, per-element lr/eps/wd), step temporaries (gradient, new params/m/v) and activations, bytes. */
  totalBytes: number;
}

const fmt = (b: number) =>
  b >= 2 ** 40 ? `${(b / 2 ** 40).toFixed(2)} TiB` : b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : b >= 2 ** 10 ? `${(b / 2 ** 10).toFixed(1)} KiB` : `${Math.round(b)} B`;

/** Exact parameter count of src/core/model/gpt.ts's layout (wte, wpe, blocks, ln_f, untied head). */
export function countModelParams(m: RunConfig['model'], depth = m.nLayers): number {
  const { vocabSize: V, context: T, dModel: d, dFf: f } = m;
  const block = 2 * d + 3 * d * d + 3 * d + d * d + d + 2 * d + d * f + f + f * d + d;
  return V * d + T * d + depth * block + 2 * d + (m.tiedEmbeddings ? 0 : d * V);
}

export function estimateResources(c: RunConfig, depth = c.model.nLayers): ResourceEstimate {
  const m = c.model;
  const B = c.batchSize;
  const n = countModelParams(m, depth);
  const buffers = [
    { name: `flat parameter vector [${n}]`, bytes: 4 * n },
    { name: `attention scores [${B}, ${m.nHeads}, ${m.context}, ${m.context}]`, bytes: 4 * B * m.nHeads * m.context * m.context },
    { name: `logits [${B * m.context}, ${m.vocabSize}]`, bytes: 4 * B * m.context * m.vocabSize },
  ].sort((a, b) => b.bytes - a.bytes);
  const shape = { vocab: m.vocabSize, seq: m.context, dModel: m.dModel, nLayers: depth, nHeads: m.nHeads, dHead: m.dModel / m.nHeads, dFf: m.dFf, tiedEmbeddings: m.tiedEmbeddings, positionEmbedding: 'learned' as const, bias: true };
  const activations = B * (activationBytesPerSequence(shape, 'fp32', false) + logitBytesPerSequence(shape));
  // Gradient accumulation keeps two more flat vectors resident: the running sum and its zero start.
  const accumVectors = (c.gradAccum ?? 1) > 1 ? 2 : 0;
  return { depth, params: n, buffers, totalBytes: 4 * n * (6 + 4 + accumVectors) + activations };
}

/** The limits that apply on `ep` (env SHAPELAB_MAX_BUFFER_BYTES overrides the buffer limit). */
export function deviceLimits(ep: Ep, env: NodeJS.ProcessEnv = process.env): ResourceLimits {
  const raw = env[MAX_BUFFER_ENV];
  let maxBufferBytes: number | undefined = ep === 'webgpu' ? DEFAULT_WEBGPU_MAX_BUFFER_BYTES : undefined;
  if (raw !== undefined && raw.trim() !== '') {
    const v = Number(raw);
    if (!(Number.isFinite(v) && v > 0)) throw new ResourceError(`${MAX_BUFFER_ENV}: expected a positive number of bytes (got '${raw.slice(0, 40)}')`);
    maxBufferBytes = v;
  }
  return { maxBufferBytes, memoryBytes: ep === 'cpu' ? os.totalmem() : undefined };
}

/**
 * Throws ResourceError (one line, with the numbers) when the run cannot fit on `ep`; checks the
 * grown depth too when the config has a growth event.
 */
export function checkResources(c: RunConfig, ep: Ep, limits: ResourceLimits = deviceLimits(ep)): ResourceEstimate {
  const depths = [c.model.nLayers];
  if (c.growth) {
    const g = c.growth;
    const span = typeof g.operator === 'object' ? g.operator.partial[1] - g.operator.partial[0] : c.model.nLayers;
    depths.push(c.model.nLayers + span * (g.factor - 1));
  }
  let largest: ResourceEstimate | undefined;
  for (const depth of depths) {
    const e = estimateResources(c, depth);
    const at = depth === c.model.nLayers ? '' : ` after growth to depth ${depth}`;
    const big = e.buffers[0];
    if (limits.maxBufferBytes !== undefined && big.bytes > limits.maxBufferBytes) {
      throw new ResourceError(
        `this shape does not fit the ${ep} device${at}: the ${big.name} needs ${fmt(big.bytes)} in one buffer, over the limit of ${fmt(limits.maxBufferBytes)} (${MAX_BUFFER_ENV} sets it); use a smaller model, batch, context or vocabulary`,
      );
    }
    if (limits.memoryBytes !== undefined && e.totalBytes > limits.memoryBytes) {
      throw new ResourceError(
        `this shape does not fit the ${ep} device${at}: training needs about ${fmt(e.totalBytes)} (${e.params} parameters x 40 B + activations at batch ${c.batchSize}), this machine has ${fmt(limits.memoryBytes)}; use a smaller model or batch`,
      );
    }
    if (!largest || e.totalBytes > largest.totalBytes) largest = e;
  }
  return largest!;
}

/**
 * One-line description of a failure during training, for the error event and the user: what
 * failed, on which execution provider, and where the last good state is.
 */
export function describeRunFailure(e: unknown, ctx: { ep: Ep; runDir: string; step: number; saved?: string }): string {
  const msg = String((e as Error)?.message ?? e).split('\n').filter((l) => l.trim())[0] ?? 'unknown error';
  let where: string;
  if (ctx.saved) {
    where = `; the last good state (step ${ctx.step}) is saved in ${ctx.saved}: 'shapelab resume ${ctx.runDir}' continues from it`;
  } else {
    // The device (or disk) is gone with the newest state; say what is still on disk.
    const latest = listCheckpoints(ctx.runDir).at(-1);
    where = latest
      ? `; the state of step ${ctx.step} could not be saved (device or disk unavailable); the newest checkpoint on disk is ${latest.file} (step ${latest.step}): 'shapelab resume ${ctx.runDir}' continues from it`
      : `; the state of step ${ctx.step} could not be saved (device or disk unavailable) and the run has no checkpoint yet`;
  }
  return `training failed at step ${ctx.step + 1} on the ${ctx.ep} execution provider: ${msg}${where}`;
}
