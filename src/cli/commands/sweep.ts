import { writeFileSync } from 'node:fs';
import { lrSweep, lrSweepChart, SWEEP_DEFAULTS } from '../../core/diagnostics/sweep';
import { optNum, parse } from '../args';
import { UserError } from '../errors';
import type { Command } from '../command';
import { epFlag, listFlag, parseParams } from './coordcheck';

const HELP = `usage: shapelab sweep lr [--param completep] [--depths 2,4,8] [--widths 64] [--lrs 3e-4,1e-3,3e-3,1e-2,3e-2]
                       [--steps 100] [--context 32] [--batch 8] [--eval-batches 4] [--seed S]
                       [--base-width N] [--base-depth N] [--ep auto|webgpu|cpu|cuda] [--json] [--out FILE.svg]
LR-transfer sweep: trains each (depth, width) model on Brown (byte tokenizer) for --steps steps at each base
learning rate (warmup + cosine), reports the held-out loss, the best LR per depth and its drift
(log2 of the ratio to the shallowest depth's best LR; 0 = the optimum transfers).`;

const fmtLr = (x: number) => x.toExponential(2);

export const command: Command = {
  summary: 'LR-transfer sweep: held-out loss vs learning rate across depths and widths',
  async run(argv) {
    const { values: v, positionals } = parse(argv, {
      param: { type: 'string' },
      depths: { type: 'string' },
      widths: { type: 'string' },
      lrs: { type: 'string' },
      steps: { type: 'string' },
      context: { type: 'string' },
      batch: { type: 'string' },
      'eval-batches': { type: 'string' },
      seed: { type: 'string' },
      'base-width': { type: 'string' },
      'base-depth': { type: 'string' },
      ep: { type: 'string' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }, true);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== 'lr') throw new UserError(`sweep: expected 'sweep lr' (got '${positionals.join(' ') || '(nothing)'}'); see shapelab sweep --help`);
    const params = parseParams(v.param ?? 'completep');
    if (params.length !== 1) throw new UserError('--param: the LR sweep takes one parameterization');
    const depths = listFlag(v.depths, '--depths', { integer: true, positive: true });
    const widths = listFlag(v.widths, '--widths', { integer: true, positive: true });
    const lrs = listFlag(v.lrs, '--lrs', { positive: true });
    if (depths?.some((d) => d > 1024)) throw new UserError('--depths: at most 1024 blocks');
    for (const w of widths ?? SWEEP_DEFAULTS.widths) {
      if (w > 8192 || w % Math.max(1, Math.round(w / 32)) !== 0) throw new UserError(`--widths: ${w} must be at most 8192 and split into heads of about 32 (use a multiple of 32)`);
    }
    const steps = optNum(v.steps, '--steps', { integer: true, positive: true, max: 1e6 });
    const context = optNum(v.context, '--context', { integer: true, positive: true, max: 4096 });
    const batch = optNum(v.batch, '--batch', { integer: true, positive: true, max: 4096 });
    const evalBatches = optNum(v['eval-batches'], '--eval-batches', { integer: true, positive: true, max: 1000 });
    const seed = optNum(v.seed, '--seed', { integer: true, min: 0, max: 0xffffffff });
    const baseWidth = optNum(v['base-width'], '--base-width', { integer: true, positive: true });
    const baseDepth = optNum(v['base-depth'], '--base-depth', { integer: true, positive: true });
    if (typeof v.out === 'string' && !v.out.endsWith('.svg')) throw new UserError(`--out: expected a .svg file name (got '${v.out}')`);
    const { ep, note } = await epFlag(v.ep);
    if (note && !v.json) process.stderr.write(note + '\n');
    const r = await lrSweep({
      param: params[0], depths, widths, lrs, steps, context, batch, evalBatches, seed, ep,
      base: { ...(baseWidth ? { baseWidth } : {}), ...(baseDepth ? { baseDepth } : {}) },
      onProgress: v.json ? undefined : (p) => process.stderr.write(`  width ${p.width} depth ${p.depth} lr ${fmtLr(p.lr)}: ${p.loss.toFixed(4)}\n`),
    });
    if (typeof v.out === 'string') {
      try {
        writeFileSync(v.out, lrSweepChart(r));
      } catch (e) {
        throw new UserError(`cannot write ${v.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    if (v.json) {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return 0;
    }
    const s = r.settings;
    const lines = [
      `LR sweep (${s.param}), ${s.steps} steps, context ${s.context}, batch ${s.batch}, base ${s.base.baseWidth}x${s.base.baseDepth}, ${s.schedule}, ${s.ep}`,
      `held-out loss:`,
      `${'width'.padStart(6)} ${'depth'.padStart(6)} ${s.lrs.map((lr) => fmtLr(lr).padStart(9)).join(' ')}`,
    ];
    for (const w of s.widths) for (const d of s.depths) {
      lines.push(`${String(w).padStart(6)} ${String(d).padStart(6)} ${s.lrs.map((lr) => {
        const p = r.points.find((q) => q.width === w && q.depth === d && q.lr === lr)!;
        const best = r.best.find((b) => b.width === w && b.depth === d)?.bestLr === lr;
        return ((Number.isFinite(p.loss) ? p.loss.toFixed(4) : 'diverged') + (best ? '*' : ' ')).padStart(9);
      }).join(' ')}`);
    }
    lines.push('best LR per depth (* above; fit = parabola vertex in log2 lr):');
    for (const b of r.best) lines.push(`  width ${b.width} depth ${b.depth}: best ${fmtLr(b.bestLr)} (fit ${fmtLr(b.bestLrFit)}), loss ${b.bestLoss.toFixed(4)}, drift ${b.drift >= 0 ? '+' : ''}${b.drift.toFixed(2)} log2 (depth), ${b.widthDrift >= 0 ? '+' : ''}${b.widthDrift.toFixed(2)} (width)${b.atEdge ? ' (at the edge of the grid: widen --lrs)' : ''}`);
    if (r.settings.depths.length > 1) for (const [w, d] of Object.entries(r.maxDrift)) lines.push(`max |drift| across depths at width ${w}: ${d.toFixed(2)} log2 (x${(2 ** d).toFixed(2)})`);
    if (r.settings.widths.length > 1) for (const [dp, d] of Object.entries(r.maxWidthDrift)) lines.push(`max |drift| across widths at depth ${dp}: ${d.toFixed(2)} log2 (x${(2 ** d).toFixed(2)})`);
    if (typeof v.out === 'string') lines.push(`chart: ${v.out}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
