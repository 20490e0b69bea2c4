import { strict as assert } from 'node:assert';
import { buildSeries, dedupeByStep, ema, growthMarkers, markerNear, downsampleIndices, fmt } from '../../webview/shared/chartData';
import { sortShapes, paretoSeries } from '../../webview/planner/table';
import type { MetricPoint, ShapeVM } from '../../webview/shared/messages';

describe('chart data shaping', () => {
  it('ema: weight 0 is identity; debiased start; gaps stay gaps', () => {
    assert.deepEqual(ema([1, 2, 3], 0), [1, 2, 3]);
    const s = ema([4, 4, 4], 0.9);
    for (const v of s) assert.ok(Math.abs((v as number) - 4) < 1e-12, 'a constant stays constant (debiased)');
    const g = ema([1, null, NaN, 3], 0.5);
    assert.equal(g[1], null);
    assert.equal(g[2], null);
    assert.ok((g[3] as number) > 1 && (g[3] as number) < 3);
    assert.deepEqual(ema([1, 2], NaN), [1, 2], 'bad weight -> no smoothing');
  });

  it('dedupeByStep keeps the newest row of a re-logged step (resume) and merges eval rows', () => {
    const rows: MetricPoint[] = [{ step: 1, loss: 5 }, { step: 2, loss: 4 }, { step: 3, loss: 3.5 }, { step: 2, loss: 4.2 }, { step: 3, loss: 3.4 }, { step: 3, evalLoss: 3.6 }];
    const d = dedupeByStep(rows);
    assert.deepEqual(d.map((r) => r.step), [1, 2, 3]);
    assert.equal(d[1].loss, 4.2);
    assert.deepEqual(d[2], { step: 3, loss: 3.4, evalLoss: 3.6 });
  });

  it('buildSeries: aligned columns, ascending x, nulls where a metric is absent', () => {
    const rows: MetricPoint[] = [{ step: 2, loss: 4, lr: 0.1 }, { step: 1, loss: 5, lr: 0.05, tokensPerSec: 100 }, { step: 3, loss: 3, evalLoss: 3.5 }];
    const s = buildSeries(rows, { smoothing: 0 });
    assert.deepEqual(s.step, [1, 2, 3]);
    assert.deepEqual(s.loss, [5, 4, 3]);
    assert.deepEqual(s.lossSmoothed, [5, 4, 3]);
    assert.deepEqual(s.evalLoss, [null, null, 3.5]);
    assert.deepEqual(s.tokensPerSec, [100, null, null]);
    for (const k of Object.keys(s) as Array<keyof typeof s>) assert.equal(s[k].length, 3, k);
  });

  it('buildSeries downsamples long runs but keeps every eval point and the last step', () => {
    const rows: MetricPoint[] = [];
    for (let i = 1; i <= 100000; i++) rows.push(i % 997 === 0 ? { step: i, loss: 1, evalLoss: 1 } : { step: i, loss: 2 });
    const s = buildSeries(rows, { maxPoints: 2000 });
    assert.ok(s.step.length <= 2000 + 200, `${s.step.length} points`);
    assert.equal(s.step[s.step.length - 1], 100000);
    assert.equal(s.evalLoss.filter((v) => v !== null).length, Math.floor(100000 / 997));
    for (let i = 1; i < s.step.length; i++) assert.ok(s.step[i] > s.step[i - 1]);
    assert.deepEqual(downsampleIndices([{ step: 1 }, { step: 2 }], 10), [0, 1]);
  });

  it('growth markers: one per growth event with depth and policy in the label', () => {
    const m = growthMarkers([
      { type: 'start', step: 0 },
      { type: 'growth', step: 300, depthBefore: 4, depthAfter: 16, operator: 'G_stack', lrPolicy: 'continue' },
      { type: 'growth', step: 100, depthBefore: 2, depthAfter: 4 },
      { type: 'eval', step: 100 },
    ]);
    assert.deepEqual(m.map((x) => x.step), [100, 300]);
    assert.equal(m[0].policy, 'default');
    assert.match(m[1].label, /step 300: depth 4 \u2192 16 \(operator G_stack, lr continue\)/);
  });

  it('markerNear picks the nearest marker within tolerance', () => {
    const ms = growthMarkers([{ type: 'growth', step: 10 }, { type: 'growth', step: 20 }]);
    const toPx = (s: number) => s * 10;
    assert.equal(markerNear(ms, 103, toPx)?.step, 10);
    assert.equal(markerNear(ms, 198, toPx)?.step, 20);
    assert.equal(markerNear(ms, 150, toPx), undefined);
  });

  it('fmt', () => {
    assert.equal(fmt(1234567), '1.23M');
    assert.equal(fmt(1e21), '1.00e21');
    assert.equal(fmt(null), '\u2013');
    assert.equal(fmt(0.5), '0.5');
  });
});

describe('planner table helpers', () => {
  const mk = (id: string, loss: number, hours: number | null, params: number, pareto = false): ShapeVM => ({
    id, dModel: 128, nLayers: 2, nHeads: 2, dHead: 64, dFf: 512, params, tokens: 1, tokensPerParam: 20, flops: 1, hours, gpuHours: hours,
    predictedLoss: loss, penalty: 0, memoryGiB: 1, microBatch: 1, mfu: null, pareto,
  });
  const shapes = [mk('a', 3, 10, 5), mk('b', 2.5, null, 9), mk('c', 2.8, 5, 1, true), mk('d', 2.6, 20, 7, true)];

  it('sorts both directions, nulls last', () => {
    assert.deepEqual(sortShapes(shapes, 'hours', 1).map((s) => s.id), ['c', 'a', 'd', 'b']);
    assert.deepEqual(sortShapes(shapes, 'hours', -1).map((s) => s.id), ['d', 'a', 'c', 'b']);
    assert.deepEqual(sortShapes(shapes, 'predictedLoss', 1).map((s) => s.id), ['b', 'd', 'c', 'a']);
    assert.deepEqual(sortShapes(shapes, 'mfu', 1).map((s) => s.id), ['a', 'b', 'c', 'd'], 'all null: original order');
  });

  it('pareto series: ascending hours, front only on Pareto shapes', () => {
    const p = paretoSeries(shapes);
    assert.deepEqual(p.xs, [5, 10, 20]);
    assert.deepEqual(p.all, [2.8, 3, 2.6]);
    assert.deepEqual(p.front, [2.8, null, 2.6]);
    assert.deepEqual(p.order.map((s) => s.id), ['c', 'a', 'd']);
  });
});
