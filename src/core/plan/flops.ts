/**
 * Training FLOPs per token. Published conventions differ by up to ~2x in the attention term, so
 * the convention is always explicit and shown next to the number.
 */
import { countParams, matmulParams, resolveShape, type ShapeSpec } from './shape';

export const FLOPS_CONVENTIONS = ['palm', 'kaplan', 'megatron', '6n'] as const;
export type FlopsConvention = (typeof FLOPS_CONVENTIONS)[number];

export interface ConventionInfo {
  label: string;
  formula: string;
  source: string;
}

export const FLOPS_CONVENTION_INFO: Record<FlopsConvention, ConventionInfo> = {
  palm: {
    label: 'PaLM / nanoGPT MFU',
    formula: '6N + 12 * L * H * Q * T, N = matmul params (blocks + LM head)',
    // Chowdhery et al. 2022 (PaLM), Appendix B; nanoGPT model.py estimate_mfu uses the same formula.
    source: 'Chowdhery et al. 2022 (PaLM, arXiv 2204.02311) App. B; karpathy/nanoGPT estimate_mfu',
  },
  kaplan: {
    label: 'Kaplan et al. 2020',
    formula: '3 * (2N + 2 * L * T * d_attn), N = non-embedding params',
    // Kaplan et al. 2020, Table 1: C_forward = 2N + 2 n_layer n_ctx d_attn; backward = 2x forward.
    source: 'Kaplan et al. 2020 (arXiv 2001.08361) Table 1',
  },
  megatron: {
    label: 'Megatron (full activation recompute)',
    formula: '96 * L * h^2 * (1 + T/(6h) + V/(16 L h)) per token (assumes d_ff = 4h)',
    // Narayanan et al. 2021, eq. 3: 96 B s l h^2 (1 + s/6h + V/16lh) per iteration of B sequences of
    // length s; the 96 (not 72) counts the extra forward pass of full recomputation.
    source: 'Narayanan et al. 2021 (arXiv 2104.04473) eq. 3',
  },
  '6n': {
    label: '6ND (total params)',
    formula: '6N, N = total params',
    // Hoffmann et al. 2022 (Chinchilla) budget accounting C = 6ND; also used by the G_stack fit.
    source: 'Hoffmann et al. 2022 (arXiv 2203.15556) Sec. 3',
  },
};

export function isFlopsConvention(s: string): s is FlopsConvention {
  return (FLOPS_CONVENTIONS as readonly string[]).includes(s);
}

/** Training (forward + backward) FLOPs per token of a shape under a convention. */
export function trainingFlopsPerToken(shape: ShapeSpec, convention: FlopsConvention = 'palm'): number {
  const s = resolveShape(shape);
  const attnWidth = s.nHeads * s.dHead;
  switch (convention) {
    case 'palm':
      return 6 * matmulParams(s) + 12 * s.nLayers * attnWidth * s.seq;
    case 'kaplan':
      return 3 * (2 * countParams(s).nonEmbedding + 2 * s.nLayers * s.seq * attnWidth);
    case 'megatron': {
      const h = s.dModel;
      const l = s.nLayers;
      return 96 * l * h * h * (1 + s.seq / (6 * h) + s.vocab / (16 * l * h));
    }
    case '6n':
      return 6 * countParams(s).total;
  }
}

/** All conventions at once (the evaluate command shows them side by side). */
export function flopsPerTokenAllConventions(shape: ShapeSpec): Record<FlopsConvention, number> {
  const out = {} as Record<FlopsConvention, number>;
  for (const c of FLOPS_CONVENTIONS) out[c] = trainingFlopsPerToken(shape, c);
  return out;
}
