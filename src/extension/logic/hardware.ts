/**
 * GPU memory and utilisation while a run trains, from `nvidia-smi` where it is installed (NVIDIA
 * only; other platforms expose nothing comparable without a native module, so the line is
 * omitted). No `vscode` import.
 */
import { execFile } from 'node:child_process';
import type { TrainingHardwareVM } from '../../../webview/shared/messages';

export const NVIDIA_SMI_ARGS = ['--query-gpu=name,memory.used,memory.total,utilization.gpu', '--format=csv,noheader,nounits'];

/** Lines of `nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(text: string): TrainingHardwareVM['gpus'] {
  const out: TrainingHardwareVM['gpus'] = [];
  for (const line of text.split('\n')) {
    const parts = line.split(',').map((p) => p.trim());
    if (parts.length !== 4) continue;
    const [name, used, total, util] = parts;
    const n = (s: string) => (/^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN);
    if (!name || !Number.isFinite(n(used)) || !Number.isFinite(n(total))) continue;
    // "[N/A]" utilisation (some virtualised GPUs) reads as 0 rather than dropping the memory numbers.
    out.push({ name: name.slice(0, 80), memUsedMiB: n(used), memTotalMiB: n(total), utilPct: Number.isFinite(n(util)) ? n(util) : 0 });
    if (out.length >= 16) break;
  }
  return out;
}

/** GPUs as nvidia-smi reports them; undefined when it is absent or fails (then nothing is shown). */
export function queryGpus(timeoutMs = 3000): Promise<TrainingHardwareVM['gpus'] | undefined> {
  return new Promise((resolve) => {
    try {
      execFile('nvidia-smi', NVIDIA_SMI_ARGS, { timeout: timeoutMs, maxBuffer: 64 * 1024 }, (err, stdout) => {
        if (err) return resolve(undefined);
        const g = parseNvidiaSmi(String(stdout));
        resolve(g.length ? g : undefined);
      });
    } catch {
      resolve(undefined);
    }
  });
}
