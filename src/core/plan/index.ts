/**
 * ShapeLab planner library: shape -> parameters, FLOPs, memory, time; budget -> ranked shapes,
 * Pareto front, CompleteP hyperparameters and a G_stack growth plan. No `vscode` import: the CLI,
 * the extension host and tests all call these functions.
 */
export * from './errors';
export * from './shape';
export * from './flops';
export * from './memory';
export * from './hardware';
export * from './gemm';
export * from './steptime';
export * from './scaling';
export * from './penalty';
export * from './growth';
export { resolveContext, makeGroup, DEFAULT_SEQ, DEFAULT_VOCAB, DEFAULT_GPUS, type Budget, type Candidate, type Context, type ContextOptions, type Rejection, type GroupEvaluator } from './candidate';
export * from './search';
export * from './evaluate';
export { transfer, DEFAULT_BASE, PARAMETERIZATIONS, GROUPS, isParameterization, type Parameterization, type BaseHparams, type Transfer, type GroupHparams, type GroupName } from '../param/parameterization';
export * from './localFit';
