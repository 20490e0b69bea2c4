/**
 * Deterministic batches. A training batch is B windows of T+1 tokens at random offsets drawn from
 * a seeded xoshiro128** generator; inputs are tokens [o, o+T), targets [o+1, o+T+1).
 * The generator state is tiny and serializable, so a resumed run draws exactly the batches the
 * uninterrupted run would have drawn.
 * Eval batches use no randomness at all: evenly spaced windows over the held-out split.
 */
import { splitmix32 } from '../random';

export interface Batch {
  /** [B, T] row-major. */
  inputs: Int32Array;
  /** [B, T] row-major: inputs shifted by one. */
  targets: Int32Array;
  batchSize: number;
  context: number;
}

export interface SamplerState {
  version: 1;
  /** xoshiro128** state, four uint32. */
  rng: [number, number, number, number];
  /** Batches drawn so far (for messages and sanity checks). */
  drawn: number;
  batchSize: number;
  context: number;
  /** Length of the token array the state belongs to. */
  tokens: number;
}

/** xoshiro128** (Blackman & Vigna), 32-bit output, period 2^128 - 1. */
export class Xoshiro128 {
  private s: Uint32Array;
  constructor(seed: number) {
    const sm = splitmix32(seed);
    this.s = Uint32Array.of(sm(), sm(), sm(), sm());
    if (this.s.every((w) => w === 0)) this.s[0] = 1; // the all-zero state is a fixed point
  }
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }
  /** Uniform integer in [0, n) for 1 <= n <= 2^32, unbiased (rejection sampling). */
  below(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= 2 ** 32)) throw new RangeError(`below(n): n must be an integer in [1, 2^32] (got ${n})`);
    const limit = 2 ** 32 - (2 ** 32 % n); // largest multiple of n not above 2^32
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }
  getState(): [number, number, number, number] {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }
  setState(st: readonly number[]): void {
    if (st.length !== 4 || !st.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) || st.every((w) => w === 0)) {
      throw new RangeError('invalid xoshiro128 state: expected four uint32, not all zero');
    }
    this.s = Uint32Array.from(st);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export interface SamplerOptions {
  batchSize: number;
  context: number;
  seed: number;
}

function checkShape(n: number, batchSize: number, context: number, what: string): void {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new RangeError(`batchSize must be a positive integer (got ${batchSize})`);
  if (!(Number.isInteger(context) && context > 0)) throw new RangeError(`context must be a positive integer (got ${context})`);
  if (n < context + 1) {
    throw new RangeError(`${what} has ${n} tokens, fewer than context + 1 = ${context + 1}; use more data or a shorter context`);
  }
}

function fillWindow(tokens: ArrayLike<number>, off: number, T: number, row: number, inputs: Int32Array, targets: Int32Array): void {
  const base = row * T;
  for (let t = 0; t < T; t++) {
    inputs[base + t] = tokens[off + t];
    targets[base + t] = tokens[off + t + 1];
  }
}

export class BatchSampler {
  private readonly rng: Xoshiro128;
  private drawn = 0;
  readonly batchSize: number;
  readonly context: number;

  constructor(
    private readonly tokens: ArrayLike<number>,
    opts: SamplerOptions,
  ) {
    checkShape(tokens.length, opts.batchSize, opts.context, 'the training split');
    if (tokens.length - opts.context > 2 ** 32) throw new RangeError('token arrays above 2^32 tokens are not supported');
    this.batchSize = opts.batchSize;
    this.context = opts.context;
    this.rng = new Xoshiro128(opts.seed);
  }

  nextBatch(): Batch {
    const B = this.batchSize;
    const T = this.context;
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) fillWindow(this.tokens, this.drawStart(), T, b, inputs, targets);
    this.drawn++;
    return { inputs, targets, batchSize: B, context: T };
  }

  /** The next window start; offsets 0 .. N-T-1 leave room for the shifted target. */
  private drawStart(): number {
    return this.rng.below(this.tokens.length - this.context);
  }

  /** Advances past n batches without building them (the same draws as nextBatch). */
  skip(n: number): void {
    if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`skip: expected a non-negative integer (got ${n})`);
    for (let i = 0; i < n; i++) {
      for (let b = 0; b < this.batchSize; b++) this.drawStart();
      this.drawn++;
    }
  }

  get batchesDrawn(): number {
    return this.drawn;
  }

  state(): SamplerState {
    return { version: 1, rng: this.rng.getState(), drawn: this.drawn, batchSize: this.batchSize, context: this.context, tokens: this.tokens.length };
  }

  /** Restores a state saved by state(); refuses one saved for other data or another batch shape. */
  restore(st: SamplerState): void {
    if (!st || st.version !== 1) throw new Error(`sampler state: unsupported version ${String(st?.version)}`);
    if (st.batchSize !== this.batchSize || st.context !== this.context) {
      throw new Error(`sampler state was saved for batch [${st.batchSize},${st.context}], this run uses [${this.batchSize},${this.context}]`);
    }
    if (st.tokens !== this.tokens.length) {
      throw new Error(`sampler state was saved for a training split of ${st.tokens} tokens, this data has ${this.tokens.length} (the data changed)`);
    }
    if (!(Number.isInteger(st.drawn) && st.drawn >= 0)) throw new Error(`sampler state: invalid drawn count ${st.drawn}`);
    this.rng.setState(st.rng);
    this.drawn = st.drawn;
  }
}

/**
 * The fixed eval set: `count` batches of B windows spread evenly over the held-out tokens
 * (first window at 0, last one ending at the last token). Same data -> same batches, always.
 */
export function evalBatches(tokens: ArrayLike<number>, opts: { batchSize: number; context: number; count: number }): Batch[] {
  const { batchSize: B, context: T, count } = opts;
  checkShape(tokens.length, B, T, 'the held-out split');
  if (!(Number.isInteger(count) && count > 0)) throw new RangeError(`eval batch count must be a positive integer (got ${count})`);
  const windows = B * count;
  const lastStart = tokens.length - T - 1;
  const out: Batch[] = [];
  for (let k = 0; k < count; k++) {
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const w = k * B + b;
      const off = windows === 1 ? 0 : Math.floor((w * lastStart) / (windows - 1));
      fillWindow(tokens, off, T, b, inputs, targets);
    }
    out.push({ inputs, targets, batchSize: B, context: T });
  }
  return out;
}
