/**
 * The C API of the onnxruntime library that onnxruntime-node ships, called through koffi (a
 * maintained FFI package), so that what the 1.30 Node binding refuses becomes reachable: the
 * WebGPU EP's graph capture (enableGraphCapture) and IO binding to pre-allocated device tensors.
 * The captured training step (capturedStep.ts) is built on it; docs/engine-ffi-prototype.md
 * has the measurements that decided for it.
 *
 * OrtApi is a struct of function pointers; its order is append-only across releases (ABI promise
 * of onnxruntime_c_api.h), so the indices below, counted in the header of API version 13
 * (microsoft/onnxruntime, include/onnxruntime/core/session/onnxruntime_c_api.h), hold for 1.30.
 * Only the entries called here are declared.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Koffi from 'koffi';

/**
 * The library onnxruntime-node itself loads (its binding links it by $ORIGIN), so both share one
 * copy and one WebGPU device. SHAPELAB_ORT_LIB overrides the path.
 */
export function ortLibraryPath(): string {
  if (process.env.SHAPELAB_ORT_LIB) return process.env.SHAPELAB_ORT_LIB;
  const dir = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin/napi-v6', process.platform, process.arch);
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  const lib = names.find((n) => /^libonnxruntime\.so\.\d+$/.test(n)) ?? names.find((n) => /^libonnxruntime.*\.dylib$/.test(n)) ?? names.find((n) => n === 'onnxruntime.dll');
  if (!lib) throw new OrtError(`no onnxruntime library in ${dir}`);
  return path.join(dir, lib);
}

/** [index in OrtApi, C prototype]; every status-returning entry returns OrtStatus* (null = OK). */
const API = {
  CreateStatus: [0, 'void* CreateStatus(int code, const char* msg)'],
  GetErrorCode: [1, 'int GetErrorCode(void* status)'],
  GetErrorMessage: [2, 'const char* GetErrorMessage(void* status)'],
  CreateEnv: [3, 'void* CreateEnv(int level, const char* logid, _Out_ void** out)'],
  CreateSessionFromArray: [8, 'void* CreateSessionFromArray(void* env, const uint8_t* data, size_t len, void* opts, _Out_ void** out)'],
  Run: [9, 'void* Run(void* sess, void* runOpts, const char** inNames, void** inVals, size_t nIn, const char** outNames, size_t nOut, _Inout_ void** outVals)'],
  CreateRunOptions: [39, 'void* CreateRunOptions(_Out_ void** out)'],
  CreateSessionOptions: [10, 'void* CreateSessionOptions(_Out_ void** out)'],
  SetSessionGraphOptimizationLevel: [23, 'void* SetSessionGraphOptimizationLevel(void* opts, int level)'],
  CreateTensorAsOrtValue: [48, 'void* CreateTensorAsOrtValue(void* alloc, const int64_t* shape, size_t n, int type, _Out_ void** out)'],
  CreateTensorWithDataAsOrtValue: [49, 'void* CreateTensorWithDataAsOrtValue(void* info, void* data, size_t bytes, const int64_t* shape, size_t n, int type, _Out_ void** out)'],
  GetTensorMutableData: [51, 'void* GetTensorMutableData(void* value, _Out_ void** out)'],
  CreateMemoryInfo: [68, 'void* CreateMemoryInfo(const char* name, int allocType, int id, int memType, _Out_ void** out)'],
  CreateCpuMemoryInfo: [69, 'void* CreateCpuMemoryInfo(int allocType, int memType, _Out_ void** out)'],
  ReleaseEnv: [92, 'void ReleaseEnv(void* p)'],
  ReleaseStatus: [93, 'void ReleaseStatus(void* p)'],
  ReleaseMemoryInfo: [94, 'void ReleaseMemoryInfo(void* p)'],
  ReleaseSession: [95, 'void ReleaseSession(void* p)'],
  ReleaseValue: [96, 'void ReleaseValue(void* p)'],
  ReleaseRunOptions: [97, 'void ReleaseRunOptions(void* p)'],
  ReleaseSessionOptions: [100, 'void ReleaseSessionOptions(void* p)'],
  GetAvailableProviders: [125, 'void* GetAvailableProviders(_Out_ void** out, _Out_ int* n)'],
  AddSessionConfigEntry: [130, 'void* AddSessionConfigEntry(void* opts, const char* key, const char* value)'],
  CreateAllocator: [131, 'void* CreateAllocator(void* sess, void* info, _Out_ void** out)'],
  ReleaseAllocator: [132, 'void ReleaseAllocator(void* p)'],
  RunWithBinding: [133, 'void* RunWithBinding(void* sess, void* runOpts, void* binding)'],
  CreateIoBinding: [134, 'void* CreateIoBinding(void* sess, _Out_ void** out)'],
  ReleaseIoBinding: [135, 'void ReleaseIoBinding(void* p)'],
  BindInput: [136, 'void* BindInput(void* binding, const char* name, void* value)'],
  BindOutput: [137, 'void* BindOutput(void* binding, const char* name, void* value)'],
  AddRunConfigEntry: [165, 'void* AddRunConfigEntry(void* runOpts, const char* key, const char* value)'],
  SynchronizeBoundOutputs: [203, 'void* SynchronizeBoundOutputs(void* binding)'],
  SessionOptionsAppendExecutionProvider: [216, 'void* SessionOptionsAppendExecutionProvider(void* opts, const char* name, const char** keys, const char** values, size_t n)'],
} as const;
type Name = keyof typeof API;

export const FLOAT = 1; // ONNXTensorElementDataType
/** ONNXTensorElementDataType of the graph builder's dtypes. */
export const ELEM = { float32: 1, int32: 6, int64: 7, bool: 9 } as const;
const KOFFI_ELEM = { float32: 'float', int32: 'int32_t', int64: 'int64_t', bool: 'uint8_t' } as const;
const BYTES = { float32: 4, int32: 4, int64: 8, bool: 1 } as const;
export type Dtype = keyof typeof ELEM;
const OrtDeviceAllocator = 0, OrtMemTypeDefault = 0;
/** The WebGPU EP's device memory name (onnxruntime core/framework/allocator.h: WEBGPU_BUFFER). */
export const WEBGPU_BUFFER = 'WebGPU_Buffer';

export class OrtError extends Error {
  override name = 'OrtError';
}

export interface OrtFfi {
  version: string;
  apiVersion: number;
  f: Record<Name, (...a: unknown[]) => unknown>;
  check(status: unknown, what: string): void;
}

let koffi: typeof Koffi;
let loaded: OrtFfi | undefined;
/**
 * Loads koffi and the library once (a second dlopen of the same path returns the same handle).
 * koffi is required here, not imported at the top, so a missing or broken native module is an
 * OrtError the caller can fall back from.
 */
export function loadOrt(apiVersion = 30): OrtFfi {
  if (loaded) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    koffi ??= require('koffi') as typeof Koffi;
  } catch (e) {
    throw new OrtError(`koffi (the FFI package) does not load: ${(e as Error).message}`);
  }
  const file = ortLibraryPath();
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(file);
  } catch (e) {
    throw new OrtError(`cannot load the onnxruntime library ${file}: ${(e as Error).message}`);
  }
  const base = lib.func('void* OrtGetApiBase()')();
  // OrtApiBase = { GetApi(uint32), GetVersionString() }
  const getApi = koffi.decode(koffi.decode(base, 0, 'void*'), koffi.proto('void* GetApi(uint32_t v)')) as (v: number) => unknown;
  const getVersion = koffi.decode(koffi.decode(base, 8, 'void*'), koffi.proto('const char* GetVersionString()')) as () => string;
  const version = getVersion();
  const api = getApi(apiVersion);
  if (!api) throw new OrtError(`GetApi(${apiVersion}) returned null: library ${version} does not serve that API version`);
  const f = {} as OrtFfi['f'];
  for (const [name, [idx, decl]] of Object.entries(API)) f[name as Name] = koffi.decode(koffi.decode(api, idx * 8, 'void*'), koffi.proto(decl)) as (...a: unknown[]) => unknown;
  const check = (status: unknown, what: string) => {
    if (!status) return;
    const msg = f.GetErrorMessage(status) as string, code = f.GetErrorCode(status) as number;
    f.ReleaseStatus(status);
    throw new OrtError(`${what}: [code ${code}] ${msg}`);
  };
  loaded = { version, apiVersion, f, check };
  return loaded;
}

function out(o: OrtFfi, fn: Name, what: string, ...args: unknown[]): unknown {
  const p: unknown[] = [null];
  o.check(o.f[fn](...args, p), what);
  return p[0];
}

export class FfiEnv {
  readonly env: unknown;
  readonly cpuInfo: unknown;
  constructor(readonly o = loadOrt(), logLevel = 3) {
    this.env = out(o, 'CreateEnv', 'CreateEnv', logLevel, 'shapelab-ffi');
    this.cpuInfo = out(o, 'CreateCpuMemoryInfo', 'CreateCpuMemoryInfo', OrtDeviceAllocator, OrtMemTypeDefault);
  }
  providers(): string[] {
    const n = [0];
    const p: unknown[] = [null];
    this.o.check(this.o.f.GetAvailableProviders(p, n), 'GetAvailableProviders');
    return koffi.decode(p[0], 'const char*', n[0]) as string[];
  }
  /** ep 'webgpu' appends the WebGPU EP through the generic entry with the given provider options. */
  session(model: Uint8Array, ep: 'cpu' | 'webgpu', epOptions: Record<string, string> = {}, config: Record<string, string> = {}): FfiSession {
    const o = this.o;
    const opts = out(o, 'CreateSessionOptions', 'CreateSessionOptions');
    try {
      for (const [k, v] of Object.entries(config)) o.check(o.f.AddSessionConfigEntry(opts, k, v), `AddSessionConfigEntry ${k}`);
      if (ep === 'webgpu') {
        const keys = Object.keys(epOptions), vals = keys.map((k) => epOptions[k]);
        o.check(o.f.SessionOptionsAppendExecutionProvider(opts, 'WebGPU', keys, vals, keys.length), 'SessionOptionsAppendExecutionProvider(WebGPU)');
      }
      const sess = out(o, 'CreateSessionFromArray', 'CreateSessionFromArray', this.env, model, model.byteLength, opts);
      return new FfiSession(this, sess);
    } finally {
      o.f.ReleaseSessionOptions(opts);
    }
  }
  /**
   * A CPU tensor over native memory from koffi.alloc, with a Float32Array view on it. A JS typed
   * array passed as a pointer is only valid during that one call (koffi's "transient pointers"):
   * onnxruntime keeps the pointer in the OrtValue, so staging memory must not move.
   */
  hostTensor(shape: number[]): { value: unknown; data: Float32Array; mem: unknown } {
    const t = this.hostTensorOf(shape, 'float32');
    return { ...t, data: new Float32Array(t.bytes) };
  }
  hostTensorOf(shape: number[], dtype: Dtype): { value: unknown; bytes: ArrayBuffer; mem: unknown } {
    const n = shape.reduce((a, b) => a * b, 1);
    const mem = koffi.alloc(KOFFI_ELEM[dtype], Math.max(n, 1));
    const bytes = koffi.view(mem, n * BYTES[dtype]);
    const value = out(this.o, 'CreateTensorWithDataAsOrtValue', 'CreateTensorWithDataAsOrtValue', this.cpuInfo, mem, n * BYTES[dtype], shape.map(BigInt), shape.length, ELEM[dtype]);
    return { value, bytes, mem };
  }
  /** Float data of a CPU tensor (copied). */
  read(value: unknown, n: number): Float32Array {
    const p = out(this.o, 'GetTensorMutableData', 'GetTensorMutableData', value);
    return new Float32Array(koffi.decode(p, 'float', n) as number[]);
  }
  release(v: unknown) {
    if (v) this.o.f.ReleaseValue(v);
  }
  /** Releases a host tensor from hostTensor/hostTensorOf and frees its native memory. */
  freeHost(t: { value: unknown; mem: unknown }) {
    this.release(t.value);
    koffi.free(t.mem);
  }
}

let shared: FfiEnv | undefined;
/** The process's one FfiEnv (onnxruntime has one environment per process). */
export function ffiEnv(): FfiEnv {
  shared ??= new FfiEnv(loadOrt());
  return shared;
}

export class FfiSession {
  constructor(readonly env: FfiEnv, readonly sess: unknown) {}
  /** Plain Run: CPU inputs, outputs allocated by onnxruntime on the CPU (caller releases them). */
  run(inputs: Record<string, unknown>, outputs: string[]): unknown[] {
    const o = this.env.o;
    const names = Object.keys(inputs);
    const outs: unknown[] = outputs.map(() => null);
    o.check(o.f.Run(this.sess, null, names, names.map((n) => inputs[n]), names.length, outputs, outputs.length, outs), 'Run');
    return outs;
  }
  /** An allocator on the session's WebGPU device (tensors from it live in GPU buffers). */
  webgpuAllocator(): unknown {
    const o = this.env.o;
    const info = out(o, 'CreateMemoryInfo', `CreateMemoryInfo(${WEBGPU_BUFFER})`, WEBGPU_BUFFER, OrtDeviceAllocator, 0, OrtMemTypeDefault);
    try {
      return out(o, 'CreateAllocator', `CreateAllocator(${WEBGPU_BUFFER})`, this.sess, info);
    } finally {
      o.f.ReleaseMemoryInfo(info);
    }
  }
  deviceTensor(alloc: unknown, shape: number[], dtype: Dtype = 'float32'): unknown {
    return out(this.env.o, 'CreateTensorAsOrtValue', 'CreateTensorAsOrtValue(WebGPU)', alloc, shape.map(BigInt), shape.length, ELEM[dtype]);
  }
  binding(inputs: Record<string, unknown>, outputs: Record<string, unknown>): unknown {
    const o = this.env.o;
    const b = out(o, 'CreateIoBinding', 'CreateIoBinding', this.sess);
    for (const [n, v] of Object.entries(inputs)) o.check(o.f.BindInput(b, n, v), `BindInput ${n}`);
    for (const [n, v] of Object.entries(outputs)) o.check(o.f.BindOutput(b, n, v), `BindOutput ${n}`);
    return b;
  }
  /**
   * Binds one input again. onnxruntime's IoBinding::BindInput copies a tensor to the device the
   * session wants it on AT BIND TIME, so a CPU input bound once is uploaded once: later writes to
   * its host memory are not seen. Re-bind a CPU input before each run that needs new values.
   */
  rebindInput(b: unknown, name: string, value: unknown) {
    this.env.o.check(this.env.o.f.BindInput(b, name, value), `BindInput ${name}`);
  }
  /**
   * Run options with run config entries, e.g. { gpu_graph_id: '1' }: onnxruntime keeps one
   * captured graph per id (key kOrtRunOptionsConfigCudaGraphAnnotation, shared by the CUDA, DML and
   * WebGPU EPs), which is what lets two bindings (ping-pong buffers) each replay their own capture.
   */
  runOptions(config: Record<string, string>): unknown {
    const o = this.env.o;
    const ro = out(o, 'CreateRunOptions', 'CreateRunOptions');
    for (const [k, v] of Object.entries(config)) o.check(o.f.AddRunConfigEntry(ro, k, v), `AddRunConfigEntry ${k}`);
    return ro;
  }
  runBinding(b: unknown, sync = true, runOptions: unknown = null) {
    const o = this.env.o;
    o.check(o.f.RunWithBinding(this.sess, runOptions, b), 'RunWithBinding');
    if (sync) o.check(o.f.SynchronizeBoundOutputs(b), 'SynchronizeBoundOutputs');
  }
  releaseBinding(b: unknown) {
    if (b) this.env.o.f.ReleaseIoBinding(b);
  }
  releaseRunOptions(r: unknown) {
    if (r) this.env.o.f.ReleaseRunOptions(r);
  }
  releaseAllocator(a: unknown) {
    if (a) this.env.o.f.ReleaseAllocator(a);
  }
  release() {
    this.env.o.f.ReleaseSession(this.sess);
  }
}
