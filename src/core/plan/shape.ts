/**
 * The shape of a GPT-style pre-LN decoder and its exact parameter count.
 *
 * Layout counted (GPT-2, Radford et al. 2019, as in nanoGPT's model.py): token embedding (V x d),
 * optional learned position embedding (T x d), L blocks of
 *   LN1 (gain [+ bias]) -> QKV (d x 3a [+ 3a]) -> attn out (a x d [+ d]) ->
 *   LN2 (gain [+ bias]) -> MLP up (d x f [+ f]) -> MLP down (f x d [+ d]),
 * final LN, and an LM head that is either tied to the token embedding or a separate V x d matrix.
 * a = nHeads * dHead is the attention width (usually = d_model), f = d_ff.
 *
 * Checks (test/plan/shape.test.ts): GPT-2 small (V 50257, T 1024, d 768, L 12, tied) has
 * 124,439,808 parameters; GPT-2 medium (d 1024, L 24) 354,823,168.
 */
import { PlanInputError } from './errors';

/** A model shape as the planner searches it (defaults filled by resolveShape). */
export interface ShapeSpec {
  /** Vocabulary size V. */
  vocab: number;
  /** Context length T (tokens per sequence). */
  seq: number;
  /** Width d_model. */
  dModel: number;
  /** Number of transformer blocks L. */
  nLayers: number;
  /** Attention heads H. */
  nHeads: number;
  /** Head size; defaults to dModel / nHeads. */
  dHead?: number;
  /** MLP hidden width; defaults to 4 * dModel. */
  dFf?: number;
  /** LM head shares the token-embedding matrix (GPT-2 does). Default true. */
  tiedEmbeddings?: boolean;
  /** Learned absolute position embedding (GPT-2) or none (rotary/ALiBi). Default 'learned'. */
  positionEmbedding?: 'learned' | 'none';
  /** Linear layers and LayerNorms carry biases (GPT-2 does). Default true. */
  bias?: boolean;
}

/** A shape with every default filled in. */
export interface ResolvedShape {
  vocab: number;
  seq: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dHead: number;
  dFf: number;
  tiedEmbeddings: boolean;
  positionEmbedding: 'learned' | 'none';
  bias: boolean;
}

export interface ParamCounts {
  tokenEmbedding: number;
  positionEmbedding: number;
  /** Separate LM head (0 when tied). */
  unembedding: number;
  /** All parameters of one block (weights, biases, both LayerNorms). */
  perBlock: number;
  perBlockWeights: number;
  perBlockBiases: number;
  perBlockLayerNorm: number;
  /** All L blocks. */
  blocks: number;
  finalLayerNorm: number;
  /** All LayerNorm parameters (blocks + final). */
  layerNorm: number;
  /** All linear-layer biases. */
  biases: number;
  /**
   * Kaplan et al. 2020 convention: everything except the token and position embeddings and an
   * untied LM head, i.e. blocks + final LN.
   */
  nonEmbedding: number;
  /** Every trainable parameter (a tied matrix counted once). */
  total: number;
}

/** An impossible shape (width not divisible by heads, non-integer sizes, ...). */
export class ShapeError extends PlanInputError {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** Largest size of one dimension: far above any real model, low enough that every product stays finite. */
export const MAX_DIM = 2 ** 31;

function positiveInt(v: number, what: string): void {
  if (!(Number.isInteger(v) && v > 0)) throw new ShapeError(`${what} must be a positive integer (got ${v})`);
  if (v > MAX_DIM) throw new ShapeError(`${what} must be at most ${MAX_DIM} (got ${v})`);
}

/** Fills defaults and validates; throws ShapeError with a one-line message on bad input. */
export function resolveShape(s: ShapeSpec): ResolvedShape {
  positiveInt(s.vocab, 'vocab');
  positiveInt(s.seq, 'seq');
  positiveInt(s.dModel, 'dModel');
  positiveInt(s.nLayers, 'nLayers');
  positiveInt(s.nHeads, 'nHeads');
  let dHead = s.dHead;
  if (dHead === undefined) {
    if (s.dModel % s.nHeads !== 0) throw new ShapeError(`d_model ${s.dModel} is not divisible by ${s.nHeads} heads`);
    dHead = s.dModel / s.nHeads;
  }
  positiveInt(dHead, 'dHead');
  const dFf = s.dFf ?? 4 * s.dModel;
  positiveInt(dFf, 'dFf');
  return {
    vocab: s.vocab,
    seq: s.seq,
    dModel: s.dModel,
    nLayers: s.nLayers,
    nHeads: s.nHeads,
    dHead,
    dFf,
    tiedEmbeddings: s.tiedEmbeddings ?? true,
    positionEmbedding: s.positionEmbedding ?? 'learned',
    bias: s.bias ?? true,
  };
}

/** Exact parameter counts of a shape. */
export function countParams(shape: ShapeSpec | ResolvedShape): ParamCounts {
  const s = resolveShape(shape);
  const d = s.dModel;
  const a = s.nHeads * s.dHead;
  const f = s.dFf;
  const lnParams = s.bias ? 2 * d : d; // gain (+ bias)
  const perBlockWeights = d * 3 * a + a * d + d * f + f * d;
  const perBlockBiases = s.bias ? 3 * a + d + f + d : 0;
  const perBlockLayerNorm = 2 * lnParams;
  const perBlock = perBlockWeights + perBlockBiases + perBlockLayerNorm;
  const blocks = s.nLayers * perBlock;
  const tokenEmbedding = s.vocab * d;
  const positionEmbedding = s.positionEmbedding === 'learned' ? s.seq * d : 0;
  const unembedding = s.tiedEmbeddings ? 0 : s.vocab * d;
  const finalLayerNorm = lnParams;
  const nonEmbedding = blocks + finalLayerNorm;
  return {
    tokenEmbedding,
    positionEmbedding,
    unembedding,
    perBlock,
    perBlockWeights,
    perBlockBiases,
    perBlockLayerNorm,
    blocks,
    finalLayerNorm,
    layerNorm: s.nLayers * perBlockLayerNorm + finalLayerNorm,
    biases: s.nLayers * perBlockBiases,
    nonEmbedding,
    total: nonEmbedding + tokenEmbedding + positionEmbedding + unembedding,
  };
}

/**
 * Parameters that take part in a matmul per token: the blocks, final LN and the LM-head matmul
 * (V x d, whether or not it is tied) -- i.e. everything but the embedding *lookups*. This is the
 * N that nanoGPT's MFU estimate (and PaLM's 6N) multiplies, since a lookup costs no FLOPs.
 */
export function matmulParams(shape: ShapeSpec | ResolvedShape): number {
  const s = resolveShape(shape);
  return countParams(s).nonEmbedding + s.vocab * s.dModel;
}
