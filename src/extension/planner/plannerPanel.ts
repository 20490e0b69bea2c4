import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormFields, HostToPlanner, PlanRequest, ProxyChoice, ShapeVM, parsePlannerMessage, validateFormFields } from '../../../webview/shared/messages';
import { HardwareList, buildFitList, buildHardwareList, defaultRequest, fitIdsToSave, planDocument, proxyConfig, proxyPreview, restoreFitIds, runPlan, shapeDetail, type FitList } from '../logic/plannerBackend';
import type { ProxyData } from '../../core/plan/proxy';
import { RejectLog, webviewHtml, webviewOptions } from '../webviewUtil';
import type { TrainingManager } from '../training/trainingManager';
import { runCli } from '../training/cliTask';
import * as config from '../config';

/** workspaceState key of the form's raw inputs (they survive closing the panel and reloads). */
const INPUTS_KEY = 'shapelab.planner.inputs';
/** workspaceState key of the local fits' ids ([id, fit.json] pairs): the saved inputs name one by id. */
const FIT_IDS_KEY = 'shapelab.planner.localFitIds';

/**
 * The planner panel (one at a time). Its view state lives in the webview (getState/setState) and
 * survives hiding; the form's raw inputs are also kept in workspaceState, so they survive closing
 * the panel; a serializer restores the panel after a window reload.
 */
export class PlannerPanel {
  static readonly viewType = 'shapelab.planner';
  static current: PlannerPanel | undefined;
  /** For tests: counts of accepted/rejected webview messages. */
  static stats = { accepted: 0, rejected: 0 };

  private hw: HardwareList;
  /** Published fits + local studies' fits (rebuilt on every init: a study may have finished since). */
  private fits: FitList = { entries: new Map(), vms: [] };
  /** The last list of any panel: local ids stay the same file's across panels of this session. */
  private static lastFits: FitList | undefined;
  private lastRequest: PlanRequest | undefined;
  private shapes = new Map<string, ShapeVM>();
  private selectedId: string | undefined;
  private rejects: RejectLog;
  /** The data file or folder the user picked for a proxy run (paths never come from the webview). */
  private proxyData: ProxyData | undefined;
  private disposables: vscode.Disposable[] = [];

  static register(ctx: vscode.ExtensionContext, out: vscode.OutputChannel, training: TrainingManager): void {
    ctx.subscriptions.push(
      vscode.window.registerWebviewPanelSerializer(PlannerPanel.viewType, {
        async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
          PlannerPanel.current = new PlannerPanel(panel, ctx, out, training);
        },
      }),
    );
  }

  static show(ctx: vscode.ExtensionContext, out: vscode.OutputChannel, training: TrainingManager): PlannerPanel {
    if (PlannerPanel.current) {
      PlannerPanel.current.panel.reveal();
      // A visible panel is not reloaded by reveal(): offer a study fitted since it opened.
      PlannerPanel.current.refreshFits();
      return PlannerPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(PlannerPanel.viewType, 'ShapeLab Planner', vscode.ViewColumn.Active, {
      ...webviewOptions(ctx.extensionUri),
      retainContextWhenHidden: false,
    });
    PlannerPanel.current = new PlannerPanel(panel, ctx, out, training);
    return PlannerPanel.current;
  }

  /** Export Plan from the palette: the shape selected in the planner (or its best one). */
  static async exportCurrent(ctx: vscode.ExtensionContext, out: vscode.OutputChannel): Promise<void> {
    const p = PlannerPanel.current;
    const id = p?.selectedId ?? (p ? [...p.shapes.keys()][0] : undefined);
    if (!p || !id) {
      void vscode.window.showInformationMessage('ShapeLab: open the planner (ShapeLab: Plan Model Shape) and choose a shape to export.');
      return;
    }
    const pick = await vscode.window.showQuickPick([
      { label: 'Plan JSON', id: 'json' as const },
      { label: 'PyTorch project', description: 'shapelab export torch', id: 'torch' as const },
    ], { title: `ShapeLab: Export Plan (${id})` });
    if (pick) await p.export(id, pick.id);
    void ctx;
    void out;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private ctx: vscode.ExtensionContext,
    private out: vscode.OutputChannel,
    private training: TrainingManager,
  ) {
    this.rejects = new RejectLog(out, 'planner');
    this.hw = buildHardwareList(config.extraHardwareRaw());
    panel.iconPath = vscode.Uri.joinPath(ctx.extensionUri, 'media', 'icon.png');
    panel.webview.options = webviewOptions(ctx.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, ctx.extensionUri, {
      title: 'ShapeLab Planner',
      script: 'planner.js',
      styles: ['dist/webview/planner.css', 'media/common.css', 'media/planner.css'],
      body: '<div id="app" data-view="planner"><p class="muted">Loading the planner\u2026</p></div>',
    });
    panel.webview.onDidReceiveMessage((m) => this.handle(m), undefined, this.disposables);
    panel.onDidDispose(() => this.dispose(), undefined, this.disposables);
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('shapelab.extraHardware') || e.affectsConfiguration('shapelab.defaultGpu')) {
        this.hw = buildHardwareList(config.extraHardwareRaw());
        this.sendInit();
      }
    }, undefined, this.disposables);
  }

  private post(m: HostToPlanner): void {
    void this.panel.webview.postMessage(m).then(undefined, () => undefined);
  }

  private savedInputs(): FormFields | undefined {
    try {
      const v = this.ctx.workspaceState.get<unknown>(INPUTS_KEY);
      return v === undefined ? undefined : validateFormFields(v, 'saved');
    } catch {
      return undefined; // written by another version: start from the defaults
    }
  }

  /** The list the ids continue from: this session's, else the one saved before a reload. */
  private previousFits(): FitList {
    return PlannerPanel.lastFits ?? restoreFitIds(this.ctx.workspaceState.get<unknown>(FIT_IDS_KEY)) ?? this.fits;
  }

  /** Re-sends init (the webview keeps its inputs) when the fit list changed. */
  refreshFits(): void {
    const next = buildFitList(config.runsFolder(this.ctx), this.previousFits());
    if (JSON.stringify(next.vms) !== JSON.stringify(this.fits.vms)) this.sendInit(next);
  }

  private sendInit(fits = buildFitList(config.runsFolder(this.ctx), this.previousFits())): void {
    this.fits = PlannerPanel.lastFits = fits;
    void this.ctx.workspaceState.update(FIT_IDS_KEY, fitIdsToSave(fits)).then(undefined, () => undefined);
    this.post({
      type: 'init',
      hardware: this.hw.vms,
      fits: fits.vms,
      defaults: { request: defaultRequest(config.defaultGpu(), config.defaultParameterization(), this.hw), proxySteps: config.proxySteps() },
      backendAvailable: true,
      saved: this.savedInputs(),
    });
    for (const p of this.hw.problems) this.post({ type: 'notice', message: p });
  }

  /** Every message from the webview passes the validator first; anything else is dropped. */
  handle(raw: unknown): void {
    const r = parsePlannerMessage(raw);
    const m = this.rejects.admit(r, PlannerPanel.stats);
    if (!m) {
      if (!r.ok) this.post({ type: 'error', message: `Rejected input: ${r.error}` });
      return;
    }
    try {
      switch (m.type) {
        case 'ready':
          this.sendInit();
          break;
        case 'plan': {
          if (!this.hw.entries.has(m.request.gpu)) {
            this.post({ type: 'error', requestId: m.requestId, message: `Unknown GPU '${m.request.gpu}'. Choose one from the list.` });
            return;
          }
          const t0 = Date.now();
          const res = runPlan(m.request, this.hw, this.fits);
          this.lastRequest = m.request;
          this.shapes = new Map(res.shapes.map((s) => [s.id, s]));
          this.post({ type: 'results', requestId: m.requestId, shapes: res.shapes, warnings: res.warnings, sources: res.sources, elapsedMs: Date.now() - t0 });
          break;
        }
        case 'detail': {
          const s = this.shapes.get(m.shapeId);
          if (!s || !this.lastRequest) {
            this.post({ type: 'error', message: 'That shape is not in the current results; run the plan again.' });
            return;
          }
          this.selectedId = s.id;
          this.post({ type: 'detail', detail: shapeDetail(s, this.lastRequest, this.hw, this.fits) });
          break;
        }
        case 'inputs':
          void this.ctx.workspaceState.update(INPUTS_KEY, m.fields);
          break;
        case 'proxyPreview': {
          const { type: _t, ...choice } = m;
          void _t;
          this.previewProxy(choice);
          break;
        }
        case 'trainProxy': {
          const { type: _t, ...choice } = m;
          void _t;
          void this.trainProxy(choice);
          break;
        }
        case 'pickData':
          void this.pickData(m.kind);
          break;
        case 'export':
          void this.export(m.shapeId, m.format);
          break;
      }
    } catch (e) {
      // Planner input errors (and anything unexpected) become a message in the panel, never a crash.
      this.post({ type: 'error', requestId: m.type === 'plan' ? m.requestId : undefined, message: (e as Error).message.split('\n')[0].slice(0, 400) });
    }
  }

  private planFor(shapeId: string): Record<string, unknown> | undefined {
    const s = this.shapes.get(shapeId);
    if (!s || !this.lastRequest) {
      this.post({ type: 'error', message: 'That shape is not in the current results; run the plan again.' });
      return undefined;
    }
    return planDocument(s, this.lastRequest, this.hw, this.fits);
  }

  private dataLabel(choice: ProxyChoice): string {
    if (choice.data === 'brown' || !this.proxyData || this.proxyData.source === 'brown') return 'Brown corpus (embedded)';
    return `${this.proxyData.source} ${path.basename(this.proxyData.path)}`;
  }

  /** "Train this", step 1: what would be trained (shape, cost, hyperparameters per group), for the user to confirm. */
  private previewProxy(choice: ProxyChoice): void {
    const s = this.shapes.get(choice.shapeId);
    if (!s || !this.lastRequest) {
      this.post({ type: 'proxyError', shapeId: choice.shapeId, message: 'That shape is not in the current results; run the plan again.' });
      return;
    }
    try {
      this.post({ type: 'proxy', preview: proxyPreview(s, this.lastRequest, choice, this.dataLabel(choice)) });
    } catch (e) {
      this.post({ type: 'proxyError', shapeId: choice.shapeId, message: (e as Error).message.split('\n')[0].slice(0, 300) });
    }
  }

  private async pickData(kind: 'file' | 'folder'): Promise<void> {
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: kind === 'file',
      canSelectFolders: kind === 'folder',
      canSelectMany: false,
      openLabel: 'Train on this',
      title: kind === 'file' ? 'Text file for the proxy run' : 'Folder of text files for the proxy run',
    });
    const p = uris?.[0]?.fsPath;
    if (p) this.proxyData = { source: kind, path: p };
    this.post({ type: 'proxyData', label: p ? `${kind} ${path.basename(p)}` : null });
  }

  /** "Train this", step 2 (confirmed): the proxy's run config goes to the CLI as `train --config`. */
  private async trainProxy(choice: ProxyChoice): Promise<void> {
    const s = this.shapes.get(choice.shapeId);
    if (!s || !this.lastRequest) {
      this.post({ type: 'proxyError', shapeId: choice.shapeId, message: 'That shape is not in the current results; run the plan again.' });
      return;
    }
    if (choice.data === 'picked' && !this.proxyData) {
      this.post({ type: 'proxyError', shapeId: choice.shapeId, message: 'Choose a data file or folder first.' });
      return;
    }
    let file: string;
    try {
      const cfg = proxyConfig(s, this.lastRequest, choice, choice.data === 'picked' ? this.proxyData! : { source: 'brown' });
      const dir = path.join(this.ctx.globalStorageUri.fsPath, 'proxies');
      fs.mkdirSync(dir, { recursive: true });
      file = path.join(dir, `${cfg.label as string}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      fs.writeFileSync(file, JSON.stringify(cfg, null, 2) + '\n');
    } catch (e) {
      this.post({ type: 'proxyError', shapeId: choice.shapeId, message: (e as Error).message.split('\n')[0].slice(0, 300) });
      return;
    }
    this.post({ type: 'notice', message: `Starting a proxy of ${s.dModel} \u00d7 ${s.nLayers}: width ${choice.width}, ${s.nLayers} layers, ${choice.steps} steps, ${this.dataLabel(choice)}\u2026` });
    await this.training.start({ label: `proxy of ${s.id} (width ${choice.width})`, configFile: file, steps: choice.steps });
  }

  async export(shapeId: string, format: 'json' | 'torch'): Promise<void> {
    const doc = this.planFor(shapeId);
    if (!doc) return;
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
    if (format === 'json') {
      const uri = await vscode.window.showSaveDialog({
        defaultUri: ws ? vscode.Uri.joinPath(ws, `plan-${shapeId}.json`) : undefined,
        filters: { 'Plan JSON': ['json'] },
        title: 'Export plan',
      });
      if (!uri) return;
      await vscode.workspace.fs.writeFile(uri, Buffer.from(JSON.stringify(doc, null, 2) + '\n'));
      this.post({ type: 'notice', message: `Plan written to ${uri.fsPath}` });
      return;
    }
    const uris = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Export here', title: 'Folder for the PyTorch project' });
    const outDir = uris?.[0]?.fsPath;
    if (!outDir) return;
    let force = false;
    try {
      if (fs.readdirSync(outDir).length > 0) {
        const ok = await vscode.window.showWarningMessage(`${outDir} is not empty. Export into it anyway (existing ShapeLab files are replaced)?`, { modal: true }, 'Export');
        if (ok !== 'Export') return;
        force = true;
      }
    } catch {
      /* does not exist yet: the exporter creates it */
    }
    const planFile = this.savePlan(shapeId, doc);
    const code = await runCli(this.ctx, this.out, 'ShapeLab: exporting a PyTorch project', ['export', 'torch', '--plan', planFile, '--out', outDir, ...(force ? ['--force'] : [])]);
    this.post({ type: 'notice', message: code === 0 ? `PyTorch project written to ${outDir}` : 'Export failed (see the ShapeLab output).' });
    if (code === 0) {
      const pick = await vscode.window.showInformationMessage(`ShapeLab: PyTorch project written to ${outDir}`, 'Open README');
      if (pick) await vscode.window.showTextDocument(vscode.Uri.file(path.join(outDir, 'README.md')));
    }
  }

  /** Plans handed to the CLI live in the extension's own storage (never in a folder the user did not pick). */
  private savePlan(shapeId: string, doc: Record<string, unknown>): string {
    const dir = path.join(this.ctx.globalStorageUri.fsPath, 'plans');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${shapeId}.json`);
    fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
    return file;
  }

  dispose(): void {
    if (PlannerPanel.current === this) PlannerPanel.current = undefined;
    for (const d of this.disposables) d.dispose();
    this.disposables = [];
  }
}
