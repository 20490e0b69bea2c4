/** Runs `train()` in a worker thread and streams its progress (see worker.ts for why). */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Progress, TrainOptions, TrainResult } from './trainer';

export interface TrainingHandle {
  /** Ask the run to stop after the current step; it writes a checkpoint first. */
  stop(): void;
  /** Terminate the worker at once (second Ctrl-C): no checkpoint. */
  kill(): Promise<void>;
  done: Promise<TrainResult>;
}

export class TrainingFailed extends Error {
  constructor(
    message: string,
    /** `name` of the error inside the worker (e.g. RunLockedError, ResourceError). */
    readonly errorName?: string,
  ) {
    super(message);
  }
}

function workerEntry(): { file: string; execArgv: string[] } {
  // Bundled: dist/cli.js and dist/worker.js sit side by side. From sources (tests): worker.ts via tsx.
  const bundled = path.join(__dirname, 'worker.js');
  if (existsSync(bundled)) return { file: bundled, execArgv: [] };
  return { file: path.join(__dirname, 'worker.ts'), execArgv: ['--require', 'tsx/cjs'] };
}

export function startTraining(opts: Omit<TrainOptions, 'onProgress' | 'shouldStop'>, onProgress: (p: Progress) => void): TrainingHandle {
  const { file, execArgv } = workerEntry();
  const worker = new Worker(file, { workerData: opts, execArgv });
  const done = new Promise<TrainResult>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: { type: string; progress?: Progress; result?: TrainResult; message?: string; name?: string }) => {
      if (m.type === 'progress' && m.progress) onProgress(m.progress);
      else if (m.type === 'result' && m.result) {
        settled = true;
        resolve(m.result);
      } else if (m.type === 'error') {
        settled = true;
        reject(new TrainingFailed(m.message ?? 'training failed', m.name));
      }
    });
    worker.on('error', (e) => {
      if (!settled) reject(new TrainingFailed(e.message));
      settled = true;
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new TrainingFailed(`training worker exited with code ${code}`));
    });
  });
  return {
    stop: () => worker.postMessage({ type: 'stop' }),
    kill: async () => {
      await worker.terminate();
    },
    done,
  };
}
