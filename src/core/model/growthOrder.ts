/**
 * Block order of a G_stack growth (Du et al. 2024, arXiv 2405.15319): which old block each block
 * of the grown model copies. Pure (no onnxruntime), shared by the trainer, the config checks and
 * the PyTorch exporter; train.py implements the same rule.
 */
import type { GrowthConfig, GrowthOperator } from '../runs/configSchema';

/** Source block of each new block, for an operator and growth factor. */
export function growthSources(depth: number, factor: number, op: GrowthOperator): number[] {
  if (!(Number.isInteger(factor) && factor >= 1)) throw new RangeError(`growth factor must be a positive integer (got ${factor})`);
  if (op === 'stack') return Array.from({ length: depth * factor }, (_, i) => i % depth);
  if (op === 'interleave') return Array.from({ length: depth * factor }, (_, i) => Math.floor(i / factor));
  const [a, b] = op.partial;
  if (!(Number.isInteger(a) && Number.isInteger(b) && 0 <= a && a <= b && b < depth)) throw new RangeError(`partial growth range ${a}-${b} is outside blocks 0..${depth - 1}`);
  const out: number[] = [];
  for (let i = 0; i <= b; i++) out.push(i);
  for (let k = 1; k < factor; k++) for (let i = a; i <= b; i++) out.push(i);
  for (let i = b + 1; i < depth; i++) out.push(i);
  return out;
}

export function grownDepth(depth: number, g: Pick<GrowthConfig, 'factor' | 'operator'>): number {
  return growthSources(depth, g.factor, g.operator).length;
}

