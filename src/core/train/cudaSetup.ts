/**
 * `shapelab setup cuda`: runs onnxruntime-node's own installer (script/install.js, the package's
 * postinstall that ShapeLab's .npmrc skips) with --onnxruntime-node-install=cuda12, which downloads
 * the CUDA provider of the installed onnxruntime-node version from NuGet, then probes the CUDA EP,
 * and says in one line what happened.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { cudaProviderInstalled, cudaProviderOffered, ortPackageDir, ortVersion } from './cudaProvider';
import type { EpFailure } from './epFailure';

export type CudaSetupOutcome =
  /** Downloaded now, and a CUDA session starts. */
  | 'installed'
  /** The provider was already there, and a CUDA session starts. */
  | 'already-there'
  /** The download could not reach NuGet (offline, DNS, proxy refused). */
  | 'no-network'
  /** The provider is in place but CUDA 12 / cuDNN 9 (or the driver) cannot be loaded. */
  | 'cuda-libs-missing'
  /** onnxruntime-node has no CUDA provider for this platform (only linux-x64 downloads one). */
  | 'not-offered'
  /** The installer failed for another reason (its last line is in `detail`). */
  | 'installer-failed';

export interface CudaSetupResult {
  outcome: CudaSetupOutcome;
  /** One line for the user. */
  message: string;
  ortVersion: string;
  /** The installer's output, or onnxruntime's text for a failed probe. */
  detail?: string;
}

/** Network failures as Node reports them (the installer uses https + global-agent for proxies). */
const NETWORK = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|socket hang up|getaddrinfo)\b/;

/** The outcome of one installer run from its exit code and output (exported for tests). */
export function classifyInstaller(code: number | null, output: string): 'ok' | 'no-network' | 'failed' {
  if (code === 0) return 'ok';
  return NETWORK.test(output) ? 'no-network' : 'failed';
}

/** The installer's error line (its "Error: ..." line, else the last non-empty one). */
function errorLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^Error: /.test(l)) ?? lines.at(-1) ?? '(no output)';
}

export function runInstaller(pkgDir: string, timeoutMs = 15 * 60_000): Promise<{ code: number | null; output: string }> {
  const script = path.join(pkgDir, 'script', 'install.js');
  if (!existsSync(script)) return Promise.resolve({ code: -1, output: `Error: ${script} is missing (this installation ships without onnxruntime-node's installer)` });
  // The flag must win over the project's skip: the installer reads ONNXRUNTIME_NODE_INSTALL and
  // npm_config_onnxruntime_node_install (npm sets it from .npmrc) before its argv.
  const env: NodeJS.ProcessEnv = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' };
  for (const k of ['npm_config_onnxruntime_node_install', 'ONNXRUNTIME_NODE_INSTALL_CUDA', 'npm_config_onnxruntime_node_install_cuda']) delete env[k];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, '--onnxruntime-node-install=cuda12'], { cwd: pkgDir, env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let output = '';
    const add = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, output: `Error: ${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export interface CudaSetupDeps {
  pkgDir?: string;
  /** Probes the CUDA EP after the install (epChoice.cudaFailure). */
  probe: () => Promise<EpFailure | undefined>;
}

export async function setupCuda(deps: CudaSetupDeps): Promise<CudaSetupResult> {
  const pkgDir = deps.pkgDir ?? ortPackageDir();
  const version = ortVersion(pkgDir);
  if (!cudaProviderOffered()) {
    return { outcome: 'not-offered', ortVersion: version, message: `onnxruntime-node ${version} offers no CUDA provider for ${process.platform}-${process.arch} (only linux-x64); use --ep webgpu or cpu` };
  }
  const had = cudaProviderInstalled(pkgDir);
  let installerOutput: string | undefined;
  if (!had) {
    const r = await runInstaller(pkgDir);
    installerOutput = r.output;
    const kind = classifyInstaller(r.code, r.output);
    if (kind === 'no-network') {
      return {
        outcome: 'no-network',
        ortVersion: version,
        detail: r.output,
        message: `no network: could not download onnxruntime-node ${version}'s CUDA provider from NuGet (${errorLine(r.output).replace(/^Error: /, '')}); connect to the internet (behind a proxy: set GLOBAL_AGENT_HTTPS_PROXY, which the installer reads) and run \`shapelab setup cuda\` again`,
      };
    }
    if (kind === 'failed' || !cudaProviderInstalled(pkgDir)) {
      return { outcome: 'installer-failed', ortVersion: version, detail: r.output, message: `onnxruntime-node's installer failed: ${errorLine(r.output)}` };
    }
  }
  const fail = await deps.probe();
  const where = had ? 'already installed' : 'installed';
  if (fail) {
    return {
      outcome: 'cuda-libs-missing',
      ortVersion: version,
      detail: [installerOutput, fail.detail].filter(Boolean).join('\n'),
      message: `the CUDA provider for onnxruntime-node ${version} is ${where}, but CUDA cannot start: ${fail.message}`,
    };
  }
  return {
    outcome: had ? 'already-there' : 'installed',
    ortVersion: version,
    detail: installerOutput,
    message: `the CUDA provider for onnxruntime-node ${version} is ${where} and works: train with --ep cuda`,
  };
}
