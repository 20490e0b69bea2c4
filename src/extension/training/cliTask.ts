import * as vscode from 'vscode';
import * as path from 'node:path';
import { trainingEnv } from '../config';
import { spawn } from 'node:child_process';

/**
 * Runs a short CLI command (`shapelab <args>`) in a child process behind a cancellable progress
 * notification; output goes to the ShapeLab output channel. Resolves to the exit code (-1 when
 * cancelled or failed to start).
 */
export function runCli(ctx: vscode.ExtensionContext, out: vscode.OutputChannel, title: string, args: string[], cwd?: string): Promise<number> {
  const cli = path.join(ctx.extensionPath, 'bin', 'shapelab.js');
  out.appendLine(`$ shapelab ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  return Promise.resolve(
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...trainingEnv(), ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
        let cancelled = false;
        let lastErr = '';
        token.onCancellationRequested(() => {
          cancelled = true;
          child.kill('SIGINT');
          setTimeout(() => child.exitCode === null && child.kill('SIGTERM'), 5000);
        });
        const onData = (isErr: boolean) => (b: Buffer) => {
          const text = b.toString('utf8');
          out.append(text);
          const last = text.trim().split('\n').pop();
          if (last) {
            if (isErr) lastErr = last.slice(0, 300);
            progress.report({ message: last.slice(0, 120) });
          }
        };
        child.stdout.on('data', onData(false));
        child.stderr.on('data', onData(true));
        child.on('error', (e) => {
          void vscode.window.showErrorMessage(`${title}: could not start: ${e.message}`);
          resolve(-1);
        });
        child.on('exit', (code) => {
          if (cancelled) resolve(-1);
          else {
            if (code !== 0) void vscode.window.showErrorMessage(`${title} failed: ${lastErr || `exit code ${code}`}`);
            resolve(code ?? -1);
          }
        });
      }),
    ),
  );
}
