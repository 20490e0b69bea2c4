import * as vscode from 'vscode';
import type { RunsModel } from './runsModel';
import type { RunSummaryVM } from '../../../webview/shared/messages';
import { fmt } from '../../../webview/shared/chartData';

const ICONS: Record<string, [string, string?]> = {
  running: ['sync~spin', 'charts.blue'],
  done: ['pass', 'charts.green'],
  stopped: ['debug-stop', 'charts.yellow'],
  failed: ['error', 'charts.red'],
  crashed: ['warning', 'charts.orange'],
  new: ['circle-outline'],
};

export class RunItem extends vscode.TreeItem {
  constructor(readonly run: RunSummaryVM, selected: boolean) {
    super(run.name, vscode.TreeItemCollapsibleState.None);
    this.id = run.id;
    const step = run.step !== undefined ? `step ${run.step}${run.totalSteps ? `/${run.totalSteps}` : ''}` : 'no steps yet';
    const loss = run.loss !== undefined ? ` \u00b7 loss ${fmt(run.loss, 4)}` : '';
    const device = run.device ? ` \u00b7 ${run.device}` : '';
    this.description = `${run.status} \u00b7 ${step}${loss}${device}`;
    const md = new vscode.MarkdownString(undefined, false);
    md.appendMarkdown(`**${escapeMd(run.name)}**${selected ? ' (shown in the monitor)' : ''}\n\n`);
    md.appendMarkdown(`- status: ${run.status}\n- ${step}\n- loss: ${run.loss !== undefined ? fmt(run.loss, 5) : '\u2013'}\n- device: ${escapeMd(run.device ?? 'unknown')}\n${run.model ? `- model: ${escapeMd(run.model)}\n` : ''}`);
    this.tooltip = md;
    const [icon, color] = ICONS[run.status] ?? ['circle-outline'];
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    this.contextValue = `shapelabRun.${run.status}`;
    this.command = { command: 'shapelab.openRun', title: 'Open Run', arguments: [run.id] };
  }
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly _onDidChange = new vscode.EventEmitter<RunItem | undefined | void>();
  readonly onDidChangeTreeData = this._onDidChange.event;
  private sub: vscode.Disposable;

  constructor(private model: RunsModel) {
    this.sub = vscode.Disposable.from(model.onDidChangeList(() => this._onDidChange.fire()), model.onDidSelect(() => this._onDidChange.fire()));
  }

  getTreeItem(e: RunItem): vscode.TreeItem {
    return e;
  }

  getChildren(e?: RunItem): RunItem[] {
    if (e) return [];
    return this.model.summaries().map((r) => new RunItem(r, r.id === this.model.selectedId));
  }

  dispose(): void {
    this.sub.dispose();
    this._onDidChange.dispose();
  }
}
