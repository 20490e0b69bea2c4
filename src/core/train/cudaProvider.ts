/**
 * onnxruntime-node's CUDA execution provider on linux-x64 is not in the npm package: its own
 * installer (script/install.js, run as a postinstall) downloads it from NuGet. ShapeLab's .npmrc
 * skips that download so `npm ci` works offline; `shapelab setup cuda` runs the installer on
 * request. This module knows where the files go.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The files the installer's 'cuda12' manifest writes (onnxruntime-node script/install-metadata.js). */
export const CUDA_PROVIDER_FILES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'] as const;

/** onnxruntime-node's package folder (resolved the way the runtime loads it). */
export function ortPackageDir(): string {
  return path.dirname(require.resolve('onnxruntime-node/package.json'));
}

export function ortVersion(dir = ortPackageDir()): string {
  return String(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version);
}

/** Where the native binding and the provider libraries live for this platform. */
export function ortBinDir(dir = ortPackageDir()): string {
  return path.join(dir, 'bin', 'napi-v6', process.platform, process.arch);
}

/** True when the CUDA provider libraries are in place (they load only with CUDA 12 + cuDNN 9). */
export function cudaProviderInstalled(dir = ortPackageDir()): boolean {
  return CUDA_PROVIDER_FILES.every((f) => existsSync(path.join(ortBinDir(dir), f)));
}

/** The platforms onnxruntime-node offers a downloadable CUDA provider for (install-metadata.js). */
export function cudaProviderOffered(): boolean {
  return process.platform === 'linux' && process.arch === 'x64';
}
