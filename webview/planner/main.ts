/**
 * Planner webview: inputs -> ranked shapes (sortable table + Pareto chart of predicted loss vs
 * hours) -> detail of one shape (per-group hyperparameters, memory, G_stack growth plan, sources,
 * warnings) with "Train this" and "Export". State survives hiding/reopening via getState/setState.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import { uPlot, autoSize, axisValues, palette } from '../shared/charts';
import { fmt } from '../shared/chartData';
import { hours as fmtHours, initText } from '../../src/core/plan/format';
import { attempt } from '../shared/validate';
import {
  BUDGET_KINDS, HardwareVM, HostToPlanner, PARAMETERIZATION_IDS, PlanRequest, PlannerToHost, PRECISIONS, SCALING_FITS, ShapeDetailVM, ShapeVM, SourcedValue,
  hostMessageType, validatePlanRequest,
} from '../shared/messages';
import { SortKey, sortShapes, paretoSeries } from './table';

declare function acquireVsCodeApi(): { postMessage(m: PlannerToHost): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

interface State {
  request?: PlanRequest;
  shapes: ShapeVM[];
  warnings: string[];
  sources: SourcedValue[];
  selectedId?: string;
  detail?: ShapeDetailVM;
  sort: { key: SortKey; dir: 1 | -1 };
  elapsedMs?: number;
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
const save = () => vscode.setState(state);
const post = (m: PlannerToHost) => vscode.postMessage(m);

const app = document.getElementById('app')!;
app.innerHTML = `
<div class="planner">
  <form id="form" class="inputs" autocomplete="off">
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
      <vscode-textfield id="gpuCount" type="number" min="1" class="short"></vscode-textfield>
    </div>
    <div class="row">
      <vscode-label for="context">Context</vscode-label><vscode-textfield id="context" type="number" class="short"></vscode-textfield>
      <vscode-label for="vocab">Vocab</vscode-label><vscode-textfield id="vocab" type="number" class="short"></vscode-textfield>
    </div>
    <div class="row">
      <vscode-label for="parameterization">Parameterization</vscode-label>
      <vscode-single-select id="parameterization">${PARAMETERIZATION_IDS.map((p) => `<vscode-option value="${p}">${p}</vscode-option>`).join('')}</vscode-single-select>
      <vscode-label for="fit">Scaling fit</vscode-label>
      <vscode-single-select id="fit">${SCALING_FITS.map((p) => `<vscode-option value="${p}">${p}</vscode-option>`).join('')}</vscode-single-select>
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
  </form>
  <section class="results">
    <div class="results-head"><h2>Shapes</h2><span id="results-meta" class="muted"></span></div>
    <div id="warnings"></div>
    <div class="pareto"><h3>Pareto front: predicted loss vs wall-clock hours</h3><div id="pareto-chart"></div></div>
    <div class="table-wrap"><table id="results-table"><thead></thead><tbody></tbody></table></div>
    <details id="sources-box"><summary>Sources and conventions</summary><table id="sources"><tbody></tbody></table></details>
  </section>
  <section id="detail" class="detail" hidden></section>
</div>`;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
type Field = HTMLElement & { value: string };
const field = (id: string) => $<Field>(id);

// ---------------------------------------------------------------------------------------------
// Form <-> request

function setForm(r: PlanRequest): void {
  field('budgetKind').value = r.budgetKind;
  field('budget').value = r.budget >= 1e6 ? r.budget.toExponential().replace('e+', 'e') : String(r.budget);
  field('gpu').value = r.gpu;
  field('gpuCount').value = String(r.gpuCount);
  field('context').value = String(r.context);
  field('vocab').value = String(r.vocab);
  field('parameterization').value = r.parameterization;
  field('fit').value = r.fit;
  field('precision').value = r.precision ?? 'fp32';
  for (const [k, v] of Object.entries(r.base)) field(`base.${k}`).value = String(v);
  for (const k of ['minDepth', 'maxDepth', 'maxWidth', 'headDim', 'maxMemoryGB'] as const) {
    const v = r.constraints[k];
    field(`c.${k}`).value = v === undefined ? '' : String(v);
  }
}

function num(id: string): number | undefined {
  const s = field(id).value.trim();
  if (!s) return undefined;
  const v = Number(s.replace(/_/g, ''));
  return Number.isFinite(v) ? v : NaN;
}

function readForm(): PlanRequest {
  const raw = {
    budgetKind: field('budgetKind').value,
    budget: num('budget'),
    gpu: field('gpu').value,
    gpuCount: num('gpuCount'),
    context: num('context'),
    vocab: num('vocab'),
    parameterization: field('parameterization').value,
    fit: field('fit').value,
    precision: field('precision').value,
    base: Object.fromEntries(['baseWidth', 'baseDepth', 'lr', 'initStd', 'eps', 'weightDecay'].map((k) => [k, num(`base.${k}`)])),
    constraints: Object.fromEntries(
      ['minDepth', 'maxDepth', 'maxWidth', 'headDim', 'maxMemoryGB'].map((k) => [k, num(`c.${k}`)]).filter(([, v]) => v !== undefined),
    ),
  };
  // Same validator as the host: errors name the field before anything is sent.
  return validatePlanRequest(raw, 'input');
}

function requestPlan(r: PlanRequest): void {
  state.request = r;
  save();
  pending = ++requestId;
  $('status').textContent = 'Planning\u2026';
  post({ type: 'plan', requestId: pending, request: r });
}

$('plan-btn').addEventListener('click', (e) => {
  e.preventDefault();
  const r = attempt(readForm);
  $('form-error').textContent = r.ok ? '' : r.error.replace(/^input\./, '');
  if (r.ok) requestPlan(r.value);
});
$('form').addEventListener('keydown', (e) => {
  if ((e as KeyboardEvent).key === 'Enter') {
    e.preventDefault();
    $('plan-btn').click();
  }
});
let defaults: PlanRequest | undefined;
$('reset-btn').addEventListener('click', (e) => {
  e.preventDefault();
  if (defaults) {
    setForm(defaults);
    requestPlan(defaults);
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
  { key: 'memoryGiB', label: 'mem GiB', title: 'per-GPU training memory at the micro-batch', fmt: (s) => s.memoryGiB.toFixed(1) },
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

// Pareto chart
let chart: uPlot | undefined;
let chartOrder: ShapeVM[] = [];
function renderChart(): void {
  const host = $('pareto-chart');
  const { xs, all, front, order } = paretoSeries(state.shapes);
  chartOrder = order;
  const data: uPlot.AlignedData = [xs, all, front];
  if (!chart) {
    const pal = palette();
    chart = new uPlot(
      {
        width: Math.max(300, host.clientWidth || 500),
        height: 220,
        scales: { x: { time: false } },
        legend: { show: true },
        cursor: { points: { size: 7 } },
        axes: [
          { stroke: pal.fg, grid: { stroke: pal.grid }, ticks: { stroke: pal.grid }, values: axisValues, label: 'hours', labelSize: 16 },
          { stroke: pal.fg, grid: { stroke: pal.grid }, ticks: { stroke: pal.grid }, values: (_u, s) => s.map((v) => v.toFixed(3)), size: 50 },
        ],
        series: [
          { label: 'hours', value: (_u, v) => fmtHours(v) },
          { label: 'shape', stroke: pal.faint, width: 0, paths: () => null, points: { show: true, size: 5, fill: pal.faint }, value: (_u, v) => (v === null ? '\u2013' : v.toFixed(4)) },
          { label: 'Pareto front', stroke: pal.blue, width: 2, spanGaps: true, points: { show: true, size: 6, fill: pal.blue }, value: (_u, v) => (v === null ? '\u2013' : v.toFixed(4)) },
        ],
      },
      data,
      host,
    );
    autoSize(chart, host, 220);
    chart.over.addEventListener('click', () => {
      const i = chart?.cursor.idx;
      if (i !== undefined && i !== null && chartOrder[i]) select(chartOrder[i].id);
    });
  } else chart.setData(data);
  host.dataset.points = String(xs.length);
}

// Detail pane
function renderDetail(): void {
  const d = state.detail;
  const box = $('detail');
  if (!d || d.shapeId !== state.selectedId) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const s = d.shape;
  const table = (head: string[], rows: string[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td${i === r.length - 1 && head[head.length - 1] === 'source' ? ' class="src"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  box.innerHTML = `
    <div class="detail-head">
      <h2 id="detail-title">d_model ${s.dModel} \u00d7 ${s.nLayers} layers</h2>
      <span class="muted">${s.nHeads} heads \u00d7 ${s.dHead}, d_ff ${s.dFf} \u00b7 ${fmt(s.params)} params \u00b7 ${fmt(s.tokens)} tokens \u00b7 loss ${s.predictedLoss.toFixed(4)} \u00b7 ${fmtHours(s.hours)}</span>
      <div class="row actions">
        <vscode-button id="train-btn">Train this</vscode-button>
        <vscode-button id="export-json-btn" secondary>Export JSON</vscode-button>
        <vscode-button id="export-torch-btn" secondary>Export PyTorch</vscode-button>
      </div>
      <p class="muted small">"Train this" runs a scaled-down proxy of this plan on this machine (same parameterization and transfer rules; width and depth reduced to fit).</p>
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
  $('train-btn').addEventListener('click', () => post({ type: 'train', shapeId: d.shapeId }));
  $('export-json-btn').addEventListener('click', () => post({ type: 'export', shapeId: d.shapeId, format: 'json' }));
  $('export-torch-btn').addEventListener('click', () => post({ type: 'export', shapeId: d.shapeId, format: 'torch' }));
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
  if (!hostMessageType(m, ['init', 'results', 'detail', 'error', 'notice'] as const)) return;
  switch (m.type) {
    case 'init': {
      hardware = m.hardware;
      defaults = m.defaults.request;
      const gpu = field('gpu');
      gpu.replaceChildren(
        ...hardware.map((h) => {
          const o = document.createElement('vscode-option');
          o.setAttribute('value', h.id);
          o.setAttribute('description', `${h.tflops16 ?? '\u2013'} TFLOP/s bf16, ${h.tflops32} fp32, ${h.memoryGB} GB \u2014 ${h.source}`);
          o.textContent = h.name;
          return o;
        }),
      );
      const r = state.request ?? defaults;
      // wait a frame so the select has seen its new options
      requestAnimationFrame(() => {
        setForm(r);
        // Restored panels re-run their last request (the host keeps no state across reloads).
        requestPlan(r);
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
      if (state.selectedId && !m.shapes.some((s) => s.id === state.selectedId)) {
        state.selectedId = undefined;
        state.detail = undefined;
      }
      if (!state.selectedId && m.shapes.length) {
        const best = [...m.shapes].sort((a, b) => a.predictedLoss - b.predictedLoss)[0];
        state.selectedId = best.id;
      }
      save();
      renderTable();
      renderChart();
      renderDetail();
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
      break;
    case 'notice':
      notice(m.message);
      break;
  }
});

// Restore what we had before the panel was hidden, then ask the host for its data.
if (state.shapes.length) {
  renderTable();
  renderChart();
  renderDetail();
}
post({ type: 'ready' });
