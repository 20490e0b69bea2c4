/**
 * Learning-rate schedule factor s_t in [0, 1] for the 1-based step t; the trainer multiplies each
 * group's peak LR by it. Must match `lr_factor` in python/shapelab_torch/train.py (docs/model.md).
 */
export interface Schedule {
  kind: 'cosine' | 'wsd' | 'constant';
  warmupSteps: number;
  totalSteps: number;
  /** Final LR as a fraction of the peak. */
  minLrRatio: number;
  /** WSD: fraction of totalSteps spent in the final linear decay. */
  decayFraction?: number;
}

export function lrFactor(step: number, s: Schedule): number {
  const w = Math.max(0, s.warmupSteps);
  if (w > 0 && step <= w) return step / w;
  if (s.kind === 'constant') return 1;
  const total = Math.max(s.totalSteps, w + 1);
  const min = s.minLrRatio;
  if (s.kind === 'cosine') {
    const progress = Math.min(1, (step - w) / (total - w));
    return min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
  }
  const decaySteps = Math.max(1, Math.round((s.decayFraction ?? 0.2) * total));
  const decayStart = total - decaySteps;
  if (step <= decayStart) return 1;
  const progress = Math.min(1, (step - decayStart) / decaySteps);
  return 1 - (1 - min) * progress;
}
