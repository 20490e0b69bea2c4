/**
 * Training runs in a child process (the CLI, `shapelab train ...`), never on the extension host's
 * thread. The CLI prints `run: <path>` as its first stdout line; the monitor then follows that
 * run folder like any other. Stop = SIGINT (the trainer writes a checkpoint and exits), then
 * SIGTERM if it has not exited after a grace period. No `vscode` import.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENGINE_RUNTIMES } from '../../core/train/runtimeChoice';

export interface TrainArgsOptions {
  cliPath: string;
  runsFolder: string;
  preset?: string;
  configFile?: string;
  ep: string;
  steps?: number;
  /** Extra `train` options. */
  extra?: string[];
  /** The shapelab.checkpointMinutes setting when the user set it (--checkpoint-minutes). */
  checkpointMinutes?: number;
}

/** `shapelab resume` arguments; `restart` starts the run over as a new attempt (the Resume command's "Start over"). */
export function resumeArgs(o: { cliPath: string; runDir: string; ep: string; restart?: boolean; checkpointMinutes?: number }): string[] {
  const args = [o.cliPath, 'resume', o.runDir];
  if (o.ep && o.ep !== 'auto') args.push('--ep', o.ep);
  if (o.checkpointMinutes !== undefined) args.push('--checkpoint-minutes', String(o.checkpointMinutes));
  if (o.restart) args.push('--restart');
  return args;
}

export function trainArgs(o: TrainArgsOptions): string[] {
  const args = [o.cliPath, 'train'];
  if (o.configFile) args.push('--config', o.configFile);
  else if (!o.extra?.includes('--preset')) args.push('--preset', o.preset ?? 'tiny');
  args.push('--out', o.runsFolder);
  if (o.ep && o.ep !== 'auto') args.push('--ep', o.ep);
  if (o.steps !== undefined) args.push('--steps', String(Math.max(1, Math.floor(o.steps))));
  if (o.extra) args.push(...o.extra);
  if (o.checkpointMinutes !== undefined) args.push('--checkpoint-minutes', String(o.checkpointMinutes));
  return args;
}

/** Parses the CLI's `run: <path>` line. */
export function parseRunLine(line: string): string | undefined {
  const m = /^run:\s+(.+?)\s*$/.exec(line);
  return m ? m[1] : undefined;
}

export class TrainProcess extends EventEmitter {
  readonly child: ChildProcess;
  runDir: string | undefined;
  exited = false;
  exitCode: number | null = null;
  private stopPromise: Promise<void> | undefined;
  /** Stop was asked for (the process may still be writing its checkpoint). */
  get stopping(): boolean {
    return this.stopPromise !== undefined;
  }
  private tail: string[] = [];
  readonly runDirPromise: Promise<string>;
  private logTimer: NodeJS.Timeout | undefined;
  private logOffset = 0;
  private partial = '';

  /**
   * `logFile`: stdout+stderr go to this file (the child is detached, so it keeps running and
   * logging through a window reload; the run folder is found again from the runs folder).
   */
  constructor(nodePath: string, args: string[], readonly logFile: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    super();
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = fs.openSync(logFile, 'a');
    this.logOffset = fs.fstatSync(fd).size;
    let resolveRun!: (d: string) => void;
    let rejectRun!: (e: Error) => void;
    this.runDirPromise = new Promise((res, rej) => {
      resolveRun = res;
      rejectRun = rej;
    });
    this.runDirPromise.catch(() => undefined);
    try {
      this.child = spawn(nodePath, args, {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env, ELECTRON_RUN_AS_NODE: '1' },
        stdio: ['ignore', fd, fd],
        detached: true,
        windowsHide: true,
      });
    } finally {
      fs.closeSync(fd);
    }
    const onLine = (l: string) => {
      this.tail.push(l);
      if (this.tail.length > 50) this.tail.shift();
      if (!this.runDir) {
        const d = parseRunLine(l);
        if (d) {
          this.runDir = d;
          resolveRun(d);
          this.emit('run', d);
        }
      }
      this.emit('line', l);
    };
    this.logTimer = setInterval(() => this.readLog(onLine), 150);
    this.child.on('error', (e) => {
      this.finish();
      rejectRun(e);
      this.emit('exit', null, null);
    });
    this.child.on('exit', (code, signal) => {
      this.readLog(onLine);
      if (this.partial) {
        onLine(this.partial);
        this.partial = '';
      }
      this.finish();
      this.exitCode = code;
      if (!this.runDir) rejectRun(new Error(this.lastError() || `trainer exited with code ${code ?? signal} before starting a run`));
      this.emit('exit', code, signal);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private finish(): void {
    this.exited = true;
    if (this.logTimer) clearInterval(this.logTimer);
    this.logTimer = undefined;
  }

  private readLog(onLine: (l: string) => void): void {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.logFile, 'r');
      const size = fs.fstatSync(fd).size;
      if (size <= this.logOffset) return;
      const n = Math.min(size - this.logOffset, 1 << 20);
      const buf = Buffer.alloc(n);
      fs.readSync(fd, buf, 0, n, this.logOffset);
      this.logOffset += n;
      this.partial += buf.toString('utf8');
      let i: number;
      while ((i = this.partial.indexOf('\n')) >= 0) {
        onLine(this.partial.slice(0, i).replace(/\r$/, ''));
        this.partial = this.partial.slice(i + 1);
      }
      if (this.partial.length > 100_000) this.partial = '';
    } catch {
      /* log vanished: nothing to read */
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  lastError(): string {
    return this.tail.filter((l) => l.trim() && !parseRunLine(l)).slice(-3).join(' ').slice(0, 500);
  }

  /** SIGINT, then SIGTERM after `graceMs`. Resolves when the process has exited. */
  stop(graceMs = 15000): Promise<void> {
    if (this.exited) return Promise.resolve();
    // A second SIGINT means "abort now" to the trainer (it would skip the checkpoint): a repeated
    // stop waits for the first one instead of signalling again.
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = new Promise((resolve) => {
      const t = setTimeout(() => {
        if (!this.exited) {
          try {
            this.child.kill('SIGTERM');
          } catch {
            /* gone */
          }
        }
      }, graceMs);
      this.child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      try {
        this.child.kill('SIGINT');
      } catch {
        /* already gone */
      }
    });
    return this.stopPromise;
  }

  /** Stop watching without stopping the process (it keeps training; the run folder remains). */
  detach(): void {
    if (this.logTimer) clearInterval(this.logTimer);
    this.logTimer = undefined;
    this.child.unref();
    this.removeAllListeners();
  }
}

/**
 * SHAPELAB_RUNTIME for a training child process (src/core/train/engine.ts runtimeFromEnv) from the
 * shapelab.webgpuRuntime setting: 'node' or 'capture' are passed on; 'auto', a missing or an
 * unknown value leave the child's default (auto, or whatever the user's environment says).
 */
export function runtimeEnv(setting: unknown): NodeJS.ProcessEnv {
  return (ENGINE_RUNTIMES as readonly unknown[]).includes(setting) && setting !== 'auto' ? { SHAPELAB_RUNTIME: setting as string } : {};
}
