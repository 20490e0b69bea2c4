import * as fs from 'node:fs';
import type { Command } from '../command';
import { UserError } from '../errors';
import { num, parse } from '../args';
import { ExportError, exportTorch, torchrunCommand, type ExportData } from '../../core/export/torchExport';
import { loadDataset } from '../../core/data/dataset';
import { isTokenizerName, TOKENIZER_NAMES, type TokenizerName } from '../../core/data/tokenizers';

const USAGE = `usage: shapelab export torch (--plan PLAN.json [--pick N] [--growth|--no-growth] | --config RUN.json) --out DIR
                           [--data TEXT_OR_FOLDER] [--tokenizer byte|gpt2] [--force]

Writes a PyTorch training program for torchrun (DDP, or FSDP with --fsdp) to DIR: train.py,
config.json (model, schedule, growth and the per-depth CompleteP transfer computed by ShapeLab),
README.md and launch.sh with the torchrun command for the plan's GPUs and memory setting.
--plan takes 'shapelab plan --json' output (--pick N: the N-th candidate, default 1, the best) or
the planner view's plan document; the export trains that shape, tokens, batch and GPUs. G_stack
growth is used when the planner recommends it without a warning, or with --growth; --no-growth
trains the planned depth from scratch. --data tokenizes a text file or a folder
of text files into DIR/data/train.slab and val.slab (tokenizer: --tokenizer, else the config's
data.tokenizer, else byte). A non-empty DIR is refused unless --force.`;

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${what} ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${what} ${file} is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

export const command: Command = {
  summary: 'export a run to PyTorch (torchrun, DDP/FSDP): shapelab export torch --config RUN.json --out DIR',
  async run(argv) {
    const parsed = parse(
      argv,
      {
        plan: { type: 'string' },
        pick: { type: 'string' },
        growth: { type: 'boolean' },
        'no-growth': { type: 'boolean' },
        config: { type: 'string' },
        out: { type: 'string', short: 'o' },
        data: { type: 'string' },
        tokenizer: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      true,
    );
    const positionals = parsed.positionals;
    const values = parsed.values as { plan?: string; pick?: string; growth?: boolean; 'no-growth'?: boolean; config?: string; out?: string; data?: string; tokenizer?: string; force?: boolean; help?: boolean };
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const target = positionals[0];
    if (target !== 'torch' || positionals.length > 1) {
      throw new UserError(target === undefined ? "export: say what to export to: 'shapelab export torch ...'" : `export: unknown target '${positionals.join(' ')}' (known: torch)`);
    }
    if (!values.plan === !values.config) throw new UserError('export torch: give exactly one of --plan PLAN.json or --config RUN.json');
    if (!values.out) throw new UserError('export torch: --out DIR is required');
    if (values.growth && values['no-growth']) throw new UserError('export torch: give at most one of --growth and --no-growth');
    if (!values.plan && (values.pick !== undefined || values.growth || values['no-growth'])) throw new UserError('export torch: --pick, --growth and --no-growth apply to --plan');
    const pickN = values.pick === undefined ? undefined : num(values.pick, '--pick', { integer: true, positive: true });
    const growth = values.growth ? true : values['no-growth'] ? false : undefined;
    const config = values.config ? readJson(values.config, 'run config') : undefined;
    const plan = values.plan ? readJson(values.plan, 'plan') : undefined;

    let data: ExportData | undefined;
    if (values.data) {
      const src = config ?? plan;
      const fromCfg = (src as { data?: { tokenizer?: unknown } } | undefined)?.data?.tokenizer;
      const tok = values.tokenizer ?? (typeof fromCfg === 'string' ? fromCfg : 'byte');
      if (!isTokenizerName(tok)) throw new UserError(`export torch: unknown tokenizer '${tok}' (known: ${TOKENIZER_NAMES.join(', ')})`);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(values.data);
      } catch {
        throw new UserError(`export torch: --data ${values.data} does not exist`);
      }
      try {
        const ds = loadDataset({ source: stat.isDirectory() ? 'folder' : 'file', path: values.data, tokenizer: tok as TokenizerName });
        data = { train: ds.train, val: ds.val, vocabSize: ds.tokenizer.vocabSize, tokenizer: ds.tokenizer.name, description: ds.description };
      } catch (e) {
        throw new UserError(`export torch: --data: ${(e as Error).message.split('\n')[0]}`);
      }
    } else if (values.tokenizer) {
      throw new UserError('export torch: --tokenizer only applies with --data');
    }

    try {
      const res = exportTorch({ config, plan, outDir: values.out, force: values.force, data, planOptions: { pick: pickN, growth } });
      const depths = Object.keys(res.config.transfers).map(Number).sort((a, b) => a - b).join(' -> ');
      const acc = res.config.gradAccum ?? 1;
      process.stdout.write(
        `wrote ${res.files.join(', ')} to ${res.outDir}\n` +
          `model d_model ${res.config.model.dModel}, depth ${depths}, ${res.config.model.nHeads} heads, ${res.config.model.tiedEmbeddings ? 'tied' : 'untied'} embeddings; ${res.config.steps} steps of ${res.config.batchSize}${acc > 1 ? ` x ${acc} accumulated` : ''} x ${res.config.model.context} tokens\n` +
          res.notes.map((n) => `plan: ${n}\n`).join('') +
          `run: cd ${values.out} && ./launch.sh   (${torchrunCommand(res.launch, !!data)})\n`,
      );
      return 0;
    } catch (e) {
      if (e instanceof ExportError) throw new UserError(`export torch: ${e.message}`);
      throw e;
    }
  },
};
