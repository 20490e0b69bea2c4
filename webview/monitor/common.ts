/** Pieces the monitor and the comparison share: axis/log controls, uPlot options, saving. */
import { uPlot, axisValues, growthMarkerPlugin, palette } from '../shared/charts';
import { ChartBox, csvOf, pngOf, svgOf } from '../shared/chartBox';
import { GrowthMarker, X_AXES, X_LABELS, XAxis, fmt } from '../shared/chartData';
import type { MonitorToHost, SaveFormat } from '../shared/messages';

export interface Api {
  postMessage(m: MonitorToHost): void;
  getState(): unknown;
  setState(s: unknown): void;
}

export function axisControls(id = 'x-axis'): string {
  return `<label class="ctl">x <select id="${id}">${X_AXES.map((a) => `<option value="${a}">${X_LABELS[a]}</option>`).join('')}</select></label>
    <label class="ctl"><input id="log-scale" type="checkbox"> log y</label>`;
}

/**
 * Wires the controls axisControls() renders: shows the current choice, and on a change reports the
 * new x-axis and log flag (the caller keeps them, persists and rebuilds).
 */
export function bindAxisControls(xAxis: XAxis, logY: boolean, onChange: (xAxis: XAxis, logY: boolean) => void): void {
  const axisSel = document.getElementById('x-axis') as HTMLSelectElement;
  const logBox = document.getElementById('log-scale') as HTMLInputElement;
  axisSel.value = xAxis;
  logBox.checked = logY;
  const changed = () => {
    if ((X_AXES as readonly string[]).includes(axisSel.value)) xAxis = axisSel.value as XAxis;
    onChange(xAxis, logBox.checked);
  };
  axisSel.addEventListener('change', changed);
  logBox.addEventListener('change', changed);
}

export function plotOptions(b: ChartBox, xAxis: XAxis, markers: () => readonly GrowthMarker[], extra: Partial<uPlot.Options> = {}): uPlot.Options {
  const pal = palette();
  return {
    width: 300,
    height: 150,
    legend: { show: true, live: true },
    cursor: { drag: { x: true, y: false }, points: { size: 5 } },
    scales: { x: { time: false }, y: b.logY ? { distr: 3 } : {} },
    axes: [
      { stroke: pal.fg, grid: { stroke: pal.grid, width: 1 }, ticks: { stroke: pal.grid }, values: axisValues, size: 28 },
      { stroke: pal.fg, grid: { stroke: pal.grid, width: 1 }, ticks: { stroke: pal.grid }, values: axisValues, size: 58 },
    ],
    series: [
      { label: X_LABELS[xAxis], value: (_u, v) => fmt(v, 6) },
      ...b.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: s.width ?? 1.5,
        dash: s.dash,
        spanGaps: true,
        points: { show: s.points ?? false, size: 4, fill: s.color },
        value: (_u: uPlot, v: number | null) => fmt(v, 4),
      })),
    ],
    plugins: [growthMarkerPlugin(markers)],
    ...extra,
  };
}

/** Log scale cannot show values <= 0: they become gaps. */
export function positiveOnly(data: uPlot.AlignedData, on: boolean): uPlot.AlignedData {
  if (!on) return data;
  return [data[0], ...data.slice(1).map((c) => (c as Array<number | null>).map((v) => (v !== null && v > 0 ? v : null)))] as uPlot.AlignedData;
}

export function save(api: Api, b: ChartBox, format: SaveFormat): void {
  try {
    const csv = csvOf(b);
    if (format === 'csv') api.postMessage({ type: 'save', format, chart: b.key, csv });
    else api.postMessage({ type: 'save', format, chart: b.key, csv, image: format === 'png' ? pngOf(b) : svgOf(b) });
  } catch (e) {
    // Nothing is drawn yet: nothing to save.
    console.warn('save failed', e);
  }
}

export function markerColors(ms: readonly GrowthMarker[]): Array<{ x: number; color: string; label: string }> {
  const pal = palette();
  return ms.map((m) => ({ x: m.x, color: m.color ?? (m.kind === 'resume' ? pal.green : pal.purple), label: m.label }));
}
