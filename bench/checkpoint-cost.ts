/**
 * What one checkpoint costs: parameters plus both AdamW moments downloaded from the engine and
 * written crash-safely (temp file, fsync, rename, `latest`), through the trainer's own
 * writeCheckpoint. The default wall-time checkpoint interval (checkpointMinutes, configSchema.ts)
 * is chosen from these numbers: cost / interval is the share of the run spent checkpointing.
 *
 *   npx tsx bench/checkpoint-cost.ts [--ep cpu|webgpu] [--presets 25m,wide] [--repeats 3] [--dir DIR] [--json FILE]
 *
 * `wide` is the 25m preset at d 1024 (16 heads, batch 16), as in bench/train-throughput.ts.
 * Each preset trains one step first so the moments are real, then writes `repeats` checkpoints
 * into a fresh run folder under --dir (default: the OS temp folder; put it on the disk the runs use).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initParams } from '../src/core/model/init';
import { checkpointConfigHash, validateConfig, type RunConfig } from '../src/core/runs/configSchema';
import { Engine, freshState } from '../src/core/train/engine';
import { resolveEp } from '../src/core/train/epChoice';
import { type Ep } from '../src/core/train/runtime';
import { modelShapeOf, transferFor, writeCheckpoint } from '../src/core/train/trainer';

const { values } = parseArgs({
  options: { ep: { type: 'string', default: 'cpu' }, presets: { type: 'string', default: '25m,wide' }, repeats: { type: 'string', default: '3' }, dir: { type: 'string' }, json: { type: 'string' } },
});
const PRESETS: Record<string, Record<string, unknown>> = {
  '25m': { preset: '25m' },
  wide: { preset: '25m', label: 'wide', model: { dModel: 1024, nHeads: 16 }, batchSize: 16 },
};
const repeats = Math.max(1, Number(values.repeats));

async function measure(name: string, ep: Ep) {
  const c: RunConfig = validateConfig(PRESETS[name]);
  const engine = await Engine.create({ shape: modelShapeOf(c), transfer: transferFor(c, c.model.nLayers), batch: c.batchSize, optimizer: c.optimizer, ep });
  try {
    await engine.setState(freshState(initParams(engine.layout, c.seed)));
    // Any tokens do (the moments only need to be real numbers); no corpus needed on the device.
    const n = c.batchSize * c.model.context;
    const batch = { inputs: Int32Array.from({ length: n }, (_, i) => (i * 31) % 256), targets: Int32Array.from({ length: n }, (_, i) => (i * 17 + 1) % 256), batchSize: c.batchSize, context: c.model.context };
    const t0 = performance.now();
    await engine.step([batch], 1, 1);
    const stepMs = performance.now() - t0;
    const runDir = fs.mkdtempSync(path.join(values.dir ?? os.tmpdir(), `ckptcost-${name}-`));
    const download: number[] = [], total: number[] = [];
    let bytes = 0;
    try {
      for (let i = 0; i < repeats; i++) {
        const d0 = performance.now();
        await engine.getState(); // the download alone (writeCheckpoint does it again, then writes)
        download.push(performance.now() - d0);
        const w0 = performance.now();
        const file = await writeCheckpoint(runDir, engine, { step: i + 1, tokens: 0, depth: c.model.nLayers }, checkpointConfigHash(c), 2);
        total.push(performance.now() - w0);
        bytes = fs.statSync(file).size;
      }
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const totalMs = med(total);
    return {
      preset: name, ep, params: engine.nParams, checkpointBytes: bytes, stepMs: Math.round(stepMs),
      downloadMs: Math.round(med(download)), writeMs: Math.round(totalMs - med(download)), totalMs: Math.round(totalMs),
      totalMsAll: total.map(Math.round), mbPerSec: +(bytes / 1e6 / (totalMs / 1000)).toFixed(1),
      // Share of the run spent checkpointing at the default 10-minute interval, and the shortest
      // interval that keeps it at 5% (what the trainer's 20x-the-last-write floor enforces).
      overheadAt10MinPct: +((100 * totalMs) / 600_000).toFixed(3), minIntervalFor5PctSec: +((20 * totalMs) / 1000).toFixed(1),
    };
  } finally {
    await engine.release();
  }
}

async function main() {
  const ep = (await resolveEp(values.ep as Parameters<typeof resolveEp>[0])).ep;
  const rows = [];
  for (const name of String(values.presets).split(',')) {
    if (!PRESETS[name]) throw new Error(`unknown preset ${name} (known: ${Object.keys(PRESETS).join(', ')})`);
    rows.push(await measure(name, ep));
  }
  console.log(`checkpoint cost (params + AdamW m + v, float32; trainer's writeCheckpoint: download, sha256, write, fsync, rename, latest); ep ${ep}, median of ${repeats}`);
  console.log('| preset | params | checkpoint | download ms | write ms | total ms | MB/s | share at 10 min | interval for 5% |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.preset} | ${(r.params / 1e6).toFixed(1)}M | ${(r.checkpointBytes / 1e6).toFixed(0)} MB | ${r.downloadMs} | ${r.writeMs} | ${r.totalMs} | ${r.mbPerSec} | ${r.overheadAt10MinPct}% | ${r.minIntervalFor5PctSec} s |`);
  }
  const json = JSON.stringify({ bench: 'checkpoint-cost', host: os.hostname(), cpus: os.cpus().length, rows });
  console.log(json);
  if (values.json) fs.writeFileSync(values.json, json + '\n');
}

main().catch((e) => {
  console.error(`checkpoint-cost: ${(e as Error).message}`);
  process.exitCode = 1;
});
