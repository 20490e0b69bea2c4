/**
 * Train From Plan (palette): a plan file -> what its proxy needs (planned shape,
 * parameterization, base hyperparameters), and the confirmation text that lists the transferred
 * hyperparameters per group. The sizing rule itself is src/core/plan/proxy.ts. No `vscode` import.
 */
import { PARAMETERIZATIONS, type BaseHparams, type Parameterization } from '../../core/param/parameterization';
import { fmt } from '../../../webview/shared/chartData';
import type { PlannedShape, ProxyShape, ProxyTransfer } from '../../core/plan/proxy';

export interface PlanProxySource {
  planned: PlannedShape;
  parameterization: Parameterization;
  base: BaseHparams;
  label: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Reads a plan document ("Export Plan" JSON); throws a one-line Error naming the field. */
export function proxySourceFromPlan(doc: unknown): PlanProxySource {
  if (!isObj(doc) || doc.format !== 'shapelab-plan') throw new Error('not a ShapeLab plan (format must be "shapelab-plan")');
  const p = doc.parameterization;
  if (typeof p !== 'string' || !(PARAMETERIZATIONS as readonly string[]).includes(p)) throw new Error(`plan.parameterization: expected one of ${PARAMETERIZATIONS.join(', ')}`);
  const sh = doc.shape;
  if (!isObj(sh)) throw new Error('plan.shape: expected an object');
  const int = (k: string): number => {
    const v = sh[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1 << 20) throw new Error(`plan.shape.${k}: expected a positive integer`);
    return v;
  };
  const dModel = int('dModel');
  const nHeads = int('nHeads');
  const planned: PlannedShape = { dModel, nLayers: int('nLayers'), nHeads, dHead: sh.dHead === undefined ? Math.max(1, Math.floor(dModel / nHeads)) : int('dHead'), dFf: sh.dFf === undefined ? 4 * dModel : int('dFf'), seq: int('seq') };
  const b = doc.base;
  if (!isObj(b)) throw new Error('plan.base: expected an object');
  const num = (k: string, min: number, max: number): number => {
    const v = b[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new Error(`plan.base.${k}: expected a number in [${min}, ${max}]`);
    return v;
  };
  const base: BaseHparams = { baseWidth: num('baseWidth', 1, 1e6), baseDepth: num('baseDepth', 1, 1e4), lr: num('lr', 1e-12, 10), initStd: num('initStd', 0, 10), eps: num('eps', 0, 1), weightDecay: num('weightDecay', 0, 100) };
  return { planned, parameterization: p as Parameterization, base, label: `proxy-d${dModel}-L${planned.nLayers}` };
}

/** The confirmation text: proxy vs planned shape and the per-group hyperparameters of both. */
export function proxyConfirmText(planned: PlannedShape, proxy: ProxyShape, t: ProxyTransfer, steps: number, data: string, params: number): string {
  const lines = [
    `Proxy d_model ${proxy.dModel} x ${proxy.nLayers} layers (planned ${planned.dModel} x ${planned.nLayers}), ${proxy.nHeads} heads x ${proxy.dHead}, d_ff ${proxy.dFf}, context ${proxy.context}; ${fmt(params)} params; ${steps} steps on ${data}.`,
    '',
    'Transferred hyperparameters (proxy | plan):',
    ...t.rows.map((r) => `${r.group}: lr ${fmt(r.proxy.lr, 3)} | ${fmt(r.plan.lr, 3)}, init std ${fmt(r.proxy.initStd, 3)} | ${fmt(r.plan.initStd, 3)}, eps ${fmt(r.proxy.eps, 3)} | ${fmt(r.plan.eps, 3)}, wd ${fmt(r.proxy.weightDecay, 3)} | ${fmt(r.plan.weightDecay, 3)}`),
    `residual multiplier ${t.proxy.residualMultiplier.toPrecision(4)} | ${t.plan.residualMultiplier.toPrecision(4)}; output multiplier ${t.proxy.outputMultiplier.toPrecision(4)} | ${t.plan.outputMultiplier.toPrecision(4)}`,
    ...t.notes,
  ];
  return lines.join('\n');
}
