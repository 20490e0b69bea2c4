import type { Command } from '../command';
import { num, optNum, parse } from '../args';
import { parseParam, printJson, userErrors, joinNegativeNumbers } from '../plan-cli';
import { DEFAULT_BASE, GROUPS, transfer, type Transfer } from '../../core/param/parameterization';
import { initText, table, transferCaveat } from '../../core/plan/format';

const HELP = `usage: shapelab hparams --width W --depth L [--base-width 256] [--base-depth 2]
                        [--lr X] [--init-std S] [--eps E] [--weight-decay WD]
                        [--param completep|alpha0.5|mup|sp] [--json]

Transfers base-model hyperparameters to width W (d_model) and depth L (blocks), per parameter
group, as in Dey et al. 2025 (CompleteP, arXiv 2505.01618) Table 1 with the fixed AdamW-eps rule.
Defaults: base 256 x 2, lr ${DEFAULT_BASE.lr}, init std ${DEFAULT_BASE.initStd}, eps ${DEFAULT_BASE.eps}, weight decay ${DEFAULT_BASE.weightDecay}.`;

function g(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

function render(t: Transfer, base: { baseWidth: number; baseDepth: number }): string {
  const caveat = transferCaveat(t.parameterization, t.width, base.baseWidth, t.depth, base.baseDepth);
  const rows = GROUPS.map((name) => {
    const grp = t.groups[name];
    return [name, initText(name, grp.initStd), g(grp.lr), g(grp.eps), g(grp.weightDecay)];
  });
  return [
    `${t.parameterization} (alpha ${t.alpha}): width ${t.width}, depth ${t.depth}; m_N = ${g(t.mN)}, m_L = ${g(t.mL)}`,
    '',
    table(['group', 'init std', 'lr', 'AdamW eps', 'weight decay'], rows),
    '',
    `residual multiplier (each branch): ${g(t.residualMultiplier)}`,
    `output (logit) multiplier:        ${g(t.outputMultiplier)}`,
    `input (embedding) multiplier:     ${g(t.inputMultiplier)}`,
    `attention logit scale:            ${t.attentionScaleRule === 'inverse' ? '1/d_head' : '1/sqrt(d_head)'}`,
    'source: Dey et al. 2025, arXiv 2505.01618, Table 1; eps split per arXiv 2512.22382',
    ...(caveat ? [`warning: ${caveat}`] : []),
  ].join('\n');
}

export const command: Command = {
  summary: 'CompleteP / muP / SP hyperparameters per parameter group for a width and depth',
  async run(argv) {
    const { values: v } = parse(joinNegativeNumbers(argv), {
      'base-width': { type: 'string' },
      'base-depth': { type: 'string' },
      width: { type: 'string' },
      depth: { type: 'string' },
      lr: { type: 'string' },
      'init-std': { type: 'string' },
      eps: { type: 'string' },
      'weight-decay': { type: 'string' },
      param: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const base = {
      baseWidth: optNum(v['base-width'], '--base-width', { integer: true, positive: true }) ?? DEFAULT_BASE.baseWidth,
      baseDepth: optNum(v['base-depth'], '--base-depth', { integer: true, positive: true }) ?? DEFAULT_BASE.baseDepth,
      lr: optNum(v.lr, '--lr', { positive: true }) ?? DEFAULT_BASE.lr,
      initStd: optNum(v['init-std'], '--init-std', { positive: true }) ?? DEFAULT_BASE.initStd,
      eps: optNum(v.eps, '--eps', { positive: true }) ?? DEFAULT_BASE.eps,
      weightDecay: optNum(v['weight-decay'], '--weight-decay', { min: 0 }) ?? DEFAULT_BASE.weightDecay,
    };
    const width = num(v.width, '--width', { integer: true, positive: true });
    const depth = num(v.depth, '--depth', { integer: true, positive: true });
    const p = parseParam(v.param);
    const t = userErrors(() => transfer(base, { width, depth }, p));
    if (v.json) {
      const { attentionScale: _fn, ...data } = t;
      printJson({ ...data, base, source: 'Dey et al. 2025, arXiv 2505.01618, Table 1; eps split per arXiv 2512.22382' });
    } else process.stdout.write(render(t, base) + '\n');
    return 0;
  },
};
