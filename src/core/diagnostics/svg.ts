/**
 * A minimal SVG line-chart writer for diagnostic artifacts (coordinate check, LR sweep, growth
 * experiment): no dependencies, deterministic output, one or more panels side by side.
 */

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
  /** Horizontal reference line (e.g. a target loss). */
  hLine?: { y: number; label: string };
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-2)) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
};

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of hi / lo < 30 ? [1, 2, 5] : [1]) {
        const v = m * 10 ** e;
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    }
    if (out.length >= 2) return out;
    // Depth sweeps are powers of two (2..64, one decade tick): label those rather than only the ends.
    const pow2: number[] = [];
    for (let e = Math.ceil(Math.log2(lo * 0.999)); 2 ** e <= hi * 1.001 && pow2.length < 12; e++) pow2.push(2 ** e);
    if (pow2.length >= 3) return pow2;
    return out.length >= 2 ? out : [lo, hi];
  }
  const span = hi - lo || 1;
  const step0 = 10 ** Math.floor(Math.log10(span / 5));
  const step = [1, 2, 5, 10].map((m) => m * step0).find((s) => span / s <= 6) ?? step0 * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12 * span; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function panelSvg(p: Panel, x0: number, w: number, h: number): string {
  const m = { l: 62, r: 12, t: 28, b: 42 };
  const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!p.logX || x > 0) && (!p.logY || y > 0));
  const out: string[] = [`<g transform="translate(${x0},0)">`, `<text x="${w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(p.title)}</text>`];
  if (!pts.length) {
    out.push(`<text x="${w / 2}" y="${h / 2}" text-anchor="middle" font-size="12">no data</text></g>`);
    return out.join('\n');
  }
  const tx = (v: number) => (p.logX ? Math.log10(v) : v), ty = (v: number) => (p.logY ? Math.log10(v) : v);
  let [xl, xh] = [Math.min(...pts.map((q) => q[0])), Math.max(...pts.map((q) => q[0]))];
  const ys = pts.map((q) => q[1]).concat(p.hLine && (!p.logY || p.hLine.y > 0) ? [p.hLine.y] : []);
  let [yl, yh] = [Math.min(...ys), Math.max(...ys)];
  if (xl === xh) [xl, xh] = p.logX ? [xl / 2, xh * 2] : [xl - 1, xh + 1];
  if (yl === yh) [yl, yh] = p.logY ? [yl / 2, yh * 2] : [yl - 1, yh + 1];
  if (!p.logY) {
    const pad = (yh - yl) * 0.05;
    [yl, yh] = [yl - pad, yh + pad];
  }
  const X = (v: number) => m.l + ((tx(v) - tx(xl)) / (tx(xh) - tx(xl))) * (w - m.l - m.r);
  const Y = (v: number) => h - m.b - ((ty(v) - ty(yl)) / (ty(yh) - ty(yl))) * (h - m.t - m.b);
  out.push(`<rect x="${m.l}" y="${m.t}" width="${w - m.l - m.r}" height="${h - m.t - m.b}" fill="none" stroke="#999"/>`);
  for (const v of ticks(xl, xh, Boolean(p.logX))) out.push(`<text x="${X(v).toFixed(1)}" y="${h - m.b + 14}" text-anchor="middle" font-size="10">${fmt(v)}</text>`);
  for (const v of ticks(yl, yh, Boolean(p.logY))) {
    out.push(`<line x1="${m.l}" x2="${w - m.r}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 4}" y="${(Y(v) + 3).toFixed(1)}" text-anchor="end" font-size="10">${fmt(v)}</text>`);
  }
  out.push(`<text x="${(m.l + w - m.r) / 2}" y="${h - 8}" text-anchor="middle" font-size="11">${esc(p.xLabel)}</text>`);
  out.push(`<text transform="translate(14,${(m.t + h - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(p.yLabel)}</text>`);
  if (p.hLine && (!p.logY || p.hLine.y > 0)) {
    const y = Y(p.hLine.y).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${w - m.r}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="2,3"/><text x="${w - m.r - 2}" y="${Number(y) - 3}" text-anchor="end" font-size="10">${esc(p.hLine.label)}</text>`);
  }
  p.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const ok = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!p.logX || x > 0) && (!p.logY || y > 0));
    if (!ok.length) return;
    const d = ok.map(([x, y], k) => `${k ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    for (const [x, y] of ok.length <= 40 ? ok : []) out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2" fill="${c}"/>`);
    out.push(`<line x1="${m.l + 8}" x2="${m.l + 24}" y1="${m.t + 12 + 13 * i}" y2="${m.t + 12 + 13 * i}" stroke="${c}" stroke-width="2"/><text x="${m.l + 28}" y="${m.t + 16 + 13 * i}" font-size="10">${esc(s.name)}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

/** One SVG document with the panels side by side. */
/** Panels left to right, wrapping after `columns` (default: all in one row). */
export function chartSvg(panels: Panel[], opts: { panelWidth?: number; height?: number; title?: string; columns?: number } = {}): string {
  const w = opts.panelWidth ?? 360, h = opts.height ?? 300, top = opts.title ? 24 : 0;
  const cols = Math.max(1, Math.min(opts.columns ?? panels.length, panels.length));
  const rows = Math.max(1, Math.ceil(panels.length / cols));
  const W = w * cols, H = h * rows + top;
  const body = panels
    .map((p, i) => {
      const r = Math.floor(i / cols);
      const svg = panelSvg(p, (i % cols) * w, w, h);
      return r ? `<g transform="translate(0,${r * h})">\n${svg}\n</g>` : svg;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    opts.title ? `<text x="${W / 2}" y="17" text-anchor="middle" font-size="14">${esc(opts.title)}</text>` : '',
    `<g transform="translate(0,${top})">`,
    body,
    '</g>',
    '</svg>',
    '',
  ].join('\n');
}
