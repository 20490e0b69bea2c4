/**
 * Predicts a proxy run's wall-clock on this device, so the grid can be sized to the user's minutes.
 *
 * Measured, not assumed: (1) the device's float32 MatMul rate R through the existing device
 * measurement (train/deviceInfo.ts measureMatmul); (2) a probe that builds the real training engine
 * for the smallest grid shape and times a few steps and one evaluation batch. Small proxy models
 * are dispatch-bound (docs/engine-performance.md: ~40% of a 25m step is the host issuing kernels),
 * so a step is modelled as
 *     t_step = c * (L + 1) + F_step / R
 * where F_step is the step's training FLOPs (6N + 12 L d T per token) and c (seconds per block of
 * kernels, the +1 being embedding/head/optimizer) is what the probe measured beyond F/R. A run adds
 * the probe's engine-creation time and its eval batches. The runner rescales the remaining
 * predictions by measured/predicted after each finished run, so the ETA corrects itself.
 */
import { Engine, freshState } from '../train/engine';
import { initParams } from '../model/init';
import { measureMatmul } from '../train/deviceInfo';
import type { Ep } from '../train/runtime';
import { transfer } from '../param/parameterization';
import type { BaseHparams, Parameterization } from '../param/parameterization';
import { evalBatches } from '../data/batches';
import type { GridRun } from './grid';

export interface DeviceTiming {
  ep: Ep;
  /** Measured float32 MatMul TFLOP/s (deviceInfo.measureMatmul). */
  matmulTflops: number;
  matmulSize: number;
  /** Seconds per block of kernels per step (c above). */
  perBlockSec: number;
  /** Engine creation (graph build + session) seconds. */
  setupSec: number;
  probe: { dModel: number; nLayers: number; stepSec: number; steps: number };
  method: string;
}

export function flopsPerStep(g: { params: number; nLayers: number; dModel: number }, context: number, batchSize: number): number {
  return (6 * g.params + 12 * g.nLayers * g.dModel * context) * context * batchSize;
}

export function predictRunSeconds(t: DeviceTiming, g: GridRun, context: number, batchSize: number, evalBatchCount: number): number {
  const step = t.perBlockSec * (g.nLayers + 1) + flopsPerStep(g, context, batchSize) / (t.matmulTflops * 1e12);
  return t.setupSec + g.steps * step + evalBatchCount * step / 3;
}

/** Measures R and the probe; `probe` is the smallest shape of the grid. */
export async function measureDevice(ep: Ep, probe: GridRun, o: { vocab: number; context: number; batchSize: number; parameterization: Parameterization; base: BaseHparams; steps?: number }): Promise<DeviceTiming> {
  const matmulSize = ep === 'cpu' ? 256 : 2048;
  const matmulTflops = await measureMatmul(ep, matmulSize);
  const t0 = performance.now();
  const engine = await Engine.create({
    shape: { vocab: o.vocab, context: o.context, dModel: probe.dModel, nLayers: probe.nLayers, nHeads: probe.nHeads, dFf: probe.dFf, tiedEmbeddings: false },
    transfer: transfer(o.base, { width: probe.dModel, depth: probe.nLayers }, o.parameterization),
    batch: o.batchSize,
    optimizer: { beta1: 0.9, beta2: 0.95, clip: 1 },
    ep,
  });
  try {
    await engine.setState(freshState(initParams(engine.layout, 1)));
    const setupSec = (performance.now() - t0) / 1000;
    const tokens = new Uint16Array(o.context * o.batchSize * 4 + 1).map((_, i) => (i * 7919) % o.vocab);
    const batch = evalBatches(tokens, { batchSize: o.batchSize, context: o.context, count: 1 })[0];
    const steps = o.steps ?? 8;
    await engine.step(batch, 1e-3, 1); // warm-up (shader compilation)
    const t1 = performance.now();
    for (let i = 0; i < steps; i++) await engine.step(batch, 1e-3, i + 2);
    const stepSec = (performance.now() - t1) / 1000 / steps;
    const compute = flopsPerStep(probe, o.context, o.batchSize) / (matmulTflops * 1e12);
    const perBlockSec = Math.max(0, stepSec - compute) / (probe.nLayers + 1);
    return {
      ep, matmulTflops, matmulSize, perBlockSec, setupSec,
      probe: { dModel: probe.dModel, nLayers: probe.nLayers, stepSec, steps },
      method: `t_step = c (L + 1) + F_step / R; R = ${matmulTflops.toFixed(3)} TFLOP/s (float32 MatMul ${matmulSize}^3 measured on ${ep}), c = ${(perBlockSec * 1e3).toFixed(3)} ms from a ${steps}-step probe of d ${probe.dModel} x L ${probe.nLayers} (${(stepSec * 1e3).toFixed(2)} ms/step); plus ${setupSec.toFixed(1)} s engine setup per run`,
    };
  } finally {
    await engine.release();
  }
}
