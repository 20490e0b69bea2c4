/**
 * PROTOTYPE bench (issue 10 part 3): the project's real fused training step (buildTrainStep:
 * forward, backward, AdamW) through the FFI, with and without WebGPU graph capture, next to the
 * product's Engine (onnxruntime-node) on the same shape.
 *
 * FFI state handling: params/m/v live in two sets of fixed WebGPU buffers, A and B; binding AB
 * reads A and writes B, binding BA the reverse (ping-pong), each with its own captured graph
 * (run option gpu_graph_id). The other inputs (per-row hyperparameters, step scalars, one fixed
 * batch) are CPU tensors bound once: onnxruntime copies them to the device at bind time and the
 * binding keeps that copy, so every step re-reads the same batch and the same t. A product would
 * upload each new batch and the step scalars into fixed device buffers before each run (small
 * copies, not measured here).
 *
 * FINDINGS (lavapipe, 2026-11-30): with enableGraphCapture=1 the step as built today is WRONG:
 * ScatterElements(add) is not replayed correctly, and outputs that are Identity of a value used
 * elsewhere (loss, grad_norm) keep their first value (capture-ops.ts). With --no-scatter (first a
 * bench-only rewrite of both; now the product's Graph.captureSafe build) the captured step equals the uncaptured one
 * exactly over 4 steps. DIAG=2 / DIAG=3 print per-parameter and per-output differences.
 *
 * Timing: Engine.step reads the loss every step (a host sync); the FFI variants are timed both
 * reading the loss every step ("sync") and only at the end ("nosync").
 * On lavapipe the kernels run on the CPU: only the host-side difference is meaningful there.
 *
 *   npx tsx bench/ffi/step.ts [--preset mini|tiny|small|25m] [--steps 10] [--rounds 2] [--no-scatter]
 */
import { parseArgs } from 'node:util';
import type { Batch } from '../../src/core/data/batches';
import { serialize } from '../../src/core/graph/onnx';
import { initParams } from '../../src/core/model/init';
import { paramLayout } from '../../src/core/model/gpt';
import { DEFAULT_BASE, transfer } from '../../src/core/param/parameterization';
import { Engine, freshState } from '../../src/core/train/engine';
import { buildTrainStep, DEFAULT_OPTIMIZER, hyperTableWidth, hyperVectors, stepScalars } from '../../src/core/train/graphs';
import { DEFAULT_WEBGPU_OPTIONS } from '../../src/core/train/runtime';
import { FfiEnv, loadOrt, type Dtype } from '../../src/core/train/ffi/ortApi';
import { identityModel } from './models';

const PRESETS: Record<string, { V: number; T: number; d: number; L: number; H: number; B: number }> = {
  // tiny and small as in bench/train-throughput.ts; 'mini' is the lavapipe-sized one
  mini: { V: 256, T: 16, d: 32, L: 2, H: 2, B: 2 },
  tiny: { V: 256, T: 64, d: 64, L: 2, H: 2, B: 8 },
  small: { V: 256, T: 128, d: 128, L: 4, H: 2, B: 16 },
  '25m': { V: 256, T: 256, d: 512, L: 8, H: 8, B: 32 },
};
const { values } = parseArgs({ options: { 'no-scatter': { type: 'boolean', default: false }, preset: { type: 'string', default: 'mini' }, steps: { type: 'string', default: '10' }, rounds: { type: 'string', default: '2' } } });
const p = PRESETS[values.preset!];
if (!p) throw new Error(`unknown preset ${values.preset} (known: ${Object.keys(PRESETS)})`);
const STEPS = Number(values.steps), ROUNDS = Number(values.rounds);
const NO_CPU = { 'session.disable_cpu_ep_fallback': '1' };
const EP_OPTS = { ...DEFAULT_WEBGPU_OPTIONS };

const shape = { vocab: p.V, context: p.T, dModel: p.d, nLayers: p.L, nHeads: p.H, dFf: 4 * p.d, tiedEmbeddings: true };
const tr = transfer(DEFAULT_BASE, { width: p.d, depth: p.L }, 'completep');
const layout = paramLayout(shape, tr);
const batch: Batch = (() => {
  const inputs = new Int32Array(p.B * p.T), targets = new Int32Array(p.B * p.T);
  let s = 7;
  for (let i = 0; i < p.B * p.T; i++) { s = (s * 1103515245 + 12345) >>> 0; inputs[i] = s % p.V; targets[i] = (s >>> 8) % p.V; }
  return { inputs, targets, batchSize: p.B, context: p.T };
})();
const params0 = initParams(layout, 1);

async function engineRun(): Promise<{ msPerStep: number[]; firstLoss: number }> {
  const e = await Engine.create({ shape, transfer: tr, batch: p.B, optimizer: DEFAULT_OPTIMIZER, ep: 'webgpu' });
  await e.setState(freshState(params0));
  const firstLoss = (await e.step(batch, 1, 1)).loss;
  for (let i = 2; i <= 3; i++) await e.step(batch, 1, i);
  const msPerStep: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    for (let i = 0; i < STEPS; i++) await e.step(batch, 1, 1);
    msPerStep.push((performance.now() - t) / STEPS);
  }
  await e.release();
  return { msPerStep, firstLoss };
}

function ffiRun(env: FfiEnv, capture: boolean) {
  // --no-scatter: the product's capture-safe build (Graph.captureSafe), which avoids both traps.
  const g = buildTrainStep(shape, tr, layout, p.B, DEFAULT_OPTIMIZER, { captureSafe: values['no-scatter'] });
  const N = g.shape('params')[0];
  const s = env.session(serialize(g), 'webgpu', { ...EP_OPTS, enableGraphCapture: capture ? '1' : '0' }, NO_CPU);
  const up = env.session(identityModel(N), 'webgpu', EP_OPTS, NO_CPU), down = env.session(identityModel([]), 'webgpu', EP_OPTS, NO_CPU);
  const alloc = s.webgpuAllocator();
  const dev = (n: string) => s.deviceTensor(alloc, g.shape(n), g.dtype(n) as Dtype);
  const A = { params: dev('params'), m: dev('m'), v: dev('v') }, B = { params: dev('params'), m: dev('m'), v: dev('v') };
  // Fixed inputs as CPU tensors, bound once (copied to the device at bind time).
  const width = hyperTableWidth(layout), h = hyperVectors(layout, tr, width);
  const sc = stepScalars(DEFAULT_OPTIMIZER.beta1, DEFAULT_OPTIMIZER.beta2, 1, 1);
  const fixedVals: Record<string, ArrayLike<number> | BigInt64Array> = {
    hp_lr: h.lr, hp_eps: h.eps, hp_wd: h.wd,
    tokens: BigInt64Array.from(Array.from(batch.inputs, BigInt)), targets: BigInt64Array.from(Array.from(batch.targets, BigInt)),
  };
  for (const k of Object.keys(sc)) if (g.inputs.includes(k)) fixedVals[k] = [sc[k]];
  if (g.inputs.includes('targets_f')) fixedVals.targets_f = Float32Array.from(batch.targets);
  if (g.inputs.includes('tokens_f')) fixedVals.tokens_f = Float32Array.from(batch.inputs);
  const fixed: Record<string, unknown> = {}, keep: unknown[] = [];
  for (const [k, v] of Object.entries(fixedVals)) {
    const t = env.hostTensorOf(g.shape(k), g.dtype(k) as Dtype);
    if (v instanceof BigInt64Array) new BigInt64Array(t.bytes).set(v);
    else new Float32Array(t.bytes).set(Array.from(v as ArrayLike<number>));
    keep.push(t);
    if (process.env.FFI_FIXED_ON_CPU) { fixed[k] = t.value; continue; }
    // Upload into a device buffer of this session's allocator (an int64 Identity may run on the CPU
    // EP: onnxruntime then copies its output into the bound device buffer).
    const u = env.session(identityModel(g.shape(k), g.dtype(k) as 'float32' | 'int64'), 'webgpu', EP_OPTS);
    fixed[k] = dev(k);
    u.runBinding(u.binding({ x: t.value }, { y: fixed[k] }));
  }
  const missing = g.inputs.filter((n) => !(n in fixed) && !['params', 'm', 'v'].includes(n));
  if (missing.length) throw new Error(`inputs not bound: ${missing}`);
  const extra = Object.fromEntries(g.outputs.filter((n) => !['params_out', 'm_out', 'v_out'].includes(n)).map((n) => [n, dev(n)]));
  const bind = (from: typeof A, to: typeof A) => s.binding({ ...fixed, ...from }, { params_out: to.params, m_out: to.m, v_out: to.v, ...extra });
  const bAB = bind(A, B), bBA = bind(B, A);
  const ro = [s.runOptions({ gpu_graph_id: '1' }), s.runOptions({ gpu_graph_id: '2' })];
  const lossHost = env.hostTensor([]);
  const bLoss = down.binding({ x: extra.loss }, { y: lossHost.value });
  const bUp = up.binding({}, {});
  const host = env.hostTensor([N]);
  const reset = () => { // params0, m = v = 0 into A
    for (const [k, val] of [['params', params0], ['m', null], ['v', null]] as const) {
      if (val) host.data.set(val); else host.data.fill(0);
      up.rebindInput(bUp, 'x', host.value);
      s.env.o.check(s.env.o.f.BindOutput(bUp, 'y', A[k]), 'BindOutput');
      up.runBinding(bUp);
    }
  };
  let k = 0;
  const step = (sync: boolean) => {
    s.runBinding(k % 2 ? bBA : bAB, !!process.env.SYNC_OUT, ro[k % 2]);
    k++;
    if (sync) down.runBinding(bLoss);
    return lossHost.data[0];
  };
  // Diagnostic: always the A->B binding (same inputs every run), so every loss must equal the first.
  const downN = env.session(identityModel(N), 'webgpu', EP_OPTS, NO_CPU);
  const hostN = env.hostTensor([N]);
  const dump = (set: 'A' | 'B', k: 'params' | 'm' | 'v') => { downN.runBinding(downN.binding({ x: (set === 'A' ? A : B)[k] }, { y: hostN.value })); return Float32Array.from(hostN.data); };
  const scalars = () => Object.keys(extra).map((n) => { down.runBinding(down.binding({ x: extra[n] }, { y: lossHost.value })); return `${n}=${lossHost.data[0].toFixed(5)}`; }).join(' ');
  const stepSame = () => { s.runBinding(bAB, false, ro[0]); down.runBinding(bLoss); return lossHost.data[0]; };
  return { scalars, dump, stepSame, reset: () => { reset(); k = 0; }, step, readLoss: () => { down.runBinding(bLoss); return lossHost.data[0]; } };
}

async function main() {
  const o = loadOrt();
  console.log(`onnxruntime ${o.version}; preset ${values.preset} ${JSON.stringify(p)}; ${STEPS} steps x ${ROUNDS} rounds; EP options ${JSON.stringify(EP_OPTS)}`);
  const eng = await engineRun();
  const env = new FfiEnv(o);
  const rows: { name: string; ms: number[]; loop?: number[] }[] = [{ name: 'engine (onnxruntime-node)', ms: eng.msPerStep }];
  const seqs: number[][] = [];
  const diag: Float32Array[] = [];
  for (const capture of [false, true]) {
    const f = ffiRun(env, capture);
    f.reset();
    if (process.env.DIAG === "1") { f.reset(); console.log(`capture=${capture} same-input runs:`, [0, 1, 2, 3].map(() => f.stepSame())); }
    if (process.env.DIAG) {
      f.reset();
      f.step(true);
      diag.push(f.dump('B', 'm'));
      if (diag.length === 2) for (const l of layout) {
        let e = 0, mag = 0;
        for (let i = l.offset; i < l.offset + l.size; i++) { e = Math.max(e, Math.abs(diag[0][i] - diag[1][i])); mag = Math.max(mag, Math.abs(diag[0][i])); }
        console.log(`  m diff ${l.name} [${l.shape}]: max|diff| ${e.toExponential(2)} (max|m| ${mag.toExponential(2)})`);
      }
      const sum = (a: Float32Array) => a.reduce((x, y) => x + Math.abs(y), 0).toFixed(6);
      console.log(`capture=${capture} after 1 step: B.params ${sum(f.dump('B', 'params'))} B.m ${sum(f.dump('B', 'm'))} B.v ${sum(f.dump('B', 'v'))} A.params ${sum(f.dump('A', 'params'))}`);
      f.step(true);
      console.log(`capture=${capture} after 2 steps: A.params ${sum(f.dump('A', 'params'))} A.m ${sum(f.dump('A', 'm'))} B.params ${sum(f.dump('B', 'params'))}`);
      const l3 = f.step(true);
      console.log(`capture=${capture} after 3 steps: loss(step 3) ${l3} B.params ${sum(f.dump('B', 'params'))} B.m ${sum(f.dump('B', 'm'))} A.params ${sum(f.dump('A', 'params'))}`);
    }
    if (process.env.DIAG === '3') { f.reset(); for (let i = 0; i < 4; i++) { f.step(false); console.log(`capture=${capture} step ${i + 1}: ${f.scalars()}`); } }
    f.reset();
    const seq = [0, 1, 2, 3].map(() => f.step(true)); // same fixed batch and t=1 scalars each step
    seqs.push(seq);
    if (Math.abs(seq[0] - eng.firstLoss) > 1e-4 * Math.abs(eng.firstLoss)) throw new Error(`capture=${capture}: first loss ${seq[0]} vs engine ${eng.firstLoss}`);
    for (const sync of [true, false]) {
      const ms: number[] = [], loop: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const t = performance.now();
        for (let i = 0; i < STEPS; i++) f.step(sync);
        loop.push((performance.now() - t) / STEPS); // nosync: host enqueue only
        if (!sync) f.readLoss();
        ms.push((performance.now() - t) / STEPS);
      }
      rows.push({ name: `ffi ${capture ? 'capture' : 'bind'} ${sync ? 'sync' : 'nosync'}`, ms, loop: sync ? undefined : loop });
    }
  }
  const d = Math.max(...seqs[0].map((v, i) => Math.abs(v - seqs[1][i])));
  // Not fatal, so one GPU run reports both correctness and time (without --no-scatter capture is wrong).
  console.log(`first-step loss: engine ${eng.firstLoss.toFixed(5)}, ffi ${seqs[0][0].toFixed(5)}`);
  console.log(`loss over 4 steps, ffi bind:    ${seqs[0].map((v) => v.toFixed(5)).join(' ')}`);
  console.log(`loss over 4 steps, ffi capture: ${seqs[1].map((v) => v.toFixed(5)).join(' ')}  ${d < 1e-4 ? 'MATCH' : `MISMATCH (max diff ${d.toExponential(2)}): capture timings below are of a wrong computation`}`);
  const base = Math.min(...rows[0].ms);
  console.log(`\n| variant | ms/step (best of ${ROUNDS}) | tokens/s | vs engine | host enqueue ms/step (nosync) |`);
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const best = Math.min(...r.ms);
    console.log(`| ${r.name} | ${best.toFixed(2)} | ${Math.round((p.B * p.T) / (best / 1000))} | ${(base / best).toFixed(2)}x | ${r.loop ? Math.min(...r.loop).toFixed(2) : ''} |`);
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
