import * as vscode from 'vscode';
import type { RunsModel } from './runsModel';
import type { RunSummaryVM } from '../../../webview/shared/messages';
import { fmt } from '../../../webview/shared/chartData';
import { TreeNode, treeNodes } from '../logic/runsTreeLogic';

const ICONS: Record<string, [string, string?]> = {
  running: ['sync~spin', 'charts.blue'],
  done: ['pass', 'charts.green'],
  stopped: ['debug-stop', 'charts.yellow'],
  failed: ['error', 'charts.red'],
  crashed: ['warning', 'charts.orange'],
  new: ['circle-outline'],
};

export class RunItem extends vscode.TreeItem {
  readonly node: TreeNode;
  constructor(readonly run: RunSummaryVM, selected: boolean) {
    super(run.name, vscode.TreeItemCollapsibleState.None);
    this.node = { kind: 'run', run };
    this.id = run.id;
    const step = run.step !== undefined ? `step ${run.step}${run.totalSteps ? `/${run.totalSteps}` : ''}` : 'no steps yet';
    const loss = run.loss !== undefined ? ` \u00b7 loss ${fmt(run.loss, 4)}` : '';
    const device = run.device ? ` \u00b7 ${run.device}` : '';
    this.description = `${run.status} \u00b7 ${step}${loss}${device}`;
    const md = new vscode.MarkdownString(undefined, false);
    md.appendMarkdown(`**${escapeMd(run.name)}**${selected ? ' (shown in the monitor)' : ''}\n\n`);
    const folder = run.folder && run.folder !== run.name ? `- folder: ${escapeMd(run.group ? `${run.group}/${run.folder}` : run.folder)}\n` : run.group ? `- study: ${escapeMd(run.group)}\n` : '';
    md.appendMarkdown(`- status: ${run.status}\n- ${step}\n- loss: ${run.loss !== undefined ? fmt(run.loss, 5) : '\u2013'}\n- device: ${escapeMd(run.device ?? 'unknown')}\n${run.model ? `- model: ${escapeMd(run.model)}\n` : ''}${folder}`);
    this.tooltip = md;
    const [icon, color] = ICONS[run.status] ?? ['circle-outline'];
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    this.contextValue = `shapelabRun.${run.status}`;
    this.command = { command: 'shapelab.openRun', title: 'Open Run', arguments: [run.id] };
  }
}

/** A study / experiment folder: its runs are its children. */
export class GroupItem extends vscode.TreeItem {
  readonly node: Extract<TreeNode, { kind: 'group' }>;
  constructor(node: Extract<TreeNode, { kind: 'group' }>, readonly study: boolean) {
    super(node.name, vscode.TreeItemCollapsibleState.Expanded);
    this.node = node;
    this.id = `group:${node.name}`;
    const running = node.runs.filter((r) => r.status === 'running').length;
    this.description = `${study ? 'study \u00b7 ' : ''}${node.runs.length} run${node.runs.length === 1 ? '' : 's'}${running ? ` \u00b7 ${running} running` : ''}`;
    this.tooltip = `${study ? 'Study' : 'Folder'} ${node.name}: ${node.runs.length} runs. "Compare Selected Runs" overlays them${study ? ' with the measured final losses against N' : ''}.`;
    this.iconPath = new vscode.ThemeIcon(study ? 'beaker' : 'folder');
    this.contextValue = study ? 'shapelabGroup.study' : 'shapelabGroup';
  }
}

export type TreeEntry = RunItem | GroupItem;

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}

export class RunsTreeProvider implements vscode.TreeDataProvider<TreeEntry>, vscode.Disposable {
  private readonly _onDidChange = new vscode.EventEmitter<TreeEntry | undefined | void>();
  readonly onDidChangeTreeData = this._onDidChange.event;
  private sub: vscode.Disposable;

  constructor(private model: RunsModel, private isStudy: (group: string) => boolean) {
    this.sub = vscode.Disposable.from(model.onDidChangeList(() => this._onDidChange.fire()), model.onDidSelect(() => this._onDidChange.fire()));
  }

  getTreeItem(e: TreeEntry): vscode.TreeItem {
    return e;
  }

  getChildren(e?: TreeEntry): TreeEntry[] {
    const sel = this.model.selectedId;
    if (e instanceof GroupItem) return e.node.runs.map((r) => new RunItem(r, r.id === sel));
    if (e) return [];
    return treeNodes(this.model.summaries()).map((n) => (n.kind === 'group' ? new GroupItem(n, this.isStudy(n.name)) : new RunItem(n.run, n.run.id === sel)));
  }

  getParent(e: TreeEntry): TreeEntry | undefined {
    if (e instanceof RunItem && e.run.group) {
      const runs = this.model.summaries().filter((r) => r.group === e.run.group);
      return new GroupItem({ kind: 'group', name: e.run.group, runs }, this.isStudy(e.run.group));
    }
    return undefined;
  }

  dispose(): void {
    this.sub.dispose();
    this._onDidChange.dispose();
  }
}
