/**
 * The training loop: data -> engine steps -> run folder (metrics, events, checkpoints), with
 * resume, evaluation, non-finite handling, growth events and a cooperative stop. It is library
 * code (no vscode, no terminal output): callers get progress through `onProgress`.
 */
import * as path from 'node:path';
import { BatchSampler, evalBatches, type Batch, type SamplerState } from '../data/batches';
import { loadDataset, type Dataset } from '../data/dataset';
import { paramLayout, type ModelShape, type ParamSpec } from '../model/gpt';
import { initParams } from '../model/init';
import { transfer, type Transfer } from '../param/parameterization';
import { NoCheckpointError } from '../runs/attempts';
import { CheckpointError, findResumeCheckpoint, latestCheckpoint, listCheckpoints, saveCheckpoint } from '../runs/checkpoint';
import { readHistory } from '../runs/history';
import { lockLiveness, readLock } from '../runs/lock';
import { checkpointConfigHash, type RunConfig } from '../runs/configSchema';
import { createRunDir, RunSession, writeConfig } from '../runs/runStore';
import type { TensorMap } from '../runs/safetensors';
import { Engine, freshState, type HostState } from './engine';
import { growEngine, grownDepth } from './growth';
import { checkResources, describeRunFailure } from './resources';
import { resolveEp } from './epChoice';
import type { Ep } from './runtime';
import { lrFactor } from './schedule';

export type Progress =
  | { kind: 'start'; runDir: string; ep: Ep; runtime?: 'node' | 'capture'; note?: string; params: number; depth: number; resumedFrom?: number; data: string; batchSize: number; gradAccum: number; context: number }
  | { kind: 'step'; step: number; steps: number; tokens: number; loss: number; lr: number; gradNorm: number; tokensPerSec: number; tflops: number; etaSec: number }
  | { kind: 'eval'; step: number; evalLoss: number }
  | { kind: 'checkpoint'; step: number; file: string; reason: CheckpointReason; seconds: number }
  | { kind: 'growth'; step: number; depthBefore: number; depthAfter: number }
  | { kind: 'nonfinite'; step: number; loss: number; gradNorm: number; updateFinite?: boolean; action: 'stop' | 'skip' }
  | { kind: 'end'; reason: 'done' | 'stopped' | 'nonfinite'; step: number; evalLoss?: number };

/** Why a checkpoint was written: the step interval, the wall-time interval, a growth event, or the end/stop/failure. */
export type CheckpointReason = 'steps' | 'time' | 'growth' | 'end';

/** A growth whose event is still being written (it reports the first losses after the growth). */
interface PendingGrowth {
  step: number;
  tokens: number;
  depthBefore: number;
  depthAfter: number;
  lossBefore: number;
  lossesAfter: number[];
}

export interface TrainOptions {
  config: RunConfig;
  /** Folder in which a new run folder is created. */
  runsRoot?: string;
  /** Resume this existing run folder instead (uses its config.json unless `config` overrides). */
  resumeDir?: string;
  /** Override config.steps when resuming (train further). */
  onProgress?: (p: Progress) => void;
  /** Polled between steps; true ends the run with a checkpoint. */
  shouldStop?: () => boolean;
  /** Force an execution provider already resolved by the caller. */
  ep?: Ep;
  /**
   * With resumeDir: start the run over as a new attempt in the same folder; the earlier attempt's
   * logs and checkpoints are moved aside (src/core/runs/attempts.ts), never deleted. Without it, a
   * resume of a run that has no checkpoint is refused (NoCheckpointError).
   */
  restart?: boolean;
}

export interface TrainResult {
  runDir: string;
  reason: 'done' | 'stopped' | 'nonfinite';
  step: number;
  finalLoss?: number;
  evalLoss?: number;
}

/** Trainer state that goes into checkpoints besides parameters and moments. */
interface LoopState {
  step: number;
  tokens: number;
  /** AdamW step counter (reset by a growth event with optimizer 'reset'). */
  adamStep: number;
  /** Step at which the LR schedule (re)started (0, or the growth step under 'rewarm'). */
  scheduleOrigin: number;
  depth: number;
  grown: boolean;
  /** Residual multiplier kept from before growth (policy 'keep'); undefined = the depth's own. */
  residualOverride?: number;
  /** null in a checkpoint written by the exported PyTorch program (its batches depend only on the step). */
  sampler: SamplerState | null;
  /** Last training loss (so a growth event right after a resume still reports `lossBefore`). */
  lastLoss?: number;
  /**
   * A growth event not written yet (it waits for 5 losses after the growth): a checkpoint taken in
   * between carries it, so a resume from that checkpoint still writes the event.
   */
  pendingGrowth?: PendingGrowth;
}

/** The trainer state stored in a checkpoint, checked field by field (it may come from train.py). */
function loopStateFrom(raw: unknown, file: string): LoopState {
  const o = (raw ?? {}) as Record<string, unknown>;
  const bad = (what: string) => new CheckpointError(file, 'corrupt', `trainer state: ${what}`);
  if (typeof raw !== 'object' || raw === null) throw bad('missing');
  for (const k of ['step', 'tokens', 'adamStep', 'scheduleOrigin', 'depth'] as const) {
    if (!(Number.isInteger(o[k]) && (o[k] as number) >= 0)) throw bad(`${k} must be a non-negative integer (got ${JSON.stringify(o[k])})`);
  }
  if (o.residualOverride !== undefined && o.residualOverride !== null && !(typeof o.residualOverride === 'number' && Number.isFinite(o.residualOverride))) throw bad('residualOverride must be a finite number');
  if (o.sampler !== null && o.sampler !== undefined && typeof o.sampler !== 'object') throw bad('sampler must be an object or null');
  const pg = o.pendingGrowth as Record<string, unknown> | undefined | null;
  if (pg !== undefined && pg !== null && !(typeof pg === 'object' && Number.isInteger(pg.step) && Array.isArray(pg.lossesAfter))) throw bad('pendingGrowth must be an object with step and lossesAfter');
  return {
    ...(o as unknown as LoopState),
    grown: !!o.grown,
    residualOverride: typeof o.residualOverride === 'number' ? o.residualOverride : undefined,
    sampler: (o.sampler as SamplerState | undefined) ?? null,
    pendingGrowth: pg ? (pg as unknown as PendingGrowth) : undefined,
  };
}

export function modelShapeOf(c: RunConfig, depth = c.model.nLayers): ModelShape {
  return { vocab: c.model.vocabSize, context: c.model.context, dModel: c.model.dModel, nLayers: depth, nHeads: c.model.nHeads, dFf: c.model.dFf, tiedEmbeddings: c.model.tiedEmbeddings };
}

export function transferFor(c: RunConfig, depth: number, residualOverride?: number): Transfer {
  const t = transfer(c.base, { width: c.model.dModel, depth }, c.parameterization);
  return residualOverride === undefined ? t : { ...t, residualMultiplier: residualOverride };
}

/** Training FLOPs per token, PaLM/nanoGPT convention: 6N + 12 L d T. */
export function flopsPerToken(nParams: number, s: ModelShape): number {
  return 6 * nParams + 12 * s.nLayers * s.dModel * s.context;
}

export function toTensorMap(layout: ParamSpec[], flat: Float32Array): TensorMap {
  const m: TensorMap = new Map();
  for (const p of layout) m.set(p.name, { shape: p.shape, data: flat.slice(p.offset, p.offset + p.size) });
  return m;
}

export function fromTensorMap(layout: ParamSpec[], m: TensorMap): Float32Array {
  const out = new Float32Array(layout.reduce((a, p) => a + p.size, 0));
  for (const p of layout) {
    const t = m.get(p.name);
    if (!t) throw new Error(`tensor ${p.name} is missing`);
    out.set(t.data, p.offset);
  }
  return out;
}

export function shapesOf(layout: ParamSpec[]): Record<string, number[]> {
  return Object.fromEntries(layout.map((p) => [p.name, p.shape]));
}

/**
 * Writes one checkpoint the way the trainer does (parameters and both AdamW moments downloaded
 * from the engine, crash-safe safetensors). bench/checkpoint-cost.ts times exactly this.
 */
export async function writeCheckpoint(runDir: string, engine: Engine, state: unknown & { step: number; tokens: number; depth: number }, configHash: string, keep?: number): Promise<string> {
  const s = await engine.getState();
  return saveCheckpoint(runDir, {
    step: state.step, tokens: state.tokens, depth: state.depth, configHash,
    params: toTensorMap(engine.layout, s.params), optM: toTensorMap(engine.layout, s.m), optV: toTensorMap(engine.layout, s.v),
    state,
  }, { keep });
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const c = o.config;
  const progress = o.onProgress ?? (() => {});
  const resolved = o.ep ? { ep: o.ep } : await resolveEp(c.ep);
  const ep = resolved.ep;
  const data: Dataset = loadDataset(c.data);
  if (data.tokenizer.vocabSize > c.model.vocabSize) {
    throw new Error(`config.model.vocabSize (${c.model.vocabSize}) is smaller than the ${data.tokenizer.name} tokenizer's vocabulary (${data.tokenizer.vocabSize})`);
  }
  // A growth plan the model cannot take (e.g. a partial range outside it) fails now, not at atStep.
  if (c.growth) grownDepth(c.model.nLayers, c.growth);
  // A shape the device cannot hold is refused with the numbers before any folder or session exists.
  checkResources(c, ep);
  const runDir = o.resumeDir ?? createRunDir(o.runsRoot ?? 'runs', c.label);
  if (!o.resumeDir) writeConfig(runDir, { ...c, resolved: { ep, transfer: transferFor(c, c.model.nLayers) } });
  // `steps` may be extended on resume ('train further'); everything else must match.
  const hash = checkpointConfigHash(c);
  if (o.resumeDir && !o.restart && listCheckpoints(runDir).length === 0 && !latestCheckpoint(runDir)) {
    // Nothing to continue from. A live writer's lock is the better answer (RunSession.open says who).
    const lock = readLock(runDir);
    if (!(lock && lockLiveness(lock) !== false)) throw new NoCheckpointError(runDir);
  }
  const session = RunSession.open(runDir, { restart: !!(o.resumeDir && o.restart) });
  let engine: Engine | undefined;
  // Set once the loop runs: checkpoints the last good state after a failure (runtime error, lost device).
  let saveLastGood: (() => Promise<{ file?: string; step: number }>) | undefined;
  try {
    const sampler = new BatchSampler(data.train, { batchSize: c.batchSize, context: c.model.context, seed: c.seed });
    const microBatches = c.gradAccum ?? 1;
    const evalSet: Batch[] = evalBatches(data.val, { batchSize: c.batchSize, context: c.model.context, count: c.evalBatches });
    let st: LoopState = { step: 0, tokens: 0, adamStep: 0, scheduleOrigin: 0, depth: c.model.nLayers, grown: false, sampler: sampler.state() };
    let host: HostState | undefined;
    let resumedFrom: number | undefined;
    let resumeNote: string | undefined;
    if (o.resumeDir && !o.restart) {
      // The depth may have changed through growth: try the grown depth's shapes as well.
      const depths = c.growth ? [grownDepth(c.model.nLayers, c.growth), c.model.nLayers] : [c.model.nLayers];
      let found: { checkpoint: NonNullable<ReturnType<typeof findResumeCheckpoint>>['checkpoint']; layout: ParamSpec[] } | undefined;
      let lastErr: unknown;
      for (const dpt of depths) {
        try {
          const layout = paramLayout(modelShapeOf(c, dpt), transferFor(c, dpt));
          const hit = findResumeCheckpoint(runDir, { shapes: shapesOf(layout), configHash: hash });
          if (hit) found = { checkpoint: hit.checkpoint, layout };
          break;
        } catch (e) {
          lastErr = e;
        }
      }
      if (!found && lastErr) throw lastErr;
      if (!found) throw new NoCheckpointError(runDir);
      if (found) {
        // A bad trainer state fails the resume here (it may come from train.py), never a fresh start.
        st = loopStateFrom(found.checkpoint.state, found.checkpoint.file);
        const { layout } = found;
        host = { params: fromTensorMap(layout, found.checkpoint.params), m: fromTensorMap(layout, found.checkpoint.optM), v: fromTensorMap(layout, found.checkpoint.optV) };
        if (st.sampler) {
          sampler.restore(st.sampler);
        } else {
          // A checkpoint from the exported PyTorch program: its batches are a function of the step,
          // so there is no stream state to restore. Continue ShapeLab's own stream where an
          // uninterrupted ShapeLab run would be.
          sampler.skip(st.step * microBatches);
          resumeNote = `checkpoint ${path.basename(found.checkpoint.file)} has no ShapeLab sampler state (written by the exported PyTorch program?): batches continue ShapeLab's seeded order from step ${st.step}`;
        }
        resumedFrom = st.step;
      }
    }
    const makeEngine = (depth: number, t: Transfer) =>
      Engine.create({ shape: modelShapeOf(c, depth), transfer: t, batch: c.batchSize, optimizer: c.optimizer, ep, gradAccum: c.gradAccum });
    engine = await makeEngine(st.depth, transferFor(c, st.depth, st.residualOverride));
    if (!host) {
      host = freshState(initParams(engine.layout, c.seed));
    }
    await engine.setState(host);
    host = undefined;
    const note = [resolved.note, resumeNote].filter(Boolean).join('; ') || undefined;
    progress({ kind: 'start', runDir, ep, runtime: engine.runtime, note, params: engine.nParams, depth: st.depth, resumedFrom, data: data.description, batchSize: c.batchSize, gradAccum: microBatches, context: c.model.context });
    // A resume re-trains the steps after its checkpoint: rewindTo + metricsBytes mark the rows it
    // supersedes (src/core/runs/history.ts, the one rule every reader applies).
    const rewind = resumedFrom !== undefined ? { rewindTo: resumedFrom, metricsBytes: session.metrics.bytes() } : {};
    const attempt = session.archivedAttempt !== null ? { attempt: session.archivedAttempt + 1, restartOf: session.archivedAttempt } : {};
    session.event({ type: resumedFrom !== undefined ? 'resume' : 'start', step: st.step, tokens: st.tokens, ep, runtime: engine.runtime, ...(engine.runtimeNote ? { runtimeNote: engine.runtimeNote } : {}), note, params: engine.nParams, depth: st.depth, data: data.description, ...rewind, ...attempt });

    // Wall-time cadence: at least every checkpointMinutes, but never more often than 20x the last
    // write took, so time-based checkpoints cost at most 5% of the run.
    let lastCheckpointAt = performance.now();
    let lastCheckpointSec = 0;
    let lastCheckpointStep = resumedFrom ?? -1;
    const checkpoint = async (reason: CheckpointReason) => {
      const t0 = performance.now();
      st.sampler = sampler.state();
      st.pendingGrowth = pendingGrowth;
      const file = await writeCheckpoint(runDir, engine!, { ...st }, hash, c.keepCheckpoints);
      const seconds = (performance.now() - t0) / 1000;
      lastCheckpointAt = performance.now();
      lastCheckpointSec = seconds;
      lastCheckpointStep = st.step;
      session.event({ type: 'checkpoint', step: st.step, tokens: st.tokens, file: path.basename(file), reason, seconds: +seconds.toFixed(3) });
      progress({ kind: 'checkpoint', step: st.step, file, reason, seconds });
      return file;
    };
    const timeDue = () => c.checkpointMinutes > 0 && performance.now() - lastCheckpointAt >= Math.max(c.checkpointMinutes * 60_000, 20_000 * lastCheckpointSec);
    const evaluate = async () => {
      const r = await engine!.evaluate(evalSet);
      session.metric({ step: st.step, tokens: st.tokens, loss: lastLoss, evalLoss: r.loss, depth: st.depth });
      session.event({ type: 'eval', step: st.step, tokens: st.tokens, evalLoss: r.loss });
      progress({ kind: 'eval', step: st.step, evalLoss: r.loss });
      return r.loss;
    };

    const tokensPerStep = microBatches * c.batchSize * c.model.context;
    // Growth events the run's history already holds. A resume from a checkpoint at or after a
    // growth step (pre-growth: the growth is redone; or between the growth and its event) may
    // find the event written by the killed session: the same event, as the curve is the same, so
    // it is not written twice.
    const growthLogged = new Set(
      resumedFrom === undefined ? [] : readHistory<Record<string, unknown>, { type?: unknown; step?: unknown }>(runDir).events.filter((e) => e.type === 'growth').map((e) => e.step),
    );
    let pendingGrowth: PendingGrowth | undefined = st.pendingGrowth && !growthLogged.has(st.pendingGrowth.step) ? st.pendingGrowth : undefined;
    let lastLoss = st.lastLoss ?? NaN;
    let windowStart = performance.now(), windowTokens = 0;
    const loopStart = performance.now(), loopStartStep = st.step;
    let reason: TrainResult['reason'] = 'done';
    let lastEval: number | undefined;
    const sched = () => ({ ...c.schedule, totalSteps: c.schedule.totalSteps - st.scheduleOrigin });
    // Sampler state before the batch of the step in flight: a failed step's batch was never trained on.
    let drawnFrom: LoopState['sampler'] | undefined;
    saveLastGood = async () => {
      const step = st.step;
      try {
        if (drawnFrom) sampler.restore(drawnFrom);
        return { file: await checkpoint('end'), step };
      } catch {
        return { step }; // the device or the disk is gone: nothing more to save
      }
    };

    while (st.step < c.steps) {
      if (o.shouldStop?.()) {
        reason = 'stopped';
        break;
      }
      if (c.growth && !st.grown && st.step === c.growth.atStep) {
        const old = engine;
        const r = await growEngine(old, modelShapeOf(c, st.depth), c.growth, (d) => transferFor(c, d), makeEngine);
        engine = r.engine;
        await old.release();
        const lossBefore = lastLoss;
        const before = st.depth;
        st = {
          ...st,
          depth: r.depth,
          grown: true,
          residualOverride: c.growth.multiplier === 'keep' ? r.transfer.residualMultiplier : undefined,
          adamStep: c.growth.optimizer === 'reset' ? 0 : st.adamStep,
          scheduleOrigin: c.growth.lr === 'rewarm' ? st.step : st.scheduleOrigin,
        };
        pendingGrowth = growthLogged.has(st.step) ? undefined : { step: st.step, tokens: st.tokens, depthBefore: before, depthAfter: r.depth, lossBefore, lossesAfter: [] as number[] };
        progress({ kind: 'growth', step: st.step, depthBefore: before, depthAfter: r.depth });
        // A kill after this point resumes from the grown state instead of redoing the growth (and
        // the steps since the last checkpoint); skipped only when checkpointing is off altogether.
        // (Not when this step already has a checkpoint: its file name would be taken; a resume from
        // that pre-growth checkpoint redoes the growth, which gives the same state.)
        if ((c.checkpointEvery > 0 || c.checkpointMinutes > 0) && lastCheckpointStep !== st.step) await checkpoint('growth');
      }
      drawnFrom = sampler.state();
      // An accumulating step takes the next k batches of the stream: the same sequences a batch of
      // k * batchSize would hold.
      const micro = Array.from({ length: microBatches }, () => sampler.nextBatch());
      const lrf = lrFactor(st.step + 1 - st.scheduleOrigin, sched());
      const r = await engine.step(micro, lrf, st.adamStep + 1);
      drawnFrom = undefined;
      if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm) || !r.applied) {
        const action = c.nonFinite;
        session.event({ type: 'nonfinite', step: st.step + 1, tokens: st.tokens, loss: String(r.loss), gradNorm: String(r.gradNorm), updateFinite: r.applied, action });
        progress({ kind: 'nonfinite', step: st.step + 1, loss: r.loss, gradNorm: r.gradNorm, updateFinite: r.applied, action });
        if (action === 'stop') {
          reason = 'nonfinite';
          break;
        }
        st.step++;
        st.tokens += tokensPerStep;
        continue; // the graph's guard left parameters and moments untouched
      }
      st.step++;
      st.adamStep++;
      st.tokens += tokensPerStep;
      windowTokens += tokensPerStep;
      lastLoss = r.loss;
      st.lastLoss = r.loss;
      if (pendingGrowth) {
        pendingGrowth.lossesAfter.push(r.loss);
        if (pendingGrowth.lossesAfter.length >= 5 || st.step >= c.steps) {
          const g = c.growth!;
          session.event({ type: 'growth', ...pendingGrowth, operator: g.operator, multiplierPolicy: g.multiplier, optimizerPolicy: g.optimizer, lrPolicy: g.lr, factor: g.factor });
          pendingGrowth = undefined;
        }
      }
      if (st.step % c.logEvery === 0 || st.step === loopStartStep + 1 || st.step === c.steps) {
        const now = performance.now();
        const tps = windowTokens / Math.max(1e-9, (now - windowStart) / 1000);
        windowStart = now;
        windowTokens = 0;
        const lr = lrf * c.base.lr;
        const shape = modelShapeOf(c, st.depth);
        const tflops = (flopsPerToken(engine.nParams, shape) * tps) / 1e12;
        // rssMB: the training process's resident memory, for the monitor's hardware line.
        session.metric({ step: st.step, tokens: st.tokens, loss: r.loss, lr, gradNorm: r.gradNorm, tokensPerSec: tps, tflops, depth: st.depth, rssMB: Math.round(process.memoryUsage.rss() / 1048576) });
        const avg = (now - loopStart) / 1000 / (st.step - loopStartStep);
        progress({ kind: 'step', step: st.step, steps: c.steps, tokens: st.tokens, loss: r.loss, lr, gradNorm: r.gradNorm, tokensPerSec: tps, tflops, etaSec: avg * (c.steps - st.step) });
      }
      if (c.evalEvery > 0 && st.step % c.evalEvery === 0 && st.step < c.steps) lastEval = await evaluate();
      if (st.step < c.steps) {
        if (c.checkpointEvery > 0 && st.step % c.checkpointEvery === 0) await checkpoint('steps');
        else if (timeDue()) await checkpoint('time');
      }
    }
    if (pendingGrowth) {
      const g = c.growth!;
      session.event({ type: 'growth', ...pendingGrowth, operator: g.operator, multiplierPolicy: g.multiplier, optimizerPolicy: g.optimizer, lrPolicy: g.lr, factor: g.factor });
    }
    if (reason !== 'nonfinite') lastEval = await evaluate();
    // A non-finite stop keeps the untouched (last good) state: checkpointing it is safe.
    await checkpoint('end');
    session.event({ type: reason === 'done' ? 'done' : 'stop', step: st.step, tokens: st.tokens, reason, evalLoss: lastEval });
    progress({ kind: 'end', reason, step: st.step, evalLoss: lastEval });
    return { runDir, reason, step: st.step, finalLoss: lastLoss, evalLoss: lastEval };
  } catch (e) {
    let err = e;
    let at: { file?: string; step: number } = { step: -1 };
    // During the loop: keep the last good state where the device still allows it (a failed
    // checkpoint write is not retried: its message already says which checkpoint is latest).
    if (saveLastGood && !(e instanceof CheckpointError)) {
      at = await saveLastGood();
      err = Object.assign(new Error(describeRunFailure(e, { ep, runDir, step: at.step, saved: at.file })), { name: (e as Error)?.name ?? 'Error' });
    }
    try {
      session.event({ type: 'error', step: at.step, tokens: -1, message: (err as Error).message, ...(at.file ? { checkpoint: path.basename(at.file) } : {}) });
    } catch {
      // the original error matters more than a failed log line
    }
    throw err;
  } finally {
    session.close();
    // A lost device can make release fail too; that must not hide the error being reported.
    await engine?.release().catch(() => {});
  }
}

