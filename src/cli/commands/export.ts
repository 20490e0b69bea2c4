import * as fs from 'node:fs';
import type { Command } from '../command';
import { UserError } from '../errors';
import { parse } from '../args';
import { ExportError, exportTorch, type ExportData } from '../../core/export/torchExport';
import { loadDataset } from '../../core/data/dataset';
import { isTokenizerName, TOKENIZER_NAMES, type TokenizerName } from '../../core/data/tokenizers';

const USAGE = `usage: shapelab export torch (--plan PLAN.json | --config RUN.json) --out DIR [--data TEXT_OR_FOLDER] [--tokenizer byte|gpt2] [--force]

Writes a PyTorch training program for torchrun (DDP, or FSDP with --fsdp) to DIR: train.py,
config.json (model, schedule, growth and the per-depth CompleteP transfer computed by ShapeLab)
and README.md with the single- and multi-node commands. --data tokenizes a text file or a folder
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
    const values = parsed.values as { plan?: string; config?: string; out?: string; data?: string; tokenizer?: string; force?: boolean; help?: boolean };
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
      const res = exportTorch({ config, plan, outDir: values.out, force: values.force, data });
      const depths = Object.keys(res.config.transfers).map(Number).sort((a, b) => a - b).join(' -> ');
      process.stdout.write(
        `wrote ${res.files.join(', ')} to ${res.outDir}\n` +
          `model d_model ${res.config.model.dModel}, depth ${depths}, ${res.config.steps} steps of ${res.config.batchSize} x ${res.config.model.context} tokens\n` +
          `run: cd ${values.out} && torchrun --standalone --nproc_per_node=8 train.py --config config.json${data ? ' --data data/' : ''}\n`,
      );
      return 0;
    } catch (e) {
      if (e instanceof ExportError) throw new UserError(`export torch: ${e.message}`);
      throw e;
    }
  },
};
