/**
 * Worker-thread entry for training: onnxruntime's session.run blocks the thread that calls it, so
 * the CLI (and any other host) keeps its own thread free for progress output and Ctrl-C.
 * Messages in: { type: 'stop' }. Messages out: { type: 'progress', progress } | { type: 'result',
 * result } | { type: 'error', message }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { train, type TrainOptions } from './trainer';

if (parentPort) {
  const port = parentPort;
  let stop = false;
  port.on('message', (m: { type: string }) => {
    if (m?.type === 'stop') stop = true;
  });
  const opts = workerData as Omit<TrainOptions, 'onProgress' | 'shouldStop'>;
  train({ ...opts, onProgress: (progress) => port.postMessage({ type: 'progress', progress }), shouldStop: () => stop })
    .then((result) => port.postMessage({ type: 'result', result }))
    .catch((e: Error) => port.postMessage({ type: 'error', message: e?.message ?? String(e), name: e?.name }))
    .finally(() => port.close());
}
