/**
 * A chart as standalone SVG text from the plotted columns (what the user sees, drawn as vectors):
 * axes with tick labels, one polyline per series, markers as dashed lines, a legend. Pure: no DOM.
 */
import { fmt } from './chartData';

export interface SvgSeries {
  label: string;
  color: string;
  values: ReadonlyArray<number | null>;
  width?: number;
  dash?: boolean;
  points?: boolean;
}

export interface SvgChart {
  title: string;
  xLabel: string;
  x: ReadonlyArray<number | null>;
  series: SvgSeries[];
  markers?: Array<{ x: number; color: string; label: string }>;
  logY?: boolean;
  width?: number;
  height?: number;
  fg?: string;
  bg?: string;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
/** Colours come from CSS variables; anything else than a plain colour token becomes grey. */
const color = (c: string) => (/^(#[0-9a-fA-F]{3,8}|rgba?\([0-9.,\s%]+\)|[a-zA-Z]{3,20})$/.test(c.trim()) ? c.trim() : '#888');

function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

export function chartSvg(c: SvgChart): string {
  const W = c.width ?? 800, H = c.height ?? 360;
  const L = 64, R = 16, T = 28, B = 58;
  const fg = color(c.fg ?? '#444'), bg = color(c.bg ?? '#fff');
  const ty = (v: number) => (c.logY ? Math.log10(v) : v);
  const xs: number[] = [], ys: number[] = [];
  c.x.forEach((x, i) => {
    if (x === null || !Number.isFinite(x)) return;
    for (const s of c.series) {
      const v = s.values[i];
      if (v !== null && v !== undefined && Number.isFinite(v) && (!c.logY || v > 0)) {
        xs.push(x);
        ys.push(ty(v));
      }
    }
  });
  const x0 = xs.length ? Math.min(...xs) : 0, x1 = xs.length ? Math.max(...xs) : 1;
  let y0 = ys.length ? Math.min(...ys) : 0, y1 = ys.length ? Math.max(...ys) : 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const px = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="${bg}"/>`);
  parts.push(`<text x="${L}" y="18" fill="${fg}" font-size="13" font-weight="600">${esc(c.title)}</text>`);
  parts.push(`<g stroke="${fg}" stroke-opacity="0.2">`);
  for (const t of ticks(x0, x1)) parts.push(`<line x1="${px(t).toFixed(1)}" y1="${T}" x2="${px(t).toFixed(1)}" y2="${H - B}"/>`);
  for (const t of ticks(y0, y1)) parts.push(`<line x1="${L}" y1="${py(t).toFixed(1)}" x2="${W - R}" y2="${py(t).toFixed(1)}"/>`);
  parts.push('</g>');
  parts.push(`<g fill="${fg}">`);
  for (const t of ticks(x0, x1)) parts.push(`<text x="${px(t).toFixed(1)}" y="${H - B + 14}" text-anchor="middle">${esc(fmt(t, 3))}</text>`);
  for (const t of ticks(y0, y1)) parts.push(`<text x="${L - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${esc(fmt(c.logY ? Math.pow(10, t) : t, 3))}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - B + 30}" text-anchor="middle">${esc(c.xLabel)}${c.logY ? ' (log y)' : ''}</text>`);
  parts.push('</g>');
  for (const m of c.markers ?? []) {
    if (m.x < x0 || m.x > x1) continue;
    parts.push(`<line x1="${px(m.x).toFixed(1)}" y1="${T}" x2="${px(m.x).toFixed(1)}" y2="${H - B}" stroke="${color(m.color)}" stroke-dasharray="6 4"><title>${esc(m.label)}</title></line>`);
  }
  for (const s of c.series) {
    const segs: string[][] = [[]];
    const dots: string[] = [];
    c.x.forEach((x, i) => {
      const v = s.values[i];
      if (x === null || v === null || v === undefined || !Number.isFinite(x) || !Number.isFinite(v) || (c.logY && v <= 0)) return;
      const p = `${px(x).toFixed(1)},${py(ty(v)).toFixed(1)}`;
      segs[segs.length - 1].push(p);
      if (s.points) dots.push(p);
    });
    for (const seg of segs) if (seg.length) parts.push(`<polyline fill="none" stroke="${color(s.color)}" stroke-width="${s.width ?? 1.5}"${s.dash ? ' stroke-dasharray="4 3"' : ''} points="${seg.join(' ')}"/>`);
    for (const d of dots) { const [a, b] = d.split(','); parts.push(`<circle cx="${a}" cy="${b}" r="2.5" fill="${color(s.color)}"/>`); }
  }
  let lx = L;
  for (const s of c.series) {
    parts.push(`<line x1="${lx}" y1="${H - 12}" x2="${lx + 18}" y2="${H - 12}" stroke="${color(s.color)}" stroke-width="2"/><text x="${lx + 22}" y="${H - 8}" fill="${fg}">${esc(s.label)}</text>`);
    lx += 30 + 6.5 * s.label.length;
  }
  parts.push('</svg>');
  return parts.join('\n');
}
