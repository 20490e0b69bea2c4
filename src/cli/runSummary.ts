/**
 * The last line of a training run on the CLI: the final held-out loss in nats, the same in bits
 * per byte (byte tokenizer: one token is one byte) or per token (BPE), and what to do next.
 */
import * as path from 'node:path';
import type { TrainResult } from '../core/train/trainer';

/** nats -> bits. */
export const bits = (nats: number) => nats / Math.LN2;

export function finalLine(r: Pick<TrainResult, 'runDir' | 'reason' | 'step' | 'evalLoss'>, tokenizer: string): string {
  const q = (s: string) => (/^[\w./-]+$/.test(s) ? s : JSON.stringify(s));
  const dir = q(r.runDir);
  const unit = tokenizer === 'byte' ? 'bits/byte' : 'bits/token';
  const loss = r.evalLoss === undefined || !Number.isFinite(r.evalLoss) ? 'no eval loss' : `eval loss ${r.evalLoss.toFixed(4)} nats = ${bits(r.evalLoss).toFixed(3)} ${unit}`;
  const what = r.reason === 'done' ? 'done' : r.reason === 'stopped' ? 'stopped' : 'stopped on a non-finite loss';
  const next = [
    'open it in the monitor (VS Code: ShapeLab runs view)',
    `shapelab export torch --config ${q(path.join(r.runDir, 'config.json'))} --out cluster/`,
    `shapelab resume ${dir}${r.reason === 'done' ? ' --steps N' : ''}`,
  ];
  return `${what} at step ${r.step}: ${loss}. Next: ${next.join('; ')}`;
}
