/**
 * Training throughput through onnxruntime-node: tokens/s and achieved TFLOP/s per preset, next to
 * the MatMul ceiling of the same execution provider measured in the same process.
 *
 *   npx tsx bench/train-throughput.ts [--ep webgpu] [--steps 20] [--presets 25m,...] [--json FILE]
 *
 * FLOPs per token use the PaLM/nanoGPT convention 6N + 12 L d T (N = all parameters), the same
 * one the planner offers (shared notes: planning-facts.md).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_BASE, transfer } from '../src/core/param/parameterization';
import { initParams } from '../src/core/model/init';
import { Engine, freshState } from '../src/core/train/engine';
import { measureMatmul } from '../src/core/train/deviceInfo';
import type { Ep } from '../src/core/train/runtime';
import { DEFAULT_OPTIMIZER } from '../src/core/train/graphs';
import type { Batch } from '../src/core/data/batches';

interface Preset { name: string; V: number; T: number; d: number; L: number; H: number; B: number }
const PRESETS: Preset[] = [
  { name: 'tiny', V: 256, T: 64, d: 64, L: 2, H: 2, B: 8 },
  { name: 'small', V: 256, T: 128, d: 128, L: 4, H: 2, B: 16 },
  { name: '25m', V: 256, T: 256, d: 512, L: 8, H: 8, B: 32 },
  { name: '25m-b64', V: 256, T: 256, d: 512, L: 8, H: 8, B: 64 },
  { name: 'wide', V: 256, T: 256, d: 1024, L: 8, H: 16, B: 16 },
];

const { values } = parseArgs({ options: { ep: { type: 'string', default: 'webgpu' }, steps: { type: 'string', default: '20' }, presets: { type: 'string', default: '25m' }, json: { type: 'string' }, ceiling: { type: 'string', default: '2048,4096' }, profile: { type: 'boolean', default: false } } });
const ep = values.ep as Ep;
const steps = Number(values.steps);

function randomBatch(B: number, T: number, V: number, seed: number): Batch {
  const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
  let s = seed;
  for (let i = 0; i < B * T; i++) { s = (s * 1103515245 + 12345) >>> 0; inputs[i] = s % V; targets[i] = (s >>> 8) % V; }
  return { inputs, targets, batchSize: B, context: T };
}

async function benchPreset(p: Preset) {
  const shape = { vocab: p.V, context: p.T, dModel: p.d, nLayers: p.L, nHeads: p.H, dFf: 4 * p.d, tiedEmbeddings: true };
  const t = transfer(DEFAULT_BASE, { width: p.d, depth: p.L }, 'completep');
  const t0 = performance.now();
  const prefix = values.profile ? `profile-${p.name}` : undefined;
  const e = await Engine.create({ shape, transfer: t, batch: p.B, optimizer: DEFAULT_OPTIMIZER, ep, profilePrefix: prefix });
  const params = initParams(e.layout, 1);
  await e.setState(freshState(params));
  const compileMs = performance.now() - t0;
  const batches = [0, 1, 2, 3].map((i) => randomBatch(p.B, p.T, p.V, i + 1));
  for (let i = 1; i <= 3; i++) await e.step(batches[i % 4], 1, i);
  const ts = performance.now();
  let loss = 0;
  for (let i = 1; i <= steps; i++) loss = (await e.step(batches[i % 4], 1, i + 3)).loss;
  const stepMs = (performance.now() - ts) / steps;
  // Forward-only (eval graph, same batch) to split the step into forward vs backward+optimizer.
  await e.evaluate([batches[0]]);
  const tf = performance.now();
  for (let i = 0; i < 5; i++) await e.evaluate([batches[i % 4]]);
  const fwdMs = (performance.now() - tf) / 5;
  if (prefix) {
    e.endProfiling();
    summarizeProfile(prefix, 3 + steps);
  }
  const N = e.nParams;
  const flopsPerToken = 6 * N + 12 * p.L * p.d * p.T;
  const tokPerSec = (p.B * p.T) / (stepMs / 1000);
  const runtime = e.runtime;
  await e.release();
  return { preset: p.name, runtime, V: p.V, T: p.T, d: p.d, L: p.L, H: p.H, B: p.B, params: N, compileMs: Math.round(compileMs), stepMs: +stepMs.toFixed(2), fwdMs: +fwdMs.toFixed(2), tokPerSec: Math.round(tokPerSec), tflops: +((flopsPerToken * tokPerSec) / 1e12).toFixed(2), finalLoss: +loss.toFixed(4) };
}

/** Groups the onnxruntime trace by op type: GPU kernel time where the EP reports it, else host time. */
function summarizeProfile(prefix: string, runs: number): void {
  const file = readdirSync('.').filter((f) => f.startsWith(prefix) && f.endsWith('.json')).sort().pop();
  if (!file) { console.log(`(no profile file for ${prefix})`); return; }
  const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: Record<string, unknown> }[];
  const cats = new Map<string, number>();
  for (const ev of events) cats.set(ev.cat, (cats.get(ev.cat) ?? 0) + 1);
  console.log(`profile ${file}: event categories ${JSON.stringify(Object.fromEntries(cats))}`);
  const byOp = new Map<string, { us: number; n: number }>();
  const gpu = events.filter((ev) => ev.cat === 'Api' || ev.cat === 'Kernel');
  const src = gpu.length ? gpu : events.filter((ev) => ev.cat === 'Node' && ev.name.endsWith('_kernel_time'));
  for (const ev of src) {
    const op = ev.name.replace(/^n\d+_/, '').replace(/_kernel_time$/, '').split('&')[0];
    const r = byOp.get(op) ?? { us: 0, n: 0 };
    r.us += ev.dur; r.n += 1; byOp.set(op, r);
  }
  const total = [...byOp.values()].reduce((a, b) => a + b.us, 0);
  console.log(`| op (${gpu.length ? 'GPU kernel time' : 'host time'}) | ms/step | share | calls/step |`);
  console.log('|---|---|---|---|');
  for (const [op, r] of [...byOp.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 25)) {
    console.log(`| ${op} | ${(r.us / 1000 / runs).toFixed(2)} | ${((100 * r.us) / total).toFixed(1)}% | ${(r.n / runs).toFixed(0)} |`);
  }
  // The heaviest single kernels, with shapes, point at what to fix.
  const nodes = new Map<string, { us: number; shapes: string }>();
  for (const ev of src) {
    const r = nodes.get(ev.name) ?? { us: 0, shapes: String(ev.args?.shapes ?? '') };
    r.us += ev.dur; nodes.set(ev.name, r);
  }
  console.log('| heaviest kernels | ms/step | shapes |');
  console.log('|---|---|---|');
  for (const [name, r] of [...nodes.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 15)) console.log(`| ${name.slice(0, 60)} | ${(r.us / 1000 / runs).toFixed(2)} | ${r.shapes.slice(0, 140)} |`);
}

(async () => {
  const ceilings: Record<string, number> = {};
  for (const n of String(values.ceiling).split(',').filter(Boolean).map(Number)) ceilings[`matmul${n}`] = +(await measureMatmul(ep, n, 8)).toFixed(2);
  const rows = [];
  for (const name of String(values.presets).split(',')) {
    const p = PRESETS.find((x) => x.name === name);
    if (!p) throw new Error(`unknown preset ${name}`);
    rows.push(await benchPreset(p));
  }
  const best = Math.max(...Object.values(ceilings), 0);
  console.log(`ep=${ep}  MatMul ceiling (float32, inputs on device): ${Object.entries(ceilings).map(([k, v]) => `${k}=${v} TFLOP/s`).join('  ')}`);
  console.log(`SHAPELAB_RUNTIME=${process.env.SHAPELAB_RUNTIME ?? ''} SHAPELAB_SPLIT_K=${process.env.SHAPELAB_SPLIT_K ?? ''}`);
  console.log('| preset | runtime | V | T | d | L | B | params | step ms | fwd ms | tokens/s | TFLOP/s | % of ceiling |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.preset} | ${r.runtime} | ${r.V} | ${r.T} | ${r.d} | ${r.L} | ${r.B} | ${(r.params / 1e6).toFixed(1)}M | ${r.stepMs} | ${r.fwdMs} | ${r.tokPerSec} | ${r.tflops} | ${best ? ((100 * r.tflops) / best).toFixed(0) + '%' : '-'} |`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ ep, ceilings, rows }, null, 2));
})().catch((e) => { console.error(e); process.exit(1); });
