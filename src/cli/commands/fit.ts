import { writeFileSync } from 'node:fs';
import { fitRuns } from '../../core/study/fitDocument';
import { FitError } from '../../core/study/lawFit';
import { StudyError } from '../../core/study/manifest';
import { optNum, parse } from '../args';
import { UserError } from '../errors';
import { printJson } from '../plan-cli';
import type { Command } from '../command';

const HELP = `usage: shapelab fit RUN_OR_STUDY_DIR... [--json] [--out FILE] [--bootstrap N]
Fits L(N, D) = E + A / N^alpha + B / D^beta to the final eval losses of the runs (N: the planner's
params; D: training tokens): Huber loss on log-loss, LSE form, L-BFGS from several starts (Hoffmann
et al. 2022, approach 3), bootstrap intervals, held-out error (fit without the largest run, predict
it) and the width/depth penalty from runs of equal N at different depths. Failed, diverged,
unfinished and other-unit runs are skipped with one line each. --out FILE writes the fit JSON
(what 'shapelab plan --fit FILE' reads; a study's fit is also saved as DIR/fit.json).`;

const g = (x: number) => (Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toPrecision(4));

export const command: Command = {
  summary: 'fit a scaling law L(N, D) to runs or a study (bootstrap intervals, held-out error)',
  async run(argv) {
    const { values: v, positionals } = parse(argv, { json: { type: 'boolean' }, out: { type: 'string' }, bootstrap: { type: 'string' }, help: { type: 'boolean' } }, true);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (positionals.length === 0) throw new UserError('give one or more run or study folders');
    let doc;
    try {
      doc = fitRuns(positionals, { bootstrap: optNum(v.bootstrap, '--bootstrap', { integer: true, min: 0 }) });
    } catch (e) {
      if (e instanceof FitError || e instanceof StudyError) {
        throw new UserError(e.message);
      }
      throw e;
    }
    const { existsSync } = await import('node:fs');
    const path = await import('node:path');
    const text = JSON.stringify(doc, null, 2) + '\n';
    if (v.out) writeFileSync(String(v.out), text);
    // A single study keeps its fit next to study.json, where the planner's fit list finds it.
    if (positionals.length === 1 && existsSync(path.join(positionals[0], 'study.json'))) writeFileSync(path.join(positionals[0], 'fit.json'), text);
    if (v.json) {
      for (const s of doc.skipped) process.stderr.write(`skipped ${s.run}: ${s.reason}\n`);
      printJson(doc);
      return 0;
    }
    const L = doc.law, I = doc.intervals;
    const out = [`fit: ${doc.source}`, `  units: ${doc.units}`, `  ${doc.form}`, `  method: ${doc.method}`];
    for (const k of ['E', 'A', 'alpha', 'B', 'beta'] as const) out.push(`  ${k.padEnd(6)} ${g(L[k]).padStart(10)}   95% bootstrap [${g(I[k][0])}, ${g(I[k][1])}]`);
    out.push(`  bootstrap: ${doc.bootstrap.used} of ${doc.bootstrap.requested} resamples`);
    for (const s of doc.identifiability) out.push(`  identifiability: ${s}`);
    const h = doc.heldOut;
    out.push('relError' in h ? `held out ${h.run} (largest): loss ${h.loss.toFixed(4)}, predicted ${h.predicted.toFixed(4)} without it: error ${(h.relError * 100).toFixed(2)}%` : `held out: ${h.skipped}`);
    out.push('', 'run                                 N           D      loss   predicted');
    for (const p of doc.points) out.push(`${p.run.padEnd(30)} ${g(p.N).padStart(10)} ${g(p.D).padStart(11)}  ${p.loss.toFixed(4)}  ${p.predicted.toFixed(4)}`);
    const pen = doc.penalty;
    out.push('', `width/depth penalty (${pen.parameterization}): ${pen.pairs.length} equal-N pair${pen.pairs.length === 1 ? '' : 's'}`);
    for (const p of pen.pairs) out.push(`  N ${g(p.N)}: N:L ${p.deep.ratio.toFixed(1)} (${p.deep.run}) vs ${p.wide.ratio.toFixed(1)} (${p.wide.run}): ${(p.relativeGap * 100).toFixed(2)}%`);
    out.push(`  deep-side curvature: ${pen.deep === null ? 'not determined' : pen.deep.toExponential(3)} (${pen.note})`);
    for (const s of doc.skipped) out.push(`skipped ${s.run}: ${s.reason}`);
    if (doc.skipped.length) out.push(`${doc.points.length} runs used, ${doc.skipped.length} skipped`);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};
