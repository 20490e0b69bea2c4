import * as vscode from 'vscode';
import * as path from 'node:path';
import { RunFollower, listRunDirs } from '../logic/runFolder';
import type { AttemptSeries, MetricPoint, RunEvent, RunSummaryVM } from '../../../webview/shared/messages';

export interface RunChange {
  runId: string;
  reset: boolean;
  metrics: MetricPoint[];
  events: RunEvent[];
}

/**
 * Everything the UI knows about runs in the runs folder. Polls (file watchers are unreliable on
 * network and container file systems): the list every 2 s, the selected run every 0.5 s. Runs
 * started from the CLI or before a window reload show up the same way as ours.
 */
export class RunsModel implements vscode.Disposable {
  private followers = new Map<string, RunFollower>();
  private selected: RunFollower | undefined;
  private order: string[] = [];
  private listTimer: NodeJS.Timeout | undefined;
  private selTimer: NodeJS.Timeout | undefined;
  private readonly _onDidChangeList = new vscode.EventEmitter<void>();
  readonly onDidChangeList = this._onDidChangeList.event;
  private readonly _onDidChangeSelected = new vscode.EventEmitter<RunChange>();
  readonly onDidChangeSelected = this._onDidChangeSelected.event;
  private readonly _onDidSelect = new vscode.EventEmitter<string | undefined>();
  readonly onDidSelect = this._onDidSelect.event;
  private lastListKey = '';

  constructor(private getRoot: () => string) {}

  start(): void {
    this.refresh();
    this.listTimer = setInterval(() => this.refresh(), 2000);
    this.selTimer = setInterval(() => this.pollSelected(), 500);
  }

  get root(): string {
    return this.getRoot();
  }

  /** Re-list the runs folder and update light-weight summaries. */
  refresh(): void {
    const root = this.getRoot();
    const entries = listRunDirs(root);
    const seen = new Set<string>();
    for (const e of entries) {
      seen.add(e.id);
      let f = this.followers.get(e.id);
      if (!f || f.dir !== e.dir) {
        f = new RunFollower(e.id, e.dir);
        this.followers.set(e.id, f);
      }
      f.group = e.group;
      if (f !== this.selected) {
        f.poll();
        // Non-selected runs keep only their tail (enough for the tree's step/loss).
        if (f.metrics.length > 8) f.metrics = f.metrics.slice(-8);
      }
    }
    for (const id of [...this.followers.keys()]) if (!seen.has(id) && this.followers.get(id) !== this.selected) this.followers.delete(id);
    this.order = entries.map((e) => e.id);
    const key = JSON.stringify(this.summaries());
    if (key !== this.lastListKey) {
      this.lastListKey = key;
      this._onDidChangeList.fire();
    }
  }

  summaries(): RunSummaryVM[] {
    return this.order.map((id) => this.followers.get(id)?.summary()).filter((s): s is RunSummaryVM => !!s);
  }

  summary(id: string): RunSummaryVM | undefined {
    return this.followers.get(id)?.summary();
  }

  has(id: string): boolean {
    return this.followers.has(id);
  }

  dirOf(id: string): string | undefined {
    return this.followers.get(id)?.dir;
  }

  /** Every row and event of a run, read afresh (for a comparison; the tree keeps only tails). */
  loadRun(id: string): { run: RunSummaryVM; metrics: MetricPoint[]; events: RunEvent[] } | undefined {
    const known = this.followers.get(id);
    if (!known) return undefined;
    if (known === this.selected) return { run: known.summary(), metrics: known.metrics, events: known.events };
    const f = new RunFollower(id, known.dir);
    f.group = known.group;
    f.poll();
    return { run: f.summary(), metrics: f.metrics, events: f.events };
  }

  /** Runs listed in a group (study / experiment folder). */
  groupRuns(group: string): string[] {
    return this.order.filter((id) => this.followers.get(id)?.group === group);
  }

  get selectedId(): string | undefined {
    return this.selected?.id;
  }

  /** Selects a run of the runs folder by id (ids come from our own listing, never from a webview path). */
  select(id: string | undefined): boolean {
    if (id === undefined) {
      this.selected = undefined;
      this._onDidSelect.fire(undefined);
      return true;
    }
    if (!this.followers.has(id)) this.refresh();
    const old = this.followers.get(id);
    if (!old) return false;
    return this.selectDir(id, old.dir);
  }

  /** Selects a folder the user chose explicitly (Open Run ... from a dialog) or one we started. */
  selectDir(id: string, dir: string): boolean {
    const abs = path.resolve(dir);
    // A run we already list (e.g. one in a study folder, listed as "study:run"): select that one.
    if (!this.followers.has(id)) for (const [knownId, known] of this.followers) if (known.dir === abs) return this.selectDir(knownId, abs);
    const f = new RunFollower(id, abs);
    f.group = this.followers.get(id)?.group;
    this.followers.set(id, f);
    if (!this.order.includes(id)) this.order.unshift(id);
    this.selected = f;
    f.poll();
    this._onDidSelect.fire(id);
    this._onDidChangeSelected.fire({ runId: id, reset: true, metrics: f.metrics, events: f.events });
    this._onDidChangeList.fire();
    return true;
  }

  selectedData(): { run: RunSummaryVM; metrics: MetricPoint[]; events: RunEvent[]; attempts: AttemptSeries[] } | undefined {
    const f = this.selected;
    if (!f) return undefined;
    return { run: f.summary(), metrics: f.metrics, events: f.events, attempts: f.attempts() };
  }

  private pollSelected(): void {
    const f = this.selected;
    if (!f) return;
    const before = f.summary().status;
    const r = f.poll();
    if (r.reset) this._onDidChangeSelected.fire({ runId: f.id, reset: true, metrics: f.metrics, events: f.events });
    else if (r.metrics.length || r.events.length) this._onDidChangeSelected.fire({ runId: f.id, reset: false, metrics: r.metrics, events: r.events });
    if (r.metrics.length || r.events.length || f.summary().status !== before) {
      const key = JSON.stringify(this.summaries());
      if (key !== this.lastListKey) {
        this.lastListKey = key;
        this._onDidChangeList.fire();
      }
    }
  }

  dispose(): void {
    if (this.listTimer) clearInterval(this.listTimer);
    if (this.selTimer) clearInterval(this.selTimer);
    this._onDidChangeList.dispose();
    this._onDidChangeSelected.dispose();
    this._onDidSelect.dispose();
  }
}
