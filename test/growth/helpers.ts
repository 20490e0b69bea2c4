import type { Batch } from '../../src/core/data/batches';
import type { ModelShape } from '../../src/core/model/gpt';
import { normalSampler } from '../../src/core/model/init';
import { DEFAULT_BASE, transfer, type Parameterization, type Transfer } from '../../src/core/param/parameterization';
import type { GrowthConfig } from '../../src/core/runs/configSchema';
import { Engine } from '../../src/core/train/engine';
import { DEFAULT_OPTIMIZER } from '../../src/core/train/graphs';
import type { Ep } from '../../src/core/train/runtime';

export const SHAPE: ModelShape = { vocab: 64, context: 8, dModel: 16, nLayers: 2, nHeads: 2, dFf: 32, tiedEmbeddings: false };
export const BATCH = 2;

export const transferAt = (p: Parameterization = 'completep', width = SHAPE.dModel) => (depth: number): Transfer =>
  transfer({ ...DEFAULT_BASE, baseWidth: width, baseDepth: 2 }, { width, depth }, p);

export const makeEngineFor = (shape: ModelShape, ep: Ep, batch = BATCH) => (depth: number, t: Transfer) =>
  Engine.create({ shape: { ...shape, nLayers: depth }, transfer: t, batch, optimizer: DEFAULT_OPTIMIZER, ep });

export function randomVec(n: number, seed: number, std = 0.1): Float32Array {
  const r = normalSampler(seed);
  return Float32Array.from({ length: n }, () => r() * std);
}

export function randomBatch(shape: ModelShape, batch: number, seed: number): Batch {
  const r = normalSampler(seed);
  const n = batch * shape.context;
  const tok = () => Math.min(shape.vocab - 1, Math.floor(Math.abs(r()) * shape.vocab * 0.4));
  return { inputs: Int32Array.from({ length: n }, tok), targets: Int32Array.from({ length: n }, tok), batchSize: batch, context: shape.context };
}

export function growthCfg(g: Partial<GrowthConfig>): GrowthConfig {
  return { atStep: 1, factor: 2, operator: 'stack', multiplier: 'keep', optimizer: 'reset', lr: 'continue', ...g };
}

/** An engine at `shape` holding random parameters and moments. */
export async function randomEngine(shape: ModelShape, t: Transfer, ep: Ep, seed = 1): Promise<Engine> {
  const e = await Engine.create({ shape, transfer: t, batch: BATCH, optimizer: DEFAULT_OPTIMIZER, ep });
  const n = e.nParams;
  const params = randomVec(n, seed, 0.2);
  // LayerNorm gains near 1 keep the function sane.
  for (const p of e.layout) if (/ln.*weight$/.test(p.name)) for (let i = 0; i < p.size; i++) params[p.offset + i] += 1;
  const v = randomVec(n, seed + 2, 0.01).map((x) => x * x);
  await e.setState({ params, m: randomVec(n, seed + 1, 0.01), v });
  return e;
}
