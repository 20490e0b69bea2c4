import { writeFileSync } from 'node:fs';
import { COORDCHECK_DEFAULTS, coordCheck, coordCheckChart, coordCheckVerdict, coordCheckWidthVerdict, sweepExponent } from '../../core/diagnostics/coordcheck';
import { parseList } from '../../core/diagnostics/common';
import { isParameterization, PARAMETERIZATIONS, type Parameterization } from '../../core/param/parameterization';
import { resolveEp } from '../../core/train/epChoice';
import { RuntimeError, type EpChoice } from '../../core/train/runtime';
import { optNum, parse } from '../args';
import { UserError } from '../errors';
import type { Command } from '../command';

const HELP = `usage: shapelab coordcheck [--param completep,alpha0.5,mup,sp] [--depths 2,4,8,16,32,64] [--width 64]
                           [--widths 32,64,128,256|none] [--steps 10] [--base-width N] [--base-depth N] [--lr X]
                           [--context 32] [--batch 4] [--seed S] [--ep auto|webgpu|cpu|cuda] [--json] [--out FILE.svg]
Coordinate checks (CompleteP, arXiv 2505.01618; muP, arXiv 2203.03466): for each parameterization, trains small
models on Brown (byte tokenizer, constant LR) and records the mean |residual stream after the last block| on a
fixed held-out batch at step 0 and after each step.
  depth sweep (--depths, at --width; base width = --width so only the depth rule acts):
    alpha = 0.5 and CompleteP should stay flat in depth, SP and muP grow.
  width sweep (--widths, at the base depth; base width = the smallest width so only the width rule acts):
    muP, alpha = 0.5 and CompleteP should stay flat in width, SP grows. --widths none skips it.
Other base hyperparameters default to DEFAULT_BASE (depth 2, lr 3e-3, init std 0.02); --base-width overrides both.
Verdict: the least-squares exponent e of (last-step value) ~ x^e over the sweep; |e| <= 0.25 is flat.
Writes an SVG chart to --out (default coordcheck.svg); --json prints { results: {param: {depth: [..]}},
byWidth: {param: {width: [..]}}, growth, widthGrowth, verdict, widthVerdict, ... }.`;

export function parseParams(s: unknown): Parameterization[] {
  if (s === undefined) return [...PARAMETERIZATIONS];
  const out = String(s).split(',').map((x) => x.trim());
  for (const p of out) if (!isParameterization(p)) throw new UserError(`--param: unknown parameterization '${p}'; known: ${PARAMETERIZATIONS.join(', ')}`);
  return [...new Set(out)] as Parameterization[];
}

export function listFlag(v: unknown, what: string, opts: { integer?: boolean; positive?: boolean } = {}): number[] | undefined {
  if (v === undefined) return undefined;
  try {
    return parseList(String(v), what, opts);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

export async function epFlag(v: unknown, dflt: EpChoice = 'cpu') {
  const choice = (v ?? dflt) as string;
  if (!['auto', 'webgpu', 'cpu', 'cuda'].includes(choice)) throw new UserError(`--ep: expected auto, webgpu, cpu or cuda (got '${choice}')`);
  try {
    return await resolveEp(choice as EpChoice);
  } catch (e) {
    if (e instanceof RuntimeError) throw new UserError(e.message);
    throw e;
  }
}

export const command: Command = {
  summary: 'coordinate checks across depth and width: mean |residual| per step for SP, muP, alpha 0.5, CompleteP',
  async run(argv) {
    const { values: v } = parse(argv, {
      param: { type: 'string' },
      depths: { type: 'string' },
      width: { type: 'string' },
      widths: { type: 'string' },
      steps: { type: 'string' },
      'base-width': { type: 'string' },
      'base-depth': { type: 'string' },
      lr: { type: 'string' },
      context: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      ep: { type: 'string' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const params = parseParams(v.param);
    const depths = listFlag(v.depths, '--depths', { integer: true, positive: true });
    const width = optNum(v.width, '--width', { integer: true, positive: true, max: 8192 });
    const widths = v.widths === 'none' ? [] : listFlag(v.widths, '--widths', { integer: true, positive: true });
    const steps = optNum(v.steps, '--steps', { integer: true, min: 0, max: 100_000 });
    const baseWidth = optNum(v['base-width'], '--base-width', { integer: true, positive: true });
    const baseDepth = optNum(v['base-depth'], '--base-depth', { integer: true, positive: true });
    const lr = optNum(v.lr, '--lr', { positive: true });
    const context = optNum(v.context, '--context', { integer: true, positive: true, max: 4096 });
    const batch = optNum(v.batch, '--batch', { integer: true, positive: true, max: 4096 });
    const seed = optNum(v.seed, '--seed', { integer: true, min: 0, max: 0xffffffff });
    if (depths && depths.some((d) => d > 1024)) throw new UserError('--depths: at most 1024 blocks');
    if (widths && widths.some((x) => x > 8192)) throw new UserError('--widths: at most 8192');
    for (const [flag, w] of [['--width', width ?? COORDCHECK_DEFAULTS.width] as const, ...(widths ?? []).map((x) => ['--widths', x] as const)]) {
      if (w % Math.max(1, Math.round(w / 32)) !== 0) throw new UserError(`${flag} ${w}: must split into heads of about 32 (use a multiple of 32, or a width below 48)`);
    }
    const out = typeof v.out === 'string' ? v.out : 'coordcheck.svg';
    if (!out.endsWith('.svg')) throw new UserError(`--out: expected a .svg file name (got '${out}')`);
    const { ep, note } = await epFlag(v.ep);
    if (note && !v.json) process.stderr.write(note + '\n');
    const base = { ...(baseWidth ? { baseWidth } : {}), ...(baseDepth ? { baseDepth } : {}), ...(lr ? { lr } : {}) };
    const r = await coordCheck({
      params, depths, width, widths, steps, context, batch, seed, base, ep,
      onProgress: v.json ? undefined : (p) => process.stderr.write(`  ${p.param} width ${p.width} depth ${p.depth}: ${p.values.at(-1)!.toPrecision(4)}\n`),
    });
    try {
      writeFileSync(out, coordCheckChart(r));
    } catch (e) {
      throw new UserError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (v.json) {
      process.stdout.write(JSON.stringify({ ...r, exponent: Object.fromEntries(Object.entries(r.results).map(([p, x]) => [p, sweepExponent(x)])), widthExponent: Object.fromEntries(Object.entries(r.byWidth).map(([p, x]) => [p, sweepExponent(x)])), verdict: coordCheckVerdict(r), widthVerdict: coordCheckWidthVerdict(r), chart: out }, null, 2) + '\n');
      return 0;
    }
    const s = r.settings;
    const cols = [...new Set([0, 1, Math.floor(s.steps / 2), s.steps])].filter((k) => k <= s.steps);
    const lines = [
      `coordinate check: mean |x| after the last block, context ${s.context}, batch ${s.batch}, lr ${s.base.lr}, ${s.ep}`,
      `depth sweep at width ${s.width} (base ${s.base.baseWidth}x${s.base.baseDepth})`,
      `${'param'.padEnd(10)} ${'depth'.padStart(5)} ${cols.map((k) => `step ${k}`.padStart(10)).join(' ')}`,
    ];
    const verdict = coordCheckVerdict(r);
    for (const p of Object.keys(r.results)) {
      for (const d of s.depths) lines.push(`${p.padEnd(10)} ${String(d).padStart(5)} ${cols.map((k) => r.results[p][String(d)][k].toPrecision(4).padStart(10)).join(' ')}`);
      lines.push(`${''.padEnd(10)} step ${s.steps}, depth ${Math.max(...s.depths)} / depth ${Math.min(...s.depths)}: ${r.growth[p].toFixed(2)}x; fitted exponent ${sweepExponent(r.results[p]).toFixed(2)} (${verdict[p]})`);
    }
    if (s.widthBase) {
      const wv = coordCheckWidthVerdict(r);
      lines.push('', `width sweep at depth ${s.widthBase.baseDepth} (base ${s.widthBase.baseWidth}x${s.widthBase.baseDepth})`);
      lines.push(`${'param'.padEnd(10)} ${'width'.padStart(5)} ${cols.map((k) => `step ${k}`.padStart(10)).join(' ')}`);
      for (const p of Object.keys(r.byWidth)) {
        for (const w of s.widths) lines.push(`${p.padEnd(10)} ${String(w).padStart(5)} ${cols.map((k) => r.byWidth[p][String(w)][k].toPrecision(4).padStart(10)).join(' ')}`);
        lines.push(`${''.padEnd(10)} step ${s.steps}, width ${Math.max(...s.widths)} / width ${Math.min(...s.widths)}: ${r.widthGrowth[p].toFixed(2)}x; fitted exponent ${sweepExponent(r.byWidth[p]).toFixed(2)} (${wv[p]})`);
      }
    }
    lines.push(`chart: ${out}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
