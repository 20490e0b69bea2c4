import type { Command } from '../command';
import { num, parse } from '../args';
import { printJson, userErrors, joinNegativeNumbers } from '../plan-cli';
import { growthPlan } from '../../core/plan';
import { si } from '../../core/plan/format';

const HELP = `usage: shapelab growth --params N --tokens D [--json]

G_stack growth plan (Du et al. 2024, arXiv 2405.15319): growth factor g = 4 and the growth
timing d (tokens to train the small model) from log10(d) = 0.88 log10(N) + 163.27/log10(C) - 5.74,
C = 6ND, fitted for N <= 3e9 and C <= ~1.5e21.`;

export const command: Command = {
  summary: 'G_stack growth factor and timing for a target model and token budget',
  async run(argv) {
    const { values: v } = parse(joinNegativeNumbers(argv), {
      params: { type: 'string' },
      tokens: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const params = num(v.params, '--params', { positive: true });
    const tokens = num(v.tokens, '--tokens', { positive: true });
    const g = userErrors(() => growthPlan({ params, tokens }));
    if (v.json) {
      printJson(g);
      return 0;
    }
    const lines = [
      `G_stack for N = ${si(params)} params, D = ${si(tokens)} tokens (C = 6ND = ${g.fitFlops.toExponential(2)} FLOPs):`,
      `  growth factor g = ${g.factor}: train a ${si(g.smallModel.params)}-parameter model (1/${g.factor} of the depth, same width)`,
      `  growth timing d = ${si(g.growthTokens, 4)} tokens (${g.growthTokens.toExponential(3)}), then stack ${g.factor}x and keep training`,
      `  small phase: ${(g.flopSplit.smallFraction * 100).toFixed(2)}% of the FLOPs; the grown model then gets ${si(g.flopSplit.largeTokens, 4)} tokens`,
      `  in fit range: ${g.inFitRange ? 'yes' : 'no (extrapolation)'}`,
      `  formula: ${g.formula} (${g.source})`,
      ...g.warnings.map((w) => `  warning: ${w}`),
      '  paper context (not our prediction):',
      ...g.reportedSpeedups.map((s) => `    - ${s.claim} (${s.source})`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
