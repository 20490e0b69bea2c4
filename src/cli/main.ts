import type { Command } from './command';
import { UserError } from './errors';

/** A CLI command: runs with its own argv (after the command name), resolves to an exit code. */
export type { Command };

// Each command lives in its own module so the planner, trainer and exporter evolve independently.
const commands: Record<string, () => Promise<{ command: Command }>> = {
  plan: () => import('./commands/plan'),
  hparams: () => import('./commands/hparams'),
  evaluate: () => import('./commands/evaluate'),
  growth: () => import('./commands/growth'),
  device: () => import('./commands/device'),
  train: () => import('./commands/train'),
  resume: () => import('./commands/resume'),
  coordcheck: () => import('./commands/coordcheck'),
  sweep: () => import('./commands/sweep'),
  experiment: () => import('./commands/experiment'),
  export: () => import('./commands/export'),
  study: () => import('./commands/study'),
  fit: () => import('./commands/fit'),
  setup: () => import('./commands/setup'),
};

async function usage(): Promise<string> {
  const lines = ['usage: shapelab <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${(await load()).command.summary}`);
  lines.push('', 'Run `shapelab <command> --help` for a command\'s options; --verbose (any command) adds onnxruntime\'s own messages.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<void> {
  // --verbose (any command): onnxruntime's own messages too, and the raw text behind plain ones.
  if (argv.includes('--verbose')) {
    process.env.SHAPELAB_VERBOSE = '1';
    argv = argv.filter((a) => a !== '--verbose');
  }
  const [name, ...rest] = argv;
  try {
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write((await usage()) + '\n');
      process.exitCode = name ? 0 : 2;
      return;
    }
    const load = commands[name];
    if (!load) throw new UserError(`unknown command '${name}'; known: ${Object.keys(commands).join(', ')}`);
    const code = await (await load()).command.run(rest);
    process.exitCode = typeof code === 'number' ? code : 0;
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`shapelab: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      // Unexpected: still one line for the user; the stack only on request.
      const err = e as Error;
      process.stderr.write(`shapelab: internal error: ${err?.message ?? String(e)}\n`);
      if (process.env.SHAPELAB_DEBUG) process.stderr.write(String(err?.stack) + '\n');
      process.exitCode = 1;
    }
  }
}
