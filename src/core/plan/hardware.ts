/**
 * GPU database: built-in rows from hardware.json (each with its source), plus user entries given
 * as a JSON file path or an inline object, plus an entry named `local` read from
 * $SHAPELAB_HARDWARE_FILE or ~/.shapelab/hardware.json (Apple M-series, laptops, measured
 * WebGPU throughput: whatever the user's machine really is).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import builtin from './hardware.json';
import { PlanInputError } from './errors';

export type HardwareSourceKind = 'vendor-datasheet' | 'vendor-whitepaper' | 'community' | 'user';

export interface HardwareEntry {
  /** Lookup key, lower case (e.g. 'h100-sxm'). */
  name: string;
  aliases?: string[];
  displayName?: string;
  /** Dense 16-bit tensor-core peak, TFLOP/s (null/absent when the device has none). */
  bf16Tflops?: number | null;
  /** fp32 peak, TFLOP/s. */
  fp32Tflops: number;
  /** Device memory, GB (1e9 bytes). */
  memoryGB: number;
  /** Memory bandwidth, TB/s (1e12 bytes/s). */
  bandwidthTBs: number;
  /** Streaming multiprocessors (or compute units); drives wave quantization. Absent: no wave model. */
  sms?: number;
  source: string;
  sourceKind: HardwareSourceKind;
  /** Measured efficiencies of the training program per compute precision (absent: DEFAULT_EFFICIENCY). */
  efficiency?: Partial<Record<'fp32' | 'bf16', Efficiency>>;
}

/**
 * How close a training program gets to the datasheet, fitted from its measured tokens/s
 * (bench/calibrate-planner.ts) and applied through the GEMM tile/wave model (gemm.ts, steptime.ts):
 * every GEMM runs at `gemm` x peak x tile x wave x alignment efficiency, and each micro-step
 * costs `layerMs` per block plus `stepMs` on top (kernel launches, framework, communication the
 * GEMM model does not see).
 */
export interface Efficiency {
  /** Achieved fraction of peak of a large, well-shaped GEMM inside the training step. */
  gemm: number;
  /** Extra milliseconds per block and micro-step. */
  layerMs: number;
  /** Extra milliseconds per micro-step. */
  stepMs: number;
  /** Where the numbers come from (the run that measured them, or 'placeholder'). */
  source: string;
}

/**
 * Used for every GPU without its own measured efficiency. PLACEHOLDER: the former single MFU knob
 * (0.5, the order of PaLM's 46.2% MFU, Chowdhery et al. 2022 Table 3) and no overheads, until
 * bench/calibrate-planner.ts fits measured runs of the exported program.
 */
export const DEFAULT_EFFICIENCY: Efficiency = {
  gemm: 0.5,
  layerMs: 0,
  stepMs: 0,
  source: 'placeholder: GEMM efficiency 0.5 (order of PaLM 46.2% MFU, Chowdhery et al. 2022 Table 3), no overheads; not fitted to measurements',
};

/** The efficiency of a device at a precision: its own measured one, else DEFAULT_EFFICIENCY. */
export function efficiencyOf(hw: HardwareEntry, precision: 'fp32' | 'bf16'): Efficiency {
  return hw.efficiency?.[precision] ?? DEFAULT_EFFICIENCY;
}

function validateEfficiency(raw: unknown, where: string): Efficiency {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new PlanInputError(`${where} must be an object { gemm, layerMs, stepMs, source }`);
  const o = raw as Record<string, unknown>;
  if (!(typeof o.gemm === 'number' && o.gemm >= 1e-6 && o.gemm <= 1)) throw new PlanInputError(`${where}.gemm must be in [1e-6, 1] (got ${String(o.gemm)})`);
  for (const k of ['layerMs', 'stepMs'] as const) {
    const v = o[k] ?? 0;
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new PlanInputError(`${where}.${k} must be a number >= 0 (got ${String(v)})`);
  }
  return { gemm: o.gemm, layerMs: (o.layerMs as number) ?? 0, stepMs: (o.stepMs as number) ?? 0, source: typeof o.source === 'string' && o.source ? o.source : `user-supplied (${where})` };
}

/** Where ~/.shapelab/hardware.json lives unless SHAPELAB_HARDWARE_FILE names another file. */
export function localHardwareFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.SHAPELAB_HARDWARE_FILE || join(homedir(), '.shapelab', 'hardware.json');
}

const BUILTIN: readonly HardwareEntry[] = (builtin.gpus as unknown[]).map((g) => validateEntry(g, 'hardware.json'));

/** The built-in GPUs (copies; safe to mutate). */
export function listHardware(): HardwareEntry[] {
  return BUILTIN.map((e) => ({ ...e, aliases: [...(e.aliases ?? [])], ...(e.efficiency ? { efficiency: { ...e.efficiency } } : {}) }));
}

function finitePositive(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

/** Checks a user-supplied (or built-in) entry; throws PlanInputError naming the bad field. */
export function validateEntry(raw: unknown, origin: string): HardwareEntry {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new PlanInputError(`${origin}: a hardware entry must be a JSON object`);
  const o = raw as Record<string, unknown>;
  const name = typeof o.name === 'string' && o.name.trim() ? o.name.trim().toLowerCase() : undefined;
  if (!name) throw new PlanInputError(`${origin}: hardware entry needs a "name"`);
  for (const k of ['fp32Tflops', 'memoryGB', 'bandwidthTBs'] as const) {
    if (!finitePositive(o[k])) throw new PlanInputError(`${origin}: hardware entry '${name}' needs ${k} > 0`);
  }
  if (o.bf16Tflops !== undefined && o.bf16Tflops !== null && !finitePositive(o.bf16Tflops)) throw new PlanInputError(`${origin}: '${name}'.bf16Tflops must be > 0 or null`);
  if (o.sms !== undefined && !(Number.isInteger(o.sms) && (o.sms as number) > 0)) throw new PlanInputError(`${origin}: '${name}'.sms must be a positive integer`);
  let efficiency: HardwareEntry['efficiency'];
  if (o.efficiency !== undefined) {
    if (!o.efficiency || typeof o.efficiency !== 'object' || Array.isArray(o.efficiency)) throw new PlanInputError(`${origin}: '${name}'.efficiency must be an object keyed by fp32 / bf16`);
    efficiency = {};
    for (const [k, v] of Object.entries(o.efficiency as Record<string, unknown>)) {
      if (k !== 'fp32' && k !== 'bf16') throw new PlanInputError(`${origin}: '${name}'.efficiency.${k}: precision must be fp32 or bf16`);
      efficiency[k] = validateEfficiency(v, `${origin}: '${name}'.efficiency.${k}`);
    }
  }
  const kinds: HardwareSourceKind[] = ['vendor-datasheet', 'vendor-whitepaper', 'community', 'user'];
  return {
    name,
    aliases: Array.isArray(o.aliases) ? o.aliases.filter((a): a is string => typeof a === 'string').map((a) => a.toLowerCase()) : [],
    displayName: typeof o.displayName === 'string' ? o.displayName : name,
    bf16Tflops: (o.bf16Tflops as number | null | undefined) ?? null,
    fp32Tflops: o.fp32Tflops as number,
    memoryGB: o.memoryGB as number,
    bandwidthTBs: o.bandwidthTBs as number,
    sms: o.sms as number | undefined,
    source: typeof o.source === 'string' && o.source ? o.source : `user-supplied (${origin})`,
    sourceKind: kinds.includes(o.sourceKind as HardwareSourceKind) ? (o.sourceKind as HardwareSourceKind) : 'user',
    ...(efficiency ? { efficiency } : {}),
  };
}

/** Entries of a user JSON document: one entry, an array of entries, or { "gpus": [...] }. */
export function parseHardwareDocument(doc: unknown, origin: string): HardwareEntry[] {
  const list = Array.isArray(doc) ? doc : doc && typeof doc === 'object' && Array.isArray((doc as { gpus?: unknown }).gpus) ? (doc as { gpus: unknown[] }).gpus : [doc];
  return list.map((e) => validateEntry(e, origin));
}

/** Reads a user hardware file (PlanInputError if missing or not JSON). */
export function loadHardwareFile(path: string): HardwareEntry[] {
  if (!existsSync(path)) throw new PlanInputError(`hardware file not found: ${path}`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new PlanInputError(`hardware file ${path} is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseHardwareDocument(doc, path);
}

/**
 * The `local` entry: the one entry of the local file, or the entry named 'local' among several.
 * Undefined when there is no local file.
 */
export function loadLocalHardware(env: NodeJS.ProcessEnv = process.env): HardwareEntry | undefined {
  const path = localHardwareFile(env);
  if (!existsSync(path)) return undefined;
  const entries = loadHardwareFile(path);
  const e = entries.length === 1 ? entries[0] : entries.find((x) => x.name === 'local');
  if (!e) throw new PlanInputError(`${path} holds several entries but none named 'local'`);
  return { ...e, name: 'local' };
}

function knownNames(env: NodeJS.ProcessEnv): string {
  return [...BUILTIN.map((e) => e.name), 'local (from ' + localHardwareFile(env) + ')'].join(', ');
}

/**
 * A GPU from a name or alias ('h100-sxm', 'a100', 'local'), a path to a JSON file ('./gpu.json'),
 * an inline JSON object string ('{"name":"m3-max",...}') or an entry object.
 * Unknown names -> PlanInputError listing the known names.
 */
export function resolveHardware(nameOrEntry: string | Partial<HardwareEntry>, env: NodeJS.ProcessEnv = process.env): HardwareEntry {
  if (typeof nameOrEntry === 'object' && nameOrEntry !== null) return validateEntry(nameOrEntry, 'inline hardware entry');
  if (typeof nameOrEntry !== 'string' || !nameOrEntry.trim()) throw new PlanInputError('GPU name is empty');
  const arg = nameOrEntry.trim();
  if (arg.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(arg);
    } catch (e) {
      throw new PlanInputError(`inline hardware entry is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    return validateEntry(doc, 'inline hardware entry');
  }
  if (arg.toLowerCase().endsWith('.json')) {
    const entries = loadHardwareFile(arg);
    if (entries.length !== 1) throw new PlanInputError(`${arg} holds ${entries.length} entries; name one of them (${entries.map((e) => e.name).join(', ')}) or give a file with one`);
    return entries[0];
  }
  const key = arg.toLowerCase();
  if (key === 'local') {
    const local = loadLocalHardware(env);
    if (!local) throw new PlanInputError(`no local hardware entry: create ${localHardwareFile(env)} (or set SHAPELAB_HARDWARE_FILE)`);
    return local;
  }
  const hit = BUILTIN.find((e) => e.name === key || (e.aliases ?? []).includes(key));
  if (hit) return { ...hit };
  // Entries of the local file other than 'local' can be named too.
  const path = localHardwareFile(env);
  if (existsSync(path)) {
    const user = loadHardwareFile(path).find((e) => e.name === key);
    if (user) return user;
  }
  throw new PlanInputError(`unknown GPU '${arg}'; known: ${knownNames(env)}; or pass a JSON file path or inline JSON object`);
}

/**
 * The precision a device trains in by default: bf16 where it has 16-bit tensor cores (what the
 * exported train.py runs there), fp32 for ShapeLab's own engine ('local': its WebGPU/CPU trainer
 * is fp32) and devices without them.
 */
export function defaultPrecision(hw: HardwareEntry | undefined): 'fp32' | 'bf16' {
  return hw && hw.name !== 'local' && hw.bf16Tflops ? 'bf16' : 'fp32';
}

/** Peak FLOP/s for a compute precision; falls back to fp32 when a device lacks 16-bit tensor cores. */
export function peakFlops(hw: HardwareEntry, precision: 'fp32' | 'bf16'): number {
  const tflops = precision === 'bf16' && hw.bf16Tflops ? hw.bf16Tflops : hw.fp32Tflops;
  return tflops * 1e12;
}
