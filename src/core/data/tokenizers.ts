/**
 * Tokenizers: byte-level (default, vocab 256) and GPT-2 BPE through `gpt-tokenizer` (ships its
 * vocabulary, so it works offline).
 */
// Types come from the file path (tsconfig uses node10 resolution, which ignores package exports);
// the runtime require below goes through the package's exports map.
import type * as Gpt2Module from 'gpt-tokenizer/cjs/encoding/gpt2';

export const TOKENIZER_NAMES = ['byte', 'gpt2'] as const;
export type TokenizerName = (typeof TOKENIZER_NAMES)[number];

export interface Tokenizer {
  readonly name: TokenizerName;
  readonly vocabSize: number;
  encode(text: string): Uint32Array;
  /** Ids outside [0, vocabSize) are an error (a model can emit padded-vocab ids; map them first). */
  decode(ids: ArrayLike<number>): string;
}

export function isTokenizerName(s: unknown): s is TokenizerName {
  return typeof s === 'string' && (TOKENIZER_NAMES as readonly string[]).includes(s);
}

function checkIds(ids: ArrayLike<number>, vocab: number, name: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0 && id < vocab)) {
      throw new RangeError(`${name} tokenizer: token id ${id} at position ${i} is outside [0, ${vocab})`);
    }
  }
}

export class ByteTokenizer implements Tokenizer {
  readonly name = 'byte' as const;
  readonly vocabSize = 256;
  encode(text: string): Uint32Array {
    return Uint32Array.from(Buffer.from(text, 'utf8'));
  }
  /** Invalid UTF-8 (a model's sample cut mid-character) decodes to U+FFFD rather than throwing. */
  decode(ids: ArrayLike<number>): string {
    checkIds(ids, 256, 'byte');
    return Buffer.from(Uint8Array.from(ids as ArrayLike<number>)).toString('utf8');
  }
  /** Fast path for large texts: the UTF-8 bytes are the tokens. */
  encodeBytes(text: string): Uint8Array {
    return Buffer.from(text, 'utf8');
  }
}

type Gpt2 = typeof Gpt2Module;
let gpt2Module: Gpt2 | undefined;
function loadGpt2(): Gpt2 {
  // Loaded lazily: the BPE ranks are ~1 MB of JS and most runs use the byte tokenizer.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  gpt2Module ??= require('gpt-tokenizer/encoding/gpt2') as Gpt2;
  return gpt2Module;
}

/** Special tokens in user text are encoded as plain text, never as control tokens. */
const NO_SPECIAL = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

export class Gpt2Tokenizer implements Tokenizer {
  readonly name = 'gpt2' as const;
  readonly vocabSize = 50257;
  /** Id of `<|endoftext|>` in the GPT-2 vocabulary. */
  readonly endOfText = 50256;
  encode(text: string): Uint32Array {
    return Uint32Array.from(loadGpt2().encode(text, NO_SPECIAL));
  }
  decode(ids: ArrayLike<number>): string {
    checkIds(ids, this.vocabSize, 'gpt2');
    return loadGpt2().decode(Array.from(ids));
  }
}

export function createTokenizer(name: TokenizerName): Tokenizer {
  switch (name) {
    case 'byte':
      return new ByteTokenizer();
    case 'gpt2':
      return new Gpt2Tokenizer();
    default:
      throw new Error(`unknown tokenizer '${String(name)}' (expected one of ${TOKENIZER_NAMES.join(', ')})`);
  }
}
