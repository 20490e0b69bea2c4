/**
 * uPlot helpers shared by the webviews: theme colours from VS Code's CSS variables, a growth
 * marker plugin (vertical lines + tooltip through uPlot hooks), responsive sizing.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { GrowthMarker, bandPolygon, fmt, markerNear } from './chartData';

export function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

export function palette() {
  return {
    fg: cssVar('--vscode-foreground', '#ccc'),
    grid: cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.25)'),
    blue: cssVar('--vscode-charts-blue', '#3794ff'),
    orange: cssVar('--vscode-charts-orange', '#d18616'),
    green: cssVar('--vscode-charts-green', '#89d185'),
    purple: cssVar('--vscode-charts-purple', '#b180d7'),
    red: cssVar('--vscode-charts-red', '#f14c4c'),
    yellow: cssVar('--vscode-charts-yellow', '#cca700'),
    faint: cssVar('--vscode-disabledForeground', 'rgba(128,128,128,0.6)'),
  };
}

/**
 * Draws every growth (dashed) and resume (dotted) event as a vertical line on the chart (in uPlot's `draw` hook, on
 * uPlot's own canvas) and shows a tooltip (step, depth before -> after, policy) when the cursor
 * is within a few pixels of one (`setCursor` hook).
 */
export function growthMarkerPlugin(getMarkers: () => readonly GrowthMarker[]): uPlot.Plugin {
  let tip: HTMLDivElement | undefined;
  return {
    hooks: {
      init: (u: uPlot) => {
        tip = document.createElement('div');
        tip.className = 'growth-tip';
        tip.setAttribute('role', 'tooltip');
        tip.hidden = true;
        u.over.appendChild(tip);
      },
      draw: (u: uPlot) => {
        const markers = getMarkers();
        if (!markers.length) return;
        const { ctx } = u;
        const { left, top, width, height } = u.bbox;
        const growth = cssVar('--vscode-charts-purple', '#b180d7');
        const resume = cssVar('--vscode-charts-green', '#89d185');
        ctx.save();
        ctx.lineWidth = Math.max(1, devicePixelRatio);
        for (const m of markers) {
          const color = m.color ?? (m.kind === 'resume' ? resume : growth);
          ctx.strokeStyle = color;
          ctx.fillStyle = color;
          ctx.setLineDash(m.kind === 'resume' ? [2 * devicePixelRatio, 3 * devicePixelRatio] : [6 * devicePixelRatio, 4 * devicePixelRatio]);
          const x = Math.round(u.valToPos(m.x, 'x', true));
          if (x < left || x > left + width) continue;
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          // a small flag at the top so the marker is visible even where it overlaps a curve
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x + 6 * devicePixelRatio, top + 4 * devicePixelRatio);
          ctx.lineTo(x, top + 8 * devicePixelRatio);
          ctx.fill();
        }
        ctx.restore();
      },
      setCursor: (u: uPlot) => {
        if (!tip) return;
        const left = u.cursor.left;
        const m = left === undefined || left < 0 ? undefined : markerNear(getMarkers(), left, (s) => u.valToPos(s, 'x'), 6);
        if (!m) {
          tip.hidden = true;
          return;
        }
        tip.textContent = m.run ? `${m.run}: ${m.label}` : m.label;
        tip.hidden = false;
        const x = u.valToPos(m.x, 'x');
        const w = u.over.clientWidth;
        tip.style.left = `${Math.min(Math.max(0, x + 8), Math.max(0, w - 220))}px`;
        tip.style.top = '4px';
      },
    },
  };
}

/**
 * Shades an uncertainty band (lower and upper edge per x) under the series, on uPlot's canvas
 * (`drawAxes` hook: after the grid, before the lines). `host.dataset.bandDrawn` counts the
 * outline's vertices of the last draw, for tests: 0 when nothing was drawn.
 */
export function bandPlugin(
  get: () => { xs: ReadonlyArray<number | null>; lo: ReadonlyArray<number | null>; hi: ReadonlyArray<number | null>; color: string },
  host?: HTMLElement,
): uPlot.Plugin {
  return {
    hooks: {
      drawAxes: (u: uPlot) => {
        const b = get();
        const poly = bandPolygon(b.xs, b.lo, b.hi);
        if (host) host.dataset.bandDrawn = String(poly.length);
        if (!poly.length) return;
        const { ctx } = u;
        ctx.save();
        ctx.beginPath();
        ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
        ctx.clip();
        ctx.beginPath();
        poly.forEach(([x, y], i) => {
          const px = u.valToPos(x, 'x', true), py = u.valToPos(y, 'y', true);
          if (i === 0) ctx.moveTo(px, py);
          else ctx.lineTo(px, py);
        });
        ctx.closePath();
        ctx.globalAlpha = 0.22;
        ctx.fillStyle = b.color;
        ctx.fill();
        // a band of one point (or of one x) has no area: a vertical bar shows it
        ctx.globalAlpha = 0.6;
        ctx.strokeStyle = b.color;
        ctx.lineWidth = Math.max(1, devicePixelRatio);
        if (new Set(poly.map((p) => p[0])).size === 1) ctx.stroke();
        ctx.restore();
      },
    },
  };
}

/** Keeps a chart as wide as its container. */
export function autoSize(u: uPlot, el: HTMLElement, height: number): ResizeObserver {
  const ro = new ResizeObserver(() => {
    const w = Math.max(120, Math.floor(el.clientWidth));
    if (w !== u.width) u.setSize({ width: w, height });
  });
  ro.observe(el);
  return ro;
}

export function axisValues(_u: uPlot, splits: Array<number | null>): string[] {
  return splits.map((v) => (v === null || v === undefined ? '' : fmt(v, 3)));
}

export { uPlot };
