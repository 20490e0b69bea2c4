/**
 * ShapeLab's VS Code glue: activation wires commands, the runs tree, the monitor view, the
 * planner panel and the status bar. All computation lives in src/core (planner, in process: it
 * is fast and pure) or in a child process (training, coordinate check, export).
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { RunsModel } from './monitor/runsModel';
import { RunsTreeProvider, RunItem } from './monitor/runsTree';
import { MonitorViewProvider } from './monitor/monitorView';
import { TrainingManager } from './training/trainingManager';
import { PlannerPanel } from './planner/plannerPanel';
import { runCli } from './training/cliTask';
import { resumeBlocker } from './logic/runFolder';
import * as config from './config';

export interface ShapeLabApi {
  model: RunsModel;
  training: TrainingManager;
  monitor: MonitorViewProvider;
  planner: typeof PlannerPanel;
  runsFolder(): string;
}

export function activate(ctx: vscode.ExtensionContext): ShapeLabApi {
  const out = vscode.window.createOutputChannel('ShapeLab');
  const model = new RunsModel(() => config.runsFolder(ctx));
  const training = new TrainingManager(ctx, model, out);
  const tree = new RunsTreeProvider(model);
  const stopRun = (runId?: string) => {
    if (training.isRunning() && (!runId || training.active?.runId === runId)) return training.stop();
    const id = runId ?? model.selectedId;
    if (id) return training.stopExternal(id);
    void vscode.window.showInformationMessage('ShapeLab: no run is in progress.');
    return Promise.resolve(false);
  };
  const monitor = new MonitorViewProvider(ctx.extensionUri, model, out, (id) => void stopRun(id));
  const treeView = vscode.window.createTreeView('shapelab.runs', { treeDataProvider: tree, showCollapseAll: false });
  ctx.subscriptions.push(out, model, training, tree, monitor, treeView);
  ctx.subscriptions.push(vscode.window.registerWebviewViewProvider(MonitorViewProvider.viewId, monitor, { webviewOptions: { retainContextWhenHidden: true } }));
  PlannerPanel.register(ctx, out, training);

  const cmd = (id: string, fn: (...args: any[]) => unknown) => ctx.subscriptions.push(vscode.commands.registerCommand(id, fn));

  cmd('shapelab.planModelShape', () => PlannerPanel.show(ctx, out, training));

  cmd('shapelab.trainFromPlan', async (planFile?: unknown) => {
    // From the palette: pick a plan file the user exported, or run the tiny preset as a proxy.
    if (typeof planFile === 'string' && planFile) return training.start({ label: path.basename(planFile), planFile, steps: config.proxySteps() });
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Tiny proxy run', description: 'preset "tiny", a few hundred steps on this machine', id: 'tiny' },
        { label: 'From a plan file\u2026', description: 'a plan JSON exported from the planner', id: 'file' },
        { label: 'Open the planner', description: 'choose a shape, then "Train this"', id: 'planner' },
      ],
      { title: 'ShapeLab: Train From Plan' },
    );
    if (!pick) return undefined;
    if (pick.id === 'planner') return PlannerPanel.show(ctx, out, training);
    if (pick.id === 'tiny') return training.start({ label: 'tiny proxy run', preset: 'tiny', steps: config.proxySteps() });
    const uris = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Plan JSON': ['json'] }, title: 'Plan file' });
    if (!uris?.[0]) return undefined;
    return training.start({ label: path.basename(uris[0].fsPath), planFile: uris[0].fsPath, steps: config.proxySteps() });
  });

  cmd('shapelab.trainTiny', (steps?: unknown) =>
    training.start({ label: 'tiny proxy run', preset: 'tiny', steps: typeof steps === 'number' && steps > 0 ? steps : config.proxySteps() }),
  );

  cmd('shapelab.trainFromConfig', async (file?: unknown) => {
    let f = typeof file === 'string' ? file : undefined;
    if (!f) {
      const uris = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Run config': ['json'] }, title: 'ShapeLab run config' });
      f = uris?.[0]?.fsPath;
    }
    if (!f) return undefined;
    return training.start({ label: path.basename(f), configFile: f });
  });

  cmd('shapelab.stopTraining', (arg?: unknown) => stopRun(arg instanceof RunItem ? arg.run.id : typeof arg === 'string' ? arg : undefined));

  cmd('shapelab.resumeRun', async (arg?: unknown) => {
    let id = arg instanceof RunItem ? arg.run.id : typeof arg === 'string' ? arg : undefined;
    if (!id) {
      model.refresh();
      const items = model.summaries().filter((r) => r.status !== 'done' && r.status !== 'running');
      if (!items.length) {
        void vscode.window.showInformationMessage('ShapeLab: no stopped or interrupted runs to resume in ' + model.root);
        return undefined;
      }
      const pick = await vscode.window.showQuickPick(items.map((r) => ({ label: r.name, description: `${r.status} \u00b7 step ${r.step ?? 0}`, id: r.id })), { title: 'ShapeLab: Resume Run' });
      id = pick?.id;
    }
    const dir = id ? model.dirOf(id) : undefined;
    if (!id || !dir) return undefined;
    // The same choice as the CLI: without a checkpoint there is nothing to resume; starting over
    // keeps the earlier attempt's files (shown greyed in the monitor).
    const blocked = resumeBlocker(dir);
    if (blocked) {
      const pick = await vscode.window.showWarningMessage(`ShapeLab: run ${id} cannot be resumed.`, { modal: true, detail: blocked.replace(/'shapelab resume .* --restart'/, '"Start over"') }, 'Start over');
      if (pick !== 'Start over') return undefined;
      return training.start({ label: `restart ${id}`, resumeDir: dir, restart: true });
    }
    return training.start({ label: `resume ${id}`, resumeDir: dir });
  });

  cmd('shapelab.openRun', async (arg?: unknown) => {
    let id = arg instanceof RunItem ? arg.run.id : typeof arg === 'string' ? arg : undefined;
    if (id && model.has(id)) {
      model.select(id);
      await vscode.commands.executeCommand('shapelab.focusMonitor');
      return id;
    }
    model.refresh();
    const items = model.summaries().map((r) => ({ label: r.name, description: `${r.status} \u00b7 step ${r.step ?? 0}`, id: r.id as string | undefined }));
    items.push({ label: 'Browse\u2026', description: 'a run folder anywhere', id: undefined });
    const pick = await vscode.window.showQuickPick(items, { title: 'ShapeLab: Open Run' });
    if (!pick) return undefined;
    if (pick.id) {
      model.select(pick.id);
    } else {
      const uris = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, title: 'Run folder' });
      const dir = uris?.[0]?.fsPath;
      if (!dir) return undefined;
      if (!['metrics.jsonl', 'events.jsonl', 'config.json'].some((f) => fs.existsSync(path.join(dir, f)))) {
        void vscode.window.showWarningMessage(`ShapeLab: ${dir} does not look like a run folder (no config.json, metrics.jsonl or events.jsonl).`);
        return undefined;
      }
      id = path.basename(dir).replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 120) || 'run';
      model.selectDir(id, dir);
    }
    await vscode.commands.executeCommand('shapelab.focusMonitor');
    return model.selectedId;
  });

  cmd('shapelab.runCoordinateCheck', async () => {
    // Coordinate checks across depth and width for all parameterizations: the table goes to the
    // output channel, the SVG chart into the runs folder.
    const runs = config.runsFolder(ctx);
    fs.mkdirSync(runs, { recursive: true });
    const svg = path.join(runs, `coordcheck-${new Date().toISOString().replace(/[:.]/g, '-')}.svg`);
    const ep = config.executionProvider();
    const code = await runCli(ctx, out, 'ShapeLab: coordinate check (small models at several depths and widths)', ['coordcheck', '--out', svg, ...(ep !== 'auto' ? ['--ep', ep] : [])]);
    if (code === 0 && fs.existsSync(svg)) {
      const uri = vscode.Uri.file(svg);
      // As a picture (built-in image preview), not as SVG source; plain open if that editor is absent.
      await vscode.commands.executeCommand('vscode.openWith', uri, 'imagePreview.previewEditor').then(undefined, () => vscode.commands.executeCommand('vscode.open', uri));
    }
    return code;
  });

  cmd('shapelab.exportPlan', () => PlannerPanel.exportCurrent(ctx, out));

  cmd('shapelab.refreshRuns', () => model.refresh());
  cmd('shapelab.focusMonitor', async () => {
    await vscode.commands.executeCommand('shapelab.monitor.focus');
  });
  cmd('shapelab.revealRunFolder', (arg?: unknown) => {
    const id = arg instanceof RunItem ? arg.run.id : model.selectedId;
    const dir = id ? model.dirOf(id) : undefined;
    if (dir) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(dir));
  });

  ctx.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('shapelab.runsFolder')) model.refresh();
    }),
  );
  model.start();
  return { model, training, monitor, planner: PlannerPanel, runsFolder: () => config.runsFolder(ctx) };
}

export function deactivate(): void {
  /* disposables do the work */
}
