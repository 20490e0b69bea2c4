import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { trainingEnv } from '../config';
import { spawn } from 'node:child_process';
import { StudyProgressTracker } from '../logic/studyProgress';
import { listStudies } from '../../core/study/loadStudy';
import { readManifest } from '../../core/study/manifest';
import { runCli } from './cliTask';

/**
 * "ShapeLab: Run Scaling Study": a new study sized to the minutes the user gives, or the resume of
 * an unfinished one, in a child process (the CLI) behind a cancellable notification that shows the
 * run and the study progress with ETAs. Cancel stops after a checkpoint (resumable). When all runs
 * are done it fits the law (`shapelab fit`), which writes DIR/fit.json for the planner.
 */
export async function runScalingStudy(ctx: vscode.ExtensionContext, out: vscode.OutputChannel, runsFolder: string, ep: string, opts?: StudyCommandOptions): Promise<string | undefined> {
  fs.mkdirSync(runsFolder, { recursive: true });
  if (opts && Array.isArray(opts.args) && opts.args.every((a) => typeof a === 'string')) {
    // Programmatic call (tests, other commands): no prompts, a new study with these grid flags.
    const dir = path.join(runsFolder, `study-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}`);
    return runWith(ctx, out, runsFolder, ['study', '--out', dir, ...opts.args], dir, ep);
  }
  const unfinished = listStudies(runsFolder).filter((d) => {
    try {
      return readManifest(d).runs.some((r) => r.status !== 'done' && r.status !== 'failed' && r.status !== 'diverged');
    } catch {
      return false;
    }
  });
  let args: string[];
  let dir: string;
  const pick = unfinished.length
    ? await vscode.window.showQuickPick([{ label: 'New study...', dir: '' }, ...unfinished.map((d) => ({ label: `Resume ${path.basename(d)}`, dir: d }))], { title: 'ShapeLab: Run Scaling Study' })
    : { label: 'New study...', dir: '' };
  if (!pick) return undefined;
  if (pick.dir) {
    dir = pick.dir;
    args = ['study', '--resume', dir];
  } else {
    const kind = await vscode.window.showQuickPick(
      [
        { label: 'Sized to minutes', description: '4 widths x 2 depths, 20 tokens/param, sized to this device', quick: false },
        { label: 'Quick trial', description: `${QUICK_TRIAL.widths.length} widths x ${QUICK_TRIAL.depths.length} depths, a fixed number of steps per run: checks the whole loop in about a minute; too short to plan with`, quick: true },
      ],
      { title: 'ShapeLab: Run Scaling Study', placeHolder: 'What kind of study?' },
    );
    if (!kind) return undefined;
    dir = path.join(runsFolder, `study-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}`);
    if (kind.quick) {
      const steps = await vscode.window.showInputBox({
        title: 'ShapeLab: Run Scaling Study (quick trial)',
        prompt: `Steps per run (${QUICK_TRIAL.widths.length * QUICK_TRIAL.depths.length} runs, widths ${QUICK_TRIAL.widths.join(', ')}, depths ${QUICK_TRIAL.depths.join(', ')}, batch ${QUICK_TRIAL.batch} x ${QUICK_TRIAL.context} tokens)`,
        value: '60',
        validateInput: (s) => (/^\d+$/.test(s.trim()) && Number(s) >= 10 && Number(s) <= 100000 ? undefined : 'a whole number of steps, 10 to 100000'),
      });
      if (!steps) return undefined;
      args = ['study', '--widths', QUICK_TRIAL.widths.join(','), '--depths', QUICK_TRIAL.depths.join(','), '--steps', steps.trim(), '--batch-size', String(QUICK_TRIAL.batch), '--context', String(QUICK_TRIAL.context), '--out', dir];
      return runWith(ctx, out, runsFolder, args, dir, ep);
    }
    const minutes = await vscode.window.showInputBox({
      title: 'ShapeLab: Run Scaling Study',
      prompt: 'Minutes for the whole grid (4 widths x 2 depths, sized to this device)',
      value: '20',
      validateInput: (s) => (Number(s) > 0 && Number.isFinite(Number(s)) ? undefined : 'a positive number of minutes'),
    });
    if (!minutes) return undefined;
    args = ['study', '--minutes', minutes, '--out', dir];
  }
  return runWith(ctx, out, runsFolder, args, dir, ep);
}

/**
 * The palette's quick trial: the smallest grid `shapelab fit` accepts (6 runs >= its 5 parameters),
 * tiny shapes and a fixed step count, so the whole loop (runs, fit, comparison, planner band) can
 * be seen on a CPU in about a minute; a sized study of the smallest ladder window needs ~17
 * minutes on a 2-core CPU.
 */
const QUICK_TRIAL = { widths: [32, 48, 64], depths: [1, 2], batch: 8, context: 64 };

/** `executeCommand('shapelab.runScalingStudy', { args: ['--widths', '32,48', '--depths', '1,2', '--steps', '60'] })` */
export interface StudyCommandOptions {
  args?: string[];
}

async function runWith(ctx: vscode.ExtensionContext, out: vscode.OutputChannel, runsFolder: string, args: string[], dir: string, ep: string): Promise<string | undefined> {
  if (ep !== 'auto' && !args.includes('--ep')) args.push('--ep', ep);
  args.push('--json');
  const cli = path.join(ctx.extensionPath, 'bin', 'shapelab.js');
  out.appendLine(`$ shapelab ${args.join(' ')}`);
  const tracker = new StudyProgressTracker();
  const code = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'ShapeLab scaling study', cancellable: true }, (progress, token) =>
    new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [cli, ...args], { cwd: path.dirname(runsFolder), env: { ...process.env, ...trainingEnv(), ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
      let buf = '';
      let lastErr = '';
      token.onCancellationRequested(() => {
        child.kill('SIGINT'); // the study stops after a checkpoint; resumable from this command
        setTimeout(() => child.exitCode === null && child.kill('SIGTERM'), 15000);
      });
      child.stdout.on('data', (b: Buffer) => {
        buf += b.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const u = tracker.update(line);
          if (u) {
            progress.report(u);
            if (!line.includes('"run-progress"')) out.appendLine(u.message);
          }
        }
      });
      child.stderr.on('data', (b: Buffer) => {
        const t = b.toString('utf8');
        out.append(t);
        lastErr = t.trim().split('\n').pop() ?? lastErr;
      });
      child.on('error', (e) => {
        void vscode.window.showErrorMessage(`ShapeLab study could not start: ${e.message}`);
        resolve(-1);
      });
      child.on('exit', (c) => {
        if (c !== 0 && !token.isCancellationRequested) void vscode.window.showErrorMessage(`ShapeLab study: ${tracker.lastError ?? (lastErr || `exit code ${c}`)}`);
        resolve(c ?? -1);
      });
    }),
  );
  if (code === 0 && tracker.finished && !tracker.finished.stopped && tracker.finished.done > 0) {
    const fit = await runCli(ctx, out, 'ShapeLab: fitting the scaling law', ['fit', dir]);
    if (fit === 0) {
      out.show(true);
      void vscode.window.showInformationMessage(`ShapeLab: study ${path.basename(dir)} fitted; the planner's scaling-fit list offers it.`);
    }
  } else if (tracker.finished?.stopped) void vscode.window.showInformationMessage(`ShapeLab: study ${path.basename(dir)} stopped; run the command again to resume it.`);
  return dir;
}
