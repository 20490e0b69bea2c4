/**
 * A study folder for the comparison view, read by the core's loader (src/core/study/loadStudy.ts:
 * study.json and fit.json as `shapelab study` and `shapelab fit` wrote them). The points are the
 * fit's own (the runs it used, N as the planner counts params, D the trained tokens), so the drawn
 * curve and the points agree; before a fit, every finished run's final eval loss. No `vscode` import.
 */
import * as path from 'node:path';
import { loadStudy } from '../../core/study/loadStudy';
import type { StudyVM } from '../../../webview/shared/messages';

/** The study view of DIR, or an error message when DIR is not a readable study (no, or a broken, study.json). */
export function readStudy(dir: string): { study: StudyVM } | { error: string } {
  let v: ReturnType<typeof loadStudy>;
  try {
    // the comparison draws the runs' own curves; of the loader's curves only one point per run is needed
    v = loadStudy(dir, { maxCurvePoints: 1 });
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  }
  const name = (v.name || path.basename(dir)).slice(0, 120);
  if (v.fit) {
    // loadStudy accepts a fit only with a valid law (isLaw)
    const { E, A, alpha, B, beta } = v.fit.law;
    const points = v.fit.points.filter((p) => p.N > 0 && p.D > 0 && Number.isFinite(p.loss)).map((p) => ({ run: p.run, N: p.N, D: p.D, loss: p.loss }));
    return { study: { name, points, law: { E, A, alpha, B, beta } } };
  }
  const points = v.runs.filter((r) => r.status === 'done' && r.evalLoss !== null).map((r) => ({ run: r.label, N: r.params, D: r.tokens, loss: r.evalLoss as number }));
  return { study: { name, points } };
}
