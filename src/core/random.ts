/**
 * splitmix32: a 32-bit seed into a stream of well-mixed 32-bit words. The one generator behind the
 * seeded init (model/init.ts) and the batch sampler's xoshiro state (data/batches.ts); both
 * reproduce from the seed, and exported PyTorch runs rely on the same sequences.
 */
export function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}
