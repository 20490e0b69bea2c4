/**
 * A dataset = train and held-out token streams for one data spec (Brown, a file or a folder).
 *
 * Held-out split:
 * - Brown: fixed by file id (see brown.ts).
 * - User data: the last `valFraction` (default 5%) of the concatenated token stream (files in
 *   sorted path order). Deterministic for the same files, works for a single file, and keeps both
 *   splits contiguous text (a per-file split would cut every file mid-sentence).
 * Documents are joined with a blank line (byte) or `<|endoftext|>` (gpt2).
 */
import { brownSplit, DOC_SEPARATOR } from './brown';
import { readTextSource, type SkippedEntry, type SourceOptions, DataSourceError } from './sources';
import { createTokenizer, type Tokenizer, type TokenizerName, Gpt2Tokenizer } from './tokenizers';

export type DataSourceKind = 'brown' | 'file' | 'folder';

/** The `data` section of a run config. */
export interface DataSpec {
  source: DataSourceKind;
  path?: string;
  include?: string[];
  exclude?: string[];
  tokenizer: TokenizerName;
  /** Held-out fraction for user data (default 0.05); Brown uses its fixed split. */
  valFraction?: number;
}

/** Tokens stored compactly: every vocabulary we ship fits in 16 bits. */
export type TokenArray = Uint16Array | Uint32Array;

export interface Dataset {
  tokenizer: Tokenizer;
  train: TokenArray;
  val: TokenArray;
  /** Human-readable description, e.g. `brown (450 train / 50 val files)`. */
  description: string;
  skipped: SkippedEntry[];
}

export const DEFAULT_VAL_FRACTION = 0.05;

export function tokenArrayFor(vocabSize: number, length: number): TokenArray {
  return vocabSize <= 65536 ? new Uint16Array(length) : new Uint32Array(length);
}

/** Tokenizes documents one by one (bounded memory per call) and concatenates them with a separator. */
export function tokenizeDocs(tok: Tokenizer, texts: string[]): TokenArray {
  const sep = tok instanceof Gpt2Tokenizer ? Uint32Array.of(tok.endOfText) : tok.encode(DOC_SEPARATOR);
  const parts: ArrayLike<number>[] = [];
  let n = 0;
  texts.forEach((t, i) => {
    if (i > 0) {
      parts.push(sep);
      n += sep.length;
    }
    const ids = tok.name === 'byte' ? Buffer.from(t, 'utf8') : tok.encode(t);
    parts.push(ids);
    n += ids.length;
  });
  const out = tokenArrayFor(tok.vocabSize, n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Splits a stream into train (head) and held-out (tail); both are views, not copies. */
export function splitHeldOut(tokens: TokenArray, valFraction: number): { train: TokenArray; val: TokenArray } {
  if (!(valFraction > 0 && valFraction < 1)) throw new RangeError(`valFraction must be in (0, 1) (got ${valFraction})`);
  const nVal = Math.max(1, Math.floor(tokens.length * valFraction));
  const cut = tokens.length - nVal;
  return { train: tokens.subarray(0, cut), val: tokens.subarray(cut) };
}

export function loadDataset(spec: DataSpec, sourceOptions: SourceOptions = {}): Dataset {
  const tokenizer = createTokenizer(spec.tokenizer);
  if (spec.source === 'brown') {
    const s = brownSplit();
    return {
      tokenizer,
      train: tokenizeDocs(tokenizer, [s.train]),
      val: tokenizeDocs(tokenizer, [s.val]),
      description: `brown (${s.trainIds.length} train / ${s.valIds.length} held-out files)`,
      skipped: [],
    };
  }
  if (!spec.path) throw new DataSourceError(`data.path is required for data.source '${spec.source}'`);
  const src = readTextSource(spec.path, { ...sourceOptions, include: spec.include, exclude: spec.exclude ?? sourceOptions.exclude });
  if (spec.source === 'file' && src.kind !== 'file') throw new DataSourceError(`data.path ${spec.path} is a folder, but data.source is 'file'`);
  if (spec.source === 'folder' && src.kind !== 'folder') throw new DataSourceError(`data.path ${spec.path} is a file, but data.source is 'folder'`);
  const all = tokenizeDocs(tokenizer, src.docs.map((d) => d.text));
  const { train, val } = splitHeldOut(all, spec.valFraction ?? DEFAULT_VAL_FRACTION);
  return { tokenizer, train, val, description: `${spec.path}: ${src.summary}`, skipped: src.skipped };
}
