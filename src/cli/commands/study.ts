import * as path from 'node:path';
import { DEFAULT_BASE } from '../../core/param/parameterization';
import { makeRunName } from '../../core/runs/runStore';
import { EP_CHOICES } from '../../core/runs/configSchema';
import { DEFAULT_DEPTHS, DEFAULT_TPP, DEFAULT_TPP_SPREAD } from '../../core/study/grid';
import { StudyError, readManifest } from '../../core/study/manifest';
import { createStudy, runStudy, type StudyProgress } from '../../core/study/study';
import { num, optNum, parse } from '../args';
import { UserError } from '../errors';
import { parseParam } from '../plan-cli';
import type { Command } from '../command';

const HELP = `usage: shapelab study [--minutes M] [--out DIR] [--widths A,B,C | --width-count K] [--depths 2,4]
                      [--tpp R] [--tpp-spread S] [--param completep|alpha0.5|mup|sp] [--lr X]
                      [--context T] [--batch-size B] [--data PATH] [--tokenizer byte|gpt2] [--ep auto|webgpu|cpu|cuda]
                      [--steps N] [--seed S] [--json]
       shapelab study --resume DIR [--ep ...] [--json]
Trains a grid of proxy models one after another (K widths x the depths, default 4 x 2 = 8 runs) with
hyperparameters transferred by the parameterization, each for D = R x N x (S^-1/2 or S^1/2, a
checkerboard) tokens, sized so the grid fits --minutes on this device (measured first: MatMul rate
and a probe of the smallest shape). Every run is an ordinary run folder inside the study folder,
listed in study.json. Ctrl-C stops after a checkpoint; --resume DIR continues (finished runs reused,
the interrupted one resumed from its checkpoint). Then: shapelab fit DIR.
  --steps N   fixed steps per run instead of the token rule (quick trials)`;

const OPTIONS = {
  minutes: { type: 'string' }, out: { type: 'string' }, resume: { type: 'string' }, widths: { type: 'string' }, 'width-count': { type: 'string' },
  depths: { type: 'string' }, tpp: { type: 'string' }, 'tpp-spread': { type: 'string' }, param: { type: 'string' }, lr: { type: 'string' },
  context: { type: 'string' }, 'batch-size': { type: 'string' }, data: { type: 'string' }, tokenizer: { type: 'string' }, ep: { type: 'string' },
  steps: { type: 'string' }, seed: { type: 'string' }, 'eval-batches': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' },
} as const;

function intList(v: unknown, what: string): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = String(v).split(',').map((s) => num(s.trim(), what, { integer: true, positive: true }));
  if (new Set(xs).size !== xs.length) throw new UserError(`${what}: values must differ (got ${v})`);
  return xs.sort((a, b) => a - b);
}

const fmtTime = (s: number) => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}` : '--:--');

function printer(json: boolean): (p: StudyProgress) => void {
  let lastLine = 0;
  return (p) => {
    if (json) {
      process.stdout.write(JSON.stringify(p) + '\n');
      return;
    }
    switch (p.kind) {
      case 'study-start':
        process.stdout.write(`study: ${p.studyDir}\n`);
        process.stderr.write(`${p.runs} runs (${p.reused} already done), predicted ${fmtTime(p.predictedSeconds)}${p.method ? `\n  time model: ${p.method}` : ''}\n`);
        break;
      case 'run-start':
        process.stderr.write(`run ${p.index + 1}/${p.runs} ${p.id}: ${p.runDir}${p.resumedFrom !== undefined ? ` (resumed at step ${p.resumedFrom})` : ''}\n`);
        break;
      case 'run-progress': {
        const now = Date.now();
        if (now - lastLine < 2000 && p.step < p.steps) return;
        lastLine = now;
        process.stderr.write(`  run ${p.index + 1}/${p.runs} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)}  run ETA ${fmtTime(p.runEtaSec)}  study ${(p.fraction * 100).toFixed(0)}% ETA ${fmtTime(p.studyEtaSec)}\n`);
        break;
      }
      case 'run-end':
        process.stderr.write(`  ${p.id}: ${p.status}${p.evalLoss !== undefined ? `, eval loss ${p.evalLoss.toFixed(4)}` : ''} in ${fmtTime(p.seconds)}${p.error ? `: ${p.error}` : ''}\n`);
        break;
      case 'study-end':
        process.stderr.write(`${p.done} done, ${p.failed} failed${p.stopped ? ' (stopped: resume with --resume ' + p.studyDir + ')' : ''} in ${fmtTime(p.seconds)}\n`);
        break;
    }
  };
}

export const command: Command = {
  summary: 'train a grid of proxy models within --minutes (a scaling study), resumable',
  async run(argv) {
    const { values: v } = parse(argv, OPTIONS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (v.ep !== undefined && !(EP_CHOICES as readonly string[]).includes(String(v.ep))) throw new UserError(`--ep: expected one of ${EP_CHOICES.join(', ')} (got '${v.ep}')`);
    let dir: string;
    try {
      if (v.resume) {
        const given = Object.keys(v).filter((k) => !['resume', 'ep', 'json'].includes(k));
        if (given.length) throw new UserError(`--resume takes the grid from study.json; drop --${given.join(', --')}`);
        dir = String(v.resume);
        readManifest(dir);
      } else {
        const minutes = optNum(v.minutes, '--minutes', { positive: true }) ?? null;
        const steps = optNum(v.steps, '--steps', { integer: true, positive: true });
        if (minutes === null && steps === undefined) throw new UserError('give --minutes M (the grid is sized to it) or --steps N');
        const widths = intList(v.widths, '--widths');
        const widthCount = optNum(v['width-count'], '--width-count', { integer: true, min: 2, max: 11 }) ?? 4;
        const depths = intList(v.depths, '--depths') ?? DEFAULT_DEPTHS;
        if (depths.length < 2) throw new UserError('--depths: give at least two depths (the width/depth penalty needs them)');
        if (widths && widths.length < 2) throw new UserError('--widths: give at least two widths');
        const tokenizer = (v.tokenizer ?? 'byte') as 'byte' | 'gpt2';
        if (tokenizer !== 'byte' && tokenizer !== 'gpt2') throw new UserError(`--tokenizer: expected byte or gpt2 (got '${v.tokenizer}')`);
        let data: { source: 'brown' | 'file' | 'folder'; path?: string; tokenizer: 'byte' | 'gpt2' } = { source: 'brown', tokenizer };
        if (v.data) {
          const fs = await import('node:fs');
          let st;
          try {
            st = fs.statSync(String(v.data));
          } catch {
            throw new UserError(`--data ${v.data}: no such file or folder`);
          }
          data = { source: st.isDirectory() ? 'folder' : 'file', path: path.resolve(String(v.data)), tokenizer };
        }
        const name = makeRunName('study');
        dir = typeof v.out === 'string' ? v.out : path.join('runs', name);
        const lr = optNum(v.lr, '--lr', { positive: true });
        if (widths) for (const w of widths) if (w % 16 !== 0) throw new UserError(`--widths: ${w} is not a multiple of 16`);
        const m = await createStudy({
          studyDir: dir,
          onNote: (s) => !v.json && process.stderr.write(s + '\n'),
          size: {
            name: path.basename(path.resolve(dir)),
            widths,
            widthCount,
            depths,
            minutes,
            steps,
            tpp: optNum(v.tpp, '--tpp', { positive: true }) ?? DEFAULT_TPP,
            tppSpread: optNum(v['tpp-spread'], '--tpp-spread', { min: 1 }) ?? DEFAULT_TPP_SPREAD,
            context: optNum(v.context, '--context', { integer: true, positive: true }) ?? 128,
            batchSize: optNum(v['batch-size'], '--batch-size', { integer: true, positive: true }) ?? 16,
            parameterization: parseParam(v.param),
            base: { ...DEFAULT_BASE, ...(lr ? { lr } : {}) },
            data,
            ep: (v.ep ?? 'auto') as 'auto',
            seed: optNum(v.seed, '--seed', { integer: true, min: 0 }) ?? 1234,
            evalBatches: optNum(v['eval-batches'], '--eval-batches', { integer: true, positive: true }) ?? 16,
          },
        });
        if (!v.json) process.stderr.write(`grid: widths ${m.request.widths.join(', ')} x depths ${m.request.depths.join(', ')} = ${m.runs.length} runs, ${m.runs.map((r) => `${r.id} N ${(r.params / 1e3).toFixed(0)}k D ${(r.tokens / 1e6).toFixed(2)}M`).join('; ')}\n`);
      }
    } catch (e) {
      if (e instanceof StudyError) throw new UserError(e.message);
      throw e;
    }
    const h = runStudy({ studyDir: dir, ep: v.ep as string | undefined, onProgress: printer(Boolean(v.json)) });
    let interrupts = 0;
    const onSignal = () => {
      if (++interrupts === 1) {
        process.stderr.write('\nstopping the study after this step (the run writes a checkpoint); resume with --resume\n');
        h.stop();
      } else process.exit(130);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const m = await h.done;
      const ok = m.runs.every((r) => r.status === 'done' || r.status === 'diverged' || r.status === 'failed');
      return ok ? (m.runs.some((r) => r.status === 'failed') ? 1 : 0) : 130;
    } catch (e) {
      if (e instanceof StudyError) throw new UserError(e.message);
      throw e;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
