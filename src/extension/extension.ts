/**
 * ShapeLab's VS Code glue: activation wires commands, the runs tree, the monitor view, the
 * planner panel and the status bar. All computation lives in src/core (planner, in process: it
 * is fast and pure) or in a child process (training, coordinate check, export).
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { RunsModel } from './monitor/runsModel';
import { RunsTreeProvider, RunItem, GroupItem, TreeEntry } from './monitor/runsTree';
import { MonitorViewProvider, MonitorPanel, MonitorActions } from './monitor/monitorView';
import { ComparePanel } from './monitor/comparePanel';
import { comparisonIds, deleteRefusal } from './logic/runsTreeLogic';
import { lockAlive, readLabel, writeLabel } from './logic/runFolder';
import { moveToTrash } from './logic/trash';
import { TrainingManager } from './training/trainingManager';
import { PlannerPanel } from './planner/plannerPanel';
import { trainFromPlanFile } from './planner/proxyDialog';
import { runCli } from './training/cliTask';
import { runScalingStudy } from './training/studyTask';
import { resumeBlocker } from './logic/runFolder';
import * as config from './config';

export interface ShapeLabApi {
  model: RunsModel;
  training: TrainingManager;
  monitor: MonitorViewProvider;
  planner: typeof PlannerPanel;
  monitorPanel: typeof MonitorPanel;
  comparePanel: typeof ComparePanel;
  runsFolder(): string;
}

export function activate(ctx: vscode.ExtensionContext): ShapeLabApi {
  const out = vscode.window.createOutputChannel('ShapeLab');
  const model = new RunsModel(() => config.runsFolder(ctx));
  const training = new TrainingManager(ctx, model, out);
  const tree = new RunsTreeProvider(model, (group) => fs.existsSync(path.join(model.root, group, 'study.json')));
  const stopRun = (runId?: string) => {
    if (training.isRunning() && (!runId || training.active?.runId === runId)) return training.stop();
    const id = runId ?? model.selectedId;
    if (id) return training.stopExternal(id);
    void vscode.window.showInformationMessage('ShapeLab: no run is in progress.');
    return Promise.resolve(false);
  };
  const actions: MonitorActions = {
    stop: (id) => void stopRun(id),
    resume: (id) => void vscode.commands.executeCommand('shapelab.resumeRun', id),
    openInEditor: (id) => void vscode.commands.executeCommand('shapelab.openMonitorInEditor', id),
  };
  const monitor = new MonitorViewProvider(ctx.extensionUri, model, out, actions);
  const treeView = vscode.window.createTreeView('shapelab.runs', { treeDataProvider: tree, showCollapseAll: true, canSelectMany: true });
  ctx.subscriptions.push(out, model, training, tree, monitor, treeView);
  ctx.subscriptions.push(vscode.window.registerWebviewViewProvider(MonitorViewProvider.viewId, monitor, { webviewOptions: { retainContextWhenHidden: true } }));
  PlannerPanel.register(ctx, out, training);

  const cmd = (id: string, fn: (...args: any[]) => unknown) => ctx.subscriptions.push(vscode.commands.registerCommand(id, fn));

  cmd('shapelab.planModelShape', () => PlannerPanel.show(ctx, out, training));

  // onnxruntime-node's CUDA provider is not installed by npm ci (.npmrc): add it on request. The CLI
  // runs the package's own installer and says in one line what happened (shown on failure by runCli).
  cmd('shapelab.setupCuda', async () => {
    const code = await runCli(ctx, out, 'ShapeLab: set up the CUDA execution provider', ['setup', 'cuda']);
    if (code === 0) void vscode.window.showInformationMessage('ShapeLab: the CUDA execution provider is installed and works; choose "cuda" in shapelab.executionProvider.');
  });

  cmd('shapelab.trainFromPlan', async (planFile?: unknown) => {
    // From the palette: pick a plan file the user exported, or run the tiny preset as a proxy.
    if (typeof planFile === 'string' && planFile) return trainFromPlanFile(ctx, training, planFile);
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Tiny proxy run', description: 'preset "tiny", a few hundred steps on this machine', id: 'tiny' },
        { label: 'From a plan file\u2026', description: 'a proxy of an exported plan: its depth, a smaller width', id: 'file' },
        { label: 'Open the planner', description: 'choose a shape, then "Train this"', id: 'planner' },
      ],
      { title: 'ShapeLab: Train From Plan' },
    );
    if (!pick) return undefined;
    if (pick.id === 'planner') return PlannerPanel.show(ctx, out, training);
    if (pick.id === 'tiny') return training.start({ label: 'tiny proxy run', preset: 'tiny', steps: config.proxySteps() });
    const uris = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Plan JSON': ['json'] }, title: 'Plan file' });
    if (!uris?.[0]) return undefined;
    return trainFromPlanFile(ctx, training, uris[0].fsPath);
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

  /** A run id from a tree item, an id string, or (palette) the run shown in the monitor. */
  const runIdOf = (arg: unknown): string | undefined => (arg instanceof RunItem ? arg.run.id : typeof arg === 'string' && model.has(arg) ? arg : model.selectedId);

  cmd('shapelab.openMonitorInEditor', (arg?: unknown) => {
    const id = runIdOf(arg);
    return MonitorPanel.show(ctx.extensionUri, model, out, actions, id) && id;
  });

  cmd('shapelab.compareRuns', async (arg?: unknown, selection?: unknown) => {
    const sel = Array.isArray(selection) ? selection.filter((x): x is TreeEntry => x instanceof RunItem || x instanceof GroupItem) : undefined;
    const clicked = arg instanceof RunItem || arg instanceof GroupItem ? arg : undefined;
    let ids = comparisonIds(clicked?.node, sel?.map((x) => x.node));
    if (!ids.length && Array.isArray(arg)) ids = arg.filter((x): x is string => typeof x === 'string' && model.has(x));
    if (!ids.length) {
      model.refresh();
      const picks = await vscode.window.showQuickPick(model.summaries().map((r) => ({ label: r.name, description: `${r.status}${r.group ? ` \u00b7 ${r.group}` : ''}`, id: r.id })), { canPickMany: true, title: 'ShapeLab: runs to compare' });
      ids = (picks ?? []).map((p) => p.id);
    }
    if (!ids.length) return undefined;
    // One group clicked (or every selected run in one study): the study view with its fit.
    const groups = new Set(ids.map((id) => model.summary(id)?.group));
    const only = groups.size === 1 ? [...groups][0] : undefined;
    const group = clicked instanceof GroupItem && (!sel || sel.length <= 1) ? clicked.node.name : only && fs.existsSync(path.join(model.root, only, 'study.json')) ? only : undefined;
    ComparePanel.show(ctx.extensionUri, model, out, ids, group);
    return ids;
  });

  cmd('shapelab.openRunConfig', async (arg?: unknown) => {
    const id = runIdOf(arg);
    const dir = id ? model.dirOf(id) : undefined;
    if (!dir) return undefined;
    const f = path.join(dir, 'config.json');
    if (!fs.existsSync(f)) {
      void vscode.window.showInformationMessage(`ShapeLab: run ${id} has no config.json.`);
      return undefined;
    }
    await vscode.window.showTextDocument(vscode.Uri.file(f), { preview: true });
    return f;
  });

  cmd('shapelab.renameRun', async (arg?: unknown, newLabel?: unknown) => {
    const id = runIdOf(arg);
    const dir = id ? model.dirOf(id) : undefined;
    if (!id || !dir) return undefined;
    const label = typeof newLabel === 'string'
      ? newLabel
      : await vscode.window.showInputBox({
          title: `Rename run ${path.basename(dir)}`,
          prompt: 'A label shown instead of the folder name (stored in label.json in the run folder; the folder keeps its name). Empty: no label.',
          value: readLabel(dir) ?? path.basename(dir),
          validateInput: (v) => (v.length > 120 ? 'at most 120 characters' : undefined),
        });
    if (label === undefined) return undefined;
    try {
      writeLabel(dir, label === path.basename(dir) ? '' : label);
    } catch (e) {
      void vscode.window.showErrorMessage(`ShapeLab: could not store the label: ${(e as Error).message}`);
      return undefined;
    }
    model.refresh();
    return readLabel(dir) ?? '';
  });

  cmd('shapelab.deleteRun', async (arg?: unknown) => {
    const id = arg instanceof RunItem ? arg.run.id : typeof arg === 'string' ? arg : undefined;
    const dir = id ? model.dirOf(id) : undefined;
    const s = id ? model.summary(id) : undefined;
    if (!id || !dir || !s) return false;
    const ours = training.isRunning() && training.active?.runDir !== undefined && path.resolve(training.active.runDir) === path.resolve(dir);
    const refusal = deleteRefusal(s) ?? (ours || lockAlive(dir) ? deleteRefusal({ ...s, status: 'running' }) : undefined);
    if (refusal) {
      // Modal, like the confirmation it replaces: the answer to a Delete is never a toast one misses.
      await vscode.window.showWarningMessage(refusal, { modal: true });
      return false;
    }
    const ok = await vscode.window.showWarningMessage(`Delete run "${s.name}"?`, { modal: true, detail: `The folder ${dir} (checkpoints, logs, config) moves to the trash.` }, 'Move to Trash');
    if (ok !== 'Move to Trash') return false;
    if (lockAlive(dir)) {
      await vscode.window.showWarningMessage(deleteRefusal({ ...s, status: 'running' }) as string, { modal: true });
      return false;
    }
    try {
      await vscode.workspace.fs.delete(vscode.Uri.file(dir), { recursive: true, useTrash: true });
    } catch (e) {
      // A VS Code server (code-server, remote) has no trash of its own: the freedesktop one, or nothing.
      try {
        if (process.platform !== 'linux') throw e;
        moveToTrash(dir);
      } catch (e2) {
        void vscode.window.showErrorMessage(`ShapeLab: run ${s.name} was not deleted: ${(e2 as Error).message}`);
        return false;
      }
    }
    out.appendLine(`[runs] moved ${dir} to the trash`);
    if (model.selectedId === id) model.select(undefined);
    model.refresh();
    return true;
  });

  cmd('shapelab.exportRunToTorch', async (arg?: unknown) => {
    const id = runIdOf(arg);
    const dir = id ? model.dirOf(id) : undefined;
    if (!dir || !fs.existsSync(path.join(dir, 'config.json'))) {
      void vscode.window.showInformationMessage('ShapeLab: pick a run with a config.json to export.');
      return undefined;
    }
    const uris = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, title: 'Folder to write the PyTorch project into', openLabel: 'Export here' });
    const parent = uris?.[0]?.fsPath;
    if (!parent) return undefined;
    let target = path.join(parent, `${path.basename(dir)}-torch`);
    for (let i = 1; fs.existsSync(target); i++) target = path.join(parent, `${path.basename(dir)}-torch-${i}`);
    const code = await runCli(ctx, out, `ShapeLab: export ${path.basename(dir)} to PyTorch`, ['export', 'torch', '--config', path.join(dir, 'config.json'), '--out', target]);
    if (code === 0) void vscode.window.showInformationMessage(`ShapeLab: exported to ${target}`, 'Reveal').then((p) => p && vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(target)));
    return code === 0 ? target : undefined;
  });

  cmd('shapelab.copyRunPath', async (arg?: unknown) => {
    const id = runIdOf(arg);
    const dir = id ? model.dirOf(id) : undefined;
    if (!dir) return undefined;
    await vscode.env.clipboard.writeText(dir);
    return dir;
  });

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

  cmd('shapelab.runScalingStudy', (opts?: { args?: string[] }) => runScalingStudy(ctx, out, config.runsFolder(ctx), config.executionProvider(), opts));

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
    const id = runIdOf(arg);
    const dir = id ? model.dirOf(id) : undefined;
    if (dir) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(dir));
  });

  ctx.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('shapelab.runsFolder')) model.refresh();
    }),
  );
  model.start();
  return { model, training, monitor, planner: PlannerPanel, monitorPanel: MonitorPanel, comparePanel: ComparePanel, runsFolder: () => config.runsFolder(ctx) };
}

export function deactivate(): void {
  /* disposables do the work */
}
