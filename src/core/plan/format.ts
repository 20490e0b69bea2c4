/**
 * The one vocabulary of units for the planner's numbers, shared by the CLI, the planner webview
 * (bundled from here by esbuild) and generated READMEs. No Node imports: it runs in the browser.
 *
 * Conventions (those of ML papers and model cards): counts of parameters and tokens in k / M / B / T
 * (1e3, 1e6, 1e9, 1e12; "B" not "G", as in "7B model, 2T tokens"); above 1e15 scientific notation
 * ("1.53e19", never "1.53e+7T"); FLOPs always scientific ("1.00e20"); durations in the largest
 * readable unit with three significant digits ("42 s", "3.26 h", "4,491 h").
 */

const COUNT_UNITS: [number, string][] = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'k']];

/** 1234567 -> '1.23M'; 1.5e9 -> '1.50B'; 2e12 -> '2.00T'; 1.53e19 -> '1.53e19'; 512 -> '512'. */
export function si(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1e15) return sci(n, digits - 1);
  for (const [v, u] of COUNT_UNITS) if (a >= v) return `${(n / v).toPrecision(digits)}${u}`;
  if (Number.isInteger(n)) return String(n);
  return n.toPrecision(digits).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** Parameters and tokens: same as si ('124M params', '2.50B tokens'). */
export const count = si;

/** 1e20 -> '1.00e20'. */
export function sci(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toExponential(digits).replace('e+', 'e');
}

/** Integer with thousands separators. */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * A duration given in hours, in the unit that reads best: '42 s', '12.5 min', '3.26 h',
 * '4,491 h' (whole hours from 1,000 h up; GPU budgets are quoted that way), '1.20e7 h' beyond 1e7.
 */
export function hours(h: number | null | undefined): string {
  if (h === null || h === undefined || !Number.isFinite(h)) return '\u2013';
  if (h < 0) return `-${hours(-h)}`;
  const s = h * 3600;
  if (s < 60) return `${+s.toPrecision(s < 1 ? 2 : 3)} s`;
  if (h < 1) return `${+(s / 60).toPrecision(3)} min`;
  if (h < 1000) return `${+h.toPrecision(3)} h`;
  if (h < 1e7) return `${int(h)} h`;
  return `${sci(h)} h`;
}

/** Bytes as GiB with two decimals ('71.53 GiB'); below 0.01 GiB in MiB. */
export function gib(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const g = bytes / 2 ** 30;
  if (Math.abs(g) < 0.01 && bytes !== 0) return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  return `${g.toFixed(2)} GiB`;
}

/** 0.1234 -> '12.3%'. */
export function percent(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : String(x);
}

/**
 * Compact number for axes and table cells whose kind is not a count (losses, learning rates):
 * 3 significant digits, scientific below 1e-3 and above 1e15, k/M/B/T between.
 */
export function compact(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '\u2013';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e15 || a < 1e-3) return v.toExponential(digits - 1).replace('e+', 'e');
  for (const [s, u] of COUNT_UNITS) if (a >= s) return `${+(v / s).toPrecision(digits)}${u}`;
  return `${+v.toPrecision(digits)}`;
}

/** Right-aligns numeric-looking cells, left-aligns the rest. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.every((r) => /^[-+]?[\d.,]+(e-?\d+)?[kMBT%]?$|^-$|^\*?$/.test(r[i] ?? '')));
  const fmt = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

/**
 * How a parameter group is initialized, in words: LayerNorm gains start at 1 and biases at 0
 * (GPT-2), so an "init std" of 0 there does not mean a zero weight.
 */
export function initText(group: string, initStd: number): string {
  if (initStd !== 0) return +initStd.toPrecision(4) + '';
  if (group === 'preLN' || group === 'finalLN') return 'gain 1, bias 0';
  return 'zeros';
}

/**
 * SP keeps the base model's learning rate and init at every width and depth (nothing transfers),
 * so an unchanged LR at 9.5x the width is not a tuned value. Null for the parameterizations that
 * transfer, or when the target is the base.
 */
export function transferCaveat(parameterization: string, width: number, baseWidth: number, depth: number, baseDepth: number): string | null {
  if (parameterization !== 'sp' || (width === baseWidth && depth === baseDepth)) return null;
  return `SP does not transfer: the learning rate and init are the base model's (${baseWidth} x ${baseDepth}) unchanged at ${+(width / baseWidth).toPrecision(3)}x its width and ${+(depth / baseDepth).toPrecision(3)}x its depth; tune them at this size (or use CompleteP / muP)`;
}
