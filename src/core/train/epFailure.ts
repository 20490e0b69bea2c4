/**
 * Plain one-line explanations of execution-provider failures. onnxruntime and Dawn report them
 * with C++ source paths and lambda signatures (e.g. "/onnxruntime_src/.../webgpu_context.cc:136
 * ...RequestAdapterStatus::Success was false"); a user needs what is missing and what to do. The raw
 * text is kept in `detail` for --verbose.
 */
import { constants } from 'node:os';

export type EpFailureKind =
  | 'no-vulkan-loader'
  | 'no-adapter'
  | 'cuda-provider-missing'
  | 'cuda-libs-missing'
  | 'other';

export interface EpFailure {
  kind: EpFailureKind;
  /** One line for the user: what is missing and what to do. */
  message: string;
  /** onnxruntime's own text (shown under --verbose only). */
  detail: string;
}

/** The Vulkan loader Dawn opens on Linux (dlopen by this name; dawn/native/vulkan/BackendVk.cpp). */
export const VULKAN_LOADER = 'libvulkan.so.1';

/**
 * Whether the Vulkan loader can be opened, by the same dlopen search Dawn uses. process.dlopen of a
 * plain library fails with "did not self-register" after opening it; any other error means it
 * could not be opened (not found, broken file).
 */
export function vulkanLoaderProblem(name = VULKAN_LOADER): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, name, constants.dlopen.RTLD_LAZY);
    return undefined;
  } catch (e) {
    const msg = String((e as Error).message ?? e);
    if (/self-register/i.test(msg)) return undefined;
    return /No such file/i.test(msg) ? 'not found' : msg.replace(/^.*?: /, '').split('\n')[0];
  }
}

const firstLine = (s: string) => (s.split('\n').find((l) => l.trim()) ?? s).trim();

/** Why the WebGPU EP could not start, for `raw` (onnxruntime's message) on this machine. */
export function explainWebgpuFailure(raw: string, loaderProblem: string | undefined = vulkanLoaderProblem()): EpFailure {
  const detail = firstLine(raw);
  if (loaderProblem !== undefined) {
    return {
      kind: 'no-vulkan-loader',
      message: `no Vulkan loader (${VULKAN_LOADER}: ${loaderProblem}): install it (Debian/Ubuntu: apt install libvulkan1) to train on the GPU`,
      detail,
    };
  }
  if (/adapter|RequestAdapter|vkCreateInstance|Vulkan/i.test(raw)) {
    return {
      kind: 'no-adapter',
      message: 'no WebGPU adapter: the Vulkan loader found no GPU driver (install your GPU vendor\'s Vulkan driver; `vulkaninfo --summary` lists what Vulkan sees)',
      detail,
    };
  }
  return { kind: 'other', message: `the WebGPU execution provider failed to start (run with --verbose for onnxruntime's message)`, detail };
}

/** Why the CUDA EP could not start. */
export function explainCudaFailure(raw: string, providerInstalled: boolean): EpFailure {
  const detail = firstLine(raw);
  if (!providerInstalled) {
    return {
      kind: 'cuda-provider-missing',
      message: "onnxruntime-node's CUDA provider is not installed: run `shapelab setup cuda` (needs network once, CUDA 12 and cuDNN 9)",
      detail,
    };
  }
  const lib = /(libcu[a-z_]+\.so[.\d]*|libcudnn[a-z_]*\.so[.\d]*|libnvinfer[a-z_]*\.so[.\d]*)/i.exec(raw)?.[1];
  if (lib || /cuda|cudnn|shared library/i.test(raw)) {
    return {
      kind: 'cuda-libs-missing',
      message: `the CUDA provider is installed but ${lib ? `${lib} was not found` : 'the CUDA 12 / cuDNN 9 libraries could not be loaded'}: install CUDA 12 and cuDNN 9 (and an NVIDIA driver), or use --ep webgpu/cpu`,
      detail,
    };
  }
  return { kind: 'other', message: "the CUDA execution provider failed to start (run with --verbose for onnxruntime's message)", detail };
}

/** Text an EP failure shows: the plain line, plus the raw one when verbose. */
export function describeEpFailure(f: EpFailure, verbose = isVerbose()): string {
  return verbose ? `${f.message} [onnxruntime: ${f.detail}]` : f.message;
}

/** --verbose sets SHAPELAB_VERBOSE=1 for the whole process (worker threads and children included). */
export function isVerbose(): boolean {
  return process.env.SHAPELAB_VERBOSE === '1';
}
