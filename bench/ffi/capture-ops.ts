/**
 * Which ops survive WebGPU graph capture (issue 10 part 3 prototype): each tiny graph runs 3 times
 * through fixed device buffers with new input values, without and with enableGraphCapture, and the
 * outputs are compared. Found on lavapipe (2026-11-30): ScatterElements(reduction=add) is WRONG
 * under capture (its zero-initialised output is not re-initialised by the replay: the capturing
 * run already doubles, then each replay accumulates), which is why the training step
 * (cross-entropy's GatherElements gradient is a ScatterElements add) diverges under capture; and a
 * graph output that is Identity of a value used elsewhere keeps its first value on replays (the
 * step's loss and grad_norm outputs).
 *   npx tsx bench/ffi/capture-ops.ts      (exit 1 when some op differs)
 */
import { Graph } from '../../src/core/graph/ir';
import { serialize } from '../../src/core/graph/onnx';
import { FfiEnv, loadOrt } from '../../src/core/train/ffi/ortApi';
import { identityModel } from './models';
const n = 16;
const env = new FfiEnv(loadOrt());
const models: Record<string, (g: Graph, x: string) => string> = {
  scatterAdd: (g, x) => g.scatterElementsAdd(g.zeros([n]), g.initializer('idx', 'int64', [n], BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 4))), x, 0),
  reduceSum: (g, x) => g.add(g.node('ReduceSum', [x, g.constI64([0])], [{ dtype: 'float32', shape: [1] }], { keepdims: 1 })[0], g.constF(0)),
  scalarOut: (g, x) => g.node('ReduceSum', [x, g.constI64([0])], [{ dtype: 'float32', shape: [] }], { keepdims: 0 })[0],
  expand: (g, x) => g.mul(g.expand(g.slice(x, 0, 0, 1), [n]), x),
};
const NO_CPU = { 'session.disable_cpu_ep_fallback': '1' };
const bad: string[] = [];
for (const [name, f] of Object.entries(models)) {
  const g = new Graph('t');
  const x = g.input('x', 'float32', [n]);
  const y = f(g, x);
  const outShape = g.shape(y);
  g.output(g.identity(y, 'y'));
  const res: string[] = [];
  for (const cap of ['0', '1']) {
    try {
      const s = env.session(serialize(g), 'webgpu', { enableGraphCapture: cap }, NO_CPU);
      const up = env.session(identityModel(n), 'webgpu', {}, NO_CPU), down = env.session(identityModel(outShape), 'webgpu', {}, NO_CPU);
      const a = s.webgpuAllocator(), xd = s.deviceTensor(a, [n]), yd = s.deviceTensor(a, outShape);
      const hx = env.hostTensor([n]), hy = env.hostTensor(outShape);
      const b = s.binding({ x: xd }, { y: yd }), bu = up.binding({}, { y: xd }), bd = down.binding({ x: yd }, { y: hy.value });
      const outs: string[] = [];
      for (let r = 0; r < 3; r++) {
        for (let i = 0; i < n; i++) hx.data[i] = i + 10 * r;
        up.rebindInput(bu, 'x', hx.value); up.runBinding(bu); s.runBinding(b); down.runBinding(bd);
        outs.push(Array.from(hy.data.slice(0, 4)).join(','));
      }
      res.push(`cap=${cap}: ${outs.join(' | ')}`);
    } catch (e) { res.push(`cap=${cap}: ERR ${(e as Error).message.slice(0, 200)}`); }
  }
  const same = res[0].slice(6) === res[1].slice(6);
  if (!same) bad.push(name);
  console.log(`${name}: ${same ? 'same with and without capture' : 'DIFFERS under capture'}\n  ${res.join('\n  ')}`);
}

// A graph output that is Identity(s) while s also feeds other nodes: onnxruntime fills the bound
// output with a copy outside the kernels, which the replay does not repeat (found through the
// training step's loss and grad_norm outputs).
{
  const g = new Graph('t');
  const x = g.input('x', 'float32', [n]);
  const s2 = g.mul(x, g.constF(2));
  g.output(g.identity(s2, 'y'));
  g.output(g.identity(g.add(s2, g.constF(1)), 'z'));
  const res: string[] = [];
  for (const cap of ['0', '1']) {
    const sess = env.session(serialize(g), 'webgpu', { enableGraphCapture: cap }, NO_CPU);
    const up = env.session(identityModel(n), 'webgpu', {}, NO_CPU), down = env.session(identityModel(n), 'webgpu', {}, NO_CPU);
    const a = sess.webgpuAllocator(), xd = sess.deviceTensor(a, [n]), yd = sess.deviceTensor(a, [n]), zd = sess.deviceTensor(a, [n]);
    const hx = env.hostTensor([n]), hy = env.hostTensor([n]);
    const b = sess.binding({ x: xd }, { y: yd, z: zd }), bu = up.binding({}, { y: xd });
    const outs: string[] = [];
    for (let r = 0; r < 3; r++) {
      hx.data.fill(r + 1);
      up.rebindInput(bu, 'x', hx.value);
      up.runBinding(bu);
      sess.runBinding(b);
      down.runBinding(down.binding({ x: yd }, { y: hy.value }));
      const y0 = hy.data[0];
      down.runBinding(down.binding({ x: zd }, { y: hy.value }));
      outs.push(`y=${y0} z=${hy.data[0]}`);
    }
    res.push(`cap=${cap}: ${outs.join(' | ')}`);
  }
  const same = res[0].slice(6) === res[1].slice(6);
  if (!same) bad.push('identityOfShared');
  console.log(`identityOfShared (y = Identity(s), s used elsewhere): ${same ? 'same with and without capture' : 'DIFFERS under capture'}\n  ${res.join('\n  ')}`);
}
process.exit(bad.length ? 1 : 0);
