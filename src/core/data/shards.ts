/**
 * Token shard files (`.slab`) for the PyTorch exporter: a fixed 256-byte header, then the tokens
 * little-endian. The fixed header lets Python map the tokens directly:
 * `np.memmap(path, dtype='<u2' or '<u4', mode='r', offset=256)`.
 *
 * Header (all little-endian):
 *   0  4  magic 'SLAB'
 *   4  4  u32 version (1)
 *   8  4  u32 bytes per token: 2 (uint16) or 4 (uint32)
 *   12 4  u32 vocabulary size
 *   16 8  u64 token count
 *   24 4  u32 tokenizer name length in bytes (<= 224)
 *   28 4  reserved (0)
 *   32 224 tokenizer name, UTF-8, zero padded
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from '../runs/fsutil';

export const SHARD_MAGIC = 'SLAB';
export const SHARD_VERSION = 1;
export const SHARD_HEADER_BYTES = 256;
const NAME_MAX = SHARD_HEADER_BYTES - 32;

export type ShardDtype = 'uint16' | 'uint32';

export interface ShardHeader {
  version: number;
  dtype: ShardDtype;
  vocabSize: number;
  count: number;
  tokenizer: string;
}

export class ShardError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`token shard ${file}: ${problem}`);
    this.name = 'ShardError';
  }
}

export function encodeShard(tokens: ArrayLike<number>, meta: { vocabSize: number; tokenizer: string; dtype?: ShardDtype }): Buffer {
  const dtype: ShardDtype = meta.dtype ?? (meta.vocabSize <= 65536 ? 'uint16' : 'uint32');
  const width = dtype === 'uint16' ? 2 : 4;
  if (!(Number.isInteger(meta.vocabSize) && meta.vocabSize > 0 && meta.vocabSize <= 2 ** 32)) throw new RangeError(`invalid vocabSize ${meta.vocabSize}`);
  if (dtype === 'uint16' && meta.vocabSize > 65536) throw new RangeError(`vocabSize ${meta.vocabSize} does not fit uint16 tokens`);
  const name = Buffer.from(meta.tokenizer, 'utf8');
  if (name.length > NAME_MAX) throw new RangeError(`tokenizer name longer than ${NAME_MAX} bytes`);
  const buf = Buffer.alloc(SHARD_HEADER_BYTES + tokens.length * width);
  buf.write(SHARD_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(SHARD_VERSION, 4);
  buf.writeUInt32LE(width, 8);
  buf.writeUInt32LE(meta.vocabSize >>> 0, 12);
  buf.writeBigUInt64LE(BigInt(tokens.length), 16);
  buf.writeUInt32LE(name.length, 24);
  name.copy(buf, 32);
  let off = SHARD_HEADER_BYTES;
  for (let i = 0; i < tokens.length; i++, off += width) {
    const t = tokens[i];
    if (!(Number.isInteger(t) && t >= 0 && t < meta.vocabSize)) throw new RangeError(`token ${t} at ${i} outside [0, ${meta.vocabSize})`);
    if (width === 2) buf.writeUInt16LE(t, off);
    else buf.writeUInt32LE(t, off);
  }
  return buf;
}

/** Writes a shard atomically (temp file + rename), so a reader never sees half a shard. */
export function writeShard(file: string, tokens: ArrayLike<number>, meta: { vocabSize: number; tokenizer: string; dtype?: ShardDtype }): void {
  writeFileAtomic(file, encodeShard(tokens, meta));
}

export function decodeShard(buf: Uint8Array, file = '<buffer>'): { header: ShardHeader; tokens: Uint16Array | Uint32Array } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < SHARD_HEADER_BYTES) throw new ShardError(file, `too short for a header (${b.length} bytes)`);
  if (b.toString('latin1', 0, 4) !== SHARD_MAGIC) throw new ShardError(file, `bad magic (not a ShapeLab token shard)`);
  const version = b.readUInt32LE(4);
  if (version !== SHARD_VERSION) throw new ShardError(file, `unsupported version ${version}`);
  const width = b.readUInt32LE(8);
  if (width !== 2 && width !== 4) throw new ShardError(file, `invalid token width ${width}`);
  const vocabSize = b.readUInt32LE(12);
  const count64 = b.readBigUInt64LE(16);
  const nameLen = b.readUInt32LE(24);
  if (nameLen > NAME_MAX) throw new ShardError(file, `invalid tokenizer name length ${nameLen}`);
  const expected = BigInt(SHARD_HEADER_BYTES) + count64 * BigInt(width);
  if (expected !== BigInt(b.length)) throw new ShardError(file, `size ${b.length} does not match ${count64} tokens of ${width} bytes (truncated?)`);
  const count = Number(count64);
  const tokenizer = b.toString('utf8', 32, 32 + nameLen);
  const tokens = width === 2 ? new Uint16Array(count) : new Uint32Array(count);
  for (let i = 0, off = SHARD_HEADER_BYTES; i < count; i++, off += width) {
    const t = width === 2 ? b.readUInt16LE(off) : b.readUInt32LE(off);
    if (t >= vocabSize) throw new ShardError(file, `token ${t} at ${i} is outside the vocabulary (${vocabSize})`);
    tokens[i] = t;
  }
  return { header: { version, dtype: width === 2 ? 'uint16' : 'uint32', vocabSize, count, tokenizer }, tokens };
}

export function readShard(file: string): { header: ShardHeader; tokens: Uint16Array | Uint32Array } {
  return decodeShard(fs.readFileSync(file), file);
}
