/**
 * Parity, ShapeLab side: trains with the local trainer (any EP) and writes what the PyTorch
 * reference needs to replay the same run: config.json (with the core transfer per depth),
 * init.safetensors (the exact initial weights) and batches.bin (the exact batches, int32
 * [steps, B, T+1]). Takes the same flags as `shapelab train`.
 *
 *   node export-parity.js --out DIR [train flags...]      then  bash bench/parity/run_torch.sh DIR
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BatchSampler } from '../../src/core/data/batches';
import { loadDataset } from '../../src/core/data/dataset';
import { paramLayout } from '../../src/core/model/gpt';
import { initParams } from '../../src/core/model/init';
import { torchConfig } from '../../src/core/export/torchExport';
import { writeSafetensors } from '../../src/core/runs/safetensors';
import { train, modelShapeOf, transferFor, toTensorMap } from '../../src/core/train/trainer';
import { configFromFlags, OPTIONS } from '../../src/cli/commands/train';
import { parseArgs } from 'node:util';

(async () => {
  const { values } = parseArgs({ options: { ...OPTIONS }, strict: true });
  const out = String(values.out ?? 'parity');
  const config = { ...configFromFlags(values as Record<string, string | boolean | undefined>), logEvery: 1, evalEvery: 0, checkpointEvery: 0 };
  mkdirSync(out, { recursive: true });
  const layout = paramLayout(modelShapeOf(config), transferFor(config, config.model.nLayers));
  writeSafetensors(path.join(out, 'init.safetensors'), toTensorMap(layout, initParams(layout, config.seed)));
  const data = loadDataset(config.data);
  const sampler = new BatchSampler(data.train, { batchSize: config.batchSize, context: config.model.context, seed: config.seed });
  const T = config.model.context, B = config.batchSize;
  const buf = new Int32Array(config.steps * B * (T + 1));
  for (let s = 0; s < config.steps; s++) {
    const b = sampler.nextBatch();
    for (let r = 0; r < B; r++) {
      const o = (s * B + r) * (T + 1);
      buf.set(b.inputs.subarray(r * T, (r + 1) * T), o);
      buf[o + T] = b.targets[r * T + T - 1];
    }
  }
  writeFileSync(path.join(out, 'batches.bin'), Buffer.from(buf.buffer));
  writeFileSync(path.join(out, 'config.json'), JSON.stringify(torchConfig(config), null, 2));
  const t0 = Date.now();
  const r = await train({ config, runsRoot: path.join(out, 'ts-runs'), onProgress: (p) => { if (p.kind === 'start') console.log(`ts: ${p.ep} ${p.note ?? ''} ${p.params} params`); } });
  console.log(`ts-run: ${r.runDir} (${((Date.now() - t0) / 1000).toFixed(1)} s, final loss ${r.finalLoss})`);
  writeFileSync(path.join(out, 'ts-run.txt'), r.runDir + '\n');
})().catch((e) => { console.error(e); process.exit(1); });
