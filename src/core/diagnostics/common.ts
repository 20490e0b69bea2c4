/**
 * Shared pieces of the diagnostics (coordinate check, LR sweep, growth experiment): small models
 * on the Brown corpus with the byte tokenizer, trained in-process through the Engine. Library
 * code: no vscode, no terminal output.
 */
import { evalBatches, BatchSampler, type Batch } from '../data/batches';
import { loadDataset, type Dataset } from '../data/dataset';
import type { ModelShape } from '../model/gpt';
import { DEFAULT_BASE, transfer, type BaseHparams, type Parameterization } from '../param/parameterization';

let brown: Dataset | undefined;
/** The embedded Brown corpus, byte tokenizer (loaded once per process). */
export function brownBytes(): Dataset {
  brown ??= loadDataset({ source: 'brown', tokenizer: 'byte' });
  return brown;
}

export interface SmallModelOptions {
  width: number;
  depth: number;
  context: number;
  /** Head size (heads = width / headSize, at least 1). */
  headSize?: number;
}

export function smallShape(o: SmallModelOptions): ModelShape {
  const nHeads = Math.max(1, Math.round(o.width / (o.headSize ?? 32)));
  if (o.width % nHeads !== 0) throw new RangeError(`width ${o.width} is not divisible into ${nHeads} heads`);
  return { vocab: 256, context: o.context, dModel: o.width, nLayers: o.depth, nHeads, dFf: 4 * o.width, tiedEmbeddings: false };
}

export function transferOf(base: BaseHparams, p: Parameterization, width: number, depth: number) {
  return transfer(base, { width, depth }, p);
}

export function defaultBase(over: Partial<BaseHparams> = {}): BaseHparams {
  return { ...DEFAULT_BASE, ...over };
}

/** Training batches (seeded) and one fixed held-out eval set. */
export function brownBatches(o: { batch: number; context: number; seed: number; evalBatches: number }): { sampler: BatchSampler; evalSet: Batch[] } {
  const d = brownBytes();
  return {
    sampler: new BatchSampler(d.train, { batchSize: o.batch, context: o.context, seed: o.seed }),
    evalSet: evalBatches(d.val, { batchSize: o.batch, context: o.context, count: o.evalBatches }),
  };
}

/** A list flag like "2,4,8" -> numbers; throws RangeError with the flag's name. */
export function parseList(s: string, what: string, opts: { integer?: boolean; positive?: boolean } = {}): number[] {
  const parts = s.split(',').map((x) => x.trim());
  if (!parts.length || parts.some((x) => x === '')) throw new RangeError(`${what}: expected a comma-separated list (got '${s}')`);
  return parts.map((x) => {
    const v = Number(x);
    if (!Number.isFinite(v)) throw new RangeError(`${what}: '${x}' is not a finite number`);
    if (opts.integer && !Number.isInteger(v)) throw new RangeError(`${what}: '${x}' must be an integer`);
    if (opts.positive && !(v > 0)) throw new RangeError(`${what}: '${x}' must be > 0`);
    return v;
  });
}
