import { strict as assert } from 'node:assert';
import { buildSeries, cumulativeFlops, placeMarkers, resumeMarkers, growthMarkers, rowsToPlot, toCsv, wallMinutes } from '../../webview/shared/chartData';
import type { MetricPoint, RunEvent } from '../../webview/shared/messages';
import { parseMonitorMessage } from '../../webview/shared/messages';
import { chartSvg } from '../../webview/shared/svg';

// A run stopped after step 6 (checkpoint at 4), resumed from 4: steps 5-6 of the first attempt
// are superseded by the second attempt's 5-8. Times: 1 s per step, 60 s down between attempts.
const T0 = 1_000_000;
const first: MetricPoint[] = [1, 2, 3, 4, 5, 6].map((s) => ({ step: s, tokens: s * 100, loss: 10 - s, time: T0 + s * 1000, depth: 2 }));
const second: MetricPoint[] = [5, 6, 7, 8].map((s) => ({ step: s, tokens: s * 100, loss: 5 - s / 10, time: T0 + 66_000 + (s - 4) * 1000, depth: 2 }));
const events: RunEvent[] = [
  { type: 'start', step: 0, time: T0 },
  { type: 'stop', step: 6, time: T0 + 6500 },
  { type: 'resume', step: 4, tokens: 400, time: T0 + 66_000 },
];

describe('chart data: attempts, axes, markers, CSV', () => {
  it('rowsToPlot: the current history as sent, eval rows merged; greyed rows are the earlier attempts the data lists', () => {
    const current = [...first.slice(0, 4), { step: 4, evalLoss: 6.5 }, ...second];
    const r = rowsToPlot(current, [{ attempt: 1, metrics: first.slice(4) }]);
    assert.deepEqual(r.rows.map((x) => x.step), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(r.rows[4].loss, 4.5, 'step 5 comes from the current attempt');
    assert.equal(r.rows[3].evalLoss, 6.5);
    assert.deepEqual(r.superseded.map((x) => [x.step, x.loss]), [[5, 5], [6, 4]]);
    assert.deepEqual(rowsToPlot(first).superseded, [], 'no earlier attempts: nothing greyed');
    // a restart's attempt starts again at step 1: no guessing from the step order splits the current rows
    const r2 = rowsToPlot(second, [{ attempt: 1, metrics: first }]);
    assert.deepEqual(r2.rows.map((x) => x.step), [5, 6, 7, 8]);
    assert.deepEqual(r2.superseded.map((x) => x.step), [1, 2, 3, 4, 5, 6]);
  });

  it('x by tokens: the superseded points sit at the same x as their replacements', () => {
    const r = rowsToPlot([...first.slice(0, 4), ...second], [{ attempt: 1, metrics: first.slice(4) }]);
    const s = buildSeries(r.rows, { x: 'tokens', smoothing: 0, superseded: r.superseded, events });
    assert.deepEqual(s.x, [100, 200, 300, 400, 500, 600, 700, 800]);
    assert.deepEqual(s.lossOld, [null, null, null, null, 5, 4, null, null]);
    assert.deepEqual(s.loss, [9, 8, 7, 6, 4.5, 4.4, 4.3, 4.2]);
  });

  it('x by wall time excludes the time the run was down', () => {
    const f = wallMinutes(first, events, [...first, ...second]);
    assert.equal(f(T0 + 6000), 0.1);
    // step 5 of attempt 2 ran 1 s after the resume: 6 s of attempt 1 + 1 s
    assert.equal(f(T0 + 67_000), 7 / 60);
    const r = rowsToPlot([...first.slice(0, 4), ...second], [{ attempt: 1, metrics: first.slice(4) }]);
    const s = buildSeries(r.rows, { x: 'time', smoothing: 0, superseded: r.superseded, events });
    assert.deepEqual(s.x.map((v) => Math.round(v * 60)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const m = placeMarkers(resumeMarkers(events), s, 'time', events, [...first, ...second]);
    assert.equal(Math.round(m[0].x * 60), 6, 'resume marker at the restart, after the 6 s of attempt 1');
  });

  it('FLOPs: 6 N tokens with N of the depth each row trained at', () => {
    const rows: MetricPoint[] = [{ step: 1, tokens: 10, depth: 2 }, { step: 2, tokens: 20, depth: 2 }, { step: 3, tokens: 30, depth: 4 }];
    // by hand: 6*1000*10, +6*1000*10, +6*3000*10
    assert.deepEqual(cumulativeFlops(rows, { 2: 1000, 4: 3000 }), [60_000, 120_000, 300_000]);
    assert.deepEqual(cumulativeFlops([{ step: 1, tokens: 5, flops: 123 }], undefined), [123], 'logged FLOPs win');
    assert.deepEqual(cumulativeFlops(rows, undefined), [null, null, null], 'no N: no FLOPs axis');
  });

  it('markers follow the axis: growth at step 3 on the tokens axis is at its tokens', () => {
    const rows: MetricPoint[] = [1, 2, 3, 4].map((s) => ({ step: s, tokens: s * 64, loss: 1 }));
    const ev: RunEvent[] = [{ type: 'growth', step: 3, depthBefore: 2, depthAfter: 4 }, { type: 'resume', step: 2 }];
    const s = buildSeries(rows, { x: 'tokens' });
    const g = placeMarkers(growthMarkers(ev), s, 'tokens');
    assert.equal(g[0].x, 192);
    const between = placeMarkers([{ ...growthMarkers(ev)[0], step: 2.5 }], s, 'tokens');
    assert.equal(between[0].x, 160, 'between rows: linear');
    const r = resumeMarkers(ev);
    assert.equal(r.length, 1);
    assert.equal(r[0].kind, 'resume');
    assert.match(r[0].label, /step 2: resumed/);
  });

  it('smoothed tokens/s damps the noise (at least weight 0.8)', () => {
    const rows: MetricPoint[] = Array.from({ length: 200 }, (_, i) => ({ step: i + 1, tokensPerSec: i % 2 ? 10_000 : 48_000 }));
    const s = buildSeries(rows, { smoothing: 0 });
    const tail = s.tokensPerSecSmoothed.slice(100) as number[];
    const spread = Math.max(...tail) - Math.min(...tail);
    assert.ok(spread < 0.25 * 38_000, `spread ${spread}`);
    const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
    assert.ok(Math.abs(mean - 29_000) < 1000, `mean ${mean}`);
  });

  it('CSV: header, one line per plotted x, empty cells for gaps, quoted labels', () => {
    const csv = toCsv(['step', 'train, raw', 'eval'], [[1, 2, 3], [5, null, 4], [null, null, 4.5]]);
    assert.equal(csv, 'step,"train, raw",eval\n1,5,\n3,4,4.5\n');
  });

  it('save messages: PNG must be a PNG data URL, SVG must be SVG, bad chart names are refused', () => {
    assert.ok(parseMonitorMessage({ type: 'save', format: 'png', chart: 'loss', image: 'data:image/png;base64,AAAA', csv: 'x\n' }).ok);
    assert.ok(parseMonitorMessage({ type: 'save', format: 'svg', chart: 'loss', image: '<svg xmlns="x"></svg>', csv: 'x\n' }).ok);
    assert.ok(parseMonitorMessage({ type: 'save', format: 'csv', chart: 'loss', csv: 'x\n' }).ok);
    assert.ok(!parseMonitorMessage({ type: 'save', format: 'png', chart: 'loss', image: 'data:text/html;base64,AAAA', csv: '' }).ok);
    assert.ok(!parseMonitorMessage({ type: 'save', format: 'svg', chart: 'loss', image: '<script>', csv: '' }).ok);
    assert.ok(!parseMonitorMessage({ type: 'save', format: 'csv', chart: '../etc/passwd', csv: '' }).ok);
    assert.ok(!parseMonitorMessage({ type: 'save', format: 'exe', chart: 'loss', csv: '' }).ok);
    assert.ok(parseMonitorMessage({ type: 'resume', runId: 'a-run' }).ok);
    assert.ok(!parseMonitorMessage({ type: 'openInEditor', runId: '../x' }).ok);
  });
});

describe('chart as SVG', () => {
  it('one polyline per series through the plotted points, gaps skipped (spanned, as on screen), text escaped, markers drawn', () => {
    const svg = chartSvg({
      title: 'Loss <run>', xLabel: 'step', x: [1, 2, 3, 4], width: 400, height: 200,
      series: [{ label: 'a&b', color: '#ff0000', values: [4, 3, null, 1] }, { label: 'c', color: 'var(--x)', values: [2, 2, 2, 2] }],
      markers: [{ x: 2, color: '#00ff00', label: 'growth' }],
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.includes('Loss &lt;run&gt;') && svg.includes('a&amp;b'));
    const lines = [...svg.matchAll(/<polyline[^>]*stroke="([^"]+)"[^>]*points="([^"]+)"/g)];
    assert.deepEqual(lines.map((m) => [m[1], m[2].split(' ').length]), [['#ff0000', 3], ['#888', 4]], 'null dropped from the line; a non-colour becomes grey');
    assert.match(svg, /stroke="#00ff00" stroke-dasharray="6 4"><title>growth<\/title>/);
    // x = 1 at the left edge (64 px), x = 4 at the right (400 - 16)
    assert.ok(lines[1][2].startsWith('64.0,') && lines[1][2].split(' ')[3].startsWith('384.0,'));
  });
});
