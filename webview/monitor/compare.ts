/**
 * Runs side by side (editor tab): several runs' curves overlaid with a legend, x-axis by step,
 * tokens, FLOPs or wall time (equal FLOPs is how growth and shape comparisons are judged), growth
 * markers per run in the run's colour, and for a study the measured final losses against N with
 * the fitted law's curve.
 */
import { uPlot, palette } from '../shared/charts';
import { ChartBox, makeBox, mountPlot, setData } from '../shared/chartBox';
import { EXTRA_RUN_COLORS, GrowthMarker, RUN_COLOR_KEYS, SeriesSet, X_AXES, X_LABELS, XAxis, buildSeries, fmt, growthMarkers, placeMarkers, rowsToPlot, studyCurve } from '../shared/chartData';
import type { CompareRunVM, HostToMonitor, StudyVM } from '../shared/messages';
import { hostMessageType } from '../shared/messages';
import { Api, axisControls, bindAxisControls, markerColors, plotOptions, positiveOnly, save } from './common';

type Col = Exclude<keyof SeriesSet, 'x' | 'step'>;
const CHARTS: Array<{ key: string; title: string; col: Col; points?: boolean }> = [
  { key: 'loss', title: 'Train loss (smoothed)', col: 'lossSmoothed' },
  { key: 'evalLoss', title: 'Eval loss', col: 'evalLoss', points: true },
  { key: 'gradNorm', title: 'Gradient norm (smoothed)', col: 'gradNormSmoothed' },
  { key: 'tps', title: 'Tokens / s (smoothed)', col: 'tokensPerSecSmoothed' },
];

export function mountCompare(app: HTMLElement, api: Api): void {
  const saved = (api.getState() ?? {}) as { xAxis?: XAxis; logY?: boolean; smoothing?: number };
  const chosen = (X_AXES as readonly string[]).includes(saved.xAxis ?? '');
  let xAxis: XAxis = chosen ? (saved.xAxis as XAxis) : 'step';
  let logY = saved.logY === true;
  const smoothing = 0.8;
  let runs: CompareRunVM[] = [];
  let study: StudyVM | undefined;
  let markers: GrowthMarker[] = [];
  let redraws = 0;
  document.body.classList.add('in-tab');
  app.innerHTML = `
  <header class="mon-head">
    <div class="mon-title"><span id="cmp-title" class="run-title">Comparing runs</span></div>
    <div class="mon-stats" id="cmp-stats"></div>
    <div class="mon-controls">${axisControls()}</div>
  </header>
  <section id="cmp-charts" class="charts grid"></section>
  <section id="study" hidden></section>`;
  const el = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
  const persist = () => api.setState({ xAxis, logY });
  bindAxisControls(xAxis, logY, (x, log) => {
    xAxis = x;
    logY = log;
    persist();
    rebuild();
  });
  const boxes = CHARTS.map((def) => ({ def, box: makeBox(el('cmp-charts'), def.key, def.title, (b, f) => save(api, b, f)) }));
  let studyBox: ChartBox | undefined;

  const colorOf = (i: number) => {
    const pal = palette();
    return i < RUN_COLOR_KEYS.length ? pal[RUN_COLOR_KEYS[i]] : EXTRA_RUN_COLORS[(i - RUN_COLOR_KEYS.length) % EXTRA_RUN_COLORS.length];
  };

  function rebuild(): void {
    for (const { def, box } of boxes) {
      box.logY = logY;
      box.xLabel = X_LABELS[xAxis];
      box.series = runs.map((r, i) => ({ label: r.run.name, color: colorOf(i), width: 1.5, points: def.points }));
      box.markers = () => markerColors(markers);
      mountPlot(box, plotOptions(box, xAxis, () => markers), 280);
    }
    redraw();
  }

  function redraw(): void {
    const per = runs.map((r) => {
      const { rows, superseded } = rowsToPlot(r.metrics);
      const s = buildSeries(rows, { smoothing, maxPoints: 2000, x: xAxis, events: r.events, paramsByDepth: r.run.paramsByDepth, superseded });
      return { r, s };
    });
    markers = per.flatMap(({ r, s }, i) => placeMarkers(growthMarkers(r.events), s, xAxis, r.events, r.metrics).map((m) => ({ ...m, run: r.run.name, color: colorOf(i) })));
    let series = 0;
    for (const { def, box } of boxes) {
      const tables = per.map(({ s }) => {
        // current rows only (superseded share x but have no value in these columns)
        const keep = s.x.map((_, j) => s[def.col][j] !== null);
        return [s.x.filter((_, j) => keep[j]), (s[def.col] as Array<number | null>).filter((_, j) => keep[j])] as uPlot.AlignedData;
      });
      const data = tables.length ? uPlot.join(tables) : ([[]] as unknown as uPlot.AlignedData);
      setData(box, positiveOnly(data, logY));
      if (def.key === 'loss') series = data.length - 1;
    }
    redraws++;
    const c = el('cmp-charts');
    c.dataset.runs = String(runs.length);
    c.dataset.series = String(series);
    // loss points drawn per run, in legend order (tests: every run has a curve, not just a column)
    c.dataset.runPoints = per.map(({ s }) => s.loss.filter((v) => v !== null).length).join(',');
    c.dataset.xAxis = xAxis;
    c.dataset.redraws = String(redraws);
    c.dataset.markers = String(markers.length);
    el('cmp-title').textContent = study ? `Study ${study.name}` : `Comparing ${runs.length} run${runs.length === 1 ? '' : 's'}`;
    el('cmp-stats').textContent = runs.map((r) => `${r.run.name}: ${r.run.model ?? r.run.status}${r.run.loss !== undefined ? `, loss ${fmt(r.run.loss, 4)}` : ''}`).join(' \u00b7 ');
    renderStudy();
  }

  function renderStudy(): void {
    const host = el('study');
    host.hidden = !study || !study.points.length;
    if (!study || !study.points.length) return;
    if (!studyBox) {
      studyBox = makeBox(host, 'study', 'Final eval loss vs parameters N', (b, f) => save(api, b, f));
    }
    const pal = palette();
    const pts = study.points.slice().sort((a, b) => a.N - b.N);
    const curve = study.law ? studyCurve(pts, study.law) : { N: [], loss: [] };
    studyBox.xLabel = 'N (parameters)';
    studyBox.logY = logY;
    studyBox.series = [{ label: 'measured', color: pal.orange, width: 0, points: true }];
    const tables: uPlot.AlignedData[] = [[pts.map((p) => p.N), pts.map((p) => p.loss)]];
    if (curve.N.length) {
      studyBox.series.push({ label: 'fit E + A/N^\u03b1 + B/D^\u03b2', color: pal.blue, width: 1.5 });
      tables.push([curve.N, curve.loss]);
    }
    studyBox.data = tables.length > 1 ? uPlot.join(tables) : tables[0];
    const opts = plotOptions(studyBox, 'step', () => []);
    opts.scales = { x: { time: false, distr: 3 }, y: logY ? { distr: 3 } : {} };
    (opts.series[0] as uPlot.Series).label = 'N';
    (opts.series[1] as uPlot.Series).paths = () => null;
    (opts.series[1] as uPlot.Series).points = { show: true, size: 7, fill: pal.orange };
    if (opts.series[2]) (opts.series[2] as uPlot.Series).spanGaps = true;
    mountPlot(studyBox, opts, 300);
    host.dataset.points = String(pts.length);
    host.dataset.fit = study.law ? '1' : '0';
  }

  window.addEventListener('message', (ev: MessageEvent) => {
    const m = ev.data as HostToMonitor;
    if (hostMessageType(m, ['compare'] as const) !== 'compare' || m.type !== 'compare') return;
    runs = Array.isArray(m.runs) ? m.runs : [];
    study = m.study;
    // Equal FLOPs is how shapes and growth are compared: the default axis when every run has N.
    if (!chosen && runs.length && runs.every((r) => r.run.paramsByDepth)) {
      xAxis = 'flops';
      el<HTMLSelectElement>('x-axis').value = xAxis;
    }
    rebuild();
  });
  rebuild();
  api.postMessage({ type: 'ready' });
}
