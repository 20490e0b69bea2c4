/**
 * The planner's uncertainty band: which chart columns carry a band, the band's outline, its
 * caption, and the "Scaling fit" list the webview builds from the host's init (local ids stay
 * with their file when the list is rebuilt).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bandCaption, chartSeries, fitOptions, pickFit } from '../../webview/planner/logic';
import { bandPolygon } from '../../webview/shared/chartData';
import { buildFitList, buildHardwareList, defaultRequest, fitIdsToSave, restoreFitIds, runPlan, shapeDetail } from '../../src/extension/logic/plannerBackend';
import type { FitVM, ShapeVM } from '../../webview/shared/messages';
import { tmpDir } from '../reliability/helpers';

const shape = (id: string, params: number, hours: number, loss: number, pareto: boolean, band?: [number, number]): ShapeVM => ({
  id, dModel: 64, nLayers: 2, nHeads: 1, dHead: 64, dFf: 256, params, tokens: 1e9, tokensPerParam: 1e9 / params, flops: 1e20, hours, gpuHours: hours,
  predictedLoss: loss, penalty: 0, memoryGiB: 1, microBatch: 4, mfu: 0.4, pareto, ...(band ? { lossBand: band } : {}),
});

describe('planner: loss band of a local fit', () => {
  it('band columns: the front\'s bands in x order, null off the front and where a shape has none', () => {
    const s = chartSeries([
      shape('a', 3e8, 20, 2.6, true, [2.5, 2.75]),
      shape('b', 1e8, 10, 2.7, true, [2.6, 2.8]),
      shape('c', 2e8, 15, 2.65, false, [2.55, 2.7]), // off the front: no band drawn for it
      shape('d', 4e8, 30, 2.55, true), // on the front but without a band
    ], 'flops');
    assert.deepEqual(s.xs, [10, 15, 20, 30]);
    assert.deepEqual(s.bandLo, [2.6, null, 2.5, null]);
    assert.deepEqual(s.bandHi, [2.8, null, 2.75, null]);
    // GPU-hour budget: the front is the lowest loss so far in params order (b 2.7, a 2.6; c 2.65 is not lower)
    const g = chartSeries([shape('a', 3e8, 5, 2.6, false, [2.5, 2.75]), shape('b', 1e8, 5, 2.7, false, [2.6, 2.8]), shape('c', 4e8, 5, 2.65, false, [2.55, 2.7])], 'gpuHours');
    assert.deepEqual(g.bandLo, [2.6, 2.5, null]);
    assert.deepEqual(g.bandHi, [2.8, 2.75, null]);
    assert.equal(bandCaption(chartSeries([shape('a', 1e8, 1, 2, true)], 'flops'), undefined), undefined, 'no band, no caption');
  });

  it('outline: upper edge left to right, then lower edge right to left, gaps stepped over', () => {
    const poly = bandPolygon([3, 1, 2, 4], [2.0, 2.4, null, 1.9], [2.2, 2.9, 2.5, 2.1]);
    assert.deepEqual(poly, [[1, 2.9], [3, 2.2], [4, 2.1], [4, 1.9], [3, 2.0], [1, 2.4]]);
    // edges given the wrong way round still give the band between them
    assert.deepEqual(bandPolygon([1, 2], [3, 3], [2, 2]), [[1, 3], [2, 3], [2, 2], [1, 2]]);
    assert.deepEqual(bandPolygon([1, 2], [null, NaN], [1, 2]), []);
    assert.deepEqual(bandPolygon([5], [1], [2]), [[5, 2], [5, 1]], 'one point: a vertical bar');
  });

  it('caption names the fit the results were planned with', () => {
    const s = chartSeries([shape('a', 1e8, 1, 2, true, [1.9, 2.1])], 'flops');
    const fit: FitVM = { id: 'local-2', name: 'local fit (st)', source: 'local study st: 6 runs, held-out error 4.5%', local: true };
    assert.match(bandCaption(s, fit)!, /^Shaded: 95% band .*local study st: 6 runs, held-out error 4\.5%$/);
  });

  it('fit list: the host\'s list, else the published fits; a missing choice falls back', () => {
    assert.deepEqual(fitOptions(undefined).map((f) => f.id), ['besiroglu', 'chinchilla']);
    const host: FitVM[] = [{ id: 'besiroglu', name: 'B', source: 's', local: false }, { id: 'local-3', name: 'local fit (x)', source: 'local study x', local: true }];
    assert.deepEqual(fitOptions(host).map((f) => f.id), ['besiroglu', 'local-3']);
    assert.equal(pickFit('local-3', host, 'besiroglu'), 'local-3');
    assert.equal(pickFit('local-1', host, 'besiroglu'), 'besiroglu');
    assert.equal(pickFit(undefined, host, 'besiroglu'), 'besiroglu');
  });

  it('ids survive a window reload through the saved [id, path] pairs; malformed saved values are dropped', () => {
    const root = tmpDir('fitreload');
    try {
      const write = (name: string) => {
        fs.mkdirSync(path.join(root, name), { recursive: true });
        fs.writeFileSync(path.join(root, name, 'fit.json'), JSON.stringify({ format: 'shapelab-fit', name, source: `local study ${name}`, law: { E: 1.1, A: 40, alpha: 0.3, B: 40, beta: 0.3 }, points: [{ N: 1e5, D: 2e6 }] }));
      };
      write('study-a');
      const saved = JSON.parse(JSON.stringify(fitIdsToSave(buildFitList(root)))); // through JSON, as workspaceState stores it
      assert.deepEqual(saved, [['local-1', path.resolve(root, 'study-a', 'fit.json')]]);
      write('study-b'); // finished while the window was closed; sorts first
      const local = (l: ReturnType<typeof buildFitList>) => l.vms.filter((v) => v.local).map((v) => [v.id, v.name]);
      assert.deepEqual(local(buildFitList(root)), [['local-1', 'local fit (study-b)'], ['local-2', 'local fit (study-a)']], 'without the saved ids the numbering moves');
      assert.deepEqual(local(buildFitList(root, restoreFitIds(saved))), [['local-2', 'local fit (study-b)'], ['local-1', 'local fit (study-a)']]);
      for (const bad of [undefined, 'x', {}, [['/etc/passwd', 'x']], [[1, 2]], [['local-1']]]) assert.equal(restoreFitIds(bad), undefined, JSON.stringify(bad));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a rebuilt list keeps each file\'s id; a new study gets a new number, never a reused one', () => {
    const root = tmpDir('fitids');
    try {
      const write = (name: string) => {
        fs.mkdirSync(path.join(root, name), { recursive: true });
        const samples = Array.from({ length: 20 }, (_, i) => ({ E: 1 + 0.01 * i, A: 40, alpha: 0.3, B: 40, beta: 0.3 }));
        fs.writeFileSync(path.join(root, name, 'fit.json'), JSON.stringify({ format: 'shapelab-fit', name, source: `local study ${name}: 6 runs, held-out error 2.0%`, law: { E: 1.1, A: 40, alpha: 0.3, B: 40, beta: 0.3 }, points: [{ N: 1e5, D: 2e6 }], bootstrap: { samples } }));
      };
      write('study-a');
      const first = buildFitList(root);
      assert.deepEqual(first.vms.filter((v) => v.local).map((v) => [v.id, v.name]), [['local-1', 'local fit (study-a)']]);
      // study-b sorts first (newest name first) but study-a keeps local-1
      write('study-b');
      const second = buildFitList(root, first);
      assert.deepEqual(second.vms.filter((v) => v.local).map((v) => [v.id, v.name]), [['local-2', 'local fit (study-b)'], ['local-1', 'local fit (study-a)']]);
      fs.rmSync(path.join(root, 'study-a'), { recursive: true });
      write('study-c');
      const third = buildFitList(root, second);
      assert.deepEqual(third.vms.filter((v) => v.local).map((v) => [v.id, v.name]), [['local-3', 'local fit (study-c)'], ['local-2', 'local fit (study-b)']]);
      // planning with a local fit: the sources name the study and the band
      const hw = buildHardwareList([]);
      const out = runPlan({ ...defaultRequest('h100-sxm', 'completep', hw), fit: 'local-2', budget: 1e18 }, hw, third);
      const fitRow = out.sources.find((x) => x.name === 'scaling fit')!;
      assert.match(fitRow.source, /^local study study-b: 6 runs, held-out error 2\.0%/);
      assert.match(out.sources.find((x) => x.name === 'predicted loss band')!.value, /^95% band over 20 bootstrap fits/);
      // the detail of a shape names the study and the shape's own band
      const d = shapeDetail(out.shapes[0], { ...defaultRequest('h100-sxm', 'completep', hw), fit: 'local-2', budget: 1e18 }, hw, third);
      const row = d.sources.find((x) => x.name === 'predicted loss')!;
      assert.equal(row.source, 'local study study-b: 6 runs, held-out error 2.0%');
      assert.equal(row.value, `${out.shapes[0].predictedLoss.toFixed(4)}, 95% band ${out.shapes[0].lossBand![0].toFixed(4)}-${out.shapes[0].lossBand![1].toFixed(4)}`);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
