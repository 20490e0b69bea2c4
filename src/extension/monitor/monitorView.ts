import * as vscode from 'vscode';
import type { RunsModel } from './runsModel';
import { HostToMonitor, parseMonitorMessage } from '../../../webview/shared/messages';
import { RejectLog, webviewHtml, webviewOptions } from '../webviewUtil';

/** The sidebar webview with the live charts of the selected run. */
export class MonitorViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'shapelab.monitor';
  private view: vscode.WebviewView | undefined;
  private subs: vscode.Disposable[] = [];
  private rejects: RejectLog;
  /** Messages accepted since activation (for tests). */
  accepted = 0;
  rejected = 0;

  constructor(
    private extUri: vscode.Uri,
    private model: RunsModel,
    private out: vscode.OutputChannel,
    private onStop: (runId: string) => void,
  ) {
    this.rejects = new RejectLog(out, 'monitor');
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
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extUri);
    view.webview.html = webviewHtml(view.webview, this.extUri, {
      title: 'ShapeLab Monitor',
      script: 'monitor.js',
      styles: ['dist/webview/monitor.css', 'media/common.css', 'media/monitor.css'],
      body: '<div id="app" data-view="monitor"><p class="muted">Loading the monitor\u2026</p></div>',
    });
    view.webview.onDidReceiveMessage((raw) => this.handle(raw), undefined, this.subs);
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
    }, undefined, this.subs);
    view.onDidChangeVisibility(() => {
      if (view.visible) this.postAll();
    }, undefined, this.subs);
  }

  /** Entry point for every message from the webview: validated before anything else. */
  handle(raw: unknown): void {
    const r = parseMonitorMessage(raw);
    if (!r.ok) {
      this.rejected++;
      this.rejects.reject(r.error);
      return;
    }
    this.accepted++;
    const m = r.value;
    switch (m.type) {
      case 'ready':
        this.postAll();
        break;
      case 'selectRun':
        if (this.model.has(m.runId)) this.model.select(m.runId);
        else this.rejects.reject(`unknown run id`);
        break;
      case 'stop':
        if (this.model.has(m.runId)) this.onStop(m.runId);
        break;
    }
  }

  reveal(): void {
    this.view?.show?.(true);
  }

  private postAll(): void {
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

  private post(m: HostToMonitor): void {
    if (!this.view) return;
    void this.view.webview.postMessage(m).then(undefined, (e) => this.out.appendLine(`[monitor] postMessage failed: ${e}`));
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}
