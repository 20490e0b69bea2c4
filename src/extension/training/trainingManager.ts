import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainProcess, resumeArgs, trainArgs } from '../logic/trainProcess';
import { lockPid } from '../logic/runFolder';
import type { RunsModel } from '../monitor/runsModel';
import * as config from '../config';
import { fmt } from '../../../webview/shared/chartData';

export interface StartOptions {
  label: string;
  preset?: string;
  configFile?: string;
  steps?: number;
  /** `resume` instead of `train`: the run folder to continue. */
  resumeDir?: string;
  /** With resumeDir: start the run over as a new attempt in its folder (`resume --restart`). */
  restart?: boolean;
}

/**
 * Starts training as a child process of the extension host's own Node (the CLI), follows the run
 * folder it reports, and stops it with SIGINT (checkpoint) then SIGTERM.
 */
export class TrainingManager implements vscode.Disposable {
  active: { proc: TrainProcess; runId?: string; runDir?: string; label: string } | undefined;
  private status: vscode.StatusBarItem;
  private subs: vscode.Disposable[] = [];

  constructor(private ctx: vscode.ExtensionContext, private model: RunsModel, private out: vscode.OutputChannel) {
    this.status = vscode.window.createStatusBarItem('shapelab.run', vscode.StatusBarAlignment.Left, 50);
    this.status.name = 'ShapeLab training';
    this.status.command = 'shapelab.focusMonitor';
    this.subs.push(this.status, model.onDidChangeList(() => this.updateStatus()), model.onDidChangeSelected(() => this.updateStatus()));
  }

  get cliPath(): string {
    return path.join(this.ctx.extensionPath, 'bin', 'shapelab.js');
  }

  isRunning(): boolean {
    return !!this.active && !this.active.proc.exited;
  }

  async start(o: StartOptions): Promise<string | undefined> {
    if (this.isRunning() && this.active!.proc.stopping) {
      // Stop was already asked for (e.g. Stop then Resume at once): let it finish its checkpoint.
      await this.stop();
    }
    if (this.isRunning()) {
      const pick = await vscode.window.showWarningMessage(`A ShapeLab run is already in progress (${this.active!.label}). Stop it first?`, 'Stop it', 'Cancel');
      if (pick !== 'Stop it') return undefined;
      await this.stop();
    }
    const runs = config.runsFolder(this.ctx);
    try {
      fs.mkdirSync(runs, { recursive: true });
    } catch (e) {
      void vscode.window.showErrorMessage(`ShapeLab: cannot create the runs folder ${runs}: ${(e as Error).message}`);
      return undefined;
    }
    const ep = config.executionProvider();
    const checkpointMinutes = config.checkpointMinutes();
    const args = o.resumeDir
      ? resumeArgs({ cliPath: this.cliPath, runDir: o.resumeDir, ep, restart: o.restart, checkpointMinutes })
      : trainArgs({ cliPath: this.cliPath, runsFolder: runs, preset: o.preset, configFile: o.configFile, ep, steps: o.steps, checkpointMinutes });
    this.out.appendLine(`$ ${process.execPath} ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
    const logFile = path.join(this.ctx.globalStorageUri.fsPath, 'logs', `train-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
    const proc = new TrainProcess(process.execPath, args, logFile, { cwd: path.dirname(runs), env: config.trainingEnv() });
    const active: NonNullable<TrainingManager['active']> = { proc, label: o.label };
    this.active = active;
    proc.on('line', (l: string) => this.out.appendLine(l));
    proc.on('exit', (code: number | null, signal: string | null) => {
      this.out.appendLine(`[train] exited (${code ?? signal})`);
      this.model.refresh();
      this.updateStatus();
      if (code && code !== 0 && !proc.stopping) {
        void vscode.window.showErrorMessage(`ShapeLab training failed: ${proc.lastError() || `exit code ${code}`}`, 'Show Log').then((p) => {
          if (p) this.out.show(true);
        });
      }
    });
    this.updateStatus();
    let runDir: string;
    try {
      runDir = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `ShapeLab: starting ${o.label}`, cancellable: true },
        async (_p, token) => {
          token.onCancellationRequested(() => void proc.stop());
          return proc.runDirPromise;
        },
      );
    } catch (e) {
      if (!proc.stopping) void vscode.window.showErrorMessage(`ShapeLab: training did not start: ${(e as Error).message}`);
      return undefined;
    }
    const abs = path.resolve(path.dirname(runs), runDir);
    active.runDir = abs;
    active.runId = path.basename(abs);
    this.model.refresh();
    this.model.selectDir(active.runId, abs);
    void vscode.commands.executeCommand('shapelab.focusMonitor');
    this.trackProgress(active);
    return active.runId;
  }

  /** A cancellable progress notification for the rest of the run (cancel = Stop). */
  private trackProgress(active: NonNullable<TrainingManager['active']>): void {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `ShapeLab: training ${active.runId}`, cancellable: true },
      (progress, token) =>
        new Promise<void>((resolve) => {
          token.onCancellationRequested(() => void this.stop());
          let lastPct = 0;
          const tick = () => {
            const s = active.runId ? this.model.summary(active.runId) : undefined;
            if (s?.step !== undefined) {
              const pct = s.totalSteps ? Math.min(100, (100 * s.step) / s.totalSteps) : undefined;
              progress.report({
                message: `step ${s.step}${s.totalSteps ? `/${s.totalSteps}` : ''}${s.loss !== undefined ? `, loss ${fmt(s.loss, 4)}` : ''}`,
                increment: pct !== undefined ? Math.max(0, pct - lastPct) : undefined,
              });
              if (pct !== undefined) lastPct = Math.max(lastPct, pct);
            }
          };
          const t = setInterval(tick, 1000);
          active.proc.once('exit', () => {
            clearInterval(t);
            resolve();
          });
        }),
    );
  }

  /** Stops our run (SIGINT, then SIGTERM after 15 s). */
  async stop(): Promise<boolean> {
    const a = this.active;
    if (!a || a.proc.exited) return false;
    this.out.appendLine('[train] stopping (SIGINT; the trainer writes a checkpoint)');
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'ShapeLab: stopping the run (writing a checkpoint)\u2026' }, () => a.proc.stop(15000));
    this.model.refresh();
    this.updateStatus();
    return true;
  }

  /** Stops a run that someone else started (CLI, another window): SIGINT to the pid in its run.lock. */
  async stopExternal(runId: string): Promise<boolean> {
    if (this.active?.runId === runId && !this.active.proc.exited) return this.stop();
    const dir = this.model.dirOf(runId);
    if (!dir) return false;
    const pid = lockPid(dir);
    if (!pid || !Number.isInteger(pid) || pid <= 1 || pid === process.pid) {
      void vscode.window.showInformationMessage(`ShapeLab: run ${runId} is not running in a process this window can find (no live run.lock on this host).`);
      return false;
    }
    const ok = await vscode.window.showWarningMessage(`Stop run ${runId} (process ${pid}, started outside this window)? It will write a checkpoint.`, { modal: true }, 'Stop');
    if (ok !== 'Stop') return false;
    try {
      process.kill(pid, 'SIGINT');
      return true;
    } catch (e) {
      void vscode.window.showErrorMessage(`ShapeLab: could not signal process ${pid}: ${(e as Error).message}`);
      return false;
    }
  }

  private updateStatus(): void {
    const a = this.active;
    let id = a && !a.proc.exited ? a.runId : undefined;
    // A run started elsewhere (CLI, before a reload) that is shown in the monitor and running.
    if (!id && !(a && !a.proc.exited) && this.model.selectedId && this.model.summary(this.model.selectedId)?.status === 'running') id = this.model.selectedId;
    if (a && !a.proc.exited && !id) {
      this.status.text = '$(loading~spin) ShapeLab: starting\u2026';
      this.status.tooltip = a.label;
      this.status.show();
      return;
    }
    if (!id) {
      this.status.hide();
      return;
    }
    const s = this.model.summary(id);
    const step = s?.step !== undefined ? `${s.step}${s.totalSteps ? `/${s.totalSteps}` : ''}` : '0';
    const pct = s?.step !== undefined && s.totalSteps ? ` (${Math.floor((100 * s.step) / s.totalSteps)}%)` : '';
    this.status.text = `$(pulse) ShapeLab ${step}${pct}${s?.loss !== undefined ? ` \u00b7 loss ${fmt(s.loss, 4)}` : ''}`;
    this.status.tooltip = `Run ${id}: click to show the monitor`;
    this.status.show();
  }

  dispose(): void {
    // The window is closing or reloading: the run keeps going (detached, logging to a file) and
    // shows up again from the runs folder; Stop then reaches it through its run.lock.
    if (this.active && !this.active.proc.exited) this.active.proc.detach();
    for (const s of this.subs) s.dispose();
  }
}
