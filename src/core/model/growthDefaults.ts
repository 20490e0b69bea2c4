/**
 * THE growth defaults: the one place `train`, run configs, `experiment growth`, the planner, the
 * planner webview and the PyTorch export take them from (test/growth/defaults.test.ts changes this
 * object and checks every consumer follows).
 *
 * Until the GPU growth experiment (both policy sets, 25m size or larger, equal FLOPs) picks from
 * evidence, these are G_stack's own (Du et al. 2024, arXiv 2405.15319, NeurIPS 2024):
 * - factor g = 4: Sec. 5 "growth factor": the optimum lies between 2 and 4, the authors recommend 4;
 * - optimizer 'reset': the released code (github.com/tongxuluo/prts) builds a fresh AdamW for the
 *   grown model;
 * - lr 'rewarm': the released code starts a fresh warmup + cosine schedule at the target's LR;
 * - multiplier 'keep': the paper's model has no residual multiplier and stacking rescales nothing;
 *   'keep' computes exactly that function (docs/model.md, "Growth", says what it changes under
 *   CompleteP and why 'switch' and 'rescale' exist).
 */

export type GrowthMultiplierPolicy = 'keep' | 'switch' | 'rescale';
export type GrowthOptimizerPolicy = 'reset' | 'copy';
export type GrowthLrPolicy = 'continue' | 'rewarm';

export interface GrowthDefaults {
  factor: number;
  operator: 'stack';
  multiplier: GrowthMultiplierPolicy;
  optimizer: GrowthOptimizerPolicy;
  lr: GrowthLrPolicy;
}

export const GROWTH_DEFAULTS: GrowthDefaults = {
  factor: 4,
  operator: 'stack',
  multiplier: 'keep',
  optimizer: 'reset',
  lr: 'rewarm',
};

/**
 * The defaults of run configs written before the shared defaults (config `version: 1`): g = 2,
 * moments copied, schedule continued. A version-1 config with a growth field left out keeps
 * meaning what it meant when it was written (and hashing the same: configSchema.ts).
 */
export const GROWTH_DEFAULTS_V1: Readonly<GrowthDefaults> = Object.freeze({
  factor: 2,
  operator: 'stack',
  multiplier: 'keep',
  optimizer: 'copy',
  lr: 'continue',
});

/** "g = 4, fresh optimizer, re-warmed schedule, multiplier keep": the policy in words for UIs. */
export function describeGrowthPolicy(d: Pick<GrowthDefaults, 'factor' | 'multiplier' | 'optimizer' | 'lr'> = GROWTH_DEFAULTS): string {
  const opt = d.optimizer === 'reset' ? 'fresh optimizer' : 'optimizer moments copied';
  const lr = d.lr === 'rewarm' ? 're-warmed LR schedule' : 'LR schedule continued';
  return `g = ${d.factor}, ${opt}, ${lr}, residual multiplier ${d.multiplier}`;
}
