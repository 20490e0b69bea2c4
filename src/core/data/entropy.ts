/**
 * Unigram entropy: the loss (in nats) of the best model that ignores context. A trained model's
 * eval loss must fall well below it; the trainer test compares against `byteUnigramEntropy`.
 */

/** Entropy in nats of the empirical unigram distribution of `tokens`. */
export function unigramEntropy(tokens: ArrayLike<number>, vocabSize: number): number {
  if (tokens.length === 0) throw new RangeError('unigramEntropy: empty token array');
  const counts = new Float64Array(vocabSize);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!(t >= 0 && t < vocabSize)) throw new RangeError(`unigramEntropy: token ${t} at ${i} outside [0, ${vocabSize})`);
    counts[t]++;
  }
  const n = tokens.length;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return h;
}

/** Entropy in nats per byte of the UTF-8 bytes of `text` (the byte tokenizer's unigram loss). */
export function byteUnigramEntropy(text: string | Uint8Array): number {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return unigramEntropy(bytes, 256);
}
