/**
 * Planner throughput: how many candidate shapes planShapes enumerates, evaluates (params, FLOPs,
 * memory, GEMM-level time, loss), ranks and puts on a Pareto front per second.
 * Target (issue 2): 1e5 candidates well under a second.  Run: npm run bench:planner
 */
import { planShapes, type PlanRequest } from '../src/core/plan';

const cases: { label: string; search: NonNullable<PlanRequest['search']>; maxMemoryGiB?: number }[] = [
  { label: 'd_model 128..2048/128, L 2..64, d_head {64,128}', search: { dModelMultiple: 128, dModelMax: 2048, maxLayers: 64 } },
  { label: 'default space: d_model 128..16384/128, L 2..160', search: {} },
  { label: 'd_model 64..16384/64, L 1..300, d_head {64,128}', search: { dModelMultiple: 64, dModelMax: 16384, minLayers: 1, maxLayers: 300 } },
  { label: 'same, d_ff ratios {8/3, 4}', search: { dModelMultiple: 64, dModelMax: 16384, minLayers: 1, maxLayers: 300, dFfRatios: [8 / 3, 4] } },
  // Worst case: memory cap lifted, so every candidate is fully evaluated (time model, loss, ranking).
  { label: 'd_model 64..16384/64, L 1..300, no memory cap', search: { dModelMultiple: 64, dModelMax: 16384, minLayers: 1, maxLayers: 300 }, maxMemoryGiB: 1e9 },
];

const base: Omit<PlanRequest, 'search'> = { budget: { flops: 1e21 }, hardware: 'h100-sxm', gpus: 8, seq: 2048 };

function run(c: (typeof cases)[number]): { n: number; feasible: number; ms: number } {
  const t0 = performance.now();
  const r = planShapes({ ...base, search: c.search, maxMemoryGiB: c.maxMemoryGiB });
  return { n: r.stats.enumerated, feasible: r.stats.feasible, ms: performance.now() - t0 };
}

// Warm up the JIT on every case first.
for (const c of cases) run(c);

const rows: string[][] = [];
for (const c of cases) {
  const times: number[] = [];
  let n = 0;
  let feasible = 0;
  for (let i = 0; i < 5; i++) {
    const r = run(c);
    n = r.n;
    feasible = r.feasible;
    times.push(r.ms);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)]; // median of 5
  rows.push([c.label, n.toLocaleString('en-US'), feasible.toLocaleString('en-US'), ms.toFixed(1), Math.round((n / ms) * 1000).toLocaleString('en-US')]);
}

const header = ['search space', 'candidates', 'fully evaluated', 'ms (median of 5)', 'candidates/s'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`planShapes: budget 1e21 FLOPs, 8 x h100-sxm, seq 2048 (node ${process.version})`);
console.log(line(header));
for (const r of rows) console.log(line(r));
