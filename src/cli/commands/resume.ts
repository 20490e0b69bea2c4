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
    const { values: v, positionals } = parse(argv, { steps: { type: 'string' }, ep: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, true);
    if (v.help || positionals.length !== 1) {
      process.stdout.write('usage: shapelab resume RUN_DIR [--steps N] [--ep auto|webgpu|cpu|cuda] [--json]\n');
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
    const r = await runTraining({ config, resumeDir: dir }, Boolean(v.json));
    return r.reason === 'nonfinite' ? 3 : 0;
  },
};
