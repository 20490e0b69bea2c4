/** Human-readable numbers and plain-text tables for the CLI (and any text view of the planner). */

/** 1234567 -> '1.23M'; 1.5e9 -> '1.50B'; 2e12 -> '2.00T'. */
export function si(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'k']];
  for (const [v, u] of units) if (a >= v) return `${(n / v).toPrecision(digits)}${u}`;
  return n.toPrecision(digits).replace(/\.?0+$/, '');
}

/** 1e20 -> '1.00e20'. */
export function sci(n: number, digits = 2): string {
  return n.toExponential(digits).replace('e+', 'e');
}

/** Integer with thousands separators. */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Right-aligns numeric-looking cells, left-aligns the rest. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.every((r) => /^[-+]?[\d.,]+(e-?\d+)?[kMBT%]?$|^-$|^\*?$/.test(r[i] ?? '')));
  const fmt = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
