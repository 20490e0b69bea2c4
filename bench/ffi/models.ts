/** Small ONNX graphs for the FFI prototype, written with the project's own graph builder. */
import { Graph } from '../../src/core/graph/ir';
import { serialize } from '../../src/core/graph/onnx';

/**
 * A dispatch-bound chain: y = x, then `ops` alternating Mul(y, a_i) and Add(y, b_i) on a tiny
 * vector (n floats), so each node is one small kernel and per-kernel host overhead dominates.
 * Constants are distinct per node so no optimizer can merge neighbours.
 */
export function chainModel(ops: number, n: number) {
  const g = new Graph('chain');
  let y = g.input('x', 'float32', [n]);
  const consts: { op: 'Mul' | 'Add'; c: number }[] = [];
  for (let i = 0; i < ops; i++) {
    const op = i % 2 ? 'Add' : 'Mul';
    const c = op === 'Mul' ? 1 - 0.001 * ((i % 7) + 1) : 0.01 * ((i % 5) - 2);
    consts.push({ op, c });
    y = op === 'Mul' ? g.mul(y, g.constF(c)) : g.add(y, g.constF(c));
  }
  g.output(g.identity(y, 'y'));
  return { bytes: serialize(g), consts };
}

/** The chain's result computed here in float64, independent of onnxruntime (the reference). */
export function chainReference(x: Float32Array, consts: { op: 'Mul' | 'Add'; c: number }[]): Float64Array {
  const y = Float64Array.from(x);
  for (const { op, c } of consts) for (let i = 0; i < y.length; i++) y[i] = op === 'Mul' ? y[i] * Math.fround(c) : y[i] + Math.fround(c);
  return y;
}

/** y = Identity(x): moves a tensor between CPU and device through IO binding. */
export function identityModel(n: number | number[], dtype: 'float32' | 'int64' = 'float32'): Uint8Array {
  const g = new Graph('copy');
  const x = g.input('x', dtype, typeof n === 'number' ? [n] : n);
  g.output(g.identity(x, 'y'));
  return serialize(g);
}
