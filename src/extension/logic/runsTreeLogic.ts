/**
 * What the runs tree shows and allows, without `vscode`: runs grouped by study / experiment
 * folder, which runs a comparison gets from a (multi-)selection, when Delete is refused.
 */
import type { RunSummaryVM } from '../../../webview/shared/messages';

export type TreeNode = { kind: 'group'; name: string; runs: RunSummaryVM[] } | { kind: 'run'; run: RunSummaryVM };

/** Top level: groups (in the order of their newest run) and ungrouped runs, newest first as listed. */
export function treeNodes(runs: readonly RunSummaryVM[]): TreeNode[] {
  const out: TreeNode[] = [];
  const groups = new Map<string, Extract<TreeNode, { kind: 'group' }>>();
  for (const r of runs) {
    if (!r.group) {
      out.push({ kind: 'run', run: r });
      continue;
    }
    let g = groups.get(r.group);
    if (!g) {
      g = { kind: 'group', name: r.group, runs: [] };
      groups.set(r.group, g);
      out.push(g);
    }
    g.runs.push(r);
  }
  return out;
}

/** Why a run may not be deleted now (undefined: it may, after the user confirms). */
export function deleteRefusal(run: Pick<RunSummaryVM, 'name' | 'status'>): string | undefined {
  if (run.status === 'running') return `Run ${run.name} is training: stop it before deleting it.`;
  return undefined;
}

/**
 * Run ids to compare from the clicked item and VS Code's multi-selection (which, when present,
 * includes the clicked item); a group stands for all its runs. Duplicates removed, order kept.
 */
export function comparisonIds(clicked: TreeNode | undefined, selection: readonly TreeNode[] | undefined): string[] {
  const nodes = selection && selection.length ? selection : clicked ? [clicked] : [];
  const ids: string[] = [];
  for (const n of nodes) for (const r of n.kind === 'group' ? n.runs : [n.run]) if (!ids.includes(r.id)) ids.push(r.id);
  return ids;
}
