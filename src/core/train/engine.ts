/**
 * The training engine: compiled step/eval sessions plus the GPU-resident state (flat parameters,
 * AdamW moments, per-row hyperparameter tables). Only the loss and gradient norm come back to the
 * host each step; the state moves to the host only for checkpoints.
 */
import * as ort from 'onnxruntime-node';
import type { Batch } from '../data/batches';
import { paramLayout, totalParams, type ModelShape, type ParamSpec } from '../model/gpt';
import type { Transfer } from '../param/parameterization';
import { buildApplyAccumulated, buildEval, buildGradAccumulate, buildTrainStep, hyperTableWidth, hyperVectors, stepScalars, type OptimizerConfig } from './graphs';
import { CapturedStep } from './ffi/capturedStep';
import { createSession, disposeTensor, int64Column, RuntimeError, scalar, StateMover, type Ep } from './runtime';
import { runtimeFromEnv, type EngineRuntime } from './runtimeChoice';

export { ENGINE_RUNTIMES, runtimeFromEnv, type EngineRuntime } from './runtimeChoice';

export interface EngineOptions {
  shape: ModelShape;
  transfer: Transfer;
  batch: number;
  evalBatch?: number;
  optimizer: OptimizerConfig;
  ep: Ep;
  /** Also compile an eval graph that reports mean |residual| after the last block. */
  residualStat?: boolean;
  /** Profile the train-step session (onnxruntime JSON trace with this prefix). */
  profilePrefix?: string;
  /**
   * Micro-batches per optimizer step (gradient accumulation; default 1 = the fused step graph).
   * Above 1 a step runs a gradient graph per micro-batch, summing into a GPU-resident vector,
   * then one optimizer graph.
   */
  gradAccum?: number;
  /** Default: SHAPELAB_RUNTIME, else 'auto'. */
  runtime?: EngineRuntime;
}

export interface HostState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** A model's starting state: the given parameters and zeroed AdamW moments. */
export function freshState(params: Float32Array): HostState {
  return { params, m: new Float32Array(params.length), v: new Float32Array(params.length) };
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  /** Wall time of the session run, ms. */
  ms: number;
  /** false: the graph's non-finite guard kept the previous state (the update was NaN/Inf). */
  applied: boolean;
}

const STATE = ['params', 'm', 'v'] as const;

/** The two sessions of an accumulating step and the resident zero vector that starts each sum. */
interface Accumulation {
  k: number;
  grad: ort.InferenceSession;
  apply: ort.InferenceSession;
  zeroMover: StateMover;
  zero: ort.Tensor;
}

export class Engine {
  readonly layout: ParamSpec[];
  readonly nParams: number;
  /** On WebGPU, why auto did not take the captured step. */
  runtimeNote?: string;
  /** The captured step (runtime 'capture'): it owns the state; the node sessions are not built. */
  private cap?: CapturedStep;
  private state?: Record<string, ort.Tensor>;
  private hyper?: Record<string, ort.Tensor>;
  private accum?: Accumulation;

  private constructor(
    readonly opts: EngineOptions,
    /** The fused step (gradAccum 1 only). */
    private readonly stepSession: ort.InferenceSession | undefined,
    private readonly evalSession: ort.InferenceSession | undefined,
    private readonly mover: StateMover,
    private readonly hyperMover: StateMover | undefined,
    layout: ParamSpec[],
  ) {
    this.layout = layout;
    this.nParams = totalParams(layout);
  }

  static async create(o: EngineOptions): Promise<Engine> {
    const layout = paramLayout(o.shape, o.transfer);
    const n = totalParams(layout);
    const k = o.gradAccum ?? 1;
    const width = hyperTableWidth(layout);
    if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`gradAccum must be a positive integer (got ${k})`);
    const runtime = o.runtime ?? runtimeFromEnv();
    let why: string | undefined;
    if (runtime !== 'node') {
      why = o.ep !== 'webgpu' ? `the ${o.ep} EP (capture is a WebGPU feature)` : k > 1 ? 'gradient accumulation' : o.profilePrefix ? 'profiling' : undefined;
      if (!why) {
        try {
          const cap = CapturedStep.create({ shape: o.shape, transfer: o.transfer, layout, batch: o.batch, evalBatch: o.evalBatch ?? o.batch, optimizer: o.optimizer, residualStat: o.residualStat });
          let mover: StateMover;
          try {
            mover = await StateMover.create(o.ep, n, [...STATE]);
          } catch (err) {
            cap.release();
            throw err;
          }
          const e = new Engine(o, undefined, undefined, mover, undefined, layout);
          e.cap = cap;
          return e;
        } catch (err) {
          why = (err as Error).message;
        }
      }
      if (runtime === 'capture') throw new RuntimeError(`SHAPELAB_RUNTIME=capture cannot run here: ${why}`);
    }
    const evalGraph = buildEval(o.shape, o.transfer, layout, o.evalBatch ?? o.batch, { residualStat: o.residualStat });
    const [stepSession, evalSession, mover, hyperMover] = await Promise.all([
      k === 1 ? createSession(buildTrainStep(o.shape, o.transfer, layout, o.batch, o.optimizer), o.ep, { gpuOutputs: ['params_out', 'm_out', 'v_out'], profilePrefix: o.profilePrefix }) : undefined,
      createSession(evalGraph, o.ep),
      StateMover.create(o.ep, n, [...STATE]),
      StateMover.create(o.ep, n / width, ['hp_lr', 'hp_eps', 'hp_wd']),
    ]);
    const e = new Engine(o, stepSession, evalSession, mover, hyperMover, layout);
    if (o.ep === 'webgpu') e.runtimeNote = why; // on other EPs capture is not expected: no note
    const h = hyperVectors(layout, o.transfer, width);
    e.hyper = await hyperMover.upload({ hp_lr: h.lr, hp_eps: h.eps, hp_wd: h.wd });
    if (k > 1) {
      const [grad, apply, zeroMover] = await Promise.all([
        createSession(buildGradAccumulate(o.shape, o.transfer, layout, o.batch), o.ep, { gpuOutputs: ['grad_out'], profilePrefix: o.profilePrefix }),
        createSession(buildApplyAccumulated(layout, k, o.optimizer), o.ep, { gpuOutputs: ['params_out', 'm_out', 'v_out'] }),
        StateMover.create(o.ep, n, ['zero']),
      ]);
      const zero = (await zeroMover.upload({ zero: new Float32Array(n) })).zero;
      e.accum = { k, grad, apply, zeroMover, zero };
    }
    return e;
  }

  async setState(s: HostState): Promise<void> {
    for (const [k, a] of Object.entries(s)) {
      if (a.length !== this.nParams) throw new Error(`state '${k}' has ${a.length} values, the model has ${this.nParams}`);
    }
    if (this.cap) return this.cap.setState(s);
    this.disposeState();
    this.state = await this.mover.upload({ params: s.params, m: s.m, v: s.v });
  }

  async getState(): Promise<HostState> {
    if (this.cap) return this.cap.getState();
    if (!this.state) throw new Error('engine has no state');
    const r = await this.mover.download(this.state);
    return { params: r.params, m: r.m, v: r.v };
  }

  /** Hands the device-resident state tensors to the caller (e.g. a growth graph); the engine keeps none. */
  takeState(): Record<'params' | 'm' | 'v', ort.Tensor> {
    if (this.cap) {
      // host tensors: the growth graph's session uploads them
      const h = this.cap.getState();
      return { params: new ort.Tensor('float32', h.params, [this.nParams]), m: new ort.Tensor('float32', h.m, [this.nParams]), v: new ort.Tensor('float32', h.v, [this.nParams]) };
    }
    if (!this.state) throw new Error('engine has no state');
    const s = this.state as Record<'params' | 'm' | 'v', ort.Tensor>;
    this.state = undefined;
    return s;
  }

  /**
   * Takes device-resident state (e.g. a growth graph's outputs) as a device-side copy into tensors
   * of this engine's own session, so the producing session may be released right away (a
   * gpu-buffer tensor disposed after its session was released crashes onnxruntime-node). The
   * caller still owns, and disposes, the tensors it passed.
   */
  async adoptState(s: Record<'params' | 'm' | 'v', ort.Tensor>): Promise<void> {
    for (const k of STATE) if (s[k].dims[0] !== this.nParams) throw new Error(`state '${k}' has ${s[k].dims[0]} values, the model has ${this.nParams}`);
    if (this.cap) {
      const h = await this.mover.download(s);
      return this.cap.setState({ params: h.params, m: h.m, v: h.v });
    }
    this.disposeState();
    this.state = await this.mover.copy(s);
  }

  /** Which runtime the step runs on. */
  get runtime(): 'node' | 'capture' {
    return this.cap ? 'capture' : 'node';
  }

  /** Micro-batches per optimizer step. */
  get gradAccum(): number {
    return this.accum?.k ?? 1;
  }

  /**
   * One optimizer step (t is the 1-based AdamW step count used for bias correction) on one batch,
   * or on `gradAccum` micro-batches whose mean loss it then minimizes; the reported loss is that mean.
   */
  async step(batches: Batch | Batch[], lrFactor: number, t: number): Promise<StepResult> {
    const list = Array.isArray(batches) ? batches : [batches];
    if (list.length !== this.gradAccum) throw new Error(`step needs ${this.gradAccum} micro-batch(es), got ${list.length}`);
    if (this.cap) {
      // The captured step is synchronous C calls: yield to the event loop first, or a trainer
      // looping on it would never see a stop message or a signal (a resolved await is a microtask).
      await new Promise<void>((resolve) => setImmediate(resolve));
      const t0 = performance.now();
      const r = this.cap.run(list[0], lrFactor, t);
      return { ...r, ms: performance.now() - t0 };
    }
    if (!this.state || !this.hyper) throw new Error('engine has no state');
    const { beta1, beta2 } = this.opts.optimizer;
    const optimizerSession = this.accum ? this.accum.apply : this.stepSession!;
    const scalars: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(stepScalars(beta1, beta2, t, lrFactor))) if (optimizerSession.inputNames.includes(k)) scalars[k] = scalar(v);
    const t0 = performance.now();
    let out: ort.InferenceSession.OnnxValueMapType;
    let loss: number;
    if (!this.accum) {
      out = await this.stepSession!.run({ ...this.state, ...this.hyper, ...scalars, tokens: int64Column(list[0].inputs), targets: int64Column(list[0].targets) });
      loss = (out.loss.data as Float32Array)[0];
    } else {
      const a = this.accum;
      let acc = a.zero;
      let sum = 0;
      try {
        for (const b of list) {
          const r = await a.grad.run({ params: this.state.params, grad_in: acc, tokens: int64Column(b.inputs), targets: int64Column(b.targets) });
          if (acc !== a.zero) disposeTensor(acc);
          acc = r.grad_out;
          sum += (r.loss.data as Float32Array)[0];
        }
        loss = sum / list.length;
        out = await a.apply.run({ ...this.state, ...this.hyper, ...scalars, grad_sum: acc, loss_mean: scalar(loss) });
      } finally {
        if (acc !== a.zero) disposeTensor(acc);
      }
    }
    const ms = performance.now() - t0;
    this.disposeState();
    this.state = { params: out.params_out, m: out.m_out, v: out.v_out };
    const applied = out.update_ok ? (out.update_ok.data as Float32Array)[0] === 1 : true;
    return { loss, gradNorm: (out.grad_norm.data as Float32Array)[0], ms, applied };
  }

  /** Mean loss (and optionally mean |residual|) over the given batches. */
  async evaluate(batches: Batch[]): Promise<{ loss: number; residualAbsMean?: number }> {
    let loss = 0, resid = 0;
    if (this.cap) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (const b of batches) {
        const r = this.cap.evaluate(b);
        loss += r.loss;
        resid += r.residualAbsMean ?? 0;
      }
      return { loss: loss / batches.length, residualAbsMean: this.opts.residualStat ? resid / batches.length : undefined };
    }
    if (!this.state || !this.evalSession) throw new Error('engine has no state');
    for (const b of batches) {
      const out = await this.evalSession.run({ params: this.state.params, tokens: int64Column(b.inputs), targets: int64Column(b.targets) });
      loss += (out.loss.data as Float32Array)[0];
      if (out.residual_abs_mean) resid += (out.residual_abs_mean.data as Float32Array)[0];
    }
    return { loss: loss / batches.length, residualAbsMean: this.opts.residualStat ? resid / batches.length : undefined };
  }

  /** Stops profiling and flushes the trace file (only when created with profilePrefix). */
  endProfiling(): void {
    (this.stepSession ?? this.accum?.grad)?.endProfiling();
  }

  private disposeState(): void {
    if (this.state) for (const k of STATE) disposeTensor(this.state[k]);
    this.state = undefined;
  }

  async release(): Promise<void> {
    this.cap?.release();
    this.cap = undefined;
    this.disposeState();
    if (this.hyper) for (const t of Object.values(this.hyper)) disposeTensor(t);
    this.hyper = undefined;
    const a = this.accum;
    this.accum = undefined;
    if (a) disposeTensor(a.zero);
    await Promise.all([
      this.stepSession?.release(),
      this.evalSession?.release(),
      this.mover.release(),
      this.hyperMover?.release(),
      ...(a ? [a.grad.release(), a.apply.release(), a.zeroMover.release()] : []),
    ]);
  }
}
