import { strict as assert } from 'node:assert';
import { chartSeries, convertBudget, fieldsOf, flopsPerGpuHourFromPeak, flopsPerGpuHourFromShapes, friendlyError, parseNumber, rawRequest, sameRequest } from '../../webview/planner/logic';
import { parsePlannerMessage, validatePlanRequest, type PlanRequest, type ShapeVM } from '../../webview/shared/messages';
import { attempt } from '../../webview/shared/validate';
import { buildHardwareList, defaultRequest, proxyConfig, proxyPreview, runPlan, shapeDetail } from '../../src/extension/logic/plannerBackend';
import { validateConfig } from '../../src/core/runs/configSchema';
import { planDocument } from '../../src/extension/logic/plannerBackend';
import { proxyConfirmText, proxySourceFromPlan } from '../../src/extension/logic/proxyPlan';
import { proxyCost, proxyShape, proxyTransfer } from '../../src/core/plan/proxy';

const shape = (id: string, params: number, hours: number | null, loss: number, pareto = false, flops = 1e20): ShapeVM => ({
  id, dModel: 64, nLayers: 2, nHeads: 1, dHead: 64, dFf: 256, params, tokens: 1e9, tokensPerParam: 1e9 / params, flops, hours, gpuHours: hours === null ? null : hours * 8,
  predictedLoss: loss, penalty: 0, memoryGiB: 1, microBatch: 4, mfu: 0.4, pareto,
});

describe('planner webview logic (pure)', () => {
  it('FLOPs budget: the chart is loss vs hours with the planner\'s Pareto set', () => {
    const s = chartSeries([shape('a', 3e8, 20, 2.6, true), shape('b', 1e8, 10, 2.7, true), shape('c', 2e8, 20, 2.65), shape('d', 1e8, null, 2.5)], 'flops');
    assert.equal(s.xKey, 'hours');
    assert.deepEqual(s.xs, [10, 20, 20]);
    assert.deepEqual(s.all, [2.7, 2.6, 2.65]);
    assert.deepEqual(s.front, [2.7, 2.6, null]);
    assert.deepEqual(s.order.map((x) => x.id), ['b', 'a', 'c']);
  });

  it('GPU-hour budget: every shape has the same hours, so x is parameters and the front is the lowest loss so far', () => {
    const shapes = [shape('a', 3e8, 125, 2.60), shape('b', 1e8, 125, 2.70), shape('c', 2e8, 125, 2.72), shape('d', 4e8, 125, 2.58), shape('e', 5e8, 125, 2.59)];
    const s = chartSeries(shapes, 'gpuHours');
    assert.equal(s.xKey, 'params');
    assert.deepEqual(s.xs, [1e8, 2e8, 3e8, 4e8, 5e8]);
    assert.deepEqual(s.front, [2.70, null, 2.60, 2.58, null]);
    assert.equal(new Set(chartSeries(shapes, 'flops').xs).size, 1, 'the hours axis would collapse to one x');
  });

  it('switching the budget kind converts the number at the time model\'s FLOPs per GPU-hour', () => {
    const rate = flopsPerGpuHourFromShapes([shape('a', 1, 10, 2, false, 8e19), shape('b', 1, 20, 2, false, 3.2e20), shape('c', 1, 10, 2, false, 1.6e20)]);
    // ratios flops / gpuHours: 8e19/80 = 1e18, 3.2e20/160 = 2e18, 1.6e20/80 = 2e18 -> median 2e18
    assert.equal(rate, 2e18);
    assert.equal(convertBudget(1e20, 'flops', 'gpuHours', 2e18), 50);
    assert.equal(convertBudget(50, 'gpuHours', 'flops', 2e18), 1e20);
    assert.equal(convertBudget(1234567, 'gpuHours', 'flops', 3e18), 3.7e24, 'three significant digits');
    // H100 SXM fp32 67 TFLOP/s x 0.5 x 3600 s
    assert.equal(flopsPerGpuHourFromPeak(67, 0.5), 1.206e17);
    // an invalid or missing old value, or no rate: the new kind's default
    assert.equal(convertBudget(undefined, 'flops', 'gpuHours', 2e18), 1000);
    assert.equal(convertBudget(5, 'flops', 'gpuHours', 2e18), 1000, '5 FLOPs is not a FLOPs budget');
    assert.equal(convertBudget(NaN, 'gpuHours', 'flops', 2e18), 1e20);
    assert.equal(convertBudget(1e20, 'flops', 'gpuHours', undefined), 1000);
    // clamped to the new kind's range
    assert.equal(convertBudget(1e30, 'flops', 'gpuHours', 1e17), 1e9);
  });

  it('form fields round-trip through the validator; typed text is parsed strictly', () => {
    const hw = buildHardwareList([]);
    const req = defaultRequest('h100-sxm', 'completep', hw);
    assert.ok(sameRequest(validatePlanRequest(rawRequest(fieldsOf(req)), 'input'), validatePlanRequest(req)));
    assert.equal(parseNumber(' 1_000 '), 1000);
    assert.equal(parseNumber('1e20'), 1e20);
    assert.ok(Number.isNaN(parseNumber('6a')!));
    assert.equal(parseNumber(''), undefined);
  });

  it('out-of-range budgets name the bound of their own kind; GPU count -1 is an error, not 1', () => {
    const hw = buildHardwareList([]);
    const base = fieldsOf(defaultRequest('h100-sxm', 'completep', hw));
    const err = (f: Record<string, string>) => {
      const r = attempt(() => validatePlanRequest(rawRequest({ ...base, ...f }), 'input'));
      assert.equal(r.ok, false, JSON.stringify(f));
      return friendlyError((r as { error: string }).error);
    };
    assert.equal(err({ budget: '0.5' }), 'Budget: training FLOPs must be between 1e9 and 1e30 (got 0.5)');
    assert.equal(err({ budget: '1e31' }), 'Budget: training FLOPs must be between 1e9 and 1e30 (got 1e31)');
    assert.equal(err({ budgetKind: 'gpuHours', budget: '0.0001' }), 'Budget: GPU-hours must be between 1e-3 and 1e9 (got 1e-4)');
    assert.equal(err({ budgetKind: 'gpuHours', budget: '2e9' }), 'Budget: GPU-hours must be between 1e-3 and 1e9 (got 2e9)');
    assert.equal(err({ gpuCount: '-1' }), 'GPU count: must be >= 1');
    assert.equal(err({ gpuCount: '1.5' }), 'GPU count: expected an integer');
    assert.equal(err({ gpuCount: '6a' }), 'GPU count: expected a finite number');
  });

  it('host side: -1 GPUs is rejected at the message boundary too', () => {
    const hw = buildHardwareList([]);
    const r = parsePlannerMessage({ type: 'plan', requestId: 1, request: { ...defaultRequest('h100-sxm', 'completep', hw), gpuCount: -1 } });
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /gpuCount: must be >= 1/);
  });
});

describe('planner backend: optimizer steps and the proxy', () => {
  const hw = buildHardwareList([]);
  const req = (o: Partial<PlanRequest> = {}): PlanRequest => ({ ...defaultRequest('h100-sxm', 'completep', hw), ...o });

  it('100,000 GPUs leave a handful of optimizer steps: the plan warns; 8 GPUs do not', () => {
    const big = req({ gpuCount: 100_000 });
    const out = runPlan(big, hw);
    const best = [...out.shapes].sort((a, b) => a.predictedLoss - b.predictedLoss)[0];
    // by hand: tokens / (100,000 GPUs x micro-batch x 2048 tokens) per step
    const steps = Math.floor(best.tokens / (100_000 * best.microBatch * 2048));
    assert.ok(steps < 1000, `steps ${steps}`);
    const w = out.warnings.find((x) => /optimizer steps/.test(x));
    assert.ok(w, out.warnings.join(' | '));
    assert.match(w!, new RegExp(`^only ${steps.toLocaleString('en-US')} optimizer steps`));
    assert.equal(runPlan(req(), hw).warnings.some((x) => /optimizer steps/.test(x)), false);
  });

  it('proxy preview: planned depth, narrower width, hyperparameters per group for proxy and plan', () => {
    const r = req({ budget: 1e19 });
    const out = runPlan(r, hw);
    const s = out.shapes[0];
    const d = shapeDetail(s, r, hw);
    const p = proxyPreview(s, r, { shapeId: s.id, width: d.proxyWidth, steps: 50, data: 'brown', tokenizer: 'byte' }, 'Brown');
    assert.equal(p.proxy.nLayers, s.nLayers);
    assert.equal(p.proxy.dModel, d.proxyWidth);
    assert.ok(p.proxy.dModel < s.dModel);
    assert.equal(p.rows.length, 6);
    const hidden = p.rows.find((x) => x.group === 'hidden')!;
    // CompleteP hidden LR = lr / m_N: the ratio proxy/plan is the width ratio
    assert.ok(Math.abs(hidden.proxy.lr / hidden.plan.lr - s.dModel / p.proxy.dModel) < 1e-9);
    const cfg = validateConfig(proxyConfig(s, r, p.choice, { source: 'brown' }));
    assert.equal(cfg.model.nLayers, s.nLayers);
    assert.equal(cfg.model.dModel, d.proxyWidth);
    assert.equal(cfg.steps, 50);
    assert.equal(cfg.label, `proxy-d${s.dModel}-L${s.nLayers}`);
    assert.throws(() => proxyPreview(s, r, { ...p.choice, width: s.dModel + 8 }, 'Brown'), /planned width/);
  });

  it('proxy messages are validated; a path never crosses from the webview', () => {
    assert.equal(parsePlannerMessage({ type: 'trainProxy', shapeId: 'd64-L2-h1-f256', width: 64, steps: 10, data: 'brown', tokenizer: 'byte' }).ok, true);
    assert.equal(parsePlannerMessage({ type: 'trainProxy', shapeId: 'd64-L2-h1-f256', width: 64, steps: 10, data: '/etc/passwd', tokenizer: 'byte' }).ok, false);
    assert.equal(parsePlannerMessage({ type: 'trainProxy', shapeId: 'd64-L2-h1-f256', width: 64, steps: 10, data: 'brown', tokenizer: 'byte', path: '/x' }).ok, false);
    assert.equal(parsePlannerMessage({ type: 'pickData', kind: 'folder' }).ok, true);
    assert.equal(parsePlannerMessage({ type: 'inputs', fields: { budget: '1e2', gpuCount: '-1' } }).ok, true);
    assert.equal(parsePlannerMessage({ type: 'inputs', fields: { evil: 'x' } }).ok, false);
    assert.equal(parsePlannerMessage({ type: 'inputs', fields: { budget: 'x'.repeat(101) } }).ok, false);
  });

  it('Train From Plan: an exported plan file gives the same proxy as "Train this"; bad plans are named', () => {
    const r = req({ budget: 1e19, parameterization: 'mup' });
    const s = runPlan(r, hw).shapes[0];
    const doc = JSON.parse(JSON.stringify(planDocument(s, r, hw)));
    const src = proxySourceFromPlan(doc);
    assert.deepEqual(src.planned, { dModel: s.dModel, nLayers: s.nLayers, nHeads: s.nHeads, dHead: s.dHead, dFf: s.dFf, seq: r.context });
    assert.equal(src.parameterization, 'mup');
    assert.deepEqual(src.base, r.base);
    const width = shapeDetail(s, r, hw).proxyWidth;
    const fromPanel = proxyConfig(s, r, { shapeId: s.id, width, steps: 40, data: 'brown', tokenizer: 'byte' }, { source: 'brown' });
    const p = proxyShape(src.planned, { width });
    assert.equal(p.nLayers, s.nLayers);
    const text = proxyConfirmText(src.planned, p, proxyTransfer(src.planned, p, src.base, src.parameterization), 40, 'Brown', proxyCost(p, 256).params);
    assert.match(text, new RegExp(`^Proxy d_model ${width} x ${s.nLayers} layers \\(planned ${s.dModel} x ${s.nLayers}\\)`));
    assert.equal(text.split('\n').filter((l) => /^(embedding|preLN|hidden|hiddenBias|finalLN|unembedding): lr /.test(l)).length, 6);
    assert.match(text, /muP transfers across width only/);
    assert.equal((fromPanel.model as { nLayers: number }).nLayers, p.nLayers);
    assert.throws(() => proxySourceFromPlan({ ...doc, format: 'x' }), /not a ShapeLab plan/);
    assert.throws(() => proxySourceFromPlan({ ...doc, parameterization: 'x; rm -rf' }), /plan\.parameterization/);
    assert.throws(() => proxySourceFromPlan({ ...doc, shape: { ...doc.shape, nLayers: -3 } }), /plan\.shape\.nLayers/);
    assert.throws(() => proxySourceFromPlan({ ...doc, base: { ...doc.base, lr: '1' } }), /plan\.base\.lr/);
  });
});
