/**
 * Fits the planner's per-hardware efficiency (src/core/plan/hardware.ts `Efficiency`) to measured
 * training throughput, and prints the per-shape prediction error.
 *
 *   npx tsx bench/calibrate-planner.ts MEASUREMENTS.jsonl [--gpu NAME] [--precision bf16|fp32] [--json]
 *                                      [--save-local]
 *
 * MEASUREMENTS: one JSON object per line,
 *   { gpu, precision, dModel, nLayers, nHeads, context, vocab, microBatch, tokensPerSec,
 *     gradAccum?, gpus?, dFf?, fsdp?, activationCheckpointing?, flashAttention?, holdout? }
 * tokensPerSec is the throughput of all `gpus` together (train.py's metrics.jsonl tokensPerSec).
 * Lines with "holdout": true are predicted but not fitted (the "one shape not used to
 * calibrate"). A file written by `bench/train-throughput.ts --json` (ShapeLab's own engine) is
 * accepted too: its rows become measurements of gpu 'local', fp32.
 *
 * Model (the planner's, steptime.ts): one optimizer step of gradAccum micro-steps takes
 *   gradAccum * (L * (block(eta) * r + layerMs) + head(eta) + stepMs) + AdamW(params / shards)
 * where block/head are the GEMM tile/wave model with every GEMM at eta x peak plus the memory-bound
 * terms, r = 4/3 with activation checkpointing. eta is found by a grid search; for each eta,
 * layerMs and stepMs (>= 0) by least squares on the relative step-time error. The GPU's peak and
 * bandwidth come from the hardware table (--gpu local: the local entry, `shapelab device --save`).
 *
 * Prints the constants as the `efficiency` entry to paste into src/core/plan/hardware.json (or,
 * with --save-local for gpu 'local', merges it into the local hardware file).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { blockSeconds, countParams, headSeconds, localHardwareFile, optimizerSeconds, RECOMPUTE_FACTOR, resolveHardware, type Efficiency, type HardwareEntry } from '../src/core/plan';

export interface Measurement {
  gpu: string;
  precision: 'fp32' | 'bf16';
  dModel: number;
  nLayers: number;
  nHeads: number;
  context: number;
  vocab: number;
  microBatch: number;
  tokensPerSec: number;
  gradAccum?: number;
  gpus?: number;
  dFf?: number;
  fsdp?: boolean;
  activationCheckpointing?: boolean;
  flashAttention?: boolean;
  holdout?: boolean;
}

export interface Fit {
  gpu: string;
  precision: 'fp32' | 'bf16';
  efficiency: Efficiency;
  rows: { m: Measurement; predicted: number; error: number }[];
  /** Root-mean-square relative error over the fitted rows. */
  rmsError: number;
}

const NUM_FIELDS = ['dModel', 'nLayers', 'nHeads', 'context', 'vocab', 'microBatch', 'tokensPerSec'] as const;

/** Measurements from a JSONL file or a bench/train-throughput.ts --json document. */
export function readMeasurements(text: string, origin: string): Measurement[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') && trimmed.includes('"rows"')) {
    let doc: { ep?: string; rows?: { V: number; T: number; d: number; L: number; H?: number; B: number; tokPerSec: number }[] } | undefined;
    try {
      doc = JSON.parse(trimmed);
    } catch {
      doc = undefined; // not one document: read as JSONL below
    }
    if (doc && Array.isArray(doc.rows)) {
      return doc.rows.map((r, i) => {
        if (typeof r.H !== 'number') throw new Error(`${origin}: rows[${i}] has no H (heads); re-run bench/train-throughput.ts (it records H)`);
        return { gpu: 'local', precision: 'fp32', dModel: r.d, nLayers: r.L, nHeads: r.H, context: r.T, vocab: r.V, microBatch: r.B, tokensPerSec: r.tokPerSec, flashAttention: false };
      });
    }
  }
  const out: Measurement[] = [];
  trimmed.split('\n').forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith('#')) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch (e) {
      throw new Error(`${origin}:${i + 1}: not JSON: ${(e as Error).message}`);
    }
    for (const k of NUM_FIELDS) if (!(typeof o[k] === 'number' && (o[k] as number) > 0)) throw new Error(`${origin}:${i + 1}: ${k} must be a number > 0 (got ${JSON.stringify(o[k])})`);
    if (typeof o.gpu !== 'string') throw new Error(`${origin}:${i + 1}: gpu must be a hardware name`);
    if (o.precision !== 'fp32' && o.precision !== 'bf16') throw new Error(`${origin}:${i + 1}: precision must be fp32 or bf16`);
    out.push(o as unknown as Measurement);
  });
  return out;
}

/** The planner's step-time parts of a measurement at GEMM efficiency eta: [fixed seconds, seconds per unit layerMs, per unit stepMs] per step. */
function parts(m: Measurement, hw: HardwareEntry, eta: number): { base: number; perLayerMs: number; perStepMs: number; tokensPerStep: number } {
  const flash = m.flashAttention ?? hw.name !== 'local';
  const o = { precision: m.precision, mfu: eta, microBatch: m.microBatch, flashAttention: flash };
  const dFf = m.dFf ?? 4 * m.dModel;
  const dHead = m.dModel / m.nHeads;
  const acc = m.gradAccum ?? 1;
  const gpus = m.gpus ?? 1;
  const r = m.activationCheckpointing ? RECOMPUTE_FACTOR : 1;
  const block = blockSeconds(m.dModel, m.nHeads, dHead, dFf, m.context, hw, o);
  const head = headSeconds(m.dModel, m.vocab, m.context, hw, o);
  const params = countParams({ vocab: m.vocab, seq: m.context, dModel: m.dModel, nLayers: m.nLayers, nHeads: m.nHeads, dFf }).total;
  const opt = optimizerSeconds(m.fsdp ? params / gpus : params, hw);
  return { base: acc * (m.nLayers * block * r + head) + opt, perLayerMs: (acc * m.nLayers) / 1e3, perStepMs: acc / 1e3, tokensPerStep: m.microBatch * gpus * acc * m.context };
}

/** Predicted tokens/s of a measurement's shape under an efficiency. */
export function predictTokensPerSec(m: Measurement, hw: HardwareEntry, e: Pick<Efficiency, 'gemm' | 'layerMs' | 'stepMs'>): number {
  const p = parts(m, hw, e.gemm);
  return p.tokensPerStep / (p.base + p.perLayerMs * e.layerMs + p.perStepMs * e.stepMs);
}

/** Least squares for (layerMs, stepMs) >= 0 minimizing the relative step-time error at a fixed eta. */
function fitOverheads(rows: { base: number; a: number; b: number; t: number }[]): { layerMs: number; stepMs: number; loss: number } {
  const loss = (x: number, y: number) => rows.reduce((s, r) => s + ((r.base + r.a * x + r.b * y - r.t) / r.t) ** 2, 0);
  // weighted design: residual_i = (t_i - base_i) / t_i = (a_i / t_i) x + (b_i / t_i) y
  let saa = 0, sab = 0, sbb = 0, say = 0, sby = 0;
  for (const r of rows) {
    const a = r.a / r.t, b = r.b / r.t, y = (r.t - r.base) / r.t;
    saa += a * a; sab += a * b; sbb += b * b; say += a * y; sby += b * y;
  }
  const cands: [number, number][] = [[0, 0]];
  if (saa > 0) cands.push([Math.max(0, say / saa), 0]);
  if (sbb > 0) cands.push([0, Math.max(0, sby / sbb)]);
  const det = saa * sbb - sab * sab;
  if (Math.abs(det) > 1e-30 * Math.max(1, saa * sbb)) {
    const x = (say * sbb - sby * sab) / det, y = (sby * saa - say * sab) / det;
    if (x >= 0 && y >= 0) cands.push([x, y]);
  }
  let best = { layerMs: 0, stepMs: 0, loss: Infinity };
  for (const [x, y] of cands) {
    const l = loss(x, y);
    if (l < best.loss) best = { layerMs: x, stepMs: y, loss: l };
  }
  return best;
}

/** Fits one (gpu, precision) group. */
export function fitGroup(ms: Measurement[], hw: HardwareEntry, source: string): Fit {
  const train = ms.filter((m) => !m.holdout);
  if (train.length === 0) throw new Error(`${hw.name}: no measurement to fit (all are holdout)`);
  let best = { gemm: 0.5, layerMs: 0, stepMs: 0, loss: Infinity };
  for (let eta = 0.02; eta <= 1.000001; eta += 0.0025) {
    const rows = train.map((m) => {
      const p = parts(m, hw, eta);
      return { base: p.base, a: p.perLayerMs, b: p.perStepMs, t: p.tokensPerStep / m.tokensPerSec };
    });
    // With fewer measurements than constants the overheads are not identifiable: fit eta alone.
    const o = train.length >= 3 ? fitOverheads(rows) : { layerMs: 0, stepMs: 0, loss: rows.reduce((s, r) => s + ((r.base - r.t) / r.t) ** 2, 0) };
    if (o.loss < best.loss) best = { gemm: +eta.toFixed(4), layerMs: o.layerMs, stepMs: o.stepMs, loss: o.loss };
  }
  const efficiency: Efficiency = { gemm: best.gemm, layerMs: +best.layerMs.toPrecision(4), stepMs: +best.stepMs.toPrecision(4), source };
  const rows = ms.map((m) => {
    const predicted = predictTokensPerSec(m, hw, efficiency);
    return { m, predicted, error: predicted / m.tokensPerSec - 1 };
  });
  const fitted = rows.filter((r) => !r.m.holdout);
  return { gpu: hw.name, precision: ms[0].precision, efficiency, rows, rmsError: Math.sqrt(fitted.reduce((s, r) => s + r.error ** 2, 0) / fitted.length) };
}

export function calibrate(ms: Measurement[], origin: string, date = new Date().toISOString().slice(0, 10)): Fit[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of ms) {
    const k = `${m.gpu}\u0000${m.precision}`;
    groups.set(k, [...(groups.get(k) ?? []), m]);
  }
  return [...groups.values()].map((g) => {
    const hw = resolveHardware(g[0].gpu);
    const n = g.filter((m) => !m.holdout).length;
    return fitGroup(g, hw, `fitted by bench/calibrate-planner.ts on ${date} from ${n} measured run${n === 1 ? '' : 's'} (${origin})`);
  });
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { gpu: { type: 'string' }, precision: { type: 'string' }, json: { type: 'boolean' }, 'save-local': { type: 'boolean' } } });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: npx tsx bench/calibrate-planner.ts MEASUREMENTS.jsonl [--gpu NAME] [--precision bf16|fp32] [--json] [--save-local]\n');
    process.exit(2);
  }
  let ms = readMeasurements(readFileSync(file, 'utf8'), file);
  if (values.gpu) ms = ms.filter((m) => m.gpu.toLowerCase() === values.gpu!.toLowerCase());
  if (values.precision) ms = ms.filter((m) => m.precision === values.precision);
  if (ms.length === 0) throw new Error('no measurements left after --gpu / --precision');
  const fits = calibrate(ms, file);
  if (values.json) {
    process.stdout.write(JSON.stringify(fits.map((f) => ({ gpu: f.gpu, precision: f.precision, efficiency: f.efficiency, rmsError: f.rmsError, rows: f.rows.map((r) => ({ ...r.m, predicted: r.predicted, error: r.error })) })), null, 2) + '\n');
  } else {
    for (const f of fits) {
      console.log(`${f.gpu} ${f.precision}: GEMM efficiency ${f.efficiency.gemm}, +${f.efficiency.layerMs} ms/block, +${f.efficiency.stepMs} ms/micro-step; rms error ${(f.rmsError * 100).toFixed(1)}%`);
      console.log('| d_model | layers | heads | T | vocab | mb | acc | GPUs | measured tok/s | predicted tok/s | error |');
      console.log('|---|---|---|---|---|---|---|---|---|---|---|');
      for (const r of f.rows) {
        const m = r.m;
        console.log(`| ${m.dModel} | ${m.nLayers} | ${m.nHeads} | ${m.context} | ${m.vocab} | ${m.microBatch} | ${m.gradAccum ?? 1} | ${m.gpus ?? 1} | ${Math.round(m.tokensPerSec)} | ${Math.round(r.predicted)} | ${(r.error * 100).toFixed(1)}%${m.holdout ? ' (holdout)' : ''} |`);
      }
      console.log(`paste into src/core/plan/hardware.json, entry '${f.gpu}': "efficiency": { "${f.precision}": ${JSON.stringify(f.efficiency)} }`);
      console.log('');
    }
  }
  if (values['save-local']) {
    const local = fits.filter((f) => f.gpu === 'local');
    if (local.length === 0) throw new Error('--save-local: no measurements of gpu local');
    const path = localHardwareFile();
    if (!existsSync(path)) throw new Error(`--save-local: ${path} does not exist; run 'shapelab device --save' first`);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    const list: Record<string, unknown>[] = Array.isArray(doc) ? doc : Array.isArray(doc?.gpus) ? doc.gpus : [doc];
    const entry = list.length === 1 ? list[0] : list.find((e) => e.name === 'local');
    if (!entry) throw new Error(`--save-local: ${path} has no entry named local`);
    entry.efficiency = { ...(entry.efficiency as object | undefined), ...Object.fromEntries(local.map((f) => [f.precision, f.efficiency])) };
    writeFileSync(path, JSON.stringify(doc, null, 2) + '\n'); // `entry` is part of `doc`
    console.log(`saved the local efficiency into ${path}`);
  }
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`calibrate-planner: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
