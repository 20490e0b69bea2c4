import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { PARAMETERIZATION_IDS, ParameterizationId } from '../../webview/shared/messages';
import { runtimeEnv } from './logic/trainProcess';

export const EXECUTION_PROVIDERS = ['auto', 'webgpu', 'cpu', 'cuda'] as const;
export type ExecutionProviderPref = (typeof EXECUTION_PROVIDERS)[number];

function cfg(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('shapelab');
}

/**
 * The runs folder: the setting (with ${workspaceFolder} and ~ expanded), else <workspace>/runs,
 * else a folder in the extension's global storage. Only this folder (chosen by the user through
 * the setting, or the default) and folders the user picks in a dialog are ever read.
 */
export function runsFolder(ctx: vscode.ExtensionContext): string {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  let v = (cfg().get<string>('runsFolder') ?? '').trim();
  if (v) {
    if (v.includes('${workspaceFolder}')) {
      if (!ws) v = v.replace('${workspaceFolder}', ctx.globalStorageUri.fsPath);
      else v = v.replace('${workspaceFolder}', ws);
    }
    if (v === '~' || v.startsWith('~/')) v = path.join(os.homedir(), v.slice(1));
    if (!path.isAbsolute(v)) v = path.resolve(ws ?? ctx.globalStorageUri.fsPath, v);
    return path.normalize(v);
  }
  return ws ? path.join(ws, 'runs') : path.join(ctx.globalStorageUri.fsPath, 'runs');
}

export function defaultGpu(): string {
  return (cfg().get<string>('defaultGpu') ?? '').slice(0, 100);
}

export function executionProvider(): ExecutionProviderPref {
  const v = cfg().get<string>('executionProvider') ?? 'auto';
  return (EXECUTION_PROVIDERS as readonly string[]).includes(v) ? (v as ExecutionProviderPref) : 'auto';
}

/** Environment for a training child process from the shapelab.webgpuRuntime setting (runtimeEnv). */
export function trainingEnv(): NodeJS.ProcessEnv {
  return runtimeEnv(cfg().get<unknown>('webgpuRuntime'));
}

export function defaultParameterization(): ParameterizationId {
  const v = cfg().get<string>('defaultParameterization') ?? 'completep';
  return (PARAMETERIZATION_IDS as readonly string[]).includes(v) ? (v as ParameterizationId) : 'completep';
}

export function proxySteps(): number {
  const v = cfg().get<number>('proxyRunSteps') ?? 200;
  return Number.isFinite(v) && v >= 1 ? Math.min(Math.floor(v), 1_000_000) : 200;
}

/**
 * The wall-time checkpoint interval, only when the user set it (user, workspace or folder
 * settings): otherwise a run config's own `checkpointMinutes` (or the trainer's default) applies.
 */
export function checkpointMinutes(): number | undefined {
  const i = cfg().inspect<number>('checkpointMinutes');
  const v = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(v, 10080) : undefined;
}

/** Raw extra hardware entries from settings (validated by the planner backend with the core's rules). */
export function extraHardwareRaw(): unknown[] {
  const raw = cfg().get<unknown>('extraHardware');
  return Array.isArray(raw) ? raw.slice(0, 100) : [];
}
