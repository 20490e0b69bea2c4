import { splitmix32 } from '../random';
import type { ParamSpec } from './gpt';

/** Seeded PRNG (splitmix32) -> standard normals (Box-Muller): init is reproducible from the seed. */
export function normalSampler(seed: number): () => number {
  const word = splitmix32(seed);
  const u = () => (word() + 0.5) / 4294967296;
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(u())), th = 2 * Math.PI * u();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

/** The flat parameter vector initialized per each tensor's init rule (docs/model.md). */
export function initParams(layout: ParamSpec[], seed: number): Float32Array {
  const total = layout.reduce((a, p) => a + p.size, 0);
  const out = new Float32Array(total);
  const rnd = normalSampler(seed);
  for (const p of layout) {
    const view = out.subarray(p.offset, p.offset + p.size);
    if (p.init.kind === 'const') view.fill(p.init.value);
    else for (let i = 0; i < view.length; i++) view[i] = rnd() * p.init.std;
  }
  return out;
}
