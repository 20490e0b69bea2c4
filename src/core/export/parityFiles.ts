/**
 * What an external trainer needs to replay a ShapeLab run exactly: the exported config.json, the
 * initial weights (init.safetensors, ShapeLab parameter names) and the batches the ShapeLab
 * sampler draws (batches.bin: little-endian int32 [steps * gradAccum, B, T + 1], each row the
 * inputs plus the last target). train.py reads them with --config/--init/--batches; the parity checks (CPU in
 * test/export/torchParity.test.ts, GPU in bench/parity) compare its losses with ShapeLab's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BatchSampler } from '../data/batches';
import { loadDataset } from '../data/dataset';
import { paramLayout } from '../model/gpt';
import { initParams } from '../model/init';
import type { RunConfig } from '../runs/configSchema';
import { writeSafetensors } from '../runs/safetensors';
import { modelShapeOf, toTensorMap, transferFor } from '../train/trainer';
import { torchConfig } from './torchExport';

export function writeParityFiles(config: RunConfig, outDir: string): { config: string; init: string; batches: string } {
  mkdirSync(outDir, { recursive: true });
  const files = { config: path.join(outDir, 'config.json'), init: path.join(outDir, 'init.safetensors'), batches: path.join(outDir, 'batches.bin') };
  const layout = paramLayout(modelShapeOf(config), transferFor(config, config.model.nLayers));
  writeSafetensors(files.init, toTensorMap(layout, initParams(layout, config.seed)));
  const data = loadDataset(config.data);
  // Same sampler, seed and order as the trainer: batch s of this file is the trainer's step s + 1.
  const sampler = new BatchSampler(data.train, { batchSize: config.batchSize, context: config.model.context, seed: config.seed });
  const T = config.model.context, B = config.batchSize;
  // k micro-batches per optimizer step (gradient accumulation): the file holds them in stream order.
  const count = config.steps * (config.gradAccum ?? 1);
  const buf = new Int32Array(count * B * (T + 1));
  for (let s = 0; s < count; s++) {
    const b = sampler.nextBatch();
    for (let r = 0; r < B; r++) {
      const o = (s * B + r) * (T + 1);
      buf.set(b.inputs.subarray(r * T, (r + 1) * T), o);
      buf[o + T] = b.targets[r * T + T - 1];
    }
  }
  writeFileSync(files.batches, Buffer.from(buf.buffer));
  writeFileSync(files.config, JSON.stringify(torchConfig(config), null, 2));
  return files;
}
