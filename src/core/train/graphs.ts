/**
 * The ONNX graphs a training run executes: one fused train step (forward, loss, backward,
 * global-norm clipping, AdamW, non-finite guard), an eval forward, and small utility graphs
 * (upload/download of GPU-resident state). Names of inputs/outputs are the runtime's contract.
 */
import { gradients } from '../graph/autodiff';
import { Graph } from '../graph/ir';
import { buildForward, totalParams, type ModelShape, type ParamSpec } from '../model/gpt';
import type { Transfer } from '../param/parameterization';

export interface OptimizerConfig {
  beta1: number;
  beta2: number;
  /** Global gradient-norm clip; <= 0 disables clipping. */
  clip: number;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = { beta1: 0.9, beta2: 0.95, clip: 1.0 };

/**
 * Values per row of the optimizer's [N / C, C] view of the flat vectors: the gcd of all tensor
 * sizes, so each row lies inside one tensor (every offset is a sum of sizes) and one peak LR,
 * epsilon and weight decay per row describe the whole vector. For the GPT layout this is
 * gcd(d, d_ff) (every tensor is a multiple of d or d_ff), e.g. 512 rows fewer hyperparameters for
 * the 25m preset; 1 (per element) when nothing larger divides every tensor.
 */
export function hyperRowWidth(layout: ParamSpec[]): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return layout.reduce((c, p) => gcd(p.size, c), 0) || 1;
}

/**
 * Peak LR, epsilon and weight decay of the flat parameter vector, one value per `width` elements
 * (hyperRowWidth, or 1 for per-element vectors).
 */
export function hyperVectors(layout: ParamSpec[], t: Transfer, width = 1): { lr: Float32Array; eps: Float32Array; wd: Float32Array } {
  const n = totalParams(layout);
  if (n % width !== 0) throw new RangeError(`hyperparameter rows of ${width} do not tile ${n} parameters`);
  const lr = new Float32Array(n / width), eps = new Float32Array(n / width), wd = new Float32Array(n / width);
  for (const p of layout) {
    if (p.offset % width !== 0 || p.size % width !== 0) throw new RangeError(`${p.name} does not fill whole rows of ${width}`);
    const g = t.groups[p.group];
    const [a, b] = [p.offset / width, (p.offset + p.size) / width];
    lr.fill(g.lr, a, b);
    eps.fill(g.eps, a, b);
    wd.fill(g.weightDecay, a, b);
  }
  return { lr, eps, wd };
}

/** Concat in chunks: WebGPU limits storage buffers per shader, so avoid one node with 100+ inputs. */
export function concatTree(g: Graph, xs: string[], axis: number, chunk = 8): string {
  let level = xs;
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += chunk) next.push(g.concat(level.slice(i, i + chunk), axis));
    level = next;
  }
  return level[0];
}

function dataInputs(g: Graph, shape: ModelShape, batch: number) {
  const n = batch * shape.context;
  return { tokens: g.input('tokens', 'int64', [n, 1]), targets: g.input('targets', 'int64', [n, 1]) };
}

/**
 * Sum of squares of a long vector in two stages ([rows, 1024] -> rows -> 1): a single ReduceSum
 * over 25M values took 10 ms on the WebGPU EP (one workgroup); this takes a fraction of that.
 */
export function sumOfSquares(g: Graph, v: string): string {
  const n = g.shape(v)[0];
  const cols = 1024;
  const rows = Math.ceil(n / cols);
  const padded = rows * cols === n ? v : g.concat([v, g.zeros([rows * cols - n])], 0);
  const m = g.reshape(padded, [rows, cols]);
  return g.reduceSum(g.reduceSum(g.mul(m, m), [1], false), [0], false);
}

/** Sum of a long vector in two stages, like sumOfSquares (NaN/Inf anywhere makes it non-finite). */
export function sumAll(g: Graph, v: string): string {
  const n = g.shape(v)[0];
  // Columns that divide n need no zero padding (a copy of the whole vector); else 1024 and pad.
  const cols = [1024, 2048, 512, 4096, 256].find((c) => n % c === 0 && n / c >= 2) ?? 1024;
  const rows = Math.ceil(n / cols);
  const padded = rows * cols === n ? v : g.concat([v, g.zeros([rows * cols - n])], 0);
  return g.reduceSum(g.reduceSum(g.reshape(padded, [rows, cols]), [1], false), [0], false);
}

/**
 * The optimizer's inputs: flat state, the hyperparameter tables (hyperVectors; `rows` values,
 * one per row of the [rows, N / rows] view) and the per-step scalars.
 */
function optimizerInputs(g: Graph, N: number, rows: number) {
  return {
    P: g.input('params', 'float32', [N]),
    M: g.input('m', 'float32', [N]),
    V: g.input('v', 'float32', [N]),
    LR: g.input('hp_lr', 'float32', [rows]),
    EPS: g.input('hp_eps', 'float32', [rows]),
    WD: g.input('hp_wd', 'float32', [rows]),
    lrFactor: g.input('lr_factor', 'float32', [1]),
  };
}

/**
 * The per-step scalars each optimizer form reads (the host computes them: a scalar op in the
 * graph is a dispatch of its own). bc1 = 1 / (1 - beta1^t), bc2 = 1 / (1 - beta2^t).
 */
export function stepScalars(beta1: number, beta2: number, t: number, lrFactor: number): Record<string, number> {
  const bc1 = 1 / (1 - Math.pow(beta1, t)), bc2 = 1 / (1 - Math.pow(beta2, t));
  return { lr_factor: lrFactor, bc1, bc2, step_scale: (lrFactor * bc1) / Math.sqrt(bc2), eps_scale: 1 / Math.sqrt(bc2) };
}

/**
 * Global-norm clipping, AdamW with bias correction and the non-finite guard, from the flat
 * gradient gradScale·G; writes params_out, m_out, v_out, grad_norm and update_ok.
 *
 * Every full-length elementwise op is a kernel reading and writing N values (onnxruntime does not
 * fuse them), so the algebra keeps their number down: G² is computed once for the norm and the
 * second moment; the clip coefficient and gradScale fold into the moment scalars; the bias
 * corrections and per-row LR/eps/decay fold into [rows, 1] columns that broadcast over the
 * [rows, C] view:
 *   p1 = p·(1 − lr·wd) − m1 / (√v1 + eps/√bc2) · lr·bc1/√bc2
 * which is PyTorch's p − lr·(m̂/(√v̂ + eps) + wd·p) with m̂ = bc1·m1, v̂ = bc2·v1.
 */
function addAdamW(g: Graph, x: ReturnType<typeof optimizerInputs>, G: string, loss: string, opt: OptimizerConfig, gradScale = 1): void {
  const { P, M, V, LR, EPS, WD, lrFactor } = x;
  const stepScale = g.input('step_scale', 'float32', [1]); // lr_factor * bc1 / sqrt(bc2)
  const epsScale = g.input('eps_scale', 'float32', [1]); // 1 / sqrt(bc2)
  const N = g.shape(P)[0], R = g.shape(LR)[0], C = N / R;
  const G2 = g.mul(G, G);
  const gnorm = g.scale(g.sqrt(sumAll(g, G2)), gradScale);
  let coef = g.constF(gradScale);
  if (opt.clip > 0) coef = g.scale(g.clip(g.div(g.constF(opt.clip), g.add(gnorm, g.constF(1e-6))), '', g.constF(1)), gradScale);
  const m1 = g.add(g.scale(M, opt.beta1), g.mul(G, g.scale(coef, 1 - opt.beta1)));
  const v1 = g.add(g.scale(V, opt.beta2), g.mul(G2, g.scale(g.mul(coef, coef), 1 - opt.beta2)));
  const col = (t: string) => g.reshape(t, [R, 1]);
  const rows = (t: string) => g.reshape(t, [R, C]);
  const epsCol = col(g.mul(EPS, epsScale));
  const stepCol = col(g.mul(LR, stepScale));
  const decayCol = col(g.sub(g.constF(1), g.mul(g.mul(LR, WD), lrFactor)));
  const u = g.div(rows(m1), g.add(g.sqrt(rows(v1)), epsCol));
  const p1 = g.reshape(g.sub(g.mul(rows(P), decayCol), g.mul(u, stepCol)), [N]);
  guardAndOutput(g, x, p1, m1, v1, gnorm, loss);
}

/**
 * Non-finite guard: x - x is 0 for finite x and NaN for NaN/Inf, and NaN > anything is false,
 * so a bad step leaves the state untouched and the host sees the bad loss/norm. The new
 * parameters are probed too: a finite loss and gradient can still give a NaN update (AdamW
 * with eps = 0 divides 0 by 0 for an embedding row no token of the batch used), and such a
 * step must not reach the state either; `update_ok` (1/0) tells the host.
 */
function guardAndOutput(g: Graph, x: ReturnType<typeof optimizerInputs>, p1: string, m1: string, v1: string, gnorm: string, loss: string): void {
  const { P, M, V } = x;
  const probe = g.add(g.add(gnorm, loss), sumAll(g, p1));
  const ok = g.greater(g.constF(1), g.abs(g.sub(probe, probe)));
  g.output(g.identity(g.where(ok, p1, P), 'params_out'));
  g.output(g.identity(g.where(ok, m1, M), 'm_out'));
  g.output(g.identity(g.where(ok, v1, V), 'v_out'));
  g.output(g.identity(gnorm, 'grad_norm'));
  g.output(g.identity(g.where(ok, g.constF(1), g.constF(0)), 'update_ok'));
}

/**
 * The AdamW graph before issue 10 (SHAPELAB_ENGINE_OFF=adamw, for measurement): per-element
 * hyperparameter vectors (the engine then uploads N-long tables) and one op per term.
 */
function addAdamWPerElement(g: Graph, x: ReturnType<typeof optimizerInputs>, G0: string, loss: string, opt: OptimizerConfig, gradScale = 1): void {
  const { P, M, V, LR, EPS, WD, lrFactor } = x;
  const bc1 = g.input('bc1', 'float32', [1]);
  const bc2 = g.input('bc2', 'float32', [1]);
  const G = g.scale(G0, gradScale);
  const gnorm = g.sqrt(sumOfSquares(g, G));
  let gc = G;
  if (opt.clip > 0) {
    const coef = g.clip(g.div(g.constF(opt.clip), g.add(gnorm, g.constF(1e-6))), '', g.constF(1));
    gc = g.mul(G, coef);
  }
  const m1 = g.add(g.scale(M, opt.beta1), g.scale(gc, 1 - opt.beta1));
  const v1 = g.add(g.scale(V, opt.beta2), g.scale(g.mul(gc, gc), 1 - opt.beta2));
  const upd = g.div(g.mul(m1, bc1), g.add(g.sqrt(g.mul(v1, bc2)), EPS));
  const lr = g.mul(LR, lrFactor);
  // Decoupled weight decay (PyTorch AdamW): p -= lr * (update + wd * p).
  const p1 = g.sub(P, g.mul(lr, g.add(upd, g.mul(WD, P))));
  guardAndOutput(g, x, p1, m1, v1, gnorm, loss);
}

/** Hyperparameter table rows for this layout: per row (hyperRowWidth) unless SHAPELAB_ENGINE_OFF=adamw. */
export function hyperTableWidth(layout: ParamSpec[], env: NodeJS.ProcessEnv = process.env): number {
  return engineOffFromEnv(env).has('adamw') ? 1 : hyperRowWidth(layout);
}

function optimizer(layout: ParamSpec[]) {
  const N = totalParams(layout);
  const rows = N / hyperTableWidth(layout);
  return { N, rows, add: engineOffFromEnv().has('adamw') ? addAdamWPerElement : addAdamW };
}

/**
 * SHAPELAB_SPLIT_K (see Graph.splitK): 'auto', 'auto:TARGET' (workgroups to aim for, 64..65536),
 * or a fixed integer 1..64 (1 = off). Default DEFAULT_SPLIT_K.
 */
export function splitKFromEnv(env: NodeJS.ProcessEnv = process.env): { splitK: number | 'auto'; target?: number } {
  const raw = (env.SHAPELAB_SPLIT_K ?? '').trim();
  if (raw === '') return { splitK: DEFAULT_SPLIT_K };
  const bad = () => new RangeError(`SHAPELAB_SPLIT_K must be 'auto', 'auto:TARGET' (64 to 65536 workgroups) or an integer from 1 to 64 (got '${raw}')`);
  if (raw === 'auto') return { splitK: 'auto' };
  if (raw.startsWith('auto:')) {
    const t = Number(raw.slice(5));
    if (!Number.isInteger(t) || t < 64 || t > 65536) throw bad();
    return { splitK: 'auto', target: t };
  }
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > 64) throw bad();
  return { splitK: v };
}

/**
 * 'auto' since session 5: on an H200 the 25m step went from 104 to 99 ms (wide and small within
 * noise), docs/engine-performance.md, docs/results/h200-splitk-session5.txt.
 */
export const DEFAULT_SPLIT_K: number | 'auto' = 'auto';

/**
 * Step-graph changes of issue 10 that can be turned off one by one to measure each on a GPU:
 * SHAPELAB_ENGINE_OFF is a comma-separated list of their names. Every setting trains the same
 * model (gradient-checked; the lavapipe-vs-CPU step test runs with each one off).
 */
export const ENGINE_SWITCHES = {
  /** Weight gradients as (dyᵀ·x)ᵀ where that transposes fewer values (Graph.cheapTranspose). */
  wgrad: 'weight-gradient operand order',
  /** One head split for q, k and v (ForwardOptions.fusedQkv). */
  qkv: 'fused q/k/v head split',
  /** AdamW with per-row hyperparameters and fewer full-length passes (addAdamW). */
  adamw: 'AdamW per-row hyperparameters and folded scalars',
} as const;
export type EngineSwitch = keyof typeof ENGINE_SWITCHES;

export function engineOffFromEnv(env: NodeJS.ProcessEnv = process.env): Set<EngineSwitch> {
  const raw = env.SHAPELAB_ENGINE_OFF ?? '';
  const off = new Set<EngineSwitch>();
  for (const w of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(w in ENGINE_SWITCHES)) throw new RangeError(`SHAPELAB_ENGINE_OFF: unknown switch '${w}' (known: ${Object.keys(ENGINE_SWITCHES).join(', ')})`);
    off.add(w as EngineSwitch);
  }
  return off;
}

/** Forward, loss and the flat gradient of every parameter (layout order). */
function lossAndGradient(g: Graph, shape: ModelShape, t: Transfer, layout: ParamSpec[], batch: number, P: string): { loss: string; G: string } {
  const sk = splitKFromEnv();
  g.splitK = sk.splitK;
  if (sk.target) g.splitKTarget = sk.target;
  const off = engineOffFromEnv();
  g.cheapTranspose = !off.has('wgrad');
  const { tokens, targets } = dataInputs(g, shape, batch);
  const fwd = buildForward(g, shape, t, layout, P, tokens, targets, { batch, fusedQkv: !off.has('qkv') });
  const grads = gradients(g, fwd.loss, fwd.params);
  return { loss: fwd.loss, G: concatTree(g, grads.map((d) => g.reshape(d, [g.shape(d).reduce((a, b) => a * b, 1)])), 0) };
}

/**
 * The fused step: forward, backward and optimizer in one graph (one dispatch chain per step).
 * captureSafe builds it for WebGPU graph capture (Graph.captureSafe: the host then also feeds
 * tokens_f / targets_f, float copies of the indices).
 */
export function buildTrainStep(shape: ModelShape, t: Transfer, layout: ParamSpec[], batch: number, opt: OptimizerConfig, opts: { captureSafe?: boolean } = {}): Graph {
  const g = new Graph('train_step');
  g.captureSafe = opts.captureSafe ?? false;
  const o = optimizer(layout);
  const x = optimizerInputs(g, o.N, o.rows);
  const { loss, G } = lossAndGradient(g, shape, t, layout, batch, x.P);
  o.add(g, x, G, loss, opt);
  g.output(g.identity(loss, 'loss'));
  if (g.captureSafe) g.captureSafeOutputs();
  return g;
}

/**
 * Gradient accumulation, micro-step: grad_out = grad_in + d(loss)/d(params) for one micro-batch
 * (grad_in is a resident zero vector on the first micro-batch of a step).
 */
export function buildGradAccumulate(shape: ModelShape, t: Transfer, layout: ParamSpec[], batch: number): Graph {
  const g = new Graph('grad_accumulate');
  const N = totalParams(layout);
  const P = g.input('params', 'float32', [N]);
  const acc = g.input('grad_in', 'float32', [N]);
  const { loss, G } = lossAndGradient(g, shape, t, layout, batch, P);
  g.output(g.identity(g.add(acc, G), 'grad_out'));
  g.output(g.identity(loss, 'loss'));
  return g;
}

/**
 * Gradient accumulation, optimizer step: the mean of `microBatches` accumulated gradients (equal
 * micro-batches, so this is the gradient of the whole batch's mean loss), then the same clipping,
 * AdamW and guard as the fused step. `loss_mean` (the host's mean of the micro-batch losses)
 * feeds the guard.
 */
export function buildApplyAccumulated(layout: ParamSpec[], microBatches: number, opt: OptimizerConfig): Graph {
  const g = new Graph('apply_accumulated');
  const o = optimizer(layout);
  const x = optimizerInputs(g, o.N, o.rows);
  const acc = g.input('grad_sum', 'float32', [o.N]);
  const loss = g.input('loss_mean', 'float32', [1]);
  o.add(g, x, acc, loss, opt, 1 / microBatches);
  return g;
}

export function buildEval(shape: ModelShape, t: Transfer, layout: ParamSpec[], batch: number, opts: { residualStat?: boolean } = {}): Graph {
  const g = new Graph('eval');
  const P = g.input('params', 'float32', [totalParams(layout)]);
  const { tokens, targets } = dataInputs(g, shape, batch);
  const fwd = buildForward(g, shape, t, layout, P, tokens, targets, { batch, residualStat: opts.residualStat, fusedQkv: !engineOffFromEnv().has('qkv') });
  g.output(g.identity(fwd.loss, 'loss'));
  if (fwd.residualAbsMean) g.output(g.identity(fwd.residualAbsMean, 'residual_abs_mean'));
  return g;
}

/** Graph whose outputs copy its inputs: the only safe way to move state between CPU and GPU. */
export function buildCopy(n: number, names: string[]): Graph {
  const g = new Graph('copy');
  for (const name of names) g.output(g.identity(g.input(name, 'float32', [n]), `${name}_out`));
  return g;
}
