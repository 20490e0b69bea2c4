/**
 * safetensors (https://github.com/huggingface/safetensors) for float32 tensors:
 *   u64 LE header length N | N bytes of JSON header | data
 * Header: { name: { dtype: 'F32', shape: [...], data_offsets: [begin, end] }, __metadata__?: {str: str} }
 * Offsets are relative to the start of the data section. We write tensors in insertion order,
 * pad the header with spaces so data starts 8-byte aligned, and on read validate everything a
 * corrupt or hostile file could get wrong before touching the data.
 */
import * as fs from 'node:fs';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type TensorMap = Map<string, Tensor>;

export interface SafetensorsContent {
  tensors: TensorMap;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
  /** Header entries as read (shape + data_offsets), in header order. */
  index: [string, HeaderEntry][];
}

/** Same limit as the reference implementation: a header above 100 MB is refused. */
export const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export interface HeaderEntry {
  dtype: 'F32';
  shape: number[];
  data_offsets: [number, number];
}

/** Builds the header JSON and the layout without copying data (used by encode and by checksums). */
export function layoutSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): { header: Buffer; entries: [string, HeaderEntry][]; dataBytes: number } {
  const entries: [string, HeaderEntry][] = [];
  let off = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new Error('tensor name __metadata__ is reserved');
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`tensor ${name}: invalid shape ${formatShape(t.shape)}`);
    if (numel(t.shape) !== t.data.length) throw new Error(`tensor ${name}: shape ${formatShape(t.shape)} has ${numel(t.shape)} elements, data has ${t.data.length}`);
    const bytes = t.data.length * 4;
    entries.push([name, { dtype: 'F32', shape: [...t.shape], data_offsets: [off, off + bytes] }]);
    off += bytes;
  }
  const obj: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`metadata ${k} must be a string`);
    obj.__metadata__ = metadata;
  }
  for (const [name, e] of entries) obj[name] = e;
  const json = JSON.stringify(obj);
  // Trailing spaces (allowed by the format) so the data section starts 8-byte aligned.
  const pad = (8 - ((8 + Buffer.byteLength(json, 'utf8')) % 8)) % 8;
  return { header: Buffer.from(json + ' '.repeat(pad), 'utf8'), entries, dataBytes: off };
}

/** Little-endian bytes of a Float32Array (copy only on big-endian hosts, which Node hardly runs on). */
export function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
if (!LITTLE_ENDIAN) throw new Error('safetensors: big-endian hosts are not supported');

/** The complete file as one buffer. */
export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Buffer {
  const { header, entries, dataBytes } = layoutSafetensors(tensors, metadata);
  const out = Buffer.allocUnsafe(8 + header.length + dataBytes);
  out.writeBigUInt64LE(BigInt(header.length), 0);
  header.copy(out, 8);
  const start = 8 + header.length;
  for (const [name, e] of entries) out.set(f32Bytes(tensors.get(name)!.data), start + e.data_offsets[0]);
  return out;
}

/** Parses and validates a safetensors buffer. `file` names the file in every error. */
export function decodeSafetensors(buf: Uint8Array, file: string): SafetensorsContent {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8) throw new SafetensorsError(file, `file is ${b.length} bytes, too short for a safetensors header (truncated?)`);
  const n64 = b.readBigUInt64LE(0);
  if (n64 < 2n || n64 > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(file, `header length ${n64} is not plausible (truncated or not a safetensors file?)`);
  const n = Number(n64);
  if (8 + n > b.length) throw new SafetensorsError(file, `header length ${n} runs past the end of the ${b.length}-byte file (truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsError(file, 'header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = b.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number; shape: number[] }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError(file, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = raw as Partial<HeaderEntry> | null;
    if (e === null || typeof e !== 'object') throw new SafetensorsError(file, `tensor ${name}: entry is not an object`);
    if (e.dtype !== 'F32') throw new SafetensorsError(file, `tensor ${name}: unsupported dtype ${JSON.stringify(e.dtype)} (only F32)`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(file, `tensor ${name}: invalid shape ${JSON.stringify(shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(file, `tensor ${name}: invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs;
    if (begin > end || end > dataLen) throw new SafetensorsError(file, `tensor ${name}: data_offsets [${begin},${end}] outside the ${dataLen}-byte data section (truncated?)`);
    if (end - begin !== numel(shape) * 4) throw new SafetensorsError(file, `tensor ${name}: ${end - begin} bytes for shape ${formatShape(shape)} (expected ${numel(shape) * 4})`);
    spans.push({ name, begin, end, shape });
  }
  // The data section must be covered exactly: no overlaps, no holes, nothing after the last tensor.
  const sorted = [...spans].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let pos = 0;
  for (const s of sorted) {
    if (s.begin < pos) throw new SafetensorsError(file, `tensor ${s.name} overlaps the previous tensor`);
    if (s.begin > pos) throw new SafetensorsError(file, `gap in the data section before tensor ${s.name}`);
    pos = s.end;
  }
  if (pos !== dataLen) throw new SafetensorsError(file, `data section is ${dataLen} bytes but tensors cover ${pos} (extra or missing bytes)`);
  const tensors: TensorMap = new Map();
  for (const s of spans) {
    const at = b.byteOffset + dataStart + s.begin;
    // A view when aligned (no copy of a large checkpoint); a copy otherwise (Float32Array needs 4-byte alignment).
    const data =
      at % 4 === 0
        ? new Float32Array(b.buffer, at, (s.end - s.begin) / 4)
        : new Float32Array(new Uint8Array(b.buffer, at, s.end - s.begin).slice().buffer);
    tensors.set(s.name, { shape: s.shape, data });
  }
  const index = spans.map((s): [string, HeaderEntry] => [s.name, { dtype: 'F32', shape: s.shape, data_offsets: [s.begin, s.end] }]);
  return { tensors, metadata, dataStart, index };
}

export function readSafetensors(file: string): SafetensorsContent {
  return decodeSafetensors(fs.readFileSync(file), file);
}

/** Plain (non-atomic) write; checkpoints use checkpoint.ts, which adds temp file + fsync + rename. */
export function writeSafetensors(file: string, tensors: TensorMap, metadata: Record<string, string> = {}): void {
  fs.writeFileSync(file, encodeSafetensors(tensors, metadata));
}
