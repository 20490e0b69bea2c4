/**
 * The study grid: proxy shapes (widths x depths), their parameter count N (the planner's `params`
 * for that shape) and token budget D from a tokens-per-parameter rule, and the run config of each.
 *
 * Token rule: D = tpp * N * s, with s = sqrt(spread) or 1/sqrt(spread) alternating like a
 * checkerboard over (width index + depth index). With one tokens-per-parameter value D ~ N along the
 * whole grid and A/N^alpha cannot be told from B/D^beta (lawFit ties the exponents then); the
 * checkerboard spreads D/N by `spread` (default 4x) at no extra runs, and the runs of about equal N
 * -- (width i, deep) and (width i+1, shallow), widths ~sqrt(2) apart and depths 2x apart -- get the
 * same s, so their loss difference is the width/depth penalty and not a token difference.
 */
import { countParams } from '../plan/shape';
import { DEFAULT_BASE, type BaseHparams, type Parameterization } from '../param/parameterization';
import { presetConfig, validateConfig, type RunConfig, type EpChoice } from '../runs/configSchema';
import type { DataSpec } from '../data/dataset';
import { createTokenizer } from '../data/tokenizers';

/** Width ladder, ~sqrt(2) apart (multiples of 16 so every width has a whole number of 16/32/64-wide heads). */
export const WIDTH_LADDER = [32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];
export const DEFAULT_DEPTHS = [2, 4];
/** 20 tokens per parameter: Hoffmann et al. 2022's rule of thumb, and what CompleteP (Dey et al. 2025) trained with. */
export const DEFAULT_TPP = 20;
export const DEFAULT_TPP_SPREAD = 4;

export interface GridRequest {
  widths: number[];
  depths: number[];
  tpp: number;
  tppSpread: number;
  /** Fixed steps per run instead of the token rule (quick trials and tests). */
  steps?: number;
  context: number;
  batchSize: number;
  parameterization: Parameterization;
  base: BaseHparams;
  data: DataSpec;
  ep: EpChoice;
  seed: number;
  evalBatches: number;
  /** Study name, the prefix of every run label. */
  name: string;
}

export interface GridRun {
  id: string;
  label: string;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dFf: number;
  /** The planner's `params` for this shape (plan/shape.ts countParams, same layout as the trainer's). */
  params: number;
  tokens: number;
  tokensPerParam: number;
  steps: number;
}

export function headsFor(d: number): number {
  const dHead = d >= 256 ? 64 : d >= 64 ? 32 : 16;
  return Math.max(1, Math.round(d / dHead));
}

export function vocabOf(data: DataSpec): number {
  return createTokenizer(data.tokenizer).vocabSize;
}

export function paramsOf(vocab: number, context: number, d: number, L: number, tied = false): number {
  return countParams({ vocab, seq: context, dModel: d, nLayers: L, nHeads: headsFor(d), dFf: 4 * d, tiedEmbeddings: tied, positionEmbedding: 'learned', bias: true }).total;
}

export function gridRuns(r: GridRequest): GridRun[] {
  const vocab = vocabOf(r.data);
  const tokensPerStep = r.batchSize * r.context;
  const out: GridRun[] = [];
  r.widths.forEach((d, i) =>
    r.depths.forEach((L, j) => {
      const params = paramsOf(vocab, r.context, d, L);
      const s = r.tppSpread > 1 ? Math.sqrt(r.tppSpread) ** ((i + j) % 2 === 0 ? -1 : 1) : 1;
      const steps = r.steps ?? Math.max(10, Math.round((r.tpp * s * params) / tokensPerStep));
      const tokens = steps * tokensPerStep;
      const id = `w${d}-L${L}`;
      out.push({ id, label: `${r.name}-${id}`, dModel: d, nLayers: L, nHeads: headsFor(d), dFf: 4 * d, params, tokens, tokensPerParam: tokens / params, steps });
    }),
  );
  return out;
}

export function runConfig(r: GridRequest, g: GridRun): RunConfig {
  const base = presetConfig('small');
  const vocab = vocabOf(r.data);
  return validateConfig({
    ...base,
    label: g.label,
    model: { vocabSize: vocab, context: r.context, dModel: g.dModel, nLayers: g.nLayers, nHeads: g.nHeads, dFf: g.dFf, tiedEmbeddings: false },
    parameterization: r.parameterization,
    base: { ...DEFAULT_BASE, ...r.base },
    schedule: { ...base.schedule, warmupSteps: Math.min(100, Math.floor(g.steps / 10)), totalSteps: g.steps },
    batchSize: r.batchSize,
    steps: g.steps,
    evalEvery: 0, // only the final eval loss enters the fit
    evalBatches: r.evalBatches,
    checkpointEvery: Math.max(1, Math.floor(g.steps / 5)),
    logEvery: Math.max(1, Math.min(10, Math.floor(g.steps / 20))),
    seed: r.seed,
    data: r.data,
    ep: r.ep,
  });
}
