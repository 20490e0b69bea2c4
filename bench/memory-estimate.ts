/**
 * The trainer's own memory estimate (src/core/train/resources.ts) for a preset at its depth and
 * after growth, printed next to measured peaks by bench/device/soak-memory.sh and cache-compare.sh.
 *   node memory-estimate.js --preset 25m [--width 1024 --heads 16 --batch 16] [--grow-factor 2]
 */
import { parseArgs } from 'node:util';
import { presetConfig, type PresetName } from '../src/core/runs/configSchema';
import { estimateResources } from '../src/core/train/resources';

const { values } = parseArgs({ options: { preset: { type: 'string', default: '25m' }, width: { type: 'string' }, heads: { type: 'string' }, batch: { type: 'string' }, 'grow-factor': { type: 'string', default: '1' } } });
const c = presetConfig(values.preset as PresetName);
if (values.width) { c.model.dModel = Number(values.width); c.model.dFf = 4 * c.model.dModel; }
if (values.heads) c.model.nHeads = Number(values.heads);
if (values.batch) c.batchSize = Number(values.batch);
const g = Number(values['grow-factor']);
for (const depth of g > 1 ? [c.model.nLayers, c.model.nLayers * g] : [c.model.nLayers]) {
  const e = estimateResources(c, depth);
  console.log(JSON.stringify({ preset: values.preset, dModel: c.model.dModel, depth, batch: c.batchSize, params: e.params, estimateMiB: Math.round(e.totalBytes / 2 ** 20) }));
}
