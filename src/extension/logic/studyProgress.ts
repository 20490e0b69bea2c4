/**
 * Turns `shapelab study --json` progress lines into the palette command's notification text and
 * increments (no vscode import: unit-tested). Per run: step, run ETA; overall: percent, study ETA.
 */
import type { StudyProgress } from '../../core/study/study';

const mmss = (s: number) => (Number.isFinite(s) && s >= 0 ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}` : '--:--');

export class StudyProgressTracker {
  /** Percent reported so far (VS Code's progress takes increments). */
  private reported = 0;
  studyDir: string | undefined;
  lastError: string | undefined;
  finished: { done: number; failed: number; stopped: boolean } | undefined;

  /** Parses one stdout line; returns what to show, or undefined for lines that are not progress. */
  update(line: string): { message: string; increment: number } | undefined {
    let p: StudyProgress;
    try {
      p = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (!p || typeof p !== 'object' || typeof (p as { kind?: unknown }).kind !== 'string') return undefined;
    const to = (pct: number) => {
      const inc = Math.max(0, Math.min(100, pct) - this.reported);
      this.reported += inc;
      return inc;
    };
    switch (p.kind) {
      case 'study-start':
        this.studyDir = p.studyDir;
        return { message: `${p.runs} runs${p.reused ? ` (${p.reused} already done)` : ''}, predicted ${mmss(p.predictedSeconds)}`, increment: 0 };
      case 'run-start':
        return { message: `run ${p.index + 1}/${p.runs} ${p.id}${p.resumedFrom !== undefined ? ` (resumed at step ${p.resumedFrom})` : ''}: starting`, increment: 0 };
      case 'run-progress':
        return { message: `run ${p.index + 1}/${p.runs} ${p.id}: step ${p.step}/${p.steps}, ETA ${mmss(p.runEtaSec)} | study ${Math.round(p.fraction * 100)}%, ETA ${mmss(p.studyEtaSec)}`, increment: to(p.fraction * 100) };
      case 'run-end':
        if (p.error) this.lastError = `${p.id}: ${p.error}`;
        return { message: `run ${p.index + 1}/${p.runs} ${p.id}: ${p.status}${p.evalLoss !== undefined ? `, eval loss ${p.evalLoss.toFixed(4)}` : ''}`, increment: 0 };
      case 'study-end':
        this.finished = { done: p.done, failed: p.failed, stopped: p.stopped };
        return { message: `${p.done} done, ${p.failed} failed${p.stopped ? ' (stopped; resumable)' : ''}`, increment: to(p.stopped ? this.reported : 100) };
      default:
        return undefined;
    }
  }
}
