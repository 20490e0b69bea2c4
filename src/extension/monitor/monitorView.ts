import * as vscode from 'vscode';
import * as path from 'node:path';
import * as os from 'node:os';
import type { RunsModel } from './runsModel';
import { HostToMonitor, MonitorToHost, parseMonitorMessage } from '../../../webview/shared/messages';
import { RejectLog, webviewHtml, webviewOptions } from '../webviewUtil';
import { queryGpus } from '../logic/hardware';
import { defaultChartName, writeChartFiles } from '../logic/saveChart';

/** What the monitor's buttons do (wired in extension.ts). */
export interface MonitorActions {
  stop(runId: string): void;
  resume(runId: string): void;
  openInEditor(runId: string): void;
}

type SaveMsg = Extract<MonitorToHost, { type: 'save' }>;

/** Save dialog, then the chart's files (image + CSV beside it, or the CSV alone). */
export async function saveChart(m: SaveMsg, baseName: string, nearDir: string | undefined, out: vscode.OutputChannel): Promise<string[] | undefined> {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const dir = ws ?? nearDir ?? os.homedir();
  const filters: Record<string, string[]> = m.format === 'png' ? { 'PNG image': ['png'] } : m.format === 'svg' ? { 'SVG image': ['svg'] } : { 'CSV (plotted points)': ['csv'] };
  const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(dir, defaultChartName(baseName, m.chart, m.format))), filters, title: `Save chart "${m.chart}" as ${m.format.toUpperCase()}${m.format === 'csv' ? '' : ' (its points go to a .csv beside it)'}` });
  if (!uri) return undefined;
  try {
    const files = writeChartFiles(uri.fsPath, m.format, m.image, m.csv);
    out.appendLine(`[monitor] saved ${files.join(', ')}`);
    void vscode.window.showInformationMessage(`ShapeLab: saved ${files.map((f) => path.basename(f)).join(' and ')}`);
    return files;
  } catch (e) {
    void vscode.window.showErrorMessage(`ShapeLab: could not save the chart: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * One monitor webview (the sidebar view or an editor tab) following the runs model's selected
 * run: posts its rows as they arrive, GPU numbers while it trains, and handles its messages.
 */
export class MonitorChannel implements vscode.Disposable {
  private subs: vscode.Disposable[] = [];
  private hwTimer: NodeJS.Timeout | undefined;
  private hwBackoffUntil = 0;
  accepted = 0;
  rejected = 0;
  /** Files written by the last save (for tests). */
  lastSaved: string[] | undefined;

  constructor(
    private webview: vscode.Webview,
    private model: RunsModel,
    private out: vscode.OutputChannel,
    private actions: MonitorActions,
    private rejects: RejectLog,
    private isVisible: () => boolean,
  ) {
    this.subs.push(
      model.onDidChangeList(() => this.postRuns()),
      model.onDidChangeSelected((c) => {
        if (c.reset) this.postReset();
        else {
          const run = model.summary(c.runId);
          if (run) this.post({ type: 'append', runId: c.runId, metrics: c.metrics, events: c.events, run });
        }
      }),
    );
    webview.onDidReceiveMessage((raw) => this.handle(raw), undefined, this.subs);
    this.hwTimer = setInterval(() => void this.pollHardware(), 5000);
  }

  handle(raw: unknown): void {
    const m = this.rejects.admit(parseMonitorMessage(raw), this);
    if (!m) return;
    switch (m.type) {
      case 'ready':
        this.postAll();
        break;
      case 'selectRun':
        if (this.model.has(m.runId)) this.model.select(m.runId);
        else this.rejects.reject(`unknown run id`);
        break;
      case 'stop':
      case 'resume':
      case 'openInEditor':
        if (!this.model.has(m.runId)) this.rejects.reject(`unknown run id`);
        else if (m.type === 'stop') this.actions.stop(m.runId);
        else if (m.type === 'resume') this.actions.resume(m.runId);
        else this.actions.openInEditor(m.runId);
        break;
      case 'save': {
        const id = this.model.selectedId;
        const name = id ? this.model.summary(id)?.name ?? id : 'chart';
        void saveChart(m, name, id ? this.model.dirOf(id) : undefined, this.out).then((f) => (this.lastSaved = f));
        break;
      }
    }
  }

  postAll(): void {
    this.postRuns();
    this.postReset();
  }

  private postRuns(): void {
    this.post({ type: 'runs', runs: this.model.summaries().slice(0, 200), activeRunId: this.model.selectedId });
  }

  private postReset(): void {
    const d = this.model.selectedData();
    const attempts = d?.attempts ?? [];
    this.post({ type: 'reset', run: d?.run ?? null, metrics: d?.metrics ?? [], events: d?.events ?? [], ...(attempts.length ? { attempts } : {}) });
  }

  private async pollHardware(): Promise<void> {
    const id = this.model.selectedId;
    if (!id || !this.isVisible() || Date.now() < this.hwBackoffUntil || this.model.summary(id)?.status !== 'running') return;
    const gpus = await queryGpus();
    if (!gpus) {
      this.hwBackoffUntil = Date.now() + 60_000; // no nvidia-smi here: ask again in a minute
      return;
    }
    this.post({ type: 'hardware', runId: id, hardware: { gpus } });
  }

  private post(m: HostToMonitor): void {
    void this.webview.postMessage(m).then(undefined, (e) => this.out.appendLine(`[monitor] postMessage failed: ${e}`));
  }

  dispose(): void {
    if (this.hwTimer) clearInterval(this.hwTimer);
    for (const s of this.subs) s.dispose();
  }
}

function monitorHtml(webview: vscode.Webview, extUri: vscode.Uri, view: 'monitor' | 'monitor-tab' | 'compare', title: string): string {
  return webviewHtml(webview, extUri, {
    title,
    script: 'monitor.js',
    styles: ['dist/webview/monitor.css', 'media/common.css', 'media/monitor.css'],
    body: `<div id="app" data-view="${view}"><p class="muted">Loading\u2026</p></div>`,
  });
}

/** The sidebar webview with the live charts of the selected run. */
export class MonitorViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'shapelab.monitor';
  private view: vscode.WebviewView | undefined;
  private channel: MonitorChannel | undefined;
  private subs: vscode.Disposable[] = [];
  private rejects: RejectLog;
  private counts = { accepted: 0, rejected: 0 };

  constructor(
    private extUri: vscode.Uri,
    private model: RunsModel,
    private out: vscode.OutputChannel,
    private actions: MonitorActions,
  ) {
    this.rejects = new RejectLog(out, 'monitor');
  }

  /** Messages accepted / rejected since activation (for tests). */
  get accepted(): number {
    return this.counts.accepted + (this.channel?.accepted ?? 0);
  }
  get rejected(): number {
    return this.counts.rejected + (this.channel?.rejected ?? 0);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extUri);
    view.webview.html = monitorHtml(view.webview, this.extUri, 'monitor', 'ShapeLab Monitor');
    if (this.channel) {
      this.counts.accepted += this.channel.accepted;
      this.counts.rejected += this.channel.rejected;
      this.channel.dispose();
    }
    this.channel = new MonitorChannel(view.webview, this.model, this.out, this.actions, this.rejects, () => view.visible);
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
    }, undefined, this.subs);
    view.onDidChangeVisibility(() => {
      if (view.visible) this.channel?.postAll();
    }, undefined, this.subs);
  }

  /** Entry point for every message from the webview: validated before anything else. */
  handle(raw: unknown): void {
    if (this.channel) return this.channel.handle(raw);
    this.rejects.admit(parseMonitorMessage(raw), this.counts);
  }

  reveal(): void {
    this.view?.show?.(true);
  }

  dispose(): void {
    this.channel?.dispose();
    for (const s of this.subs) s.dispose();
  }
}

/** "Open in Editor": the same monitor at full size in an editor tab (one tab, following the selected run). */
export class MonitorPanel {
  static readonly viewType = 'shapelab.monitorTab';
  static current: MonitorPanel | undefined;
  readonly channel: MonitorChannel;

  private constructor(readonly panel: vscode.WebviewPanel, model: RunsModel, out: vscode.OutputChannel, actions: MonitorActions) {
    this.channel = new MonitorChannel(panel.webview, model, out, actions, new RejectLog(out, 'monitor-tab'), () => panel.visible);
    const title = () => {
      const id = model.selectedId;
      panel.title = `Monitor: ${id ? model.summary(id)?.name ?? id : 'no run'}`;
    };
    title();
    const sub = model.onDidSelect(title);
    panel.onDidDispose(() => {
      sub.dispose();
      this.channel.dispose();
      if (MonitorPanel.current === this) MonitorPanel.current = undefined;
    });
    panel.onDidChangeViewState(() => {
      if (panel.visible) this.channel.postAll();
    });
  }

  static show(extUri: vscode.Uri, model: RunsModel, out: vscode.OutputChannel, actions: MonitorActions, runId?: string): MonitorPanel {
    if (runId && model.has(runId) && model.selectedId !== runId) model.select(runId);
    if (MonitorPanel.current) {
      MonitorPanel.current.panel.reveal(vscode.ViewColumn.Active);
      return MonitorPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(MonitorPanel.viewType, 'Monitor', vscode.ViewColumn.Active, { ...webviewOptions(extUri), retainContextWhenHidden: true });
    panel.iconPath = vscode.Uri.joinPath(extUri, 'media', 'activity.svg');
    panel.webview.html = monitorHtml(panel.webview, extUri, 'monitor-tab', 'ShapeLab Monitor');
    MonitorPanel.current = new MonitorPanel(panel, model, out, actions);
    return MonitorPanel.current;
  }
}

export { monitorHtml };
