/**
 * Planner webview: inputs -> ranked shapes (sortable table + Pareto chart of predicted loss vs
 * hours, or vs parameters for a GPU-hour budget) -> detail of one shape (per-group
 * hyperparameters, memory, G_stack growth plan, sources, warnings) with "Train this" (a proxy
 * dialog) and "Export". View state survives hiding via getState/setState; the raw inputs also
 * survive closing the panel (the host keeps them in workspaceState).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import { uPlot, autoSize, axisValues, bandPlugin, palette } from '../shared/charts';
import { fmt } from '../shared/chartData';
import { hours as fmtHours, initText } from '../../src/core/plan/format';
import { attempt } from '../shared/validate';
import { handleSelectAllInTextFields, isMac } from '../shared/selectAll';
import {
  BUDGET_KINDS, BudgetKind, FitVM, FORM_FIELDS, FormFields, HardwareVM, HostToPlanner, PARAMETERIZATION_IDS, PlanRequest, PlannerToHost, PRECISIONS, ProxyChoice, ProxyPreviewVM, ShapeDetailVM, ShapeVM, SourcedValue,
  hostMessageType, validatePlanRequest,
} from '../shared/messages';
import { SortKey, sortShapes } from './table';
import {
  bandCaption, chartSeries, convertBudget, fieldsOf, fitOptions, pickFit, flopsPerGpuHourFromPeak, flopsPerGpuHourFromShapes, formatBudget, friendlyError, parseNumber, rawRequest, sameRequest,
} from './logic';

/** Pause after the last keystroke before a re-plan. */
const TYPING_PAUSE_MS = 500;
/** The planner's MFU knob (src/core/plan/steptime.ts), used only to convert a budget before any result exists. */
const MFU_KNOB = 0.5;

declare function acquireVsCodeApi(): { postMessage(m: PlannerToHost): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

interface State {
  /** The last valid request sent to the host. */
  request?: PlanRequest;
  /** The request the shown results belong to. */
  resultsFor?: PlanRequest;
  /** The form's raw text (what the user typed, valid or not). */
  fields?: FormFields;
  shapes: ShapeVM[];
  warnings: string[];
  sources: SourcedValue[];
  selectedId?: string;
  detail?: ShapeDetailVM;
  sort: { key: SortKey; dir: 1 | -1 };
  elapsedMs?: number;
  /** The "Scaling fit" list the host sent last (published + local studies). */
  fits?: FitVM[];
}

const restored = vscode.getState() as Partial<State> | undefined;
const state: State = {
  shapes: [],
  warnings: [],
  sources: [],
  sort: { key: 'predictedLoss', dir: 1 },
  ...(restored && typeof restored === 'object' ? restored : {}),
};
let hardware: HardwareVM[] = [];
let requestId = 0;
let pending = -1;
let formReady = false;
let proxySteps = 200;
const save = () => vscode.setState(state);
const post = (m: PlannerToHost) => vscode.postMessage(m);

function fitOptionHtml(f: FitVM): string {
  return `<vscode-option value="${esc(f.id)}"${f.source ? ` description="${esc(f.source)}"` : ''}>${esc(f.local ? f.name : f.id)}</vscode-option>`;
}

const app = document.getElementById('app')!;
// No <form>: the CSP has no form-action, so a submission (Enter in a form-associated field) would be
// a violation. Enter is handled explicitly below.
app.innerHTML = `
<div class="planner">
  <div id="form" class="inputs" role="form" aria-label="Planner inputs">
    <h2>Budget and hardware</h2>
    <div class="row">
      <vscode-label for="budgetKind">Budget</vscode-label>
      <vscode-single-select id="budgetKind">${BUDGET_KINDS.map((k) => `<vscode-option value="${k}">${k === 'flops' ? 'training FLOPs' : 'GPU-hours'}</vscode-option>`).join('')}</vscode-single-select>
      <vscode-textfield id="budget" placeholder="1e20"></vscode-textfield>
    </div>
    <div class="row">
      <vscode-label for="gpu">GPU</vscode-label>
      <vscode-single-select id="gpu" combobox></vscode-single-select>
      <vscode-label for="gpuCount">count</vscode-label>
      <vscode-textfield id="gpuCount" inputmode="numeric" class="short"></vscode-textfield>
    </div>
    <div class="row">
      <vscode-label for="context">Context</vscode-label><vscode-textfield id="context" inputmode="numeric" class="short"></vscode-textfield>
      <vscode-label for="vocab">Vocab</vscode-label><vscode-textfield id="vocab" inputmode="numeric" class="short"></vscode-textfield>
    </div>
    <div class="row">
      <vscode-label for="parameterization">Parameterization</vscode-label>
      <vscode-single-select id="parameterization">${PARAMETERIZATION_IDS.map((p) => `<vscode-option value="${p}">${p}</vscode-option>`).join('')}</vscode-single-select>
      <vscode-label for="fit">Scaling fit</vscode-label>
      <vscode-single-select id="fit">${fitOptions(restored && typeof restored === 'object' ? restored.fits : undefined).map(fitOptionHtml).join('')}</vscode-single-select>
      <vscode-label for="precision" title="fp32: ShapeLab's local trainer; bf16: mixed precision on tensor cores (cluster runs)">Precision</vscode-label>
      <vscode-single-select id="precision">${PRECISIONS.map((p) => `<vscode-option value="${p}">${p}</vscode-option>`).join('')}</vscode-single-select>
    </div>
    <vscode-collapsible title="Base model hyperparameters" id="base-box">
      <div class="grid">
        ${['baseWidth', 'baseDepth', 'lr', 'initStd', 'eps', 'weightDecay'].map((k) => `<vscode-label for="base.${k}">${k}</vscode-label><vscode-textfield id="base.${k}" class="short"></vscode-textfield>`).join('')}
      </div>
    </vscode-collapsible>
    <vscode-collapsible title="Constraints" id="constraints-box">
      <div class="grid">
        ${[['minDepth', 'min depth'], ['maxDepth', 'max depth'], ['maxWidth', 'max d_model'], ['headDim', 'head dim'], ['maxMemoryGB', 'max memory GiB / GPU']].map(([k, l]) => `<vscode-label for="c.${k}">${l}</vscode-label><vscode-textfield id="c.${k}" class="short" placeholder="any"></vscode-textfield>`).join('')}
      </div>
    </vscode-collapsible>
    <div class="row actions">
      <vscode-button id="plan-btn">Plan</vscode-button>
      <vscode-button id="reset-btn" secondary>Defaults</vscode-button>
      <span id="status" class="muted" aria-live="polite"></span>
    </div>
    <div id="form-error" class="error" role="alert"></div>
    <div id="notices"></div>
  </div>
  <section class="results" id="results">
    <div class="results-head"><h2>Shapes</h2><span id="results-meta" class="muted"></span></div>
    <p id="stale-note" class="warn" hidden></p>
    <div id="warnings"></div>
    <div class="pareto"><h3 id="chart-title">Pareto front: predicted loss vs wall-clock hours</h3><p id="band-note" class="muted small" hidden></p><div id="pareto-chart"></div></div>
    <div class="table-wrap"><table id="results-table"><thead></thead><tbody></tbody></table></div>
    <details id="sources-box"><summary>Sources and conventions</summary><table id="sources"><tbody></tbody></table></details>
  </section>
  <section id="detail" class="detail" hidden></section>
  <section id="proxy" class="proxy-box" hidden></section>
</div>`;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
/** The proxy dialog; renderDetail moves it (never rebuilds it) under the detail's header. */
const proxyBox = $('proxy');
type Field = HTMLElement & { value: string };
const field = (id: string) => $<Field>(id);

// ---------------------------------------------------------------------------------------------
// Form <-> request

/** Writes raw text into the fields; the field that has focus keeps what the user is typing. */
function setFields(f: FormFields, opts: { keepFocused?: boolean } = {}): void {
  const focused = document.activeElement;
  for (const k of FORM_FIELDS) {
    const v = f[k];
    if (v === undefined) continue;
    const el = field(k);
    if (opts.keepFocused && el === focused) continue;
    if (el.value !== v) el.value = v;
  }
  lastKind = (field('budgetKind').value as BudgetKind) || lastKind;
}

function readFields(): FormFields {
  return Object.fromEntries(FORM_FIELDS.map((k) => [k, field(k).value ?? ''])) as FormFields;
}

function readForm(): PlanRequest {
  // Same validator as the host: errors name the field before anything is sent.
  return validatePlanRequest(rawRequest(readFields()), 'input');
}

function requestPlan(r: PlanRequest): void {
  state.request = r;
  save();
  pending = ++requestId;
  $('status').textContent = 'Planning\u2026';
  post({ type: 'plan', requestId: pending, request: r });
  updateStale();
}

/**
 * Results are stale while the form does not describe them: an input is invalid, or a re-plan
 * has not answered yet. They stay visible (dimmed) with a note saying so.
 */
function updateStale(formError?: string): void {
  let current: PlanRequest | undefined;
  let invalid = formError;
  if (invalid === undefined && formReady) {
    const r = attempt(readForm);
    if (r.ok) current = r.value;
    else invalid = friendlyError(r.error);
  }
  const stale = state.shapes.length > 0 && (invalid !== undefined || !sameRequest(current, state.resultsFor));
  $('results').classList.toggle('stale', stale);
  $('results').dataset.stale = stale ? '1' : '0';
  const note = $('stale-note');
  note.hidden = !stale;
  note.textContent = !stale ? '' : invalid !== undefined ? '\u26a0 These results are for earlier inputs: fix the input above to re-plan.' : '\u26a0 These results are for earlier inputs: re-planning\u2026';
}

let planTimer: ReturnType<typeof setTimeout> | undefined;
let draftTimer: ReturnType<typeof setTimeout> | undefined;
let lastKind: BudgetKind = 'flops';

/** Plan now if the form is valid; otherwise show the error and mark the results stale. */
function planNow(): void {
  if (planTimer) clearTimeout(planTimer);
  planTimer = undefined;
  const r = attempt(readForm);
  $('form-error').textContent = r.ok ? '' : friendlyError(r.error);
  if (!r.ok) {
    updateStale(friendlyError(r.error));
    return;
  }
  if (sameRequest(r.value, state.request) && pending === requestId && $('status').textContent) return; // already asked
  if (sameRequest(r.value, state.resultsFor) && !$('status').textContent) {
    updateStale();
    return;
  }
  requestPlan(r.value);
}

/**
 * Every edit re-plans after a pause (typing) or at once (a dropdown). Results never write into
 * the fields, so characters typed while a re-plan is under way are kept.
 */
function onEdit(delayMs: number): void {
  state.fields = readFields();
  save();
  if (draftTimer) clearTimeout(draftTimer);
  draftTimer = setTimeout(() => post({ type: 'inputs', fields: state.fields ?? {} }), 300);
  const r = attempt(readForm);
  $('form-error').textContent = r.ok ? '' : friendlyError(r.error);
  updateStale(r.ok ? undefined : friendlyError(r.error));
  if (planTimer) clearTimeout(planTimer);
  planTimer = r.ok ? setTimeout(planNow, delayMs) : undefined;
}

/** Budget kind switched: the same compute in the new unit (or the new kind's default). */
function onBudgetKind(): void {
  const to = field('budgetKind').value as BudgetKind;
  if (to === lastKind || !(BUDGET_KINDS as readonly string[]).includes(to)) return;
  const precision = field('precision').value === 'bf16' ? 'bf16' : 'fp32';
  const hw = hardware.find((h) => h.id === field('gpu').value);
  const peak = hw ? (precision === 'bf16' ? hw.tflops16 ?? hw.tflops32 : hw.tflops32) : undefined;
  const resultsMatch = state.resultsFor && state.resultsFor.gpu === field('gpu').value && (state.resultsFor.precision ?? 'fp32') === precision;
  const rate = (resultsMatch ? flopsPerGpuHourFromShapes(state.shapes) : undefined) ?? (peak ? flopsPerGpuHourFromPeak(peak, MFU_KNOB) : undefined);
  field('budget').value = formatBudget(convertBudget(parseNumber(field('budget').value), lastKind, to, rate));
  lastKind = to;
}

for (const k of FORM_FIELDS) {
  const el = field(k);
  if (el.tagName.toLowerCase() === 'vscode-single-select') {
    el.addEventListener('change', () => {
      if (k === 'budgetKind') onBudgetKind();
      onEdit(0);
    });
  } else {
    el.addEventListener('input', () => onEdit(TYPING_PAUSE_MS));
    el.addEventListener('change', () => onEdit(TYPING_PAUSE_MS));
  }
}

// Ctrl/Cmd+A selects a field's text here, not through VS Code's late Select All round trip, which
// replaced the first character typed right after it (issue 14; see webview/shared/selectAll.ts).
handleSelectAllInTextFields(document, isMac(navigator.platform));

$('plan-btn').addEventListener('click', (e) => {
  e.preventDefault();
  planNow();
});
$('form').addEventListener('keydown', (e) => {
  const ke = e as KeyboardEvent;
  if (ke.key !== 'Enter') return;
  const tag = (ke.target as HTMLElement | null)?.tagName?.toLowerCase();
  // Enter in a text field plans at once; buttons and dropdowns keep their own Enter.
  if (tag === 'vscode-textfield') {
    ke.preventDefault();
    planNow();
  }
});
let defaults: PlanRequest | undefined;
$('reset-btn').addEventListener('click', (e) => {
  e.preventDefault();
  if (defaults) {
    setFields(fieldsOf(defaults));
    onEdit(0);
  }
});

// ---------------------------------------------------------------------------------------------
// Results

const COLUMNS: Array<{ key: SortKey; label: string; title: string; fmt: (s: ShapeVM) => string }> = [
  { key: 'dModel', label: 'd_model \u00d7 L', title: 'width x depth', fmt: (s) => `${s.dModel} \u00d7 ${s.nLayers}` },
  { key: 'nHeads', label: 'heads', title: 'heads x head dim', fmt: (s) => `${s.nHeads}\u00d7${s.dHead}` },
  { key: 'params', label: 'params', title: 'total parameters', fmt: (s) => fmt(s.params) },
  { key: 'tokens', label: 'tokens', title: 'training tokens', fmt: (s) => fmt(s.tokens) },
  { key: 'tokensPerParam', label: 'tok/param', title: 'tokens per parameter', fmt: (s) => s.tokensPerParam.toFixed(1) },
  { key: 'predictedLoss', label: 'pred. loss', title: 'predicted loss (scaling fit x shape penalty)', fmt: (s) => s.predictedLoss.toFixed(4) },
  { key: 'hours', label: 'hours', title: 'wall-clock hours on the chosen GPUs', fmt: (s) => fmtHours(s.hours) },
  { key: 'memoryGiB', label: 'mem GiB', title: 'per-GPU training memory at the micro-batch, and the memory setting the planner chose (DDP, FSDP sharding, activation checkpointing) that the export passes on', fmt: (s) => `${s.memoryGiB.toFixed(1)}${s.memorySetting ? ` \u00b7 ${s.memorySetting}` : ''}` },
  { key: 'microBatch', label: '\u00b5batch', title: 'micro-batch per GPU', fmt: (s) => String(s.microBatch) },
  { key: 'mfu', label: 'MFU', title: 'model FLOPs utilization implied by the time model', fmt: (s) => (s.mfu === null ? '\u2013' : `${(100 * s.mfu).toFixed(0)}%`) },
];

function renderTable(): void {
  const thead = $('results-table').querySelector('thead')!;
  thead.innerHTML = '';
  const tr = document.createElement('tr');
  for (const c of COLUMNS) {
    const th = document.createElement('th');
    th.textContent = c.label + (state.sort.key === c.key ? (state.sort.dir === 1 ? ' \u25b2' : ' \u25bc') : '');
    th.title = `${c.title} (click to sort)`;
    th.tabIndex = 0;
    th.dataset.key = c.key;
    th.setAttribute('aria-sort', state.sort.key === c.key ? (state.sort.dir === 1 ? 'ascending' : 'descending') : 'none');
    const sortBy = () => {
      state.sort = state.sort.key === c.key ? { key: c.key, dir: state.sort.dir === 1 ? -1 : 1 } : { key: c.key, dir: 1 };
      save();
      renderTable();
    };
    th.addEventListener('click', sortBy);
    th.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && sortBy());
    tr.appendChild(th);
  }
  thead.appendChild(tr);
  const tbody = $('results-table').querySelector('tbody')!;
  tbody.replaceChildren(
    ...sortShapes(state.shapes, state.sort.key, state.sort.dir).map((s) => {
      const row = document.createElement('tr');
      row.dataset.id = s.id;
      // exact values for tests and tools (the cells are rounded)
      row.dataset.params = String(s.params);
      row.dataset.hours = String(s.hours);
      row.dataset.loss = String(s.predictedLoss);
      row.tabIndex = 0;
      if (s.id === state.selectedId) row.classList.add('selected');
      if (s.pareto) row.classList.add('pareto');
      for (const c of COLUMNS) {
        const td = document.createElement('td');
        td.textContent = c.fmt(s);
        row.appendChild(td);
      }
      row.addEventListener('click', () => select(s.id));
      row.addEventListener('keydown', (e) => e.key === 'Enter' && select(s.id));
      return row;
    }),
  );
  $('results-meta').textContent = state.shapes.length
    ? `${state.shapes.length} shapes (${state.shapes.filter((s) => s.pareto).length} on the Pareto front)${state.elapsedMs !== undefined ? `, ${state.elapsedMs} ms` : ''}`
    : '';
  const w = $('warnings');
  w.replaceChildren(...state.warnings.map((t) => Object.assign(document.createElement('p'), { className: 'warn', textContent: `\u26a0 ${t}` })));
  $('sources').querySelector('tbody')!.replaceChildren(...state.sources.map(sourceRow));
}

function sourceRow(s: SourcedValue): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const a = document.createElement('td');
  a.textContent = s.name;
  const b = document.createElement('td');
  b.textContent = s.value;
  b.className = 'val';
  const c = document.createElement('td');
  c.textContent = s.source;
  c.className = 'src';
  tr.append(a, b, c);
  return tr;
}

function select(id: string): void {
  state.selectedId = id;
  save();
  $('results-table').querySelectorAll('tbody tr').forEach((r) => r.classList.toggle('selected', (r as HTMLElement).dataset.id === id));
  post({ type: 'detail', shapeId: id });
}

// Pareto chart: rebuilt from scratch for every result set, so axes, scales, labels and hover
// values always belong to the data drawn (uPlot keeps its scales across setData).
let chart: uPlot | undefined;
let chartResize: ResizeObserver | undefined;
let chartOrder: ShapeVM[] = [];
function renderChart(): void {
  const host = $('pareto-chart') as HTMLElement & { uplot?: uPlot };
  const kind = state.resultsFor?.budgetKind ?? 'flops';
  const series = chartSeries(state.shapes, kind);
  chartOrder = series.order;
  chartResize?.disconnect();
  chart?.destroy();
  host.replaceChildren();
  $('chart-title').textContent = series.title;
  const pal = palette();
  const loss = (_u: uPlot, v: number | null) => (v === null ? '\u2013' : v.toFixed(4));
  // A local fit's bootstrap band around the front: shaded, with its edges as series so the y-axis
  // covers it and the legend reads the band at the cursor.
  const fitVM = state.fits?.find((f) => f.id === state.resultsFor?.fit);
  const caption = bandCaption(series, fitVM);
  const note = $('band-note');
  note.hidden = !caption;
  note.textContent = caption ?? '';
  const edge = { stroke: pal.blue, width: 1, dash: [4, 3], spanGaps: true, points: { show: false }, value: loss };
  chart = new uPlot(
    {
      width: Math.max(300, host.clientWidth || 500),
      height: 220,
      scales: { x: { time: false } },
      legend: { show: true },
      cursor: { points: { size: 7 } },
      axes: [
        { stroke: pal.fg, grid: { stroke: pal.grid }, ticks: { stroke: pal.grid }, values: axisValues, label: series.xLabel, labelSize: 16 },
        { stroke: pal.fg, grid: { stroke: pal.grid }, ticks: { stroke: pal.grid }, values: (_u, s) => s.map((v) => v.toFixed(3)), size: 50 },
      ],
      series: [
        { label: series.xKey === 'params' ? 'params' : 'hours', value: (_u, v) => (series.xKey === 'params' ? (v === null ? '\u2013' : fmt(v)) : fmtHours(v)) },
        { label: 'shape', stroke: pal.faint, width: 0, paths: () => null, points: { show: true, size: 5, fill: pal.faint }, value: loss },
        { label: series.xKey === 'params' ? 'lowest loss at this size' : 'Pareto front', stroke: pal.blue, width: 2, spanGaps: true, points: { show: true, size: 6, fill: pal.blue }, value: loss },
        ...(caption ? [{ label: '95% band, upper', ...edge }, { label: '95% band, lower', ...edge }] : []),
      ],
      plugins: caption ? [bandPlugin(() => ({ xs: series.xs, lo: series.bandLo, hi: series.bandHi, color: pal.blue }), host)] : [],
    },
    caption ? [series.xs, series.all, series.front, series.bandHi, series.bandLo] : [series.xs, series.all, series.front],
    host,
  );
  chartResize = autoSize(chart, host, 220);
  chart.over.addEventListener('click', () => {
    const i = chart?.cursor.idx;
    if (i !== undefined && i !== null && chartOrder[i]) select(chartOrder[i].id);
  });
  // For tests and tools: the chart object itself and what it shows.
  host.uplot = chart;
  host.dataset.points = String(series.xs.length);
  host.dataset.xKey = series.xKey;
  host.dataset.bandPoints = String(series.bandLo.filter((v) => v !== null).length);
  host.dataset.requestId = String(pending);
}

// Detail pane
function renderDetail(): void {
  const d = state.detail;
  const box = $('detail');
  proxyBox.remove();
  if (!d || d.shapeId !== state.selectedId) {
    box.hidden = true;
    box.after(proxyBox);
    if (proxyChoice) closeProxy();
    return;
  }
  box.hidden = false;
  const s = d.shape;
  const table = (head: string[], rows: string[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td${i === r.length - 1 && head[head.length - 1] === 'source' ? ' class="src"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  box.innerHTML = `
    <div class="detail-head">
      <h2 id="detail-title">d_model ${s.dModel} \u00d7 ${s.nLayers} layers</h2>
      <span class="muted">${s.nHeads} heads \u00d7 ${s.dHead}, d_ff ${s.dFf} \u00b7 ${fmt(s.params)} params \u00b7 ${fmt(s.tokens)} tokens \u00b7 loss ${s.predictedLoss.toFixed(4)}${s.lossBand ? ` (95% band ${s.lossBand[0].toFixed(4)}\u2013${s.lossBand[1].toFixed(4)})` : ''} \u00b7 ${fmtHours(s.hours)}</span>
      <div class="row actions">
        <vscode-button id="train-btn">Train this</vscode-button>
        <vscode-button id="export-json-btn" secondary>Export JSON</vscode-button>
        <vscode-button id="export-torch-btn" secondary>Export PyTorch</vscode-button>
      </div>
      <p class="muted small">"Train this" trains a proxy of this shape on this machine: the planned depth (${s.nLayers} layers) at a smaller width, with the hyperparameters CompleteP transfers; you choose its width, steps and data and confirm before it starts.</p>
    </div>
    ${d.warnings.map((w) => `<p class="warn">\u26a0 ${esc(w)}</p>`).join('')}
    <h3>Per-group hyperparameters (${esc(state.request?.parameterization ?? '')})</h3>
    ${table(['group', 'init std', 'peak lr', 'AdamW eps', 'weight decay'], d.hparams.map((h) => [h.group, initText(h.group, h.initStd), fmt(h.lr, 4), fmt(h.eps, 3), fmt(h.weightDecay, 4)]))}
    ${table(['multiplier', 'value', 'source'], d.multipliers.map((m) => [m.name, m.value, m.source]))}
    <h3>Memory per GPU</h3>
    ${table(['part', 'GiB'], d.memory.map((m) => [m.part, m.gib.toFixed(2)]))}
    <h3>Parameters</h3>
    ${table(['part', 'count'], d.paramCounts.map((p) => [p.part, p.count.toLocaleString('en-US')]))}
    <h3>G_stack growth plan</h3>
    ${table(['stage', 'layers', 'params', 'tokens', 'FLOP share'], d.growth.map((g) => [g.stage, String(g.depth), fmt(g.params), fmt(g.tokens), `${(100 * g.flopsShare).toFixed(0)}%`]))}
    ${table(['', 'value', 'source'], d.sources.map((x) => [x.name, x.value, x.source]))}`;
  box.querySelector('.detail-head')!.after(proxyBox);
  if (proxyChoice && proxyChoice.shapeId !== d.shapeId) closeProxy();
  $('train-btn').addEventListener('click', () => openProxy(d));
  $('export-json-btn').addEventListener('click', () => post({ type: 'export', shapeId: d.shapeId, format: 'json' }));
  $('export-torch-btn').addEventListener('click', () => post({ type: 'export', shapeId: d.shapeId, format: 'torch' }));
}

// ---------------------------------------------------------------------------------------------
// "Train this": the proxy dialog. Its inputs are built once per shape and never rewritten by a
// host answer (only the preview below them is), so typing in them is never disturbed.

let proxyChoice: ProxyChoice | undefined;
let proxyPreview: ProxyPreviewVM | undefined;
let proxyTimer: ReturnType<typeof setTimeout> | undefined;

function openProxy(d: ShapeDetailVM): void {
  const box = proxyBox;
  box.hidden = false;
  proxyChoice = { shapeId: d.shapeId, width: d.proxyWidth, steps: proxySteps, data: 'brown', tokenizer: 'byte' };
  proxyPreview = undefined;
  box.innerHTML = `
    <h2 id="proxy-title">Train a proxy of d_model ${d.shape.dModel} \u00d7 ${d.shape.nLayers} layers</h2>
    <div class="row">
      <vscode-label for="proxy-width">width</vscode-label><vscode-textfield id="proxy-width" inputmode="numeric" class="short" value="${d.proxyWidth}"></vscode-textfield>
      <vscode-label for="proxy-steps">steps</vscode-label><vscode-textfield id="proxy-steps" inputmode="numeric" class="short" value="${proxySteps}"></vscode-textfield>
      <vscode-label for="proxy-data">data</vscode-label>
      <vscode-single-select id="proxy-data"><vscode-option value="brown">Brown corpus (embedded)</vscode-option><vscode-option value="file">a text file\u2026</vscode-option><vscode-option value="folder">a folder of text files\u2026</vscode-option></vscode-single-select>
      <vscode-label for="proxy-tokenizer">tokenizer</vscode-label>
      <vscode-single-select id="proxy-tokenizer"><vscode-option value="byte">byte (256)</vscode-option><vscode-option value="gpt2">GPT-2 BPE (50257)</vscode-option></vscode-single-select>
    </div>
    <div id="proxy-error" class="error" role="alert"></div>
    <div id="proxy-preview" class="muted">Computing the proxy\u2026</div>
    <div class="row actions">
      <vscode-button id="proxy-start" disabled>Start proxy run</vscode-button>
      <vscode-button id="proxy-cancel" secondary>Cancel</vscode-button>
    </div>`;
  const readChoice = (): ProxyChoice | string => {
    const w = parseNumber(field('proxy-width').value);
    const st = parseNumber(field('proxy-steps').value);
    if (w === undefined || !Number.isInteger(w) || w < 1) return 'width: a whole number of channels, e.g. 128';
    if (st === undefined || !Number.isInteger(st) || st < 1 || st > 1e9) return 'steps: a whole number from 1 to 1e9';
    return { shapeId: d.shapeId, width: w, steps: st, data: proxyChoice?.data ?? 'brown', tokenizer: field('proxy-tokenizer').value === 'gpt2' ? 'gpt2' : 'byte' };
  };
  const changed = () => {
    const c = readChoice();
    setProxyReady(false);
    if (typeof c === 'string') {
      $('proxy-error').textContent = c;
      return;
    }
    $('proxy-error').textContent = '';
    proxyChoice = c;
    if (proxyTimer) clearTimeout(proxyTimer);
    proxyTimer = setTimeout(() => post({ type: 'proxyPreview', ...c }), 250);
  };
  for (const id of ['proxy-width', 'proxy-steps']) field(id).addEventListener('input', changed);
  field('proxy-tokenizer').addEventListener('change', changed);
  field('proxy-data').addEventListener('change', () => {
    const v = field('proxy-data').value;
    if (v === 'file' || v === 'folder') post({ type: 'pickData', kind: v });
    else if (proxyChoice) {
      proxyChoice.data = 'brown';
      changed();
    }
  });
  $('proxy-start').addEventListener('click', () => {
    const c = readChoice();
    // Start trains exactly what the preview shows; anything else asks for a fresh preview first.
    if (typeof c === 'string' || !proxyPreview || JSON.stringify(c) !== JSON.stringify(proxyPreview.choice)) return changed();
    setProxyReady(false);
    $('proxy-preview').insertAdjacentHTML('beforeend', '<p class="muted" id="proxy-started">Starting\u2026</p>');
    post({ type: 'trainProxy', ...c });
  });
  $('proxy-cancel').addEventListener('click', closeProxy);
  post({ type: 'proxyPreview', ...proxyChoice });
  box.scrollIntoView({ block: 'nearest' });
}

function closeProxy(): void {
  proxyChoice = undefined;
  proxyPreview = undefined;
  proxyBox.hidden = true;
  proxyBox.replaceChildren();
  delete proxyBox.dataset.ready;
}

function setProxyReady(ready: boolean): void {
  const b = document.getElementById('proxy-start');
  if (!b) return;
  if (ready) b.removeAttribute('disabled');
  else b.setAttribute('disabled', '');
  proxyBox.dataset.ready = ready ? '1' : '0';
}

function renderProxyPreview(p: ProxyPreviewVM): void {
  proxyPreview = p;
  const x = p.proxy;
  const g = (v: number, d = 3) => fmt(v, d);
  const rows = p.rows
    .map((r) => `<tr data-group="${esc(r.group)}"><td>${esc(r.group)}</td><td>${g(r.proxy.initStd, 4)}</td><td>${g(r.proxy.lr, 4)}</td><td>${g(r.proxy.eps)}</td><td>${g(r.proxy.weightDecay, 4)}</td><td class="muted">${g(r.plan.initStd, 4)}</td><td class="muted">${g(r.plan.lr, 4)}</td><td class="muted">${g(r.plan.eps)}</td><td class="muted">${g(r.plan.weightDecay, 4)}</td></tr>`)
    .join('');
  const mult = p.multipliers.map((m) => `<tr><td>${esc(m.name)}</td><td>${m.proxy.toPrecision(4)}</td><td class="muted">${m.plan.toPrecision(4)}</td></tr>`).join('');
  $('proxy-preview').innerHTML = `
    <p id="proxy-summary" data-d-model="${x.dModel}" data-layers="${x.nLayers}">Proxy: d_model <b>${x.dModel}</b> \u00d7 <b>${x.nLayers}</b> layers (planned ${p.planned.dModel} \u00d7 ${p.planned.nLayers}), ${x.nHeads} \u00d7 ${x.dHead} heads, d_ff ${x.dFf},
      context ${x.context}, batch ${x.batchSize}, vocab ${x.vocab} \u00b7 ${fmt(x.params)} params \u00b7 ${fmt(x.flopsPerStep)} FLOPs/step \u00b7 ${p.choice.steps} steps on ${esc(p.dataLabel)}</p>
    <p class="muted small">Suggested widths: ${p.widthChoices.map((w) => (w === p.defaultWidth ? `<b>${w}</b>` : String(w))).join(', ')} (bold: default). ${esc(p.rule)}</p>
    ${p.notes.map((n) => `<p class="warn">\u26a0 ${esc(n)}</p>`).join('')}
    <h3>Transferred hyperparameters per group (${esc(state.resultsFor?.parameterization ?? '')})</h3>
    <table id="proxy-hparams"><thead><tr><th>group</th><th>init std</th><th>peak lr</th><th>AdamW eps</th><th>weight decay</th><th class="muted">plan: init std</th><th class="muted">plan: lr</th><th class="muted">plan: eps</th><th class="muted">plan: wd</th></tr></thead><tbody>${rows}</tbody></table>
    <table><thead><tr><th>multiplier</th><th>proxy</th><th class="muted">plan</th></tr></thead><tbody>${mult}</tbody></table>`;
  setProxyReady(true);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function notice(text: string, cls = 'muted'): void {
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  const box = $('notices');
  box.prepend(p);
  while (box.childElementCount > 4) box.lastElementChild?.remove();
}

// ---------------------------------------------------------------------------------------------
// Host messages

window.addEventListener('message', (ev: MessageEvent) => {
  const m = ev.data as HostToPlanner;
  if (!hostMessageType(m, ['init', 'results', 'detail', 'error', 'notice', 'proxy', 'proxyError', 'proxyData'] as const)) return;
  switch (m.type) {
    case 'init': {
      hardware = m.hardware;
      defaults = m.defaults.request;
      const fits = fitOptions(m.fits);
      state.fits = fits;
      const fitSel = field('fit');
      // The fit the form shows now (a re-init keeps it when the new list still has it).
      const keepFit = formReady ? fitSel.value : undefined;
      fitSel.innerHTML = fits.map(fitOptionHtml).join('');
      proxySteps = m.defaults.proxySteps;
      const gpu = field('gpu');
      const keep = gpu.value;
      gpu.replaceChildren(
        ...hardware.map((h) => {
          const o = document.createElement('vscode-option');
          o.setAttribute('value', h.id);
          o.setAttribute('description', `${h.tflops16 ?? '\u2013'} TFLOP/s bf16, ${h.tflops32} fp32, ${h.memoryGB} GB \u2014 ${h.source}`);
          o.textContent = h.name;
          return o;
        }),
      );
      // wait a frame so the select has seen its new options
      requestAnimationFrame(() => {
        if (formReady) {
          // a second init (settings changed, a study fitted): the user's inputs stay as they are;
          // a local fit that left the list falls back to the default fit and re-plans
          if (keep) gpu.value = keep;
          const fit = pickFit(keepFit, fits, m.defaults.request.fit);
          fitSel.value = fit;
          if (fit !== keepFit) onEdit(0);
          else if (state.shapes.length) renderChart(); // the band caption names the fit from the new list
          return;
        }
        // What the user typed last (this webview's state, else the host's copy, which survives
        // closing the panel), else the last request, else the defaults.
        const fields = state.fields ?? m.saved ?? (state.request ? fieldsOf(state.request) : fieldsOf(m.defaults.request));
        // a saved local fit id whose study is gone (or renumbered by a reload) is not offered
        setFields({ ...fieldsOf(m.defaults.request), ...fields, fit: pickFit(fields.fit, fits, m.defaults.request.fit) });
        formReady = true;
        state.fields = readFields();
        save();
        // Re-run the request even when its results are restored: the host keeps no results
        // across a close or reload, and the detail pane asks it for them.
        const r = attempt(readForm);
        $('form-error').textContent = r.ok ? '' : friendlyError(r.error);
        if (r.ok) requestPlan(r.value);
        else updateStale(friendlyError(r.error));
      });
      break;
    }
    case 'results':
      if (m.requestId !== pending) return;
      $('status').textContent = '';
      state.shapes = m.shapes;
      state.warnings = m.warnings;
      state.sources = m.sources;
      state.elapsedMs = m.elapsedMs;
      const samePlan = sameRequest(state.resultsFor, state.request);
      state.resultsFor = state.request;
      if (state.selectedId && !m.shapes.some((s) => s.id === state.selectedId)) {
        state.selectedId = undefined;
        state.detail = undefined;
      }
      if (!state.selectedId && m.shapes.length) {
        const best = [...m.shapes].sort((a, b) => a.predictedLoss - b.predictedLoss)[0];
        state.selectedId = best.id;
      }
      // a proxy dialog belongs to one plan's shape: a different plan closes it
      if (proxyChoice && (!samePlan || !m.shapes.some((s) => s.id === proxyChoice?.shapeId))) closeProxy();
      save();
      renderTable();
      renderChart();
      renderDetail();
      updateStale();
      if (state.selectedId) post({ type: 'detail', shapeId: state.selectedId });
      break;
    case 'detail':
      if (m.detail.shapeId !== state.selectedId) return;
      state.detail = m.detail;
      save();
      renderDetail();
      break;
    case 'error':
      if (m.requestId !== undefined && m.requestId !== pending) return;
      $('status').textContent = '';
      $('form-error').textContent = m.message;
      updateStale(m.message);
      break;
    case 'notice':
      notice(m.message);
      break;
    case 'proxy':
      if (!proxyChoice || JSON.stringify(m.preview.choice) !== JSON.stringify(proxyChoice)) return; // an older answer
      $('proxy-error').textContent = '';
      renderProxyPreview(m.preview);
      break;
    case 'proxyError':
      if (!proxyChoice || m.shapeId !== proxyChoice.shapeId) return;
      $('proxy-error').textContent = m.message;
      setProxyReady(false);
      break;
    case 'proxyData': {
      if (!proxyChoice) return;
      const sel = field('proxy-data');
      if (m.label === null) {
        sel.value = 'brown';
        proxyChoice.data = 'brown';
      } else proxyChoice.data = 'picked';
      setProxyReady(false);
      post({ type: 'proxyPreview', ...proxyChoice });
      break;
    }
  }
});

// Restore what we had before the panel was hidden, then ask the host for its data.
if (state.shapes.length) {
  renderTable();
  renderChart();
  renderDetail();
}
post({ type: 'ready' });
