import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runConfigOfFolder } from '../../core/export/torchExport';
import { ConfigError } from '../../core/runs/configSchema';
import { parse, optNum } from '../args';
import { UserError } from '../errors';
import type { Command } from '../command';
import { runTraining } from './train';

export const command: Command = {
  summary: 'continue a run from its latest complete checkpoint (same curve)',
  async run(argv) {
    const { values: v, positionals } = parse(
      argv,
      { steps: { type: 'string' }, ep: { type: 'string' }, 'checkpoint-minutes': { type: 'string' }, restart: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
      true,
    );
    if (v.help || positionals.length !== 1) {
      process.stdout.write(
        'usage: shapelab resume RUN_DIR [--steps N] [--ep auto|webgpu|cpu|cuda] [--checkpoint-minutes M] [--restart] [--json]\n' +
          'Continues the run from its latest complete checkpoint; the steps after it are re-trained and the\n' +
          'rows they replace are marked superseded (docs/run-format.md). A run without a checkpoint is refused;\n' +
          '--restart starts it over in the same folder as a new attempt, keeping the earlier attempt\'s files\n' +
          '(metrics.attempt-N.jsonl, events.attempt-N.jsonl, checkpoints.attempt-N/).\n',
      );
      return v.help ? 0 : 2;
    }
    const dir = positionals[0];
    const file = path.join(dir, 'config.json');
    if (!existsSync(file)) throw new UserError(`${dir} is not a ShapeLab run folder (no config.json)`);
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UserError(`${file} is not valid JSON: ${(e as Error).message}`);
    }
    let config;
    try {
      // ShapeLab's own run folder, or one the exported PyTorch program wrote (cluster run brought back)
      config = runConfigOfFolder(raw);
    } catch (e) {
      if (e instanceof ConfigError) throw new UserError(`${file}: ${(e as Error).message.split('\n').join('; ')}`);
      throw e;
    }
    const steps = optNum(v.steps, '--steps', { integer: true, positive: true });
    if (steps !== undefined) config.steps = steps;
    if (v.ep) config.ep = v.ep as typeof config.ep;
    // A cadence, not part of the checkpoint hash: a resume may change it.
    const cm = optNum(v['checkpoint-minutes'], '--checkpoint-minutes', { min: 0, max: 7 * 24 * 60 });
    if (cm !== undefined) config.checkpointMinutes = cm;
    const r = await runTraining({ config, resumeDir: dir, restart: Boolean(v.restart) }, Boolean(v.json));
    return r.reason === 'nonfinite' ? 3 : 0;
  },
};
