import { FfiEnv, FfiSession } from '../../src/core/train/ffi/ortApi';

/**
 * A one-input one-output graph (x -> y, both float32 [n]) run in ping-pong on two fixed WebGPU
 * buffers: A -> B on even steps, B -> A on odd ones, each direction with its own captured graph
 * (run option gpu_graph_id), as a training step whose outputs are its next inputs would be.
 * `up` and `down` are Identity sessions that copy host values in and results out.
 */
export function pingPong(env: FfiEnv, up: FfiSession, down: FfiSession, model: Uint8Array, n: number, epOptions: Record<string, string>, config: Record<string, string>) {
  const s = env.session(model, 'webgpu', epOptions, config);
  const alloc = s.webgpuAllocator();
  const A = s.deviceTensor(alloc, [n]), B = s.deviceTensor(alloc, [n]);
  const hx = env.hostTensor([n]), hy = env.hostTensor([n]);
  const bUp = up.binding({}, { y: A });
  const bAB = s.binding({ x: A }, { y: B }), bBA = s.binding({ x: B }, { y: A });
  const ro = [s.runOptions({ gpu_graph_id: '1' }), s.runOptions({ gpu_graph_id: '2' })];
  const bDown = [down.binding({ x: A }, { y: hy.value }), down.binding({ x: B }, { y: hy.value })];
  return {
    /** Host input values: write them here, then load(). */
    input: hx.data,
    /** Copies `input` into buffer A (BindInput copies at bind time, so it re-binds). */
    load() {
      up.rebindInput(bUp, 'x', hx.value);
      up.runBinding(bUp);
    },
    /** Step k (0-based); no output sync, so a loop of steps measures enqueue and GPU time only. */
    step(k: number) {
      s.runBinding(k % 2 ? bBA : bAB, false, ro[k % 2]);
    },
    /** The result after `steps` steps: in B after an odd count, in A after an even one. */
    read(steps: number): Float32Array {
      down.runBinding(bDown[steps % 2 ? 1 : 0]);
      return hy.data;
    },
  };
}
