/**
 * Training monitor: live charts of the selected run (loss raw + smoothed + eval + earlier
 * attempts greyed, gradient norm, LR, tokens/s raw + smoothed, TFLOP/s), growth and resume events
 * as vertical markers, x-axis by step / tokens / FLOPs / wall time, log scale, Save per chart,
 * hardware line, Stop / Resume / Open in Editor.
 */
import { palette } from '../shared/charts';
import { ChartBox, makeBox, mountPlot, setData } from '../shared/chartBox';
import { GrowthMarker, SeriesSet, X_AXES, X_LABELS, XAxis, buildSeries, fmt, growthMarkers, placeMarkers, resumeMarkers, rowsToPlot } from '../shared/chartData';
import { AttemptSeries, HostToMonitor, MetricPoint, RunEvent, RunSummaryVM, TrainingHardwareVM, hostMessageType } from '../shared/messages';
import { Api, axisControls, bindAxisControls, markerColors, plotOptions, positiveOnly, save } from './common';

type Col = Exclude<keyof SeriesSet, 'x' | 'step'>;
type Color = keyof ReturnType<typeof palette>;
interface ChartDef {
  key: string;
  title: string;
  series: Array<{ label: string; col: Col; color: Color; width?: number; dash?: number[]; points?: boolean }>;
}

const CHARTS: ChartDef[] = [
  {
    key: 'loss',
    title: 'Loss',
    series: [
      { label: 'train (raw)', col: 'loss', color: 'faint', width: 1 },
      { label: 'train (smoothed)', col: 'lossSmoothed', color: 'blue', width: 2 },
      { label: 'eval', col: 'evalLoss', color: 'orange', width: 2, points: true },
      { label: 'earlier attempt', col: 'lossOld', color: 'faint', width: 1, dash: [3, 3] },
    ],
  },
  {
    key: 'gradNorm',
    title: 'Gradient norm',
    series: [
      { label: 'grad norm (raw)', col: 'gradNorm', color: 'faint', width: 1 },
      { label: 'grad norm (smoothed)', col: 'gradNormSmoothed', color: 'purple', width: 1.5 },
    ],
  },
  { key: 'lr', title: 'Learning rate', series: [{ label: 'lr', col: 'lr', color: 'green', width: 1.5 }] },
  {
    key: 'tps',
    title: 'Tokens / s',
    series: [
      { label: 'tokens/s (raw)', col: 'tokensPerSec', color: 'faint', width: 1 },
      { label: 'tokens/s (smoothed)', col: 'tokensPerSecSmoothed', color: 'yellow', width: 1.5 },
    ],
  },
  { key: 'tflops', title: 'Achieved TFLOP/s', series: [{ label: 'TFLOP/s', col: 'tflops', color: 'red', width: 1.5 }] },
];

interface Saved { smoothing?: number; xAxis?: XAxis; logY?: boolean }

export function mountMonitor(app: HTMLElement, api: Api, inTab: boolean): void {
  const height = inTab ? 260 : 150;
  const saved = (api.getState() ?? {}) as Saved;
  let smoothing = typeof saved.smoothing === 'number' ? saved.smoothing : 0.6;
  let xAxis: XAxis = (X_AXES as readonly string[]).includes(saved.xAxis ?? '') ? (saved.xAxis as XAxis) : 'step';
  let logY = saved.logY === true;
  let run: RunSummaryVM | null = null;
  let runs: RunSummaryVM[] = [];
  let metrics: MetricPoint[] = [];
  let attempts: AttemptSeries[] = [];
  let events: RunEvent[] = [];
  let markers: GrowthMarker[] = [];
  let hardware: TrainingHardwareVM | undefined;
  let redraws = 0;
  const boxes: Array<{ def: ChartDef; box: ChartBox }> = [];
  let redrawQueued = false;

  document.body.classList.toggle('in-tab', inTab);
  app.innerHTML = `
  <header class="mon-head">
    <div class="mon-title">
      <span id="run-title" class="run-title">No run selected</span>
      <vscode-badge id="run-status" variant="counter"></vscode-badge>
    </div>
    <div class="mon-stats" id="run-stats" aria-live="polite"></div>
    <div class="mon-stats" id="hw" hidden></div>
    <div class="mon-controls">
      <label class="smooth">Smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01"></label>
      <span id="smoothing-val"></span>
      ${axisControls()}
      <vscode-button id="stop-btn" secondary disabled>Stop</vscode-button>
      <vscode-button id="resume-btn" secondary disabled>Resume</vscode-button>
      ${inTab ? '' : '<vscode-button id="open-editor" secondary disabled title="The same charts at full size in an editor tab">Open in Editor</vscode-button>'}
    </div>
  </header>
  <p id="empty" class="muted">Start a run with <b>ShapeLab: Train From Plan</b> or pick one in the Runs list. Runs started from the CLI appear there too.</p>
  <section id="charts" class="charts${inTab ? ' grid' : ''}"></section>
  <section id="growth" class="growth-list" hidden><h3>Growth and resume events</h3><ul id="growth-items"></ul></section>`;

  const el = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
  const persist = () => api.setState({ smoothing, xAxis, logY } satisfies Saved);
  const smoothingInput = el<HTMLInputElement>('smoothing');
  smoothingInput.value = String(smoothing);
  el('smoothing-val').textContent = smoothing.toFixed(2);
  smoothingInput.addEventListener('input', () => {
    const v = Number(smoothingInput.value);
    smoothing = Number.isFinite(v) ? Math.min(Math.max(v, 0), 0.99) : 0.6;
    el('smoothing-val').textContent = smoothing.toFixed(2);
    persist();
    queueRedraw();
  });
  bindAxisControls(xAxis, logY, (x, log) => {
    xAxis = x;
    logY = log;
    persist();
    rebuild();
  });
  el('stop-btn').addEventListener('click', () => run && api.postMessage({ type: 'stop', runId: run.id }));
  el('resume-btn').addEventListener('click', () => run && api.postMessage({ type: 'resume', runId: run.id }));
  if (!inTab) el('open-editor').addEventListener('click', () => run && api.postMessage({ type: 'openInEditor', runId: run.id }));

  const pal = palette();
  for (const def of CHARTS) {
    const box = makeBox(el('charts'), def.key, def.title, (b, f) => save(api, b, f));
    box.series = def.series.map((s) => ({ label: s.label, color: pal[s.color], width: s.width, dash: s.dash, points: s.points }));
    box.markers = () => markerColors(markers);
    boxes.push({ def, box });
  }

  /** New options (axis label, log scale): the charts are rebuilt, then redrawn. */
  function rebuild(): void {
    for (const { box } of boxes) {
      box.logY = logY;
      box.xLabel = X_LABELS[xAxis];
      mountPlot(box, plotOptions(box, xAxis, () => markers), height);
    }
    redraw();
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
    // Earlier attempts of a restarted run (attempt files, src/core/runs/attempts.ts) are drawn greyed.
    const { rows, superseded } = rowsToPlot(metrics, attempts);
    const s = buildSeries(rows, { smoothing, maxPoints: 3000, x: xAxis, events, paramsByDepth: run?.paramsByDepth, superseded });
    markers = placeMarkers([...growthMarkers(events), ...resumeMarkers(events)], s, xAxis, events, metrics);
    for (const { def, box } of boxes) setData(box, positiveOnly([s.x, ...def.series.map((d) => s[d.col])] as never, logY));
    redraws++;
    const c = el('charts');
    const lastStep = rows.length ? rows[rows.length - 1].step : undefined;
    c.dataset.points = String(s.x.length);
    c.dataset.lastStep = lastStep === undefined ? '' : String(lastStep);
    c.dataset.lastX = s.x.length ? String(s.x[s.x.length - 1]) : '';
    c.dataset.xAxis = xAxis;
    c.dataset.log = logY ? '1' : '0';
    c.dataset.redraws = String(redraws);
    c.dataset.markers = String(markers.filter((m) => m.kind === 'growth').length);
    c.dataset.resumeMarkers = String(markers.filter((m) => m.kind === 'resume').length);
    c.dataset.superseded = String(superseded.length);
    renderHeader();
    renderEventList();
  }

  function renderHeader(): void {
    const title = el('run-title');
    const badge = el('run-status');
    const stats = el('run-stats');
    const stop = el('stop-btn') as HTMLElement & { disabled: boolean };
    const resume = el('resume-btn') as HTMLElement & { disabled: boolean };
    el('empty').hidden = !!run;
    el('charts').hidden = !run;
    if (!inTab) (el('open-editor') as HTMLElement & { disabled: boolean }).disabled = !run;
    if (!run) {
      title.textContent = runs.length ? 'No run selected' : 'No runs yet';
      badge.textContent = '';
      stats.textContent = '';
      stop.disabled = true;
      resume.disabled = true;
      el('hw').hidden = true;
      return;
    }
    title.textContent = run.name;
    title.title = run.folder ?? run.id;
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
    resume.disabled = !['stopped', 'crashed', 'failed'].includes(run.status);
    renderHardware();
  }

  function renderHardware(): void {
    const hw = el('hw');
    const running = run?.status === 'running';
    let rss: number | undefined;
    for (let i = metrics.length - 1; i >= 0 && rss === undefined && i >= metrics.length - 50; i--) rss = metrics[i].rssMB;
    const parts: string[] = [];
    if (running && hardware) for (const g of hardware.gpus) parts.push(`${g.name}: ${fmt(g.memUsedMiB / 1024, 3)} / ${fmt(g.memTotalMiB / 1024, 3)} GiB, ${Math.round(g.utilPct)}% busy`);
    if (rss !== undefined) parts.push(`trainer host memory ${fmt(rss / 1024, 3)} GiB`);
    hw.hidden = !parts.length;
    hw.textContent = parts.join(' \u00b7 ');
  }

  function renderEventList(): void {
    const list = el('growth-items');
    el('growth').hidden = markers.length === 0;
    list.replaceChildren(
      ...markers.map((m) => {
        const li = document.createElement('li');
        li.textContent = m.label;
        li.dataset.kind = m.kind;
        return li;
      }),
    );
  }

  window.addEventListener('message', (ev: MessageEvent) => {
    const m = ev.data as HostToMonitor;
    const type = hostMessageType(m, ['runs', 'reset', 'append', 'hardware'] as const);
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
        attempts = Array.isArray(m.attempts) ? m.attempts.slice() : [];
        hardware = undefined;
        queueRedraw();
        break;
      case 'append':
        if (!run || m.runId !== run.id) return;
        run = m.run;
        if (Array.isArray(m.metrics)) for (const p of m.metrics) metrics.push(p);
        if (Array.isArray(m.events)) for (const e of m.events) events.push(e);
        queueRedraw();
        break;
      case 'hardware':
        if (run && m.runId === run.id) {
          hardware = m.hardware;
          renderHardware();
        }
        break;
    }
  });

  rebuild();
  api.postMessage({ type: 'ready' });
}
