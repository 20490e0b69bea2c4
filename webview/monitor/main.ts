/**
 * Training monitor (sidebar webview view): live charts of train/eval loss (raw + smoothed), LR,
 * tokens/s and achieved TFLOP/s for the selected run, with growth events as vertical markers on
 * every chart.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import { uPlot, autoSize, axisValues, growthMarkerPlugin, palette } from '../shared/charts';
import { GrowthMarker, buildSeries, fmt, growthMarkers } from '../shared/chartData';
import { HostToMonitor, MetricPoint, MonitorToHost, RunEvent, RunSummaryVM, hostMessageType } from '../shared/messages';

declare function acquireVsCodeApi(): { postMessage(m: MonitorToHost): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

interface ChartDef {
  key: string;
  title: string;
  series: Array<{ label: string; col: keyof ReturnType<typeof buildSeries>; color: keyof ReturnType<typeof palette>; width?: number; dash?: number[]; points?: boolean }>;
  log?: boolean;
}

const CHARTS: ChartDef[] = [
  {
    key: 'loss',
    title: 'Loss',
    series: [
      { label: 'train (raw)', col: 'loss', color: 'faint', width: 1 },
      { label: 'train (smoothed)', col: 'lossSmoothed', color: 'blue', width: 2 },
      { label: 'eval', col: 'evalLoss', color: 'orange', width: 2, points: true },
    ],
  },
  { key: 'lr', title: 'Learning rate', series: [{ label: 'lr', col: 'lr', color: 'green', width: 1.5 }] },
  { key: 'tps', title: 'Tokens / s', series: [{ label: 'tokens/s', col: 'tokensPerSec', color: 'yellow', width: 1.5 }] },
  { key: 'tflops', title: 'Achieved TFLOP/s', series: [{ label: 'TFLOP/s', col: 'tflops', color: 'red', width: 1.5 }] },
];

const CHART_HEIGHT = 150;
const saved = (vscode.getState() ?? {}) as { smoothing?: number };
let smoothing = typeof saved.smoothing === 'number' ? saved.smoothing : 0.6;
let run: RunSummaryVM | null = null;
let runs: RunSummaryVM[] = [];
let metrics: MetricPoint[] = [];
let events: RunEvent[] = [];
let markers: GrowthMarker[] = [];
const plots = new Map<string, uPlot>();
let redrawQueued = false;

const app = document.getElementById('app')!;
app.innerHTML = `
  <header class="mon-head">
    <div class="mon-title">
      <span id="run-title" class="run-title">No run selected</span>
      <vscode-badge id="run-status" variant="counter"></vscode-badge>
    </div>
    <div class="mon-stats" id="run-stats" aria-live="polite"></div>
    <div class="mon-controls">
      <label class="smooth">Smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01"></label>
      <span id="smoothing-val"></span>
      <vscode-button id="stop-btn" secondary disabled>Stop</vscode-button>
    </div>
  </header>
  <p id="empty" class="muted">Start a run with <b>ShapeLab: Train From Plan</b> or pick one in the Runs list. Runs started from the CLI appear there too.</p>
  <section id="charts" class="charts"></section>
  <section id="growth" class="growth-list" hidden><h3>Growth events</h3><ul id="growth-items"></ul></section>`;

const el = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const smoothingInput = el<HTMLInputElement>('smoothing');
smoothingInput.value = String(smoothing);
el('smoothing-val').textContent = smoothing.toFixed(2);
smoothingInput.addEventListener('input', () => {
  const v = Number(smoothingInput.value);
  smoothing = Number.isFinite(v) ? Math.min(Math.max(v, 0), 0.99) : 0.6;
  el('smoothing-val').textContent = smoothing.toFixed(2);
  vscode.setState({ smoothing });
  queueRedraw();
});
el('stop-btn').addEventListener('click', () => {
  if (run) vscode.postMessage({ type: 'stop', runId: run.id });
});

function makeCharts(): void {
  const host = el('charts');
  const pal = palette();
  for (const def of CHARTS) {
    const box = document.createElement('div');
    box.className = 'chart';
    box.dataset.chart = def.key;
    const h = document.createElement('h3');
    h.textContent = def.title;
    box.appendChild(h);
    const area = document.createElement('div');
    box.appendChild(area);
    host.appendChild(box);
    const opts: uPlot.Options = {
      width: Math.max(200, host.clientWidth || 300),
      height: CHART_HEIGHT,
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false }, points: { size: 5 } },
      scales: { x: { time: false } },
      axes: [
        { stroke: pal.fg, grid: { stroke: pal.grid, width: 1 }, ticks: { stroke: pal.grid }, values: axisValues, size: 28 },
        { stroke: pal.fg, grid: { stroke: pal.grid, width: 1 }, ticks: { stroke: pal.grid }, values: axisValues, size: 44 },
      ],
      series: [
        { label: 'step', value: (_u, v) => fmt(v, 6) },
        ...def.series.map((s) => ({
          label: s.label,
          stroke: pal[s.color],
          width: s.width ?? 1.5,
          spanGaps: true,
          points: { show: s.points ?? false, size: 4, fill: pal[s.color] },
          value: (_u: uPlot, v: number | null) => fmt(v, 4),
        })),
      ],
      plugins: [growthMarkerPlugin(() => markers)],
    };
    const empty: uPlot.AlignedData = [[], ...def.series.map(() => [])];
    const u = new uPlot(opts, empty, area);
    autoSize(u, area, CHART_HEIGHT);
    plots.set(def.key, u);
  }
}

function queueRedraw(): void {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    redraw();
  });
}

function redraw(): void {
  const s = buildSeries(metrics, { smoothing, maxPoints: 3000 });
  markers = growthMarkers(events);
  for (const def of CHARTS) {
    const u = plots.get(def.key);
    if (!u) continue;
    const data = [s.step, ...def.series.map((d) => s[d.col] as Array<number | null>)] as uPlot.AlignedData;
    u.setData(data, true);
  }
  const last = s.step.length ? s.step[s.step.length - 1] : undefined;
  el('charts').dataset.points = String(s.step.length);
  el('charts').dataset.lastStep = last === undefined ? '' : String(last);
  el('charts').dataset.markers = String(markers.length);
  renderHeader();
  renderGrowthList();
}

function renderHeader(): void {
  const title = el('run-title');
  const badge = el('run-status');
  const stats = el('run-stats');
  const stop = el('stop-btn') as HTMLElement & { disabled: boolean };
  el('empty').hidden = !!run;
  el('charts').hidden = !run;
  if (!run) {
    title.textContent = runs.length ? 'No run selected' : 'No runs yet';
    badge.textContent = '';
    stats.textContent = '';
    stop.disabled = true;
    return;
  }
  title.textContent = run.name;
  title.title = run.id;
  badge.textContent = run.status;
  badge.dataset.status = run.status;
  const step = run.step !== undefined ? `step ${run.step}${run.totalSteps ? ` / ${run.totalSteps}` : ''}` : 'waiting for the first step';
  const parts = [step];
  if (run.loss !== undefined) parts.push(`loss ${fmt(run.loss, 4)}`);
  if (run.device) parts.push(run.device);
  if (run.model) parts.push(run.model);
  stats.textContent = parts.join(' \u00b7 ');
  stats.dataset.step = run.step === undefined ? '' : String(run.step);
  stop.disabled = run.status !== 'running';
}

function renderGrowthList(): void {
  const list = el('growth-items');
  el('growth').hidden = markers.length === 0;
  list.replaceChildren(
    ...markers.map((m) => {
      const li = document.createElement('li');
      li.textContent = m.label;
      return li;
    }),
  );
}

window.addEventListener('message', (ev: MessageEvent) => {
  const m = ev.data as HostToMonitor;
  const type = hostMessageType(m, ['runs', 'reset', 'append'] as const);
  if (!type) return;
  switch (m.type) {
    case 'runs':
      runs = Array.isArray(m.runs) ? m.runs : [];
      if (run) run = runs.find((r) => r.id === run!.id) ?? run;
      renderHeader();
      break;
    case 'reset':
      run = m.run;
      metrics = Array.isArray(m.metrics) ? m.metrics.slice() : [];
      events = Array.isArray(m.events) ? m.events.slice() : [];
      queueRedraw();
      break;
    case 'append':
      if (!run || m.runId !== run.id) return;
      run = m.run;
      if (Array.isArray(m.metrics)) for (const p of m.metrics) metrics.push(p);
      if (Array.isArray(m.events)) for (const e of m.events) events.push(e);
      queueRedraw();
      break;
  }
});

makeCharts();
renderHeader();
vscode.postMessage({ type: 'ready' });
