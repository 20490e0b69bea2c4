import * as vscode from 'vscode';
import * as path from 'node:path';
import type { RunsModel } from './runsModel';
import { CompareRunVM, HostToMonitor, StudyVM, parseMonitorMessage } from '../../../webview/shared/messages';
import { RejectLog, webviewOptions } from '../webviewUtil';
import { monitorHtml, saveChart } from './monitorView';
import { readStudy } from '../logic/study';

/**
 * Runs side by side in an editor tab (issue 12 part 4): the runs' curves overlaid, and for a study
 * folder its measured final losses against N with the fit. Refreshes every 5 s while one of the
 * runs trains.
 */
export class ComparePanel {
  static readonly viewType = 'shapelab.compare';
  static current: ComparePanel | undefined;
  accepted = 0;
  rejected = 0;
  lastSaved: string[] | undefined;
  /** What was last posted (for tests). */
  lastPosted: { runs: string[]; study?: StudyVM } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private rejects: RejectLog;

  private constructor(readonly panel: vscode.WebviewPanel, private model: RunsModel, private out: vscode.OutputChannel, private ids: string[], private group: string | undefined) {
    this.rejects = new RejectLog(out, 'compare');
    panel.webview.onDidReceiveMessage((raw) => this.handle(raw));
    panel.onDidDispose(() => {
      if (this.timer) clearInterval(this.timer);
      if (ComparePanel.current === this) ComparePanel.current = undefined;
    });
    this.timer = setInterval(() => {
      if (panel.visible && this.ids.some((id) => model.summary(id)?.status === 'running')) this.post();
    }, 5000);
  }

  static show(extUri: vscode.Uri, model: RunsModel, out: vscode.OutputChannel, ids: string[], group?: string): ComparePanel {
    const title = group ? `Study: ${group}` : `Compare ${ids.length} runs`;
    const cur = ComparePanel.current;
    if (cur) {
      cur.ids = ids;
      cur.group = group;
      cur.panel.title = title;
      cur.panel.reveal(vscode.ViewColumn.Active);
      cur.post();
      return cur;
    }
    const panel = vscode.window.createWebviewPanel(ComparePanel.viewType, title, vscode.ViewColumn.Active, { ...webviewOptions(extUri), retainContextWhenHidden: true });
    panel.iconPath = vscode.Uri.joinPath(extUri, 'media', 'activity.svg');
    panel.webview.html = monitorHtml(panel.webview, extUri, 'compare', 'ShapeLab: compare runs');
    ComparePanel.current = new ComparePanel(panel, model, out, ids, group);
    return ComparePanel.current;
  }

  handle(raw: unknown): void {
    const m = this.rejects.admit(parseMonitorMessage(raw), this);
    if (!m) return;
    if (m.type === 'ready') this.post();
    else if (m.type === 'save') void saveChart(m, this.group ?? 'compare', undefined, this.out).then((f) => (this.lastSaved = f));
  }

  private post(): void {
    const runs: CompareRunVM[] = [];
    for (const id of this.ids.slice(0, 24)) {
      const d = this.model.loadRun(id);
      if (d) runs.push({ run: d.run, metrics: d.metrics, events: d.events });
    }
    let study: StudyVM | undefined;
    const groupDir = this.group ? this.groupDir(runs) : undefined;
    if (groupDir) {
      const r = readStudy(groupDir);
      if ('study' in r) study = r.study;
      else this.out.appendLine(`[compare] ${r.error}`);
    }
    this.lastPosted = { runs: runs.map((r) => r.run.id), study };
    const m: HostToMonitor = study ? { type: 'compare', runs, study } : { type: 'compare', runs };
    void this.panel.webview.postMessage(m).then(undefined, (e) => this.out.appendLine(`[compare] postMessage failed: ${e}`));
  }

  private groupDir(runs: CompareRunVM[]): string | undefined {
    const dir = runs.length ? this.model.dirOf(runs[0].run.id) : undefined;
    return dir ? path.dirname(dir) : undefined;
  }
}
