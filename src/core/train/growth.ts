/**
 * G_stack growth (Du et al. 2024, arXiv 2405.15319) of a live training run: the depth-L model's
 * blocks are copied into a depth g*L model, on the device, by a small ONNX graph that slices the
 * old flat state into the new layout, so nothing that need not leave the GPU does.
 *
 * Policies (docs: shared notes gstack.md, "Growth under CompleteP"):
 * - multiplier 'keep': keep the old residual multiplier (function = plain stacking, but no longer
 *   CompleteP for the new depth); 'switch': use the new depth's multiplier; 'rescale': switch and
 *   multiply each block's output projections by r_old / r_new so the function equals stacking.
 * - optimizer 'reset' (fresh AdamW, as in the released G_stack code) or 'copy' (copy each source
 *   block's moments to its copies, rescaled consistently when the weights were rescaled).
 */
import * as ort from 'onnxruntime-node';
import { Graph } from '../graph/ir';
import { paramLayout, totalParams, type ModelShape, type ParamSpec } from '../model/gpt';
import type { Transfer } from '../param/parameterization';
import type { GrowthConfig } from '../runs/configSchema';
import { growthSources } from '../model/growthOrder';
import { Engine } from './engine';
import { concatTree } from './graphs';
import { createSession, disposeTensor } from './runtime';

export { growthSources, grownDepth } from '../model/growthOrder';

const isOutputProjection = (name: string) => /^h\.\d+\.(attn\.proj|mlp\.proj)\.(weight|bias)$/.test(name);

export interface GrowthPlan {
  newLayout: ParamSpec[];
  /** For each new tensor: the old tensor it copies and the scale applied to it. */
  mapping: { to: ParamSpec; from: ParamSpec; scale: number }[];
}

export function planGrowth(oldLayout: ParamSpec[], newLayout: ParamSpec[], sources: number[], weightScale: number): GrowthPlan {
  const byName = new Map(oldLayout.map((p) => [p.name, p]));
  const mapping = newLayout.map((to) => {
    const name = to.block === undefined ? to.name : to.name.replace(/^h\.\d+\./, `h.${sources[to.block]}.`);
    const from = byName.get(name);
    if (!from) throw new Error(`growth: no source tensor for ${to.name}`);
    return { to, from, scale: to.block !== undefined && isOutputProjection(to.name) ? weightScale : 1 };
  });
  return { newLayout, mapping };
}

/** The device graph: new flat state = concatenation of scaled slices of the old one. */
export function buildGrowthGraph(plan: GrowthPlan, oldN: number, opt: 'reset' | 'copy'): Graph {
  const g = new Graph('growth');
  const ins = { params: g.input('params', 'float32', [oldN]), m: g.input('m', 'float32', [oldN]), v: g.input('v', 'float32', [oldN]) };
  const newN = totalParams(plan.newLayout);
  const gather = (x: string, scaleOf: (s: number) => number) =>
    concatTree(g, plan.mapping.map(({ from, scale }) => g.scale(g.slice(x, 0, from.offset, from.offset + from.size), scale === 1 ? 1 : scaleOf(scale))), 0);
  g.output(g.identity(gather(ins.params, (s) => s), 'params_out'));
  if (opt === 'copy') {
    // W' = k W makes dL/dW' = dL/dW / k: first moments scale by 1/k, second moments by 1/k^2.
    g.output(g.identity(gather(ins.m, (s) => 1 / s), 'm_out'));
    g.output(g.identity(gather(ins.v, (s) => 1 / (s * s)), 'v_out'));
  } else {
    g.output(g.identity(g.zeros([newN]), 'm_out'));
    g.output(g.identity(g.zeros([newN]), 'v_out'));
  }
  return g;
}

export interface GrowthResult {
  engine: Engine;
  depth: number;
  transfer: Transfer;
}

/**
 * Grows the engine's model. `makeEngine(depth, transfer)` compiles the new depth's sessions;
 * `transferAt(depth)` is the CompleteP transfer (one source of truth for hyperparameters).
 */
export async function growEngine(
  engine: Engine,
  shape: ModelShape,
  growth: GrowthConfig,
  transferAt: (depth: number) => Transfer,
  makeEngine: (depth: number, t: Transfer) => Promise<Engine>,
): Promise<GrowthResult> {
  const depth = shape.nLayers;
  const sources = growthSources(depth, growth.factor, growth.operator);
  const newDepth = sources.length;
  const tOld = engine.opts.transfer;
  const tNew = transferAt(newDepth);
  const rOld = tOld.residualMultiplier, rNew = tNew.residualMultiplier;
  const t: Transfer = growth.multiplier === 'keep' ? { ...tNew, residualMultiplier: rOld } : tNew;
  const weightScale = growth.multiplier === 'rescale' ? rOld / rNew : 1;
  const newLayout = paramLayout({ ...shape, nLayers: newDepth }, t);
  const plan = planGrowth(engine.layout, newLayout, sources, weightScale);
  const graph = buildGrowthGraph(plan, engine.nParams, growth.optimizer);
  const ep = engine.opts.ep;
  const session = await createSession(graph, ep, { gpuOutputs: ['params_out', 'm_out', 'v_out'] });
  const next = await makeEngine(newDepth, t);
  const old = engine.takeState();
  try {
    const out = await session.run(old);
    for (const k of ['params', 'm', 'v'] as const) disposeTensor(old[k]);
    try {
      // A GPU-side copy into the new engine's own tensors: the growth session's outputs must be
      // disposed before the session is released (the other order crashes onnxruntime-node).
      await next.adoptState({ params: out.params_out, m: out.m_out, v: out.v_out });
    } finally {
      for (const t of Object.values(out)) disposeTensor(t);
    }
  } catch (e) {
    await next.release();
    throw e;
  } finally {
    for (const k of ['params', 'm', 'v'] as const) disposeTensor(old[k]);
    await session.release();
  }
  return { engine: next, depth: newDepth, transfer: t };
}

export type { ort };
