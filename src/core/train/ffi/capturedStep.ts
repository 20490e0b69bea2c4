/**
 * The fused training step replayed from a WebGPU graph capture, through onnxruntime's C API
 * (ortApi.ts). Why: a small model's step is bound by the host enqueueing ~1,000 kernels, and the
 * 1.30 Node binding can neither enable capture nor bind pre-allocated outputs. Measured on an H200
 * in one call (docs/engine-performance.md, docs/results/h200-runtimes-session5.txt): 1.61-1.64x
 * the onnxruntime-node step on the small preset, 1.07-1.09x on the 25m preset.
 *
 * Everything the captured graph reads or writes lives in fixed device buffers, bound once:
 * - state (params, m, v) and the per-row hyperparameter tables;
 * - per-step inputs (tokens, targets, their float copies for the capture-safe one-hots, step
 *   scalars), which a small uncaptured copy session fills from host memory before each replay;
 * - outputs (params_out, m_out, v_out, loss, grad_norm, update_ok): after each replay a copy
 *   session moves the new state into the state buffers (3N values; one working set instead of
 *   the two a ping-pong of captured graphs would keep) and brings the three scalars to the host
 *   in one read-back.
 * The graph is built with Graph.captureSafe (no ScatterElements, no shared Identity outputs: both
 * replay wrongly in 1.30). Eval runs uncaptured on the same state buffers.
 */
import type { Batch } from '../../data/batches';
import { Graph } from '../../graph/ir';
import { serialize } from '../../graph/onnx';
import { totalParams, type ModelShape, type ParamSpec } from '../../model/gpt';
import type { Transfer } from '../../param/parameterization';
import { buildEval, buildTrainStep, hyperTableWidth, hyperVectors, stepScalars, type OptimizerConfig } from '../graphs';
import { webgpuTuning } from '../runtime';
import { ffiEnv, OrtError, type Dtype, type FfiEnv, type FfiSession } from './ortApi';

const NO_CPU = { 'session.disable_cpu_ep_fallback': '1' };
const STATE = ['params', 'm', 'v'] as const;
const HYPER = ['hp_lr', 'hp_eps', 'hp_wd'] as const;
const SCALAR_OUTPUTS = ['loss', 'grad_norm', 'update_ok'] as const;
/** The one-hot embedding gradient (Graph.gatherGrad 'onehot', src/core/model/gpt.ts) stops here. */
export const CAPTURE_MAX_VOCAB = 8192;

interface HostBuf {
  value: unknown;
  bytes: ArrayBuffer;
  mem: unknown;
}
interface Spec {
  name: string;
  dtype: Dtype;
  shape: number[];
}

/** y_out = x for each spec: moves tensors between host and device buffers through IO binding. */
function copyModel(specs: Spec[]): Uint8Array {
  const g = new Graph('copy');
  for (const s of specs) g.output(g.identity(g.input(s.name, s.dtype, s.shape), `${s.name}_out`));
  return serialize(g);
}

/** Writes int32 values into an int64 host buffer (little-endian low word + sign word). */
function writeInt64(dst: ArrayBuffer, src: ArrayLike<number>): void {
  const d = new Int32Array(dst);
  if (d.length !== 2 * src.length) throw new OrtError(`expected ${d.length / 2} indices, got ${src.length}`);
  for (let i = 0; i < src.length; i++) {
    d[2 * i] = src[i];
    d[2 * i + 1] = src[i] < 0 ? -1 : 0;
  }
}

/** One synchronous run of a copy session through a binding made for it and released after. */
function runOnce(s: FfiSession, inputs: Record<string, unknown>, outputs: Record<string, unknown>): void {
  const b = s.binding(inputs, outputs);
  try {
    s.runBinding(b, true);
  } finally {
    s.releaseBinding(b);
  }
}

type Staged = { value: unknown; data: Float32Array; mem: unknown };
/** Host staging of n floats per name for one transfer, freed when `fn` returns. */
function withStaging<K extends string, T>(env: FfiEnv, names: readonly K[], n: number, fn: (h: Record<K, Staged>) => T): T {
  const h = {} as Record<K, Staged>;
  try {
    for (const k of names) h[k] = env.hostTensor([n]);
    return fn(h);
  } finally {
    for (const k of names) if (h[k]) env.freeHost(h[k]);
  }
}

/** `{ name: host value }` of staged buffers, and `{ name_out: target }` for a copy model's outputs. */
const valuesOf = <K extends string>(h: Record<K, Staged>) => Object.fromEntries(Object.entries<Staged>(h).map(([k, v]) => [k, v.value]));
const outputsTo = (targets: Record<string, unknown>) => Object.fromEntries(Object.entries(targets).map(([k, v]) => [`${k}_out`, v]));

export interface CapturedStepOptions {
  shape: ModelShape;
  transfer: Transfer;
  layout: ParamSpec[];
  batch: number;
  evalBatch: number;
  optimizer: OptimizerConfig;
  residualStat?: boolean;
}

export class CapturedStep {
  private readonly env: FfiEnv;
  private readonly sessions: FfiSession[] = [];
  private readonly bindings: [FfiSession, unknown][] = [];
  private readonly deviceValues: unknown[] = [];
  private readonly hostBufs: HostBuf[] = [];
  private runOptions: unknown;
  private alloc: unknown;
  private step!: FfiSession;
  private io!: FfiSession;
  private up!: FfiSession;
  private down!: FfiSession;
  private evalSession!: FfiSession;
  private bStep: unknown;
  private bUp: unknown;
  private bBack: unknown;
  private bDown: unknown;
  private bEval: unknown;
  private state!: Record<(typeof STATE)[number], unknown>;
  /** Per-step inputs: host staging bound to the upload session, whose outputs are the step's inputs. */
  private perStep!: { spec: Spec; host: HostBuf }[];
  /** loss, grad_norm, update_ok (SCALAR_OUTPUTS order). */
  private scalarsHost!: Float32Array;
  private evalIn!: { tokens: HostBuf; targets: HostBuf };
  private evalOut!: { loss: Float32Array; residual?: Float32Array };
  readonly nParams: number;
  private released = false;
  private hasState = false;

  private constructor(private readonly o: CapturedStepOptions) {
    this.env = ffiEnv();
    this.nParams = totalParams(o.layout);
  }

  /** Throws OrtError (or onnxruntime's error) when the FFI path cannot run here; nothing is left allocated. */
  static create(o: CapturedStepOptions): CapturedStep {
    if (o.shape.vocab > CAPTURE_MAX_VOCAB) throw new OrtError(`graph capture needs the one-hot embedding gradient (vocabulary <= ${CAPTURE_MAX_VOCAB}, this one ${o.shape.vocab})`);
    const c = new CapturedStep(o);
    try {
      c.build();
    } catch (e) {
      c.release();
      throw e;
    }
    return c;
  }

  private session(model: Uint8Array, opts: Record<string, string>, config: Record<string, string> = NO_CPU): FfiSession {
    const s = this.env.session(model, 'webgpu', opts, config);
    this.sessions.push(s);
    return s;
  }
  private bind(s: FfiSession, inputs: Record<string, unknown>, outputs: Record<string, unknown>): unknown {
    const b = s.binding(inputs, outputs);
    this.bindings.push([s, b]);
    return b;
  }
  private device(shape: number[], dtype: Dtype = 'float32'): unknown {
    const v = this.step.deviceTensor(this.alloc, shape, dtype);
    this.deviceValues.push(v);
    return v;
  }
  private host(shape: number[], dtype: Dtype = 'float32'): HostBuf {
    const h = this.env.hostTensorOf(shape, dtype);
    this.hostBufs.push(h);
    return h;
  }

  private build(): void {
    const { o } = this;
    const ep = Object.fromEntries(Object.entries(webgpuTuning()).map(([k, v]) => [k, String(v)]));
    const g = buildTrainStep(o.shape, o.transfer, o.layout, o.batch, o.optimizer, { captureSafe: true });
    const N = this.nParams, width = hyperTableWidth(o.layout), rows = N / width;
    this.step = this.session(serialize(g), { ...ep, enableGraphCapture: '1' });
    this.alloc = this.step.webgpuAllocator();
    this.runOptions = this.step.runOptions({ gpu_graph_id: '1' });

    this.state = { params: this.device([N]), m: this.device([N]), v: this.device([N]) };
    const out = { params_out: this.device([N]), m_out: this.device([N]), v_out: this.device([N]) };
    const hyper = Object.fromEntries(HYPER.map((k) => [k, this.device([rows])]));
    const scalarsDev = Object.fromEntries(SCALAR_OUTPUTS.map((k) => [k, this.device(g.shape(k))]));

    // Hyperparameter tables: uploaded once.
    const h = hyperVectors(o.layout, o.transfer, width);
    const hyperIo = this.env.session(copyModel(HYPER.map((name) => ({ name, dtype: 'float32', shape: [rows] }))), 'webgpu', ep, NO_CPU);
    try {
      withStaging(this.env, HYPER, rows, (st) => {
        st.hp_lr.data.set(h.lr);
        st.hp_eps.data.set(h.eps);
        st.hp_wd.data.set(h.wd);
        runOnce(hyperIo, valuesOf(st), outputsTo(hyper));
      });
    } finally {
      hyperIo.release();
    }

    // Per-step inputs: host staging -> upload session -> fixed device buffers the step reads.
    const fixed = new Set<string>([...STATE, ...HYPER]);
    const specs: Spec[] = g.inputs.filter((n) => !fixed.has(n)).map((name) => ({ name, dtype: g.dtype(name) as Dtype, shape: g.shape(name) }));
    this.perStep = specs.map((spec) => ({ spec, host: this.host(spec.shape, spec.dtype) }));
    const stepIn = Object.fromEntries(specs.map((s) => [s.name, this.device(s.shape, s.dtype)]));
    // CPU fallback allowed here: an int64 Identity may run on the CPU EP, and onnxruntime then
    // copies its output into the bound device buffer.
    this.up = this.session(copyModel(specs), ep, {});
    this.bUp = this.bind(this.up, Object.fromEntries(this.perStep.map((p) => [p.spec.name, p.host.value])), outputsTo(stepIn));

    this.bStep = this.bind(this.step, { ...this.state, ...hyper, ...stepIn }, { ...out, ...scalarsDev });

    // State moves (host <-> state buffers, on demand) and the copy-back after each step.
    this.io = this.session(copyModel(STATE.map((name) => ({ name, dtype: 'float32', shape: [N] }))), ep);
    this.bBack = this.bind(this.io, { params: out.params_out, m: out.m_out, v: out.v_out }, outputsTo(this.state));

    // One [3] vector to the host: each device-to-host copy is a read-back of its own, with a wait.
    const dg = new Graph('scalars');
    dg.output(dg.identity(dg.concat(SCALAR_OUTPUTS.map((k) => dg.reshape(dg.input(k, 'float32', g.shape(k)), [1])), 0), 'scalars'));
    this.down = this.session(serialize(dg), ep);
    const sh = this.host([SCALAR_OUTPUTS.length]);
    this.scalarsHost = new Float32Array(sh.bytes);
    this.bDown = this.bind(this.down, scalarsDev, { scalars: sh.value });

    const ev = buildEval(o.shape, o.transfer, o.layout, o.evalBatch, { residualStat: o.residualStat });
    this.evalSession = this.session(serialize(ev), ep);
    this.evalIn = { tokens: this.host(ev.shape('tokens'), 'int64'), targets: this.host(ev.shape('targets'), 'int64') };
    const lossHost = this.host(ev.shape('loss'));
    const residHost = o.residualStat ? this.host(ev.shape('residual_abs_mean')) : undefined;
    this.evalOut = { loss: new Float32Array(lossHost.bytes), residual: residHost ? new Float32Array(residHost.bytes) : undefined };
    this.bEval = this.bind(
      this.evalSession,
      { params: this.state.params, tokens: this.evalIn.tokens.value, targets: this.evalIn.targets.value },
      { loss: lossHost.value, ...(residHost ? { residual_abs_mean: residHost.value } : {}) },
    );
  }

  setState(s: { params: Float32Array; m: Float32Array; v: Float32Array }): void {
    this.live();
    for (const k of STATE) if (s[k].length !== this.nParams) throw new OrtError(`state '${k}' has ${s[k].length} values, the model has ${this.nParams}`);
    withStaging(this.env, STATE, this.nParams, (st) => {
      for (const k of STATE) st[k].data.set(s[k]);
      runOnce(this.io, valuesOf(st), outputsTo(this.state));
    });
    this.hasState = true;
  }

  getState(): { params: Float32Array; m: Float32Array; v: Float32Array } {
    this.live(true);
    return withStaging(this.env, STATE, this.nParams, (st) => {
      runOnce(this.io, this.state, outputsTo(valuesOf(st)));
      return { params: st.params.data.slice(), m: st.m.data.slice(), v: st.v.data.slice() };
    });
  }

  /** One optimizer step on `batch`; returns the loss, gradient norm and whether the update was applied. */
  run(batch: Batch, lrFactor: number, t: number): { loss: number; gradNorm: number; applied: boolean } {
    this.live(true);
    const sc = stepScalars(this.o.optimizer.beta1, this.o.optimizer.beta2, t, lrFactor);
    for (const { spec, host } of this.perStep) {
      if (spec.name === 'tokens') writeInt64(host.bytes, batch.inputs);
      else if (spec.name === 'targets') writeInt64(host.bytes, batch.targets);
      else if (spec.name === 'tokens_f') new Float32Array(host.bytes).set(batch.inputs);
      else if (spec.name === 'targets_f') new Float32Array(host.bytes).set(batch.targets);
      else if (spec.name in sc) new Float32Array(host.bytes)[0] = sc[spec.name];
      else throw new OrtError(`captured step: no value for input '${spec.name}'`);
      // BindInput copies a host tensor to the device at bind time: re-bind after each write.
      this.up.rebindInput(this.bUp, spec.name, host.value);
    }
    this.up.runBinding(this.bUp, false);
    this.step.runBinding(this.bStep, false, this.runOptions);
    this.io.runBinding(this.bBack, false);
    this.down.runBinding(this.bDown, true);
    const [loss, gradNorm, ok] = this.scalarsHost;
    return { loss, gradNorm, applied: ok === 1 };
  }

  evaluate(batch: Batch): { loss: number; residualAbsMean?: number } {
    this.live(true);
    writeInt64(this.evalIn.tokens.bytes, batch.inputs);
    writeInt64(this.evalIn.targets.bytes, batch.targets);
    this.evalSession.rebindInput(this.bEval, 'tokens', this.evalIn.tokens.value);
    this.evalSession.rebindInput(this.bEval, 'targets', this.evalIn.targets.value);
    this.evalSession.runBinding(this.bEval, true);
    return { loss: this.evalOut.loss[0], residualAbsMean: this.evalOut.residual?.[0] };
  }

  private live(needState = false): void {
    if (this.released) throw new OrtError('captured step used after release');
    if (needState && !this.hasState) throw new Error('engine has no state');
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const [s, b] of this.bindings) s.releaseBinding(b);
    for (const v of this.deviceValues) this.env.release(v);
    for (const h of this.hostBufs) this.env.freeHost(h);
    if (this.step) {
      this.step.releaseRunOptions(this.runOptions);
      this.step.releaseAllocator(this.alloc);
    }
    for (const s of this.sessions) s.release();
  }
}
