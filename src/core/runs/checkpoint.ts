/**
 * Checkpoints: parameters + AdamW moments + trainer state in one safetensors file.
 *
 * Integrity: `__metadata__` carries `sha256` of the data section and `indexSha256` over the rest of
 * the header (metadata values, tensor names, shapes, offsets), so a bit flip anywhere in the file,
 * or a truncation, is detected. Load then checks the tensor names and shapes against what the
 * caller's model expects, and the config hash.
 *
 * Crash safety: the file is written to a temp file in the same directory, fsynced, renamed into
 * place and the directory fsynced; only then is `latest` replaced the same way. A crash at any
 * point leaves `latest` naming a complete checkpoint. Old checkpoints are pruned only after that,
 * keeping the last `keep` (default 3) and never the one `latest` names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { decodeSafetensors, f32Bytes, formatShape, layoutSafetensors, SafetensorsError, type TensorMap } from './safetensors';
import { describeFsError, realFs, writeFileAtomic, type WriteFs } from './fsutil';

export const CHECKPOINT_FORMAT = 'shapelab-checkpoint/1';
export const CHECKPOINTS_DIR = 'checkpoints';
export const LATEST_FILE = 'latest';
export const DEFAULT_KEEP = 3;
const STEP_FILE = /^step-(\d{8,})\.safetensors$/;

export interface CheckpointData {
  step: number;
  tokens: number;
  /** Number of blocks when written (changes at a growth event). */
  depth: number;
  configHash: string;
  params: TensorMap;
  /** AdamW first moments, keyed by parameter name (stored as `opt.m.<name>`). */
  optM?: TensorMap;
  /** AdamW second moments, keyed by parameter name (stored as `opt.v.<name>`). */
  optV?: TensorMap;
  /** Trainer/scheduler/sampler state; must survive JSON round-trip. */
  state?: unknown;
}

export interface LoadedCheckpoint extends Required<Omit<CheckpointData, 'state'>> {
  state: unknown;
  file: string;
}

export type CheckpointProblem = 'corrupt' | 'mismatch' | 'config' | 'write' | 'missing';

export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly problem: CheckpointProblem,
    readonly detail: string,
  ) {
    super(
      problem === 'corrupt'
        ? `checkpoint ${file} is corrupt: ${detail}`
        : problem === 'mismatch'
          ? `checkpoint ${file} was written for another model: ${detail}`
          : problem === 'config'
            ? `checkpoint ${file} was written for another run config: ${detail}`
            : problem === 'write'
              ? `cannot write checkpoint ${file}: ${detail}`
              : `checkpoint ${file}: ${detail}`,
    );
    this.name = 'CheckpointError';
  }
}

export function checkpointFileName(step: number): string {
  if (!(Number.isSafeInteger(step) && step >= 0)) throw new RangeError(`checkpoint step must be a non-negative integer (got ${step})`);
  return `step-${String(step).padStart(8, '0')}.safetensors`;
}

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, CHECKPOINTS_DIR);
}

/** Checkpoint files of a run, oldest first. Temp files are not listed. */
export function listCheckpoints(runDir: string): { step: number; file: string; path: string }[] {
  let names: string[];
  try {
    names = fs.readdirSync(checkpointsDir(runDir));
  } catch {
    return [];
  }
  return names
    .map((f) => ({ f, m: STEP_FILE.exec(f) }))
    .filter((x) => x.m)
    .map(({ f, m }) => ({ step: Number(m![1]), file: f, path: path.join(checkpointsDir(runDir), f) }))
    .sort((a, b) => a.step - b.step);
}

/** The checkpoint `latest` names, or (if `latest` is missing or bad) the highest step file; null if none. */
export function latestCheckpoint(runDir: string): string | null {
  const dir = checkpointsDir(runDir);
  try {
    const name = fs.readFileSync(path.join(dir, LATEST_FILE), 'utf8').trim();
    // Only a plain step file name: `latest` must never point outside the folder.
    if (STEP_FILE.test(name) && fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  } catch {
    /* fall through to the scan */
  }
  const all = listCheckpoints(runDir);
  return all.length ? all[all.length - 1].path : null;
}

function canonicalIndex(metadata: Record<string, string>, entries: [string, { shape: number[]; data_offsets: [number, number] }][]): string {
  const meta = Object.keys(metadata)
    .filter((k) => k !== 'indexSha256')
    .sort()
    .map((k) => [k, metadata[k]]);
  const index = entries.map(([n, e]) => [n, e.shape, e.data_offsets]).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  return JSON.stringify({ meta, index });
}

function sha256Hex(s: string | Uint8Array): string {
  return createHash('sha256').update(s).digest('hex');
}

function allTensors(ck: CheckpointData): TensorMap {
  const out: TensorMap = new Map();
  for (const [n, t] of ck.params) {
    if (n.startsWith('opt.')) throw new RangeError(`parameter name ${n} uses the reserved prefix 'opt.'`);
    out.set(n, t);
  }
  for (const [prefix, m] of [['opt.m.', ck.optM], ['opt.v.', ck.optV]] as const) {
    if (!m) continue;
    for (const [n, t] of m) {
      if (!ck.params.has(n)) throw new RangeError(`optimizer moment for unknown parameter ${n}`);
      out.set(prefix + n, t);
    }
  }
  return out;
}

export interface SaveOptions {
  /** Checkpoints to keep (default 3); older ones are deleted after the new one is complete. */
  keep?: number;
  /** Filesystem operations (tests inject ENOSPC here). */
  io?: WriteFs;
}

/** Writes a checkpoint crash-safely and points `latest` at it. Returns the checkpoint's path. */
export function saveCheckpoint(runDir: string, ck: CheckpointData, opts: SaveOptions = {}): string {
  const io = opts.io ?? realFs;
  const keep = opts.keep ?? DEFAULT_KEEP;
  if (!(Number.isInteger(keep) && keep >= 1)) throw new RangeError(`keep must be >= 1 (got ${keep})`);
  for (const [k, v] of Object.entries({ tokens: ck.tokens, depth: ck.depth })) {
    if (!(Number.isSafeInteger(v) && v >= 0)) throw new RangeError(`checkpoint ${k} must be a non-negative integer (got ${v})`);
  }
  const dir = checkpointsDir(runDir);
  fs.mkdirSync(dir, { recursive: true });
  const name = checkpointFileName(ck.step);
  const target = path.join(dir, name);
  const tensors = allTensors(ck);

  // Hash the data section as it will be laid out (tensors in insertion order, back to back).
  const h = createHash('sha256');
  for (const t of tensors.values()) h.update(f32Bytes(t.data));
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    step: String(ck.step),
    tokens: String(ck.tokens),
    depth: String(ck.depth),
    configHash: ck.configHash,
    sha256: h.digest('hex'),
    state: JSON.stringify(ck.state ?? null),
  };
  const first = layoutSafetensors(tensors, metadata);
  metadata.indexSha256 = sha256Hex(canonicalIndex(metadata, first.entries));
  const { header, entries } = layoutSafetensors(tensors, metadata);

  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  try {
    // Stream tensor by tensor: no second in-memory copy of a large model.
    writeFileAtomic(target, (function* () {
      yield len;
      yield header;
      for (const [n] of entries) yield f32Bytes(tensors.get(n)!.data);
    })(), io);
  } catch (e) {
    throw new CheckpointError(target, 'write', `${describeFsError(e)}; ${keptMessage(runDir)}`);
  }
  try {
    writeFileAtomic(path.join(dir, LATEST_FILE), name + '\n', io);
  } catch (e) {
    // The new checkpoint is complete, but `latest` still names the previous one: still consistent.
    throw new CheckpointError(target, 'write', `checkpoint written but ${LATEST_FILE} not updated: ${describeFsError(e)}; ${keptMessage(runDir)}`);
  }
  prune(runDir, keep, name);
  return target;
}

function keptMessage(runDir: string): string {
  const prev = latestCheckpoint(runDir);
  return prev ? `latest is still ${path.basename(prev)}` : 'no earlier checkpoint exists';
}

/** Deletes old checkpoints beyond `keep` and leftover temp files of crashed writes. */
function prune(runDir: string, keep: number, current: string): void {
  const dir = checkpointsDir(runDir);
  const all = listCheckpoints(runDir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) {
    if (c.file === current) continue;
    try {
      fs.unlinkSync(c.path);
    } catch {
      /* best effort: a leftover old checkpoint is harmless */
    }
  }
  // The run lock guarantees one writer, so any temp file still here is from a crashed write.
  for (const f of fs.readdirSync(dir)) {
    if (f.startsWith('.') && f.includes('.tmp-')) {
      try {
        fs.unlinkSync(path.join(dir, f));
      } catch {
        /* best effort */
      }
    }
  }
}

export interface CheckpointExpectation {
  /** Every parameter the model has, with its shape. Extra or missing tensors are refused. */
  shapes: Record<string, readonly number[]> | Map<string, readonly number[]>;
  /** If given, the checkpoint's config hash must equal it. */
  configHash?: string;
  /** Require AdamW moments for every parameter (default true). */
  optimizer?: boolean;
}

function metaInt(file: string, meta: Record<string, string>, key: string): number {
  const v = meta[key];
  if (v === undefined) throw new CheckpointError(file, 'corrupt', `metadata field ${key} is missing`);
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) throw new CheckpointError(file, 'corrupt', `metadata field ${key} is not an integer (${JSON.stringify(v).slice(0, 40)})`);
  return Number(v);
}

/** Reads and verifies a checkpoint. Every failure is a CheckpointError naming the file. */
export function loadCheckpoint(file: string, expect: CheckpointExpectation): LoadedCheckpoint {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new CheckpointError(file, 'missing', `cannot be read: ${describeFsError(e)}`);
  }
  let content;
  try {
    content = decodeSafetensors(buf, file);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(file, 'corrupt', e.problem);
    throw e;
  }
  const { tensors, metadata, dataStart } = content;
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(file, 'corrupt', `not a ShapeLab checkpoint (format ${JSON.stringify(metadata.format ?? null)}, expected ${CHECKPOINT_FORMAT})`);
  }
  if (!metadata.sha256 || !metadata.indexSha256) throw new CheckpointError(file, 'corrupt', 'checksum fields are missing');
  if (sha256Hex(buf.subarray(dataStart)) !== metadata.sha256) throw new CheckpointError(file, 'corrupt', 'checksum mismatch (data section)');
  if (sha256Hex(canonicalIndex(metadata, content.index)) !== metadata.indexSha256) throw new CheckpointError(file, 'corrupt', 'checksum mismatch (header)');

  const step = metaInt(file, metadata, 'step');
  const tokens = metaInt(file, metadata, 'tokens');
  const depth = metaInt(file, metadata, 'depth');
  let state: unknown;
  try {
    state = JSON.parse(metadata.state ?? 'null');
  } catch {
    throw new CheckpointError(file, 'corrupt', 'trainer state is not valid JSON');
  }

  // Names and shapes against the model the caller is about to load into.
  const want = expect.shapes instanceof Map ? expect.shapes : new Map(Object.entries(expect.shapes));
  const needOpt = expect.optimizer ?? true;
  const params: TensorMap = new Map();
  const optM: TensorMap = new Map();
  const optV: TensorMap = new Map();
  for (const [name, shape] of want) {
    const check = (key: string, into: TensorMap, required: boolean) => {
      const t = tensors.get(key);
      if (!t) {
        if (required) throw new CheckpointError(file, 'mismatch', `tensor ${key} is missing`);
        return;
      }
      if (formatShape(t.shape) !== formatShape(shape)) {
        throw new CheckpointError(file, 'mismatch', `${key} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
      }
      into.set(name, t);
    };
    check(name, params, true);
    check(`opt.m.${name}`, optM, needOpt);
    check(`opt.v.${name}`, optV, needOpt);
  }
  for (const key of tensors.keys()) {
    const base = key.startsWith('opt.m.') || key.startsWith('opt.v.') ? key.slice(6) : key;
    if (!want.has(base)) throw new CheckpointError(file, 'mismatch', `unexpected tensor ${key} (the model has no parameter ${base})`);
  }
  if (expect.configHash !== undefined && metadata.configHash !== expect.configHash) {
    throw new CheckpointError(file, 'config', `configHash ${metadata.configHash} != ${expect.configHash} of this run`);
  }
  return { file, step, tokens, depth, configHash: metadata.configHash ?? '', params, optM, optV, state };
}

export interface ResumeResult {
  checkpoint: LoadedCheckpoint;
  /** Newer checkpoints that were corrupt and skipped, with the reason. */
  rejected: { file: string; error: string }[];
}

/**
 * The checkpoint to resume from: `latest`, or, if that one is corrupt, the newest older one that
 * verifies. A checkpoint for another model or config is an error (never silently skipped).
 * Returns null if the run has no checkpoint.
 */
export function findResumeCheckpoint(runDir: string, expect: CheckpointExpectation): ResumeResult | null {
  const latest = latestCheckpoint(runDir);
  const all = listCheckpoints(runDir).map((c) => c.path).reverse();
  const order = latest ? [latest, ...all.filter((p) => p !== latest)] : all;
  const rejected: { file: string; error: string }[] = [];
  for (const p of order) {
    try {
      return { checkpoint: loadCheckpoint(p, expect), rejected };
    } catch (e) {
      if (e instanceof CheckpointError && (e.problem === 'corrupt' || e.problem === 'missing')) {
        rejected.push({ file: p, error: e.message });
        continue;
      }
      throw e;
    }
  }
  if (rejected.length) throw new CheckpointError(runDir, 'corrupt', `no usable checkpoint: ${rejected.map((r) => r.error).join('; ')}`);
  return null;
}
