/**
 * A chart card shared by the monitor and the comparison view: title, Save buttons (PNG, SVG, CSV
 * of the plotted points, saved by the extension host through a save dialog), a uPlot chart whose
 * options are rebuilt when the axis or log scale changes.
 */
import { uPlot, autoSize, cssVar } from './charts';
import { toCsv } from './chartData';
import { chartSvg, SvgSeries } from './svg';
import type { SaveFormat } from './messages';

export interface BoxSeries {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
  points?: boolean;
}

export interface ChartBox {
  key: string;
  title: string;
  box: HTMLDivElement;
  area: HTMLDivElement;
  plot?: uPlot;
  ro?: ResizeObserver;
  series: BoxSeries[];
  data: uPlot.AlignedData;
  xLabel: string;
  markers: () => Array<{ x: number; color: string; label: string }>;
  logY: boolean;
}

export function makeBox(host: HTMLElement, key: string, title: string, onSave: (b: ChartBox, f: SaveFormat) => void): ChartBox {
  const box = document.createElement('div');
  box.className = 'chart';
  box.dataset.chart = key;
  const head = document.createElement('div');
  head.className = 'chart-head';
  const h = document.createElement('h3');
  h.textContent = title;
  head.appendChild(h);
  const tools = document.createElement('span');
  tools.className = 'chart-tools';
  const b: ChartBox = { key, title, box, area: document.createElement('div'), series: [], data: [[]], xLabel: 'step', markers: () => [], logY: false };
  for (const f of ['png', 'svg', 'csv'] as const) {
    const btn = document.createElement('button');
    btn.className = 'save-btn';
    btn.dataset.save = f;
    btn.title = f === 'csv' ? `Save the plotted points of "${title}" as CSV` : `Save "${title}" as ${f.toUpperCase()} (and its points as CSV)`;
    btn.textContent = f.toUpperCase();
    btn.addEventListener('click', () => onSave(b, f));
    tools.appendChild(btn);
  }
  head.appendChild(tools);
  box.appendChild(head);
  box.appendChild(b.area);
  host.appendChild(box);
  return b;
}

/** (Re)creates the chart with these options; the data is kept. */
export function mountPlot(b: ChartBox, opts: uPlot.Options, height: number): void {
  b.ro?.disconnect();
  b.plot?.destroy();
  b.plot = new uPlot({ ...opts, width: Math.max(200, b.area.clientWidth || 300), height }, b.data, b.area);
  b.ro = autoSize(b.plot, b.area, height);
  b.box.dataset.log = b.logY ? '1' : '0';
}

export function setData(b: ChartBox, data: uPlot.AlignedData): void {
  b.data = data;
  b.plot?.setData(data, true);
}

export function csvOf(b: ChartBox): string {
  return toCsv([b.xLabel, ...b.series.map((s) => s.label)], b.data as ReadonlyArray<ReadonlyArray<number | null>>);
}

/** The chart as a PNG data URL: uPlot's canvas with a title and a legend, on the theme background. */
export function pngOf(b: ChartBox): string {
  const u = b.plot;
  if (!u) throw new Error('chart not drawn yet');
  const src = u.ctx.canvas;
  const dpr = devicePixelRatio || 1;
  const head = Math.round(22 * dpr), foot = Math.round(22 * dpr);
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height + head + foot;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = cssVar('--vscode-editor-background', '#1e1e1e');
  ctx.fillRect(0, 0, c.width, c.height);
  const fg = cssVar('--vscode-foreground', '#ccc');
  ctx.fillStyle = fg;
  ctx.font = `600 ${Math.round(13 * dpr)}px sans-serif`;
  ctx.fillText(`${b.title}${b.logY ? ' (log)' : ''} vs ${b.xLabel}`, 8 * dpr, 16 * dpr);
  ctx.drawImage(src, 0, head);
  ctx.font = `${Math.round(11 * dpr)}px sans-serif`;
  let x = 8 * dpr;
  const y = head + src.height + 14 * dpr;
  for (const s of b.series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2 * dpr;
    ctx.beginPath();
    ctx.moveTo(x, y - 4 * dpr);
    ctx.lineTo(x + 16 * dpr, y - 4 * dpr);
    ctx.stroke();
    ctx.fillStyle = fg;
    ctx.fillText(s.label, x + 20 * dpr, y);
    x += 28 * dpr + ctx.measureText(s.label).width;
  }
  return c.toDataURL('image/png');
}

export function svgOf(b: ChartBox): string {
  const series: SvgSeries[] = b.series.map((s, i) => ({ label: s.label, color: s.color, values: (b.data[i + 1] ?? []) as Array<number | null>, width: s.width, dash: !!s.dash, points: s.points }));
  return chartSvg({
    title: b.title, xLabel: b.xLabel, x: b.data[0] as Array<number | null>, series, markers: b.markers(), logY: b.logY,
    fg: cssVar('--vscode-foreground', '#444'), bg: cssVar('--vscode-editor-background', '#fff'),
  });
}
