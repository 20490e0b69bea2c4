/** Sizing a study grid to the user's minutes and to the data it has (core/study/study.ts sizeGrid). */
import { strict as assert } from 'node:assert';
import { sizeGrid, MAX_EPOCHS, type SizeRequest } from '../../src/core/study/study';
import { WIDTH_LADDER } from '../../src/core/study/grid';
import { DEFAULT_BASE } from '../../src/core/param/parameterization';
import type { DeviceTiming } from '../../src/core/study/timeModel';

// The timing the H200 measured for the first study (docs/results/h200-study-a/study/study.json).
const H200: DeviceTiming = {
  ep: 'webgpu', matmulTflops: 16.433, matmulSize: 2048, perBlockSec: 0.005446, setupSec: 0.314,
  probe: { dModel: 32, nLayers: 2, stepSec: 0.0165, steps: 8 }, method: 'test',
};
const req = (minutes: number, dataTokens?: number): SizeRequest => ({
  name: 's', depths: [2, 4], widthCount: 4, minutes, tpp: 20, tppSpread: 4, context: 128, batchSize: 64,
  parameterization: 'completep', base: DEFAULT_BASE, data: { source: 'brown', tokenizer: 'byte' }, ep: 'webgpu', seed: 1, evalBatches: 16,
  ...(dataTokens ? { dataTokens } : {}),
});
const total = (p: number[]) => p.reduce((a, b) => a + b, 0);
const start = (w: number[]) => WIDTH_LADDER.indexOf(w[0]);

describe('study: grid sizing', () => {
  it('picks the largest ladder window that fits 85% of the minutes; more minutes never pick a smaller one', () => {
    let prev = -1;
    for (const m of [3, 7, 20, 60, 240]) {
      const s = sizeGrid(req(m), H200);
      assert.ok(total(s.predicted) <= m * 60 * 0.85, `${m} min: predicted ${total(s.predicted)} s`);
      const i = start(s.request.widths);
      assert.ok(i >= prev, `${m} min chose a smaller window`);
      prev = i;
      if (i + 4 < WIDTH_LADDER.length) {
        const next = sizeGrid({ ...req(m), widths: WIDTH_LADDER.slice(i + 1, i + 5) }, H200);
        assert.ok(total(next.predicted) > m * 60 * 0.85, `${m} min: the next window would also fit`);
      }
    }
    assert.ok(prev > 0, 'four hours should buy more than the smallest window');
  });

  it(`with the data's token count, no window whose largest run repeats it more than ${MAX_EPOCHS} times (unless the smallest already does)`, () => {
    const data = 5_366_242; // training bytes of the embedded Brown corpus (byte tokenizer)
    const free = sizeGrid(req(240), H200);
    const capped = sizeGrid(req(240, data), H200);
    const maxTok = (g: { tokens: number }[]) => Math.max(...g.map((r) => r.tokens));
    assert.ok(maxTok(free.grid) > MAX_EPOCHS * data, 'four hours alone would repeat the corpus more than 4x');
    assert.ok(start(capped.request.widths) < start(free.request.widths));
    assert.ok(start(capped.request.widths) === 0 || maxTok(capped.grid) <= MAX_EPOCHS * data, `largest run ${maxTok(capped.grid)} tokens`);
    const oneUp = sizeGrid({ ...req(240), widths: WIDTH_LADDER.slice(start(capped.request.widths) + 1, start(capped.request.widths) + 5) }, H200);
    assert.ok(maxTok(oneUp.grid) > MAX_EPOCHS * data, 'the next window up fits the data too: the cap stopped too early');
  });
});
