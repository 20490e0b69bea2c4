/**
 * Parity, ShapeLab side: trains with the local trainer (any EP) and writes what the PyTorch
 * reference needs to replay the same run: config.json (with the core transfer per depth),
 * init.safetensors (the exact initial weights) and batches.bin (the exact batches, int32
 * [steps, B, T+1]). Takes the same flags as `shapelab train`.
 *
 *   node export-parity.js --out DIR [train flags...]      then  bash bench/parity/run_torch.sh DIR
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeParityFiles } from '../../src/core/export/parityFiles';
import { train } from '../../src/core/train/trainer';
import { configFromFlags, OPTIONS } from '../../src/cli/commands/train';
import { parseArgs } from 'node:util';

(async () => {
  const { values } = parseArgs({ options: { ...OPTIONS }, strict: true });
  const out = String(values.out ?? 'parity');
  const config = { ...configFromFlags(values as Record<string, string | boolean | undefined>), logEvery: 1, evalEvery: 0, checkpointEvery: 0 };
  writeParityFiles(config, out);
  const t0 = Date.now();
  const r = await train({ config, runsRoot: path.join(out, 'ts-runs'), onProgress: (p) => { if (p.kind === 'start') console.log(`ts: ${p.ep} ${p.note ?? ''} ${p.params} params`); } });
  console.log(`ts-run: ${r.runDir} (${((Date.now() - t0) / 1000).toFixed(1)} s, final loss ${r.finalLoss})`);
  writeFileSync(path.join(out, 'ts-run.txt'), r.runDir + '\n');
})().catch((e) => { console.error(e); process.exit(1); });
