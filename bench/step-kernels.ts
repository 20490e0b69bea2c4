/**
 * Kernels per training step, by op type, after onnxruntime's own graph optimizations for the
 * chosen EP. On the H100 about 40% of a 25m step was host-side dispatch of ~1,100 kernels
 * (docs/results/h100-profile-25m.txt), so the kernel count is a GPU-free proxy for that overhead:
 * it depends on the depth, not on the width, and is measured here on whatever adapter there is
 * (lavapipe is enough).
 *
 *   npx tsx bench/step-kernels.ts [--ep webgpu|cpu] [--depth 8] [--json FILE]
 *
 * A second table counts the values each op type writes in the 25m preset's step (V 256, T 256,
 * d 512, L 8, H 8, B 32, tied, as bench/train-throughput.ts), read from the generated graph
 * before onnxruntime's fusions: a GPU-free proxy for the memory traffic of the non-MatMul
 * kernels, which a change of operand order moves without changing the kernel count.
 *
 * Builds the fused step graph at depth 1 and 2 (small width, B*T = 512 rows so the two-stage
 * reductions take the same path as the 25m preset), reads back the optimized model onnxruntime
 * writes, and extrapolates: kernels(L) = fixed + L * per_block.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { serialize } from '../src/core/graph/onnx';
import { paramLayout, type ModelShape } from '../src/core/model/gpt';
import { DEFAULT_BASE, transfer } from '../src/core/param/parameterization';
import { buildTrainStep, DEFAULT_OPTIMIZER } from '../src/core/train/graphs';
import { resolveEp } from '../src/core/train/epChoice';
import { executionProvidersFor, type Ep } from '../src/core/train/runtime';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

async function opCounts(ep: Ep, depth: number): Promise<Map<string, number>> {
  const shape: ModelShape = { vocab: 256, context: 64, dModel: 64, nLayers: depth, nHeads: 2, dFf: 256, tiedEmbeddings: false };
  const t = transfer({ ...DEFAULT_BASE, baseWidth: 64 }, { width: 64, depth }, 'completep');
  const g = buildTrainStep(shape, t, paramLayout(shape, t), 8, DEFAULT_OPTIMIZER);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-kernels-')), 'optimized.onnx');
  const options: ort.InferenceSession.SessionOptions & Record<string, unknown> = {
    executionProviders: executionProvidersFor(ep),
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: file,
  };
  if (ep === 'webgpu') options.extra = { session: { disable_cpu_ep_fallback: '1' } };
  const s = await ort.InferenceSession.create(serialize(g), options);
  await s.release();
  const model = onnx.ModelProto.decode(fs.readFileSync(file));
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  const counts = new Map<string, number>();
  for (const n of model.graph?.node ?? []) {
    const op = `${n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.` : ''}${n.opType}`;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  return counts;
}

function valuesWritten(): Map<string, { nodes: number; values: number }> {
  const shape: ModelShape = { vocab: 256, context: 256, dModel: 512, nLayers: 8, nHeads: 8, dFf: 2048, tiedEmbeddings: true };
  const t = transfer(DEFAULT_BASE, { width: 512, depth: 8 }, 'completep');
  const g = buildTrainStep(shape, t, paramLayout(shape, t), 32, DEFAULT_OPTIMIZER);
  const out = new Map<string, { nodes: number; values: number }>();
  for (const n of g.nodes) {
    if (n.op === 'Reshape' || n.op === 'Identity') continue; // no GPU work
    const r = out.get(n.op) ?? { nodes: 0, values: 0 };
    r.nodes++;
    for (const o of n.outputs) r.values += g.shape(o).reduce((a, b) => a * b, 1);
    out.set(n.op, r);
  }
  return out;
}

async function main(): Promise<void> {
  const { ep, note } = await resolveEp(arg('ep', 'webgpu') as Ep);
  if (note) console.error(note);
  const L = Number(arg('depth', '8'));
  const [c1, c2] = [await opCounts(ep, 1), await opCounts(ep, 2)];
  const ops = [...new Set([...c1.keys(), ...c2.keys()])];
  const rows = ops.map((op) => {
    const a = c1.get(op) ?? 0, b = c2.get(op) ?? 0;
    const perBlock = b - a, fixed = a - perBlock;
    return { op, fixed, perBlock, atL: fixed + L * perBlock };
  }).sort((x, y) => y.atL - x.atL || x.op.localeCompare(y.op));
  const total = rows.reduce((acc, r) => ({ fixed: acc.fixed + r.fixed, perBlock: acc.perBlock + r.perBlock, atL: acc.atL + r.atL }), { fixed: 0, perBlock: 0, atL: 0 });
  console.log(`ep=${ep}  kernels per training step after onnxruntime's optimizations (fused step graph: forward, backward, clip, AdamW)`);
  console.log(`| op | fixed | per block | at L=${L} |`);
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.op} | ${r.fixed} | ${r.perBlock} | ${r.atL} |`);
  console.log(`| **total** | ${total.fixed} | ${total.perBlock} | ${total.atL} |`);
  const written = [...valuesWritten().entries()].sort((a, b) => b[1].values - a[1].values);
  console.log('');
  console.log('25m preset step, generated graph before onnxruntime\'s fusions: values written per op type');
  console.log('| op | nodes | values written (M) |');
  console.log('|---|---|---|');
  for (const [op, r] of written) console.log(`| ${op} | ${r.nodes} | ${(r.values / 1e6).toFixed(1)} |`);
  const nonMatMul = written.filter(([op]) => op !== 'MatMul' && op !== 'Gemm').reduce((a, [, r]) => a + r.values, 0);
  console.log(`| **all but MatMul/Gemm** | ${written.filter(([op]) => op !== 'MatMul' && op !== 'Gemm').reduce((a, [, r]) => a + r.nodes, 0)} | ${(nonMatMul / 1e6).toFixed(1)} |`);
  const json = arg('json', '');
  if (json) fs.writeFileSync(json, JSON.stringify({ ep, depth: L, rows, total, written25m: Object.fromEntries(written) }, null, 2));
}

main().catch((e) => {
  console.error(`step-kernels: ${(e as Error).message}`);
  process.exit(1);
});
